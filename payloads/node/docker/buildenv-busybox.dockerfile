# node payload build environment: the km build environment plus the node toolchain marker.
ARG NAMESPACE=kontain
ARG PLATFORM=busybox
ARG IMAGE_TAG=latest
FROM ${NAMESPACE}/buildenv-km-${PLATFORM}:${IMAGE_TAG}
RUN mkdir -p /opt/kontain/node && echo "node toolchain" > /opt/kontain/node/TOOLCHAIN
# The payload's "blank": prebuilt artifacts that `make all` extracts and builds on.
RUN mkdir -p /opt/kontain/node/blank \
 && echo "node runtime (prebuilt)" > /opt/kontain/node/blank/libnode.txt
