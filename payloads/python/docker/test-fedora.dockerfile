# python payload test image: its build environment plus its tests.
ARG NAMESPACE=kontain
ARG PLATFORM=fedora
ARG IMAGE_TAG=latest
FROM ${NAMESPACE}/buildenv-python-${PLATFORM}:${IMAGE_TAG}
COPY tests /opt/kontain/python/tests
CMD ["/bin/sh", "/opt/kontain/python/tests/run.sh"]
