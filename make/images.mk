# make/images.mk: container-image targets for any component of an imagemk workspace.
#
# Include it from the top Makefile and from every component's Makefile:
#     include $(TOP)/make/images.mk
# Each target is one `imagemk` call; imagemk finds the component from the current directory
# (the nearest images.yaml), so `make -C payloads/node test-image` acts on payloads/node.
#
# Variables passed through: IMAGE_TAG, PLATFORM (or DTYPE), VARIANT, REGISTRY (or CLOUD),
# CHANNEL, JOBS, DRY_RUN=1, KEEP_GOING=1, DEPS=1, FORCE=1 (push shared images), YES=1
# (image-cleanup), and for the container targets TARGET (what `withdocker` makes inside), CMD
# (`run-<kind>-image`'s command) and WITHDOCKER_IMAGE.
# IMAGEMK=/path/to/imagemk picks the binary.

IMAGEMK_MK  := $(abspath $(lastword $(MAKEFILE_LIST)))
IMAGEMK_TOP := $(patsubst %/,%,$(dir $(patsubst %/,%,$(dir $(IMAGEMK_MK)))))

# The binary: $(IMAGEMK) if given; else built from source when this tree is imagemk's own;
# else `imagemk` on PATH.
ifeq ($(origin IMAGEMK),undefined)
  ifneq ($(shell grep -qs '^name = "imagemk"' $(IMAGEMK_TOP)/Cargo.toml && echo yes),)
    IMAGEMK := $(IMAGEMK_TOP)/target/release/imagemk
    IMAGEMK_FROM_SOURCE := 1
  else
    IMAGEMK := $(shell command -v imagemk 2>/dev/null)
  endif
endif

yes = $(filter-out 0 no false,$(1))
IMAGEMK_FLAGS = $(if $(IMAGE_TAG),--tag $(IMAGE_TAG)) \
  $(if $(PLATFORM),--platform $(PLATFORM),$(if $(DTYPE),--platform $(DTYPE))) \
  $(if $(VARIANT),--variant $(VARIANT)) \
  $(if $(REGISTRY),--registry $(REGISTRY),$(if $(CLOUD),--registry $(CLOUD))) \
  $(if $(CHANNEL),--channel $(CHANNEL)) \
  $(if $(call yes,$(DRY_RUN)),--dry-run)
BUILD_FLAGS = $(if $(JOBS),-j $(JOBS)) $(if $(call yes,$(KEEP_GOING)),--keep-going) \
  $(if $(call yes,$(DEPS)),--deps)
PUSH_FLAGS = $(if $(JOBS),-j $(JOBS)) $(if $(call yes,$(FORCE)),--force)
PULL_FLAGS = $(if $(JOBS),-j $(JOBS))

.PHONY: imagemk-bin images all-images list-images help push-images pull-images login \
  local-registry stop-local-registry withdocker image-cleanup

imagemk-bin:
ifeq ($(IMAGEMK_FROM_SOURCE),1)
	@cargo build --release --quiet --manifest-path $(IMAGEMK_TOP)/Cargo.toml
else
	@test -n "$(IMAGEMK)" || { echo "error: imagemk is not installed; run \`cargo install --path <imagemk source>\` or set IMAGEMK=/path/to/imagemk" >&2; exit 1; }
endif

%-image: imagemk-bin ## build this component's images of kind % (and what they lack)
	$(IMAGEMK) build --kind $* $(IMAGEMK_FLAGS) $(BUILD_FLAGS)

run-%-image: imagemk-bin ## run this component's % image with its run options (CMD="…" replaces its command)
	$(IMAGEMK) run $* $(IMAGEMK_FLAGS) $(if $(CMD),-- $(CMD))

withdocker: imagemk-bin ## run `make $(TARGET)` in this component's buildenv container over the tree (WITHDOCKER_IMAGE=kind)
	$(IMAGEMK) withdocker --image $(or $(WITHDOCKER_IMAGE),buildenv) $(IMAGEMK_FLAGS) -- make $(TARGET)

extract-%-artifacts: imagemk-bin ## copy the `artifacts:` of this component's % image into the tree
	$(IMAGEMK) extract $* $(IMAGEMK_FLAGS)

images: imagemk-bin ## build every image of this component
	$(IMAGEMK) build $(IMAGEMK_FLAGS) $(BUILD_FLAGS)

all-images: imagemk-bin ## build every image of the workspace
	$(IMAGEMK) build --all $(IMAGEMK_FLAGS) $(BUILD_FLAGS)

# push-%-image and pull-%-image win over %-image for push-test-image: GNU make picks the
# pattern with the shortest stem.
push-%-image: imagemk-bin ## push this component's images of kind % (FORCE=1 for shared ones)
	$(IMAGEMK) push --kind $* $(IMAGEMK_FLAGS) $(PUSH_FLAGS)

pull-%-image: imagemk-bin ## pull this component's images of kind % and tag them locally
	$(IMAGEMK) pull --kind $* $(IMAGEMK_FLAGS) $(PULL_FLAGS)

push-images: imagemk-bin ## push every image of this component
	$(IMAGEMK) push $(IMAGEMK_FLAGS) $(PUSH_FLAGS)

pull-images: imagemk-bin ## pull every image of this component
	$(IMAGEMK) pull $(IMAGEMK_FLAGS) $(PULL_FLAGS)

login: imagemk-bin ## give docker credentials for REGISTRY (az, gcloud or docker login)
	$(IMAGEMK) login $(IMAGEMK_FLAGS)

list-images: imagemk-bin ## list the workspace's images, names and dependencies
	@$(IMAGEMK) list $(IMAGEMK_FLAGS)

image-cleanup: imagemk-bin ## remove IMAGE_TAG from every repository of REGISTRY (DRY_RUN=1 to preview)
	$(IMAGEMK) clean $(IMAGEMK_FLAGS) $(if $(JOBS),-j $(JOBS)) $(if $(call yes,$(YES)),--yes)

help: imagemk-bin ## show these targets and this component's images
	@echo "targets (variables: IMAGE_TAG PLATFORM VARIANT REGISTRY CHANNEL JOBS DRY_RUN=1 KEEP_GOING=1 DEPS=1 FORCE=1 YES=1):"
	@grep -hE '^[A-Za-z%_.-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([^:]+):.*## (.*)/\1|\2/' | \
	  awk -F'|' '{ printf "  %-26s %s\n", $$1, $$2 }'
	@echo
	@echo "images of the workspace (make <kind>-image in a component builds its images of that kind):"
	@$(IMAGEMK) list --json $(IMAGEMK_FLAGS) >/dev/null 2>&1 && $(IMAGEMK) list $(IMAGEMK_FLAGS) | sed 's/^/  /'

# A registry on this machine for `REGISTRY=local` (Debian's `docker-registry`, distribution 2.8),
# with its config, data, log and pid under .imagemk/registry. The daemon treats localhost as an
# insecure registry, so plain HTTP works with no daemon configuration.
LOCAL_REGISTRY_PORT ?= 5000
LOCAL_REGISTRY_DIR ?= $(IMAGEMK_TOP)/.imagemk/registry

local-registry: ## start a registry on localhost:5000 (LOCAL_REGISTRY_PORT) for REGISTRY=local
	@if curl -sf http://127.0.0.1:$(LOCAL_REGISTRY_PORT)/v2/ >/dev/null 2>&1; then \
	  echo "a registry already answers on localhost:$(LOCAL_REGISTRY_PORT)"; exit 0; fi; \
	command -v docker-registry >/dev/null || { echo "error: \`docker-registry\` is not installed; install it (\`apt-get install docker-registry\`) or run any registry on localhost:$(LOCAL_REGISTRY_PORT)" >&2; exit 1; }; \
	mkdir -p $(LOCAL_REGISTRY_DIR)/data && \
	printf 'version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:%s\n  secret: imagemk-local\n' \
	  "$(LOCAL_REGISTRY_DIR)/data" "$(LOCAL_REGISTRY_PORT)" > $(LOCAL_REGISTRY_DIR)/config.yml && \
	{ nohup docker-registry serve $(LOCAL_REGISTRY_DIR)/config.yml > $(LOCAL_REGISTRY_DIR)/log 2>&1 & echo $$! > $(LOCAL_REGISTRY_DIR)/pid; } && \
	for i in $$(seq 50); do curl -sf http://127.0.0.1:$(LOCAL_REGISTRY_PORT)/v2/ >/dev/null 2>&1 && break; sleep 0.1; done; \
	curl -sf http://127.0.0.1:$(LOCAL_REGISTRY_PORT)/v2/ >/dev/null 2>&1 || { echo "error: the registry did not start; see $(LOCAL_REGISTRY_DIR)/log" >&2; exit 1; }; \
	echo "registry running on localhost:$(LOCAL_REGISTRY_PORT) (pid $$(cat $(LOCAL_REGISTRY_DIR)/pid)); \`make stop-local-registry\` stops it"

stop-local-registry: ## stop the registry `make local-registry` started
	@test -f $(LOCAL_REGISTRY_DIR)/pid || { echo "no registry was started by \`make local-registry\`"; exit 0; }; \
	kill $$(cat $(LOCAL_REGISTRY_DIR)/pid) 2>/dev/null; rm -f $(LOCAL_REGISTRY_DIR)/pid; echo "registry stopped"
