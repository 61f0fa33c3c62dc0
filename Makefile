# SPDX-License-Identifier: GPL-2.0
#
# rawkv: build the module, the library and CLI, the selftests; run them in a VM.
#
#   make            build everything (installs build dependencies on first use)
#   make demo       store values in a VM, reboot it, read them back
#   make check      run every selftest in a VM; prints "N passed, N failed"
#   make bench      benchmark rawkv against raw and file-per-key I/O in a VM
#                   (BENCHMARKS.md)
#   make KDIR=...   build the module against another kernel tree
#
# KVER picks an installed Debian kernel (headers under /lib/modules/KVER/build,
# image /boot/vmlinuz-KVER); it defaults to the newest installed 6.1 kernel.
# The host kernel is never used: it cannot load modules here.

SHELL := /bin/bash
TOP := $(CURDIR)
BUILD := $(TOP)/build

KVER ?= $(shell $(TOP)/scripts/kver.sh)
KDIR ?= /lib/modules/$(KVER)/build
export KVER KDIR

.PHONY: all setup modules userlib selftests bench-build check demo bench clean

all: modules userlib selftests

setup:
	@$(TOP)/scripts/setup.sh

modules: setup
	$(MAKE) -C $(KDIR) M=$(TOP) W=1 KCFLAGS=-Werror modules

userlib: setup
	$(MAKE) -C userlib

selftests: setup userlib
	$(MAKE) -C selftests

bench-build: userlib
	$(MAKE) -C bench

check: all
	$(TOP)/scripts/check.sh

demo: all
	$(TOP)/scripts/demo.sh

bench: all bench-build
	$(TOP)/scripts/bench.sh

clean:
	-$(MAKE) -C $(KDIR) M=$(TOP) clean
	$(MAKE) -C userlib clean
	$(MAKE) -C selftests clean
	$(MAKE) -C bench clean
	rm -rf $(BUILD)
