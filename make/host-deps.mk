# The host files the example's images stage (images.yaml `stage:` entries with absolute `from:`),
# as FILE=PACKAGE: `make all-images` installs the missing ones first (`make host-deps`).
HOST_DEPS := /bin/busybox=busybox-static /usr/bin/make=make \
  /lib/x86_64-linux-gnu/libc.so.6=libc6 /lib/x86_64-linux-gnu/libdl.so.2=libc6 \
  /lib64/ld-linux-x86-64.so.2=libc6
