# The top Makefile of the example workspace (the `km` core). Image targets come from
# make/images.mk; `make help` lists them.
TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
include $(TOP)/make/images.mk
.DEFAULT_GOAL := help

.PHONY: all test test-all

# The core's build (a stand-in). It needs the toolchain: run it inside the build environment
# with `make withdocker TARGET=all`.
all: ## build the km core (where the toolchain is: `make withdocker TARGET=all`)
	mkdir -p core/out
	cat /opt/kontain/TOOLCHAIN > core/out/km.txt
	@echo "built core/out/km.txt"

# Payloads in the quick `make test`; `make test-all` runs every payload's tests.
TEST_PAYLOADS ?= node
unexport $(if $(filter command line,$(origin TEST_PAYLOADS)),TEST_PAYLOADS)

test: ## run the core's tests and a minimal payload subset (TEST_PAYLOADS), in test images
	$(MAKE) test-image
	$(MAKE) run-test-image
	for p in $(call imagemk_words,$(call imagemk_raw,TEST_PAYLOADS)); do \
	  $(MAKE) -C $(call imagemk_q,$(TOP))/payloads/"$$p" test || exit 1; done

test-all: ## run the core's tests and every payload's tests, in test images
	$(MAKE) test TEST_PAYLOADS="$(notdir $(patsubst %/,%,$(wildcard $(TOP)/payloads/*/)))"
