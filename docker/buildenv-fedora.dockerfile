# km build environment for real use: the Fedora toolchain.
FROM fedora:40
ARG TOOLCHAIN
RUN dnf install -y gcc gcc-c++ make git findutils && dnf clean all \
 && mkdir -p /opt/kontain/bin && echo "toolchain: ${TOOLCHAIN}" > /opt/kontain/TOOLCHAIN
ENV PATH=/opt/kontain/bin:/usr/local/bin:/usr/bin:/bin
CMD ["/bin/bash"]
