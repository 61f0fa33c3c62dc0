#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Run the rawkv selftests inside the test VM (busybox sh, root; the test
# binaries and rawkv.ko in /rawkv). scripts/check.sh boots the VM twice on
# the same disks:
#
#   guest-check.sh boot1   every test program (they reformat vda and vdb;
#                          rawkv_crash_test in its bounded mode, a few minutes),
#                          then, last, rawkv_reboot_prepare_test, which
#                          leaves a flushed store on vda with rawkv loaded
#   guest-check.sh boot2   rawkv_reboot_verify_test only: vda must come
#                          back as boot 1 left it; nothing formats it first
#
# Prints the TAP output of every program. A program that ends without its
# "# Totals:" line (crash, missing binary) gets one printed for it, with one
# failure, so the host's sum counts it. When a program fails, the tail of
# the kernel log follows as "# dmesg:" comment lines.
#
# Exit status: 0 once every program has run, whatever their results (the
# "# Totals:" lines carry those, and the host sums them); 2 on bad usage.

DIR=$(dirname "$0")
NORMAL="rawkv_basic_test rawkv_abi_test rawkv_load_test rawkv_persist_test
rawkv_evict_test rawkv_corrupt_test rawkv_stat_test rawkv_threads_test
rawkv_fuzz_ioctl_test rawkv_fast_test rawkv_uring_test rawkv_error_test
rawkv_regress_test rawkv_multi_test rawkv_list_test rawkv_meta_test
rawkv_crash_test"

export RAWKV_KO="${RAWKV_KO:-$DIR/rawkv.ko}"

now() { cut -d' ' -f1 /proc/uptime; }

run() { # run PROGRAM
	bin=$DIR/$1
	out=/tmp/guest-check.$1.out
	echo "# ==== $1"
	if [ ! -x "$bin" ]; then
		echo "# $1: not found in $DIR"
		echo "# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0"
		return
	fi
	start=$(now)
	# tee shows the output live; the exit status travels through a file
	{ "$bin" 2>&1; echo $? >"$out.rc"; } | tee "$out"
	rc=$(cat "$out.rc" 2>/dev/null)
	if ! grep -q '^# Totals:' "$out"; then
		echo "# $1: exited with status ${rc:-?} before its totals"
		echo "# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0"
		rc=1
	fi
	echo "# $1: exit status $rc, $(awk -v a="$start" -v b="$(now)" \
		'BEGIN { printf "%.1f", b - a }') s"
	if [ "$rc" != 0 ]; then
		dmesg | tail -n 40 | sed 's/^/# dmesg: /'
	fi
}

case ${1:-} in
boot1)
	for t in $NORMAL; do
		run "$t"
	done
	# last: nothing may touch vda after this until the power-off
	run rawkv_reboot_prepare_test
	;;
boot2)
	run rawkv_reboot_verify_test
	;;
*)
	echo "usage: $0 boot1|boot2" >&2
	exit 2
	;;
esac
exit 0
