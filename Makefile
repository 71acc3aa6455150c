# SPDX-License-Identifier: GPL-2.0
#
# pgremap: see README.md.
#
#   make                 module for the running kernel + userspace programs
#   make check           everything, inside every supported Debian kernel
#   make demo            the main job, in Debian 12's 6.1 under QEMU
#   make install         module into /lib/modules/$(KERNELRELEASE)
#   make dkms-install    register the source with DKMS and build/install it
#
# KERNELRELEASE and KDIR select another kernel, as for any kbuild module.

VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)
KERNELRELEASE ?= $(shell uname -r)
KDIR ?= /lib/modules/$(KERNELRELEASE)/build
DESTDIR ?=
DKMS_SRC := $(DESTDIR)/usr/src/pgremap-$(VERSION)

# Debian packages the build, the VM rig and the tests need (Debian 12).
DEB_DEPS := build-essential bc kmod libkmod-dev pkg-config check dkms \
	qemu-system-x86 busybox-static cpio xz-utils zstd clang-format \
	linux-headers-amd64 linux-headers-6.12-amd64

# Kernel flavours that `make check` covers (see tools/pgremap-vm --help).
FLAVOURS ?= 6.1 6.12

all: module userspace

module:
	$(MAKE) -C module KERNELRELEASE=$(KERNELRELEASE) KDIR=$(KDIR)

userspace:
	$(MAKE) -C tests
	$(MAKE) -C tools

# Install what `make check` needs. Root only; apt is idempotent.
deps:
	@if [ "$$(id -u)" != 0 ]; then \
		echo "make deps: run as root, or install: $(DEB_DEPS)" >&2; exit 1; fi
	@if [ -z "$$(find /var/lib/apt/lists -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]; then \
		apt-get update -qq; fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends $(DEB_DEPS) >/dev/null

check: deps userspace
	FLAVOURS="$(FLAVOURS)" tests/run-check

demo: deps userspace
	tools/pgremap-demo

install: module
	$(MAKE) -C $(KDIR) M=$(CURDIR)/module modules_install
	depmod -a $(KERNELRELEASE)

# The DKMS source tree: only what the module build reads.
dkms-src:
	rm -rf $(DKMS_SRC)
	mkdir -p $(DKMS_SRC)/module/probes $(DKMS_SRC)/include/uapi/linux
	cp dkms.conf $(DKMS_SRC)/
	cp module/Kbuild module/Makefile module/probe.sh module/*.[ch] \
		$(DKMS_SRC)/module/
	cp module/probes/*.c $(DKMS_SRC)/module/probes/
	cp include/uapi/linux/pgremap.h $(DKMS_SRC)/include/uapi/linux/

dkms-install: dkms-src
	-dkms remove pgremap/$(VERSION) --all
	dkms add pgremap/$(VERSION)
	dkms install pgremap/$(VERSION) -k $(KERNELRELEASE)

dkms-uninstall:
	dkms remove pgremap/$(VERSION) --all
	rm -rf $(DKMS_SRC)

clean:
	-$(MAKE) -C module clean
	$(MAKE) -C tests clean
	$(MAKE) -C tools clean

.PHONY: all module userspace deps check demo install dkms-src dkms-install \
	dkms-uninstall clean
