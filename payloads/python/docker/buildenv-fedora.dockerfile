# python payload build environment: the km build environment plus the python toolchain marker.
ARG NAMESPACE=kontain
ARG PLATFORM=fedora
ARG IMAGE_TAG=latest
FROM ${NAMESPACE}/buildenv-km-${PLATFORM}:${IMAGE_TAG}
RUN mkdir -p /opt/kontain/python && echo "python toolchain" > /opt/kontain/python/TOOLCHAIN
