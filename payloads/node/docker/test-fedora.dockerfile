# node payload test image: its build environment plus its tests.
ARG NAMESPACE=kontain
ARG PLATFORM=fedora
ARG IMAGE_TAG=latest
FROM ${NAMESPACE}/buildenv-node-${PLATFORM}:${IMAGE_TAG}
COPY tests /opt/kontain/node/tests
CMD ["/bin/sh", "/opt/kontain/node/tests/run.sh"]
