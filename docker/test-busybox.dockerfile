# km test image: the build environment plus the core's tests.
ARG NAMESPACE=kontain
ARG PLATFORM=busybox
ARG IMAGE_TAG=latest
FROM ${NAMESPACE}/buildenv-km-${PLATFORM}:${IMAGE_TAG}
COPY tests /opt/kontain/tests
CMD ["/bin/sh", "/opt/kontain/tests/run.sh"]
