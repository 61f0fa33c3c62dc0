#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Run python/tests with pytest inside the test VM (scripts/vm.sh --virtfs: the
# host's root, read-only, at /host). The busybox guest has no Python, so this
# chroots into /host and runs the host's /usr/bin/python3 there:
#
#   guest-pytest.sh PYDIR DEV [pytest arguments...]
#
# RAWKV_TEST_DEV2 and RAWKV_TEST_DEV3, when set, are more disks for the tests
# of several stores (tests/test_stores.py attaches and detaches the second,
# tests/test_mixed.py both).
# PYDIR is the host path of python/ (with the built extension); DEV the disk
# the tests format and load rawkv on (the session fixture insmods
# /rawkv/rawkv.ko, copied to /tmp/py/rawkv.ko, with dev=DEV format=1).
# Before the chroot: PYDIR, rawkv.ko and the static rawkv CLI (/rawkv/rawkv,
# for the tests as RAWKV_CLI=/tmp/py/bin/rawkv) are copied into the guest's
# /tmp (tmpfs), which is then bind-mounted over /host/tmp; /dev (with a tmpfs
# /dev/shm for multiprocessing's semaphores), /proc and /sys are mounted into
# /host too.
#
# Two passes: the extension as built (python3 -X dev: debug hooks on the memory
# allocators, faulthandler, ResourceWarnings shown), then, when
# `make -C python asan` built it, the same tests on build/asan/ (extension and
# librawkv under ASan and UBSan, libasan preloaded, PYTHONMALLOC=malloc).
# Each prints pytest's output and, from the conftest hook, a line
# "# Totals: pass:N fail:N xfail:N xpass:N skip:N error:N"; a pass that ends
# without one (crash, sanitizer report) gets one with one failure.
# Exit status: 0 when every pass passed.
set -u

PYDIR=${1:?usage: guest-pytest.sh PYDIR DEV [pytest args]}
DEV=${2:?usage: guest-pytest.sh PYDIR DEV [pytest args]}
shift 2
H=/host
W=/tmp/py

totals_fail() {
	echo "# guest-pytest.sh: $*"
	echo "# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0"
	exit 1
}

[ -x $H/usr/bin/python3 ] || totals_fail "no /host/usr/bin/python3 (run with --virtfs)"
ls "$H$PYDIR"/rawkv/_rawkv*.so >/dev/null 2>&1 ||
	totals_fail "no built extension in $PYDIR/rawkv (make -C python)"
mkdir -p $W || totals_fail "cannot create $W"
cp -r "$H$PYDIR/rawkv" "$H$PYDIR/tests" $W/ && cp /rawkv/rawkv.ko $W/ &&
	mkdir -p $W/bin && cp /rawkv/rawkv $W/bin/rawkv ||
	totals_fail "cannot copy $PYDIR, rawkv.ko and the rawkv CLI into the guest"
# the sanitized build too, if any: /host/tmp is hidden once /tmp is bound over it
ASAN=
if ls "$H$PYDIR"/build/asan/rawkv/_rawkv*.so >/dev/null 2>&1 &&
	[ -e $H/usr/lib/x86_64-linux-gnu/libasan.so.8 ]; then
	mkdir -p /tmp/py-asan && cp -r "$H$PYDIR/build/asan/rawkv" /tmp/py-asan/ ||
		totals_fail "cannot copy $PYDIR/build/asan into the guest"
	ASAN=/tmp/py-asan
fi
mkdir -p /dev/shm && mount -t tmpfs tmpfs /dev/shm &&
	mount -o bind /tmp $H/tmp && mount -o bind /dev $H/dev &&
	mount -o bind /dev/shm $H/dev/shm &&
	mount -t proc proc $H/proc && mount -t sysfs sysfs $H/sys ||
	totals_fail "cannot prepare the chroot in $H"

# run_pass NAME PYPATH [VAR=VALUE...]: one pytest run of the tests on the package
# in PYPATH; 0 when it printed its totals and passed.
run_pass() {
	name=$1 pypath=$2
	shift 2
	out=/tmp/guest-pytest.$name.out
	echo "# ==== python ($name): pytest $W/tests, rawkv from $pypath"
	{
		chroot $H /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp \
			PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$pypath" PYTHONFAULTHANDLER=1 \
			RAWKV_TEST_DEV="$DEV" RAWKV_TEST_DEV2="${RAWKV_TEST_DEV2:-}" \
			RAWKV_TEST_DEV3="${RAWKV_TEST_DEV3:-}" RAWKV_CLI=$W/bin/rawkv \
			RAWKV_KO=$W/rawkv.ko RAWKV_TEST_GUEST=1 "$@" \
			/usr/bin/python3 -X dev -m pytest -p no:cacheprovider -v -rfEs \
			$ARGS $W/tests 2>&1
		echo $? >$out.rc
	} | tee $out
	prc=$(cat $out.rc 2>/dev/null)
	if ! grep -q '^# Totals:' $out; then
		echo "# guest-pytest.sh: python ($name): pytest exited with status ${prc:-?} before its totals"
		echo "# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0"
		return 1
	fi
	[ "$prc" = 0 ]
}

ARGS="$*"
rc=0
run_pass plain $W || rc=1
# The same tests on the sanitized build (make -C python asan), when there is one:
# python3 with libasan preloaded and its plain malloc, so ASan sees every allocation.
if [ -n "$ASAN" ]; then
	run_pass asan $ASAN LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libasan.so.8 \
			ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
			PYTHONMALLOC=malloc || rc=1
else
	echo "# guest-pytest.sh: no sanitized build in $PYDIR/build/asan: one pass only"
fi
umount $H/sys $H/proc $H/dev/shm $H/dev $H/tmp 2>/dev/null
exit $rc
