# km build environment, busybox flavour: a shell and coreutils from a static busybox,
# FROM scratch so it builds with no registry. `busybox` is staged into the context by imagemk.
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ARG TOOLCHAIN
RUN mkdir -p /tmp /opt/kontain/bin && chmod 1777 /tmp \
 && echo "toolchain: ${TOOLCHAIN}" > /opt/kontain/TOOLCHAIN
# GNU make from the host (staged with its libraries by imagemk; see images.yaml).
COPY make/make /usr/bin/make
COPY make/libc.so.6 make/libdl.so.2 /lib/x86_64-linux-gnu/
COPY make/ld-linux-x86-64.so.2 /lib64/
ENV PATH=/opt/kontain/bin:/usr/bin:/bin
CMD ["/bin/sh"]
