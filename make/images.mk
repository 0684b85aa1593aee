# make/images.mk: container-image targets for any component of an imagemk workspace.
#
# Include it from the top Makefile and from every component's Makefile:
#     include $(TOP)/make/images.mk
# Each target is one `imagemk` call; imagemk finds the component from the current directory
# (the nearest images.yaml), so `make -C payloads/node test-image` acts on payloads/node.
#
# Variables passed through: IMAGE_TAG, PLATFORM (or DTYPE), VARIANT, REGISTRY (or CLOUD),
# CHANNEL, JOBS, DRY_RUN=1, KEEP_GOING=1, DEPS=1, YES=1 (image-cleanup). IMAGEMK=/path/to/imagemk
# picks the binary.

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

.PHONY: imagemk-bin images all-images list-images image-cleanup help

imagemk-bin:
ifeq ($(IMAGEMK_FROM_SOURCE),1)
	@cargo build --release --quiet --manifest-path $(IMAGEMK_TOP)/Cargo.toml
else
	@test -n "$(IMAGEMK)" || { echo "error: imagemk is not installed; run \`cargo install --path <imagemk source>\` or set IMAGEMK=/path/to/imagemk" >&2; exit 1; }
endif

%-image: imagemk-bin ## build this component's images of kind % (and what they lack)
	$(IMAGEMK) build --kind $* $(IMAGEMK_FLAGS) $(BUILD_FLAGS)

images: imagemk-bin ## build every image of this component
	$(IMAGEMK) build $(IMAGEMK_FLAGS) $(BUILD_FLAGS)

all-images: imagemk-bin ## build every image of the workspace
	$(IMAGEMK) build --all $(IMAGEMK_FLAGS) $(BUILD_FLAGS)

list-images: imagemk-bin ## list the workspace's images, names and dependencies
	@$(IMAGEMK) list $(IMAGEMK_FLAGS)

image-cleanup: imagemk-bin ## remove IMAGE_TAG from every repository of REGISTRY (DRY_RUN=1 to preview)
	$(IMAGEMK) clean $(IMAGEMK_FLAGS) $(if $(JOBS),-j $(JOBS)) $(if $(call yes,$(YES)),--yes)

help: imagemk-bin ## show these targets and this component's images
	@echo "targets (variables: IMAGE_TAG PLATFORM VARIANT REGISTRY CHANNEL JOBS DRY_RUN=1 KEEP_GOING=1 DEPS=1 YES=1):"
	@grep -hE '^[A-Za-z%_.-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([^:]+):.*## (.*)/\1|\2/' | \
	  awk -F'|' '{ printf "  %-26s %s\n", $$1, $$2 }'
	@echo
	@echo "images of the workspace (make <kind>-image in a component builds its images of that kind):"
	@$(IMAGEMK) list --json $(IMAGEMK_FLAGS) >/dev/null 2>&1 && $(IMAGEMK) list $(IMAGEMK_FLAGS) | sed 's/^/  /'
