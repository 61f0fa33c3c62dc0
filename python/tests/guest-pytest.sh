#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Run python/tests with pytest inside the test VM (scripts/vm.sh --virtfs: the
# host's root, read-only, at /host). The busybox guest has no Python, so this
# chroots into /host and runs the host's /usr/bin/python3 there:
#
#   guest-pytest.sh PYDIR DEV [pytest arguments...]
#
# PYDIR is the host path of python/ (with the built extension); DEV the disk
# the tests format and load rawkv on (the session fixture insmods
# /rawkv/rawkv.ko, copied to /tmp/py/rawkv.ko, with dev=DEV format=1).
# Before the chroot: PYDIR and rawkv.ko are copied into the guest's /tmp
# (tmpfs), which is then bind-mounted over /host/tmp; /dev (with a tmpfs
# /dev/shm for multiprocessing's semaphores), /proc and /sys are mounted into
# /host too. Python runs with -X dev (debug hooks on the memory allocators,
# faulthandler, ResourceWarnings shown).
#
# Prints pytest's output and, from the conftest hook, a line
# "# Totals: pass:N fail:N xfail:N xpass:N skip:N error:N"; when pytest ends
# without one (crash, missing files) it prints one with one failure.
# Exit status: pytest's.
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
cp -r "$H$PYDIR/rawkv" "$H$PYDIR/tests" $W/ && cp /rawkv/rawkv.ko $W/ ||
	totals_fail "cannot copy $PYDIR into the guest"
mkdir -p /dev/shm && mount -t tmpfs tmpfs /dev/shm &&
	mount -o bind /tmp $H/tmp && mount -o bind /dev $H/dev &&
	mount -o bind /dev/shm $H/dev/shm &&
	mount -t proc proc $H/proc && mount -t sysfs sysfs $H/sys ||
	totals_fail "cannot prepare the chroot in $H"

rc_file=/tmp/guest-pytest.rc
out=/tmp/guest-pytest.out
{
	chroot $H /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp \
		PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$W PYTHONFAULTHANDLER=1 \
		RAWKV_TEST_DEV="$DEV" RAWKV_KO=$W/rawkv.ko RAWKV_TEST_GUEST=1 \
		/usr/bin/python3 -X dev -m pytest -p no:cacheprovider -v -rfEs \
		"$@" $W/tests 2>&1
	echo $? >$rc_file
} | tee $out
rc=$(cat $rc_file 2>/dev/null)
grep -q '^# Totals:' $out || totals_fail "pytest exited with status ${rc:-?} before its totals"
umount $H/sys $H/proc $H/dev/shm $H/dev $H/tmp 2>/dev/null
exit "${rc:-1}"
