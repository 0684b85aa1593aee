# km test image: the build environment plus the core's tests.
ARG NAMESPACE=kontain
ARG PLATFORM=fedora
ARG IMAGE_TAG=latest
FROM ${NAMESPACE}/buildenv-km-${PLATFORM}:${IMAGE_TAG}
COPY tests /opt/kontain/tests
CMD ["/bin/bash", "/opt/kontain/tests/run.sh"]
