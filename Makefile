# SPDX-License-Identifier: GPL-2.0
#
# pgremap: see README.md.
#
#   make                 module for the running kernel + userspace programs
#   make check           everything, inside every supported Debian kernel
#   make bench           the benchmarks in every supported kernel under QEMU
#                        (BENCH_ARGS: tools/pgremap-bench-run options)
#   make demo            the main job: the same, with the default arguments
#   make install         library, header, pkg-config file, shim, CLI and
#                        man pages under $(PREFIX) (DESTDIR honoured)
#   make module-install  module into /lib/modules/$(KERNELRELEASE)
#   make dkms-install    register the source with DKMS and build/install it
#   make check-deb       build the Debian packages, install pgremap-dkms
#                        (DKMS autoinstall for every kernel), purge it
#   make check-debug     build 6.1 with DEBUG_VM, lockdep, KASAN, ... (cached)
#                        and run harness, fuzzer and stress inside it
#
# KERNELRELEASE and KDIR select another kernel, as for any kbuild module.

VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)
KERNELRELEASE ?= $(shell uname -r)
KDIR ?= /lib/modules/$(KERNELRELEASE)/build
DESTDIR ?=
DKMS_SRC := $(DESTDIR)/usr/src/pgremap-$(VERSION)

# `make install` directories (GNU conventions). The CLI goes to sbin: it is
# a section-8 administration command (load/unload need CAP_SYS_MODULE),
# like modprobe and dkms; `status` works for any user by its full path.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
INSTALL ?= install

# Debian packages the build, the VM rig and the tests need (Debian 12).
DEB_DEPS := build-essential bc kmod libkmod-dev pkg-config check dkms \
	qemu-system-x86 busybox-static cpio xz-utils zstd clang-format python3 \
	linux-headers-amd64 linux-headers-6.12-amd64

# Extra Debian packages of `make check-debug` (a kernel build).
DEBUG_DEPS := flex bison libelf-dev libssl-dev bc

# Extra Debian packages of `make bench` and `make demo` (the plots);
# `make check` does without them.
BENCH_DEPS := gnuplot-nox

# Kernel flavours that `make check` covers (see tools/pgremap-vm --help).
FLAVOURS ?= 5.10 6.1 6.12

# Options of tools/pgremap-bench-run for `make bench`, e.g. "--quick".
BENCH_ARGS ?=

all: module userspace

module:
	$(MAKE) -C module KERNELRELEASE=$(KERNELRELEASE) KDIR=$(KDIR)

userspace:
	$(MAKE) -C tools/libpgremap
	$(MAKE) -C tests
	$(MAKE) -C tests/fuzz
	$(MAKE) -C tests/stress
	$(MAKE) -C tools

# $(call apt-install,TARGET,PACKAGES): install Debian packages. Root only;
# apt is idempotent.
define apt-install
	@if [ "$$(id -u)" != 0 ]; then \
		echo "make $(1): run as root, or install: $(2)" >&2; exit 1; fi
	@if [ -z "$$(find /var/lib/apt/lists -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]; then \
		apt-get update -qq; fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends $(2) >/dev/null
endef

# Install what `make check` needs.
deps:
	$(call apt-install,deps,$(DEB_DEPS))

# And what `make bench` needs on top.
bench-deps: deps
	$(call apt-install,bench-deps,$(BENCH_DEPS))

check: deps userspace
	FLAVOURS="$(FLAVOURS)" tests/run-check

check-debug: deps userspace
	$(call apt-install,check-debug,$(DEBUG_DEPS))
	tests/check-debug

bench: bench-deps userspace
	tools/pgremap-bench-run $(BENCH_ARGS)

demo: bench-deps userspace
	tools/pgremap-demo

tools:
	$(MAKE) -C tools

# Userspace, under $(PREFIX): libpgremap (shared, static, pgremap.h and
# the UAPI header linux/pgremap.h, pkg-config file, shim, section-3 and -7
# pages: tools/libpgremap's install), the CLI, pgremap-bench if built, the
# man pages of the device, the CLI and the benchmark. Not the VM rig (nor
# its man page): it runs from the source tree.
install: tools
	$(MAKE) -C tools/libpgremap install DESTDIR=$(DESTDIR) \
		PREFIX=$(PREFIX) LIBDIR=$(LIBDIR) INCLUDEDIR=$(INCLUDEDIR) \
		MANDIR=$(MANDIR)
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man4 \
		$(DESTDIR)$(MANDIR)/man8
	$(INSTALL) -m 755 tools/pgremap $(DESTDIR)$(SBINDIR)/
	$(INSTALL) -m 644 tools/pgremap.4 $(DESTDIR)$(MANDIR)/man4/
	$(INSTALL) -m 644 tools/pgremap.8 $(DESTDIR)$(MANDIR)/man8/
	if [ -x tools/pgremap-bench ]; then \
		$(INSTALL) -d $(DESTDIR)$(BINDIR) && \
		$(INSTALL) -m 755 tools/pgremap-bench $(DESTDIR)$(BINDIR)/; fi
	if [ -f tools/pgremap-bench.1 ] && [ -x tools/pgremap-bench ]; then \
		$(INSTALL) -d $(DESTDIR)$(MANDIR)/man1 && \
		$(INSTALL) -m 644 tools/pgremap-bench.1 $(DESTDIR)$(MANDIR)/man1/; fi
	if [ -z "$(DESTDIR)" ] && command -v ldconfig >/dev/null; then \
		ldconfig; fi

module-install: module
	$(MAKE) -C $(KDIR) M=$(CURDIR)/module modules_install
	depmod -a $(KERNELRELEASE)

# The DKMS source tree: only what the module build reads.
dkms-src:
	rm -rf $(DKMS_SRC)
	mkdir -p $(DKMS_SRC)/module/probes $(DKMS_SRC)/include/uapi/linux
	cp dkms.conf $(DKMS_SRC)/
	cp module/Kbuild module/Makefile module/probe.sh \
		$(filter-out %.mod.c,$(wildcard module/*.[ch])) $(DKMS_SRC)/module/
	cp module/probes/*.c $(DKMS_SRC)/module/probes/
	cp include/uapi/linux/pgremap.h $(DKMS_SRC)/include/uapi/linux/

dkms-install: dkms-src
	-dkms remove pgremap/$(VERSION) --all
	dkms add pgremap/$(VERSION)
	dkms install pgremap/$(VERSION) -k $(KERNELRELEASE)

dkms-uninstall:
	dkms remove pgremap/$(VERSION) --all
	rm -rf $(DKMS_SRC)

# Debian packages (debian/), then pgremap-dkms installed with dpkg on this
# host: DKMS must build it for every installed kernel (tests/deb-install).
# Takes minutes; not part of `make check`.
check-deb:
	tests/deb-install

clean:
	-$(MAKE) -C module clean
	$(MAKE) -C tests clean
	$(MAKE) -C tests/fuzz clean
	$(MAKE) -C tests/stress clean
	$(MAKE) -C tools clean

.PHONY: all module userspace tools deps bench-deps check bench demo install \
	module-install dkms-src dkms-install dkms-uninstall check-deb \
	check-debug clean
