# km build environment, busybox flavour: a shell and coreutils from a static busybox,
# FROM scratch so it builds with no registry. `busybox` is staged into the context by imagemk.
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ARG TOOLCHAIN
RUN mkdir -p /tmp /opt/kontain/bin && chmod 1777 /tmp \
 && echo "toolchain: ${TOOLCHAIN}" > /opt/kontain/TOOLCHAIN
ENV PATH=/opt/kontain/bin:/bin
CMD ["/bin/sh"]
