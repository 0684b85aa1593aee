# The top Makefile of the example workspace (the `km` core). Image targets come from
# make/images.mk; `make help` lists them.
TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
include $(TOP)/make/images.mk
.DEFAULT_GOAL := help
