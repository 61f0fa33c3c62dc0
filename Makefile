# SPDX-License-Identifier: GPL-2.0
#
# rawkv: build the module, the library and CLI, the selftests; run them in a VM.
#
#   make            build everything (installs build dependencies on first use)
#   make demo       store values in a VM, reboot it, read them back
#   make check      run every selftest in a VM; prints "N passed, N failed"
#   make python     build the Python package's C extension (python/), and its
#                   ASan/UBSan variant for the tests
#   make crashtest  the crash workloads judged with a volatile write cache at
#                   every cut point, and every mutant (the full mode of
#                   rawkv_crash_test) in a VM; "N passed, N failed"
#   make fuzz       fuzz the on-device decoders for 10 minutes (FUZZ_SECONDS)
#   make lint       W=1, sparse and checkpatch --strict on the module
#   make check-debug  every selftest on a KASAN/lockdep/kmemleak/UBSAN kernel
#   make check KVER=$(scripts/setup-612.sh)  the same on Debian's 6.12 kernel
#   make bench      rawkv against raw O_DIRECT and io_uring I/O in a VM, on a
#                   throttled drive model and unthrottled (BENCHMARKS.md)
#   make scale      the scale table on multi-terabyte sparse disks in a VM
#                   (BENCHMARKS.md, "Scale"); "N passed, N failed"
#   make KDIR=...   build the module against another kernel tree
#   make install    the module (lib/modules/KVER/updates), librawkv, its
#                   headers and rawkv.pc, the CLI, man pages, the udev rule;
#                   DESTDIR, PREFIX (default /usr/local), UDEVRULESDIR.
#                   Without DESTDIR it also runs depmod and creates the
#                   system group rawkv. make uninstall removes it all again.
#   make dkms-source  the module's sources and dkms.conf in
#                   $(DESTDIR)/usr/src/rawkv-VERSION, for dkms add/install
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

# The one version of rawkv: dkms.conf and userlib (rawkv.pc) read it too.
VERSION := $(shell cat $(TOP)/VERSION)
PREFIX ?= /usr/local
MANDIR ?= $(PREFIX)/share/man
UDEVRULESDIR ?= /lib/udev/rules.d
DKMS_SRCDIR ?= /usr/src/rawkv-$(VERSION)
MANPAGES := man/rawkv.8 man/librawkv.3 man/rawkv.4

.PHONY: all setup modules userlib selftests bench-build check crashtest fuzz \
	lint check-debug demo bench scale clean python install uninstall \
	dkms-source

all: modules userlib selftests python

setup:
	@$(TOP)/scripts/setup.sh

modules: setup
	$(MAKE) -C $(KDIR) M=$(TOP) W=1 KCFLAGS=-Werror modules

userlib: setup
	$(MAKE) -C userlib

selftests: setup userlib
	$(MAKE) -C selftests

# The Python package rawkv (python/): its C extension, for Debian's python3.
python: setup userlib
	$(MAKE) -C python all asan

bench-build: userlib
	$(MAKE) -C bench

check: all
	$(TOP)/scripts/check.sh

# Its own disks (build/vm/crashtest-vd[a-f].img), so it can run beside make
# check: vdd and vde are dm-log-writes' data and log, vdf takes the images.
# RAWKV_CRASHTEST_TIMEOUT: seconds for the VM (default 3600).
CT := $(BUILD)/vm/crashtest
crashtest: all
	@mkdir -p $(BUILD)/vm && rm -f $(CT)-vd[a-f].img && \
	truncate -s 1G $(CT)-vda.img && truncate -s 64M $(CT)-vdb.img && \
	truncate -s 16K $(CT)-vdc.img && truncate -s 64M $(CT)-vdd.img && \
	truncate -s 1G $(CT)-vde.img && truncate -s 64M $(CT)-vdf.img
	@start=$$SECONDS; \
	$(TOP)/scripts/vm.sh --name crashtest --timeout $${RAWKV_CRASHTEST_TIMEOUT:-3600} \
		--disk $(CT)-vda.img --disk $(CT)-vdb.img:4096 --disk $(CT)-vdc.img \
		--disk $(CT)-vdd.img --disk $(CT)-vde.img --disk $(CT)-vdf.img \
		--run 'RAWKV_CRASH_MODE=full /rawkv/rawkv_crash_test' 2>&1 | tee $(CT).log; \
	rc=$${PIPESTATUS[0]}; \
	read -r p f <<<"$$(tr -d '\r' <$(CT).log | sed -n 's/^# Totals: //p' | \
		awk -F'[: ]+' '{ for (i = 1; i < NF; i += 2) n[$$i] += $$(i + 1) } \
		END { print n["pass"] + n["xfail"] + 0, n["fail"] + n["xpass"] + n["skip"] + n["error"] + 0 }')"; \
	grep -q '^# Totals:' $(CT).log || { f=$$((f + 1)); echo "not ok - crashtest: no '# Totals:' line"; }; \
	(( rc & ~1 )) && { f=$$((f + 1)); echo "not ok - crashtest: vm.sh status $$rc (timeout, crash or kernel log problem; logs in $(CT)/)"; }; \
	imgs=$$(tr -d '\r' <$(CT).log | sed -n 's/^# [a-z]* (full): .*crash images checked: \([0-9]*\),.*/\1/p' | \
		awk '{ n += $$1 } END { print n + 0 }'); \
	echo "# crashtest: crash images checked: $$imgs (write-cache model, every workload)"; \
	[ $$imgs -ge 2000 ] || { f=$$((f + 1)); echo "not ok - crashtest: fewer than 2000 crash images checked"; }; \
	grep -h '^# mutants caught:' $(CT).log | tr -d '\r'; \
	echo "# crashtest: $$((SECONDS - start)) s in the VM"; \
	echo "$$p passed, $$f failed"; \
	[ $$f -eq 0 ] && [ $$p -gt 0 ]

fuzz:
	$(TOP)/scripts/fuzz.sh $(or $(FUZZ_SECONDS),600)

lint:
	$(TOP)/scripts/lint.sh

check-debug:
	$(TOP)/scripts/check-debug.sh

demo: all
	$(TOP)/scripts/demo.sh

bench: all bench-build
	$(TOP)/scripts/bench.sh

# Its own disks (build/vm/scale-*.img: two of 4 TiB and one of 32 GiB, sparse,
# deleted afterwards) and a guest of 6 GiB; see scripts/scale.sh for settings.
scale: all
	$(TOP)/scripts/scale.sh

# modules_install with DEPMOD=true: depmod only for the running system's tree
# (DESTDIR empty), below. Debian's headers set CONFIG_MODULE_SIG_ALL without
# the key, so modules_install cannot sign (it says so); dkms signs its own build.
install: modules userlib
	$(MAKE) -C $(KDIR) M=$(TOP) INSTALL_MOD_PATH=$(DESTDIR) \
		INSTALL_MOD_DIR=updates DEPMOD=true modules_install
	$(MAKE) -C userlib install DESTDIR=$(DESTDIR) PREFIX=$(PREFIX)
	install -d $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man4 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UDEVRULESDIR)
	install -m 644 man/librawkv.3 $(DESTDIR)$(MANDIR)/man3/
	install -m 644 man/rawkv.4 $(DESTDIR)$(MANDIR)/man4/
	install -m 644 man/rawkv.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 644 udev/60-rawkv.rules $(DESTDIR)$(UDEVRULESDIR)/
ifeq ($(DESTDIR),)
	depmod -a $(KVER)
	getent group rawkv >/dev/null || groupadd --system rawkv
endif

# Leaves the group rawkv: files elsewhere may belong to it.
uninstall:
	rm -f $(DESTDIR)/lib/modules/$(KVER)/updates/kmod/rawkv.ko*
	-rmdir $(DESTDIR)/lib/modules/$(KVER)/updates/kmod 2>/dev/null
	$(MAKE) -C userlib uninstall DESTDIR=$(DESTDIR) PREFIX=$(PREFIX)
	rm -f $(DESTDIR)$(MANDIR)/man3/librawkv.3 $(DESTDIR)$(MANDIR)/man4/rawkv.4 \
		$(DESTDIR)$(MANDIR)/man8/rawkv.8 $(DESTDIR)$(UDEVRULESDIR)/60-rawkv.rules
ifeq ($(DESTDIR),)
	depmod -a $(KVER)
endif

# What dkms needs to build the module, and nothing else (not build/).
dkms-source:
	install -d $(DESTDIR)$(DKMS_SRCDIR)/kmod $(DESTDIR)$(DKMS_SRCDIR)/uapi
	install -m 644 dkms.conf VERSION Kbuild $(DESTDIR)$(DKMS_SRCDIR)/
	install -m 644 kmod/Kbuild $(filter-out %.mod.c,$(wildcard kmod/*.c)) \
		$(wildcard kmod/*.h) $(DESTDIR)$(DKMS_SRCDIR)/kmod/
	install -m 644 uapi/rawkv.h $(DESTDIR)$(DKMS_SRCDIR)/uapi/

clean:
	-$(MAKE) -C $(KDIR) M=$(TOP) clean
	$(MAKE) -C userlib clean
	$(MAKE) -C selftests clean
	$(MAKE) -C bench clean
	$(MAKE) -C python clean
	rm -rf $(BUILD)
