# make/images.mk: container-image targets for any component of an imagemk workspace.
#
# Include it from the top Makefile and from every component's Makefile:
#     include $(TOP)/make/images.mk
# Each target is one `imagemk` call; imagemk finds the component from the current directory
# (the nearest images.yaml), so `make -C payloads/node test-image` acts on payloads/node.
#
# Variables passed through: IMAGE_TAG, PLATFORM (or DTYPE), VARIANT, REGISTRY (or CLOUD),
# CHANNEL, JOBS, IMAGE_NAMESPACE (in imagemk's environment, where it checks them), DRY_RUN=1,
# KEEP_GOING=1, DEPS=1, FORCE=1 (push shared images; build images that are up to date),
# EXPLAIN=1 (say why each image is built or not), DEPENDENTS=1 (also build what depends on
# the selected images), REUSE=1/0 (build: pull images built from the same inputs),
# YES=1 (image-cleanup), LOCK=1 (push: record digests in images.lock), LOCKED=1 (build: pull
# parents by their images.lock digest), CHECK=1 (pin-images: compare only), BUILDER=NAME and
# PLATFORM_ARCH=os/arch,… (build and push through a BuildKit builder), VARIANT=plain,debug
# (every listed variant), and for the
# container targets TARGET (what `withdocker` makes inside), CMD (`run-<kind>-image`'s
# command) and WITHDOCKER_IMAGE. imagemk splits TARGET and CMD into words as a shell would
# (quotes group, backslashes escape) but evaluates nothing: no `$(…)`, `;` or `|` on the host.
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

# User values never become shell text. A value typed on the command line or taken from the
# environment is used raw ($(value …): make does not expand `$(shell …)` in it) and is handed
# to imagemk as ONE single-quoted argument or environment entry; imagemk then checks it (an
# invalid tag is an error before any docker command). Make would also expand a command-line
# variable when exporting it to a recipe, so those are unexported (sub-makes still get them
# through MAKEFLAGS) and passed explicitly.
IMAGEMK_ENV_VARS := IMAGE_TAG PLATFORM DTYPE VARIANT REGISTRY CLOUD CHANNEL JOBS IMAGE_NAMESPACE
IMAGEMK_BOOL_VARS := DRY_RUN KEEP_GOING DEPS FORCE YES EXPLAIN DEPENDENTS
IMAGEMK_BOOL_VARS += REUSE
IMAGEMK_BOOL_VARS += NO_CACHE
IMAGEMK_BOOL_VARS += LOCK LOCKED CHECK
IMAGEMK_BOOL_VARS += ATOMIC
IMAGEMK_WORD_VARS := TARGET CMD WITHDOCKER_IMAGE
IMAGEMK_WORD_VARS += LOCAL_BUILDENV_ROOT
IMAGEMK_WORD_VARS += ARGS
unexport $(foreach v,$(IMAGEMK_ENV_VARS) $(IMAGEMK_BOOL_VARS) $(IMAGEMK_WORD_VARS),$(if \
  $(filter command line,$(origin $(v))),$(v)))

# The text of variable $(1): raw when the user gave it (command line, environment), expanded
# when a Makefile defined it.
imagemk_raw = $(if $(filter command line environment,$(origin $(1))),$(value $(1)),$($(1)))
# $(1) as one single-quoted shell word. A line break would split the recipe line: refused.
define imagemk_nl


endef
imagemk_q = $(if $(findstring $(imagemk_nl),$(1)),$(error a make value contains a line break: \
  `$(1)`; imagemk values are one line))'$(subst ','\'',$(1))'
# Every word of $(1), each single-quoted (split on white space, never evaluated by a shell).
imagemk_words = $(foreach w,$(1),$(call imagemk_q,$(w)))
# NAME='value' for each of $(1) that is set: the environment imagemk reads them from.
imagemk_env = $(foreach v,$(1),$(if $(call imagemk_raw,$(v)),$(v)=$(call imagemk_q,$(call imagemk_raw,$(v)))))
# A yes/no variable: 1, yes, true → yes; empty, 0, no, false → no; anything else stops make.
yes = $(strip $(if $(filter-out 1 yes true 0 no false,$(call imagemk_raw,$(1)))$(filter-out 0 1,$(words $(call imagemk_raw,$(1)))), \
  $(error $(1) must be 1 or 0 (or yes/no, true/false); got `$(call imagemk_raw,$(1))`)) \
  $(filter 1 yes true,$(call imagemk_raw,$(1))))

IMAGEMK_RUN = $(call imagemk_env,$(IMAGEMK_ENV_VARS)) $(IMAGEMK)
IMAGEMK_FLAGS = $(if $(call yes,DRY_RUN),--dry-run)
BUILD_FLAGS = $(if $(call yes,KEEP_GOING),--keep-going) $(if $(call yes,DEPS),--deps) \
  $(if $(call yes,FORCE),--force) $(if $(call yes,EXPLAIN),--explain) \
  $(if $(call yes,DEPENDENTS),--dependents)
# LOCK=1 (push): record each pushed digest in images.lock.
PUSH_FLAGS = $(if $(call yes,FORCE),--force)$(if $(call yes,LOCK), --lock)
# ARGS="cxx:GITREF=v1.2 GITREF=master": one `--arg=WORD` per word, each word raw and
# single-quoted (never shell text; imagemk checks it).
BUILD_FLAGS += $(foreach w,$(call imagemk_raw,ARGS),--arg=$(call imagemk_q,$(w)))
# NO_CACHE=1: docker's --no-cache for every build, the selected images rebuilt even when up
# to date (`imagemk build --no-cache=a,b` for some images only).
BUILD_FLAGS += $(if $(call yes,NO_CACHE),--no-cache)
# TIMEOUT=80m (build): stop and fail any build that takes longer; overrides images.yaml's
# `timeout:`. Raw and single-quoted like every value (imagemk checks it); a command-line value
# is unexported so make does not expand it when exporting.
BUILD_FLAGS += $(if $(call imagemk_raw,TIMEOUT),--timeout $(call imagemk_q,$(call imagemk_raw,TIMEOUT)))
unexport $(if $(filter command line,$(origin TIMEOUT)),TIMEOUT)
# LOCKED=1 (build): the parents it does not build are pulled by their images.lock digest.
BUILD_FLAGS += $(if $(call yes,LOCKED),--locked)
# BUILDER=NAME (build, push): build through that BuildKit builder (`docker buildx build
# --builder NAME`, `--load` for builds, `--push` for pushes); PLATFORM_ARCH=linux/arm64,linux/amd64
# builds for those platforms (needs BUILDER). Raw and single-quoted; imagemk checks them.
IMAGEMK_BUILDKIT_FLAGS = $(if $(call imagemk_raw,BUILDER),--builder $(call imagemk_q,$(call imagemk_raw,BUILDER))) \
  $(if $(call imagemk_raw,PLATFORM_ARCH),--platform-arch $(call imagemk_q,$(call imagemk_raw,PLATFORM_ARCH)))
BUILD_FLAGS += $(IMAGEMK_BUILDKIT_FLAGS)
PUSH_FLAGS += $(IMAGEMK_BUILDKIT_FLAGS)
unexport $(foreach v,BUILDER PLATFORM_ARCH,$(if $(filter command line,$(origin $(v))),$(v)))
# SHARD=I/N (build): build only shard I of N, taking earlier shards' images from the registry
# and pushing its own (see docs/shards.md); SHARD_WAIT=30m: how long to wait for them.
BUILD_FLAGS += $(if $(call imagemk_raw,SHARD),--shard $(call imagemk_q,$(call imagemk_raw,SHARD)))
BUILD_FLAGS += $(if $(call imagemk_raw,SHARD_WAIT),--shard-wait $(call imagemk_q,$(call imagemk_raw,SHARD_WAIT)))
unexport $(if $(filter command line,$(origin SHARD)),SHARD)
unexport $(if $(filter command line,$(origin SHARD_WAIT)),SHARD_WAIT)
# REUSE=1 pulls images built from the same inputs; REUSE=0 builds even when images.yaml says
# `workspace.reuse: registry`; unset leaves it to images.yaml.
BUILD_FLAGS += $(if $(call imagemk_raw,REUSE),$(if $(call yes,REUSE),--reuse,--no-reuse))
PULL_FLAGS =
# ATOMIC=1 (push): all or nothing, through staging tags; KEEP_GOING=1: push the others after a
# failure and report.
PUSH_FLAGS += $(if $(call yes,ATOMIC),--atomic) $(if $(call yes,KEEP_GOING),--keep-going)
# PROMOTE_TO=prod (promote-images): the tag pointed at each image's digest in images.lock; raw
# and single-quoted like every value (imagemk checks it), unexported when given on the command
# line so make does not expand it.
unexport $(if $(filter command line,$(origin PROMOTE_TO)),PROMOTE_TO)

.PHONY: imagemk-bin images all-images list-images help push-images pull-images login \
  local-registry stop-local-registry withdocker image-cleanup host-deps doctor pin-images
.PHONY: promote-images

# Host files the workspace's `stage:` entries take from this machine, as FILE=PACKAGE words (the
# Debian package that provides FILE). The workspace lists them in make/host-deps.mk; the build
# targets install what is missing first (`make host-deps`).
HOST_DEPS ?=
unexport $(if $(filter command line,$(origin HOST_DEPS)),HOST_DEPS)
-include $(IMAGEMK_TOP)/make/host-deps.mk

imagemk-bin:
ifeq ($(IMAGEMK_FROM_SOURCE),1)
	@cargo build --release --quiet --manifest-path $(call imagemk_q,$(IMAGEMK_TOP)/Cargo.toml)
else
	@test -n "$(IMAGEMK)" || { echo "error: imagemk is not installed; run \`cargo install --path <imagemk source>\` or set IMAGEMK=/path/to/imagemk" >&2; exit 1; }
endif

%-image: imagemk-bin host-deps ## build this component's images of kind % (and what they lack)
	$(IMAGEMK_RUN) build --kind $(call imagemk_q,$*) $(IMAGEMK_FLAGS) $(BUILD_FLAGS)

run-%-image: imagemk-bin ## run this component's % image with its run options (CMD="…" replaces its command)
	$(IMAGEMK_RUN) run $(call imagemk_q,$*) $(IMAGEMK_FLAGS) $(if $(call imagemk_raw,CMD),--command-line $(call imagemk_q,$(call imagemk_raw,CMD)))

withdocker: imagemk-bin ## run `make $(TARGET)` in this component's buildenv container over the tree (WITHDOCKER_IMAGE=kind)
	$(IMAGEMK_RUN) withdocker --image $(call imagemk_q,$(or $(call imagemk_raw,WITHDOCKER_IMAGE),buildenv)) $(IMAGEMK_FLAGS) --command-line $(call imagemk_q,make $(call imagemk_raw,TARGET))

extract-%-artifacts: imagemk-bin ## copy the `artifacts:` of this component's % image into the tree
	$(IMAGEMK_RUN) extract $(call imagemk_q,$*) $(IMAGEMK_FLAGS)

images: imagemk-bin host-deps ## build every image of this component
	$(IMAGEMK_RUN) build $(IMAGEMK_FLAGS) $(BUILD_FLAGS)

all-images: imagemk-bin host-deps ## build every image of the workspace
	$(IMAGEMK_RUN) build --all $(IMAGEMK_FLAGS) $(BUILD_FLAGS)

# push-%-image and pull-%-image win over %-image for push-test-image: GNU make picks the
# pattern with the shortest stem.
push-%-image: imagemk-bin ## push this component's images of kind % (FORCE=1 for shared ones)
	$(IMAGEMK_RUN) push --kind $(call imagemk_q,$*) $(IMAGEMK_FLAGS) $(PUSH_FLAGS)

pull-%-image: imagemk-bin ## pull this component's images of kind % and tag them locally
	$(IMAGEMK_RUN) pull --kind $(call imagemk_q,$*) $(IMAGEMK_FLAGS) $(PULL_FLAGS)

push-images: imagemk-bin ## push every image of this component
	$(IMAGEMK_RUN) push $(IMAGEMK_FLAGS) $(PUSH_FLAGS)

pull-images: imagemk-bin ## pull every image of this component
	$(IMAGEMK_RUN) pull $(IMAGEMK_FLAGS) $(PULL_FLAGS)

pin-images: imagemk-bin ## lock the registry's digest of this component's images in images.lock (CHECK=1: compare the lock with the registry)
	$(IMAGEMK_RUN) pin $(IMAGEMK_FLAGS) $(if $(call yes,CHECK),--check)

promote-images: imagemk-bin ## point PROMOTE_TO (e.g. prod) at this component's images' digests in images.lock, on the registry (FORCE=1: even if the locked tag moved)
	$(IMAGEMK_RUN) promote --to $(call imagemk_q,$(call imagemk_raw,PROMOTE_TO)) $(IMAGEMK_FLAGS) $(if $(call yes,FORCE),--force)

login: imagemk-bin ## give docker credentials for REGISTRY (az, gcloud or docker login)
	$(IMAGEMK_RUN) login $(IMAGEMK_FLAGS)

list-images: imagemk-bin ## list the workspace's images, names and dependencies
	@$(IMAGEMK_RUN) list $(IMAGEMK_FLAGS)

image-cleanup: imagemk-bin ## remove IMAGE_TAG from every repository of REGISTRY (DRY_RUN=1 to preview)
	$(IMAGEMK_RUN) clean $(IMAGEMK_FLAGS) $(if $(call yes,YES),--yes)

doctor: imagemk-bin ## check the engine, registries, cloud CLIs, workspace and host files
	$(IMAGEMK_RUN) doctor

# refs: the files of `workspace.references` against images.lock. check-refs is the CI lint
# (exit 1 on drift); refs rewrites them (DRY_RUN=1 prints the diff instead).
.PHONY: refs check-refs
refs: imagemk-bin ## rewrite image references in workspace.references files to images.lock's digests
	$(IMAGEMK_RUN) refs --write $(IMAGEMK_FLAGS)

check-refs: imagemk-bin ## fail when a reference in workspace.references files differs from images.lock
	$(IMAGEMK_RUN) refs --check $(IMAGEMK_FLAGS)

# local-buildenv: for building on the host instead of in the container. Pulls the buildenv when
# it is not local, copies its `host: artifacts:` to their host paths (under
# LOCAL_BUILDENV_ROOT=DIR when given), and installs its `host:` packages; FORCE=1 replaces host
# files that differ, DRY_RUN=1 prints the commands only.
.PHONY: local-buildenv
local-buildenv: imagemk-bin ## set this host up to build without the container (buildenv's `host:`; FORCE=1, LOCAL_BUILDENV_ROOT=DIR)
	$(IMAGEMK_RUN) local-buildenv $(IMAGEMK_FLAGS) $(if $(call yes,FORCE),--force) $(if $(call imagemk_raw,LOCAL_BUILDENV_ROOT),--root $(call imagemk_q,$(call imagemk_raw,LOCAL_BUILDENV_ROOT)))

# host-deps: the packages of the HOST_DEPS files that are missing, installed with apt-get by root
# or through passwordless sudo after printing the commands; otherwise an error naming them.
# Each FILE=PACKAGE word is one single-quoted shell word; a package name is checked first.
host-deps: ## install the Debian packages of missing host files the images stage (HOST_DEPS)
	@set -f; missing=; files=; for dep in $(call imagemk_words,$(call imagemk_raw,HOST_DEPS)); do \
	  case "$$dep" in ?*=?*) ;; *) echo "error: HOST_DEPS word \`$$dep\` is not FILE=PACKAGE" >&2; exit 1;; esac; \
	  file="$${dep%=*}"; pkg="$${dep##*=}"; \
	  case "$$pkg" in *[!a-z0-9.+-]*) echo "error: \`$$pkg\` in HOST_DEPS is not a Debian package name" >&2; exit 1;; esac; \
	  test -e "$$file" || { missing="$$missing $$pkg"; files="$$files $$file"; }; done; \
	test -z "$$missing" && exit 0; \
	if [ "$$(id -u)" = 0 ]; then sudo=; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo='sudo '; \
	else echo "error: this machine lacks$$files, which the images stage; install them with \`sudo apt-get install -y$$missing\` (as root: \`apt-get install -y$$missing\`)" >&2; exit 1; fi; \
	command -v apt-get >/dev/null 2>&1 || { echo "error: this machine lacks$$files, which the images stage, and has no apt-get; install the packages that provide them ($$missing on Debian) by hand" >&2; exit 1; }; \
	echo "host-deps: this machine lacks$$files; running: $${sudo}apt-get update && $${sudo}apt-get install -y$$missing"; \
	$(if $(call yes,DRY_RUN),echo "(DRY_RUN=1: nothing was run)"; exit 0;) \
	$${sudo}apt-get update && $${sudo}apt-get install -y $$missing || { echo "error: \`$${sudo}apt-get install -y$$missing\` failed; run it by hand" >&2; exit 1; }; \
	for f in $$files; do test -e "$$f" || { echo "error: \`$$f\` is still missing after installing$$missing; install what provides it by hand" >&2; exit 1; }; done

help: imagemk-bin ## show these targets and this component's images
	@echo "targets (variables: IMAGE_TAG PLATFORM VARIANT REGISTRY CHANNEL JOBS IMAGEMK_ENGINE DRY_RUN=1 KEEP_GOING=1 DEPS=1 DEPENDENTS=1 FORCE=1 EXPLAIN=1 REUSE=1/0 YES=1 LOCK=1 LOCKED=1 CHECK=1 ATOMIC=1 PROMOTE_TO TARGET CMD):"
	@grep -hE '^[A-Za-z%_.-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([^:]+):.*## (.*)/\1|\2/' | \
	  awk -F'|' '{ printf "  %-26s %s\n", $$1, $$2 }'
	@echo
	@echo "images of the workspace (make <kind>-image in a component builds its images of that kind):"
	@$(IMAGEMK_RUN) list --json $(IMAGEMK_FLAGS) >/dev/null 2>&1 && $(IMAGEMK_RUN) list $(IMAGEMK_FLAGS) | sed 's/^/  /'

# A registry on this machine for `REGISTRY=local` (Debian's `docker-registry`, distribution 2.8),
# with its config, data, log and pid under .imagemk/registry. The daemon treats localhost as an
# insecure registry, so plain HTTP works with no daemon configuration.
LOCAL_REGISTRY_PORT ?= 5000
LOCAL_REGISTRY_DIR ?= $(IMAGEMK_TOP)/.imagemk/registry
# The port: digits only (it is used in shell text); the directory: one quoted word.
imagemk_nondigits = $(subst 0,,$(subst 1,,$(subst 2,,$(subst 3,,$(subst 4,,$(subst 5,,$(subst \
  6,,$(subst 7,,$(subst 8,,$(subst 9,,$(1)))))))))))
IMAGEMK_LR_PORT = $(strip $(if $(filter-out 1,$(words $(call imagemk_raw,LOCAL_REGISTRY_PORT)))$(call \
  imagemk_nondigits,$(call imagemk_raw,LOCAL_REGISTRY_PORT)), \
  $(error LOCAL_REGISTRY_PORT must be a port number; got `$(call imagemk_raw,LOCAL_REGISTRY_PORT)`), \
  $(call imagemk_raw,LOCAL_REGISTRY_PORT)))
IMAGEMK_LR_DIR = $(call imagemk_q,$(call imagemk_raw,LOCAL_REGISTRY_DIR))
# Exporting a command-line value to a recipe would expand it (`$(shell …)` included): unexported.
unexport $(foreach v,LOCAL_REGISTRY_PORT LOCAL_REGISTRY_DIR,$(if $(filter command line,$(origin $(v))),$(v)))

local-registry: ## start a registry on localhost:5000 (LOCAL_REGISTRY_PORT) for REGISTRY=local
	@command -v curl >/dev/null || { echo "error: \`curl\` is not installed (it checks that the registry answers); install it (\`apt-get install curl\`)" >&2; exit 1; }; \
	if curl -sf http://127.0.0.1:$(IMAGEMK_LR_PORT)/v2/ >/dev/null 2>&1; then \
	  echo "a registry already answers on localhost:$(IMAGEMK_LR_PORT)"; exit 0; fi; \
	command -v docker-registry >/dev/null || { echo "error: \`docker-registry\` is not installed; install it (\`apt-get install docker-registry\`) or run any registry on localhost:$(IMAGEMK_LR_PORT)" >&2; exit 1; }; \
	mkdir -p $(IMAGEMK_LR_DIR)/data && \
	printf 'version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:%s\n  secret: imagemk-local\n' \
	  $(IMAGEMK_LR_DIR)/data $(IMAGEMK_LR_PORT) > $(IMAGEMK_LR_DIR)/config.yml && \
	{ nohup docker-registry serve $(IMAGEMK_LR_DIR)/config.yml > $(IMAGEMK_LR_DIR)/log 2>&1 & echo $$! > $(IMAGEMK_LR_DIR)/pid; } && \
	for i in $$(seq 50); do curl -sf http://127.0.0.1:$(IMAGEMK_LR_PORT)/v2/ >/dev/null 2>&1 && break; sleep 0.1; done; \
	curl -sf http://127.0.0.1:$(IMAGEMK_LR_PORT)/v2/ >/dev/null 2>&1 || { echo "error: the registry did not start; see $(IMAGEMK_LR_DIR)/log" >&2; exit 1; }; \
	echo "registry running on localhost:$(IMAGEMK_LR_PORT) (pid $$(cat $(IMAGEMK_LR_DIR)/pid)); \`make stop-local-registry\` stops it"

stop-local-registry: ## stop the registry `make local-registry` started
	@test -f $(IMAGEMK_LR_DIR)/pid || { echo "no registry was started by \`make local-registry\`"; exit 0; }; \
	kill $$(cat $(IMAGEMK_LR_DIR)/pid) 2>/dev/null; rm -f $(IMAGEMK_LR_DIR)/pid; echo "registry stopped"
