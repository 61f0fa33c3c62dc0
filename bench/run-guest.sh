#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Run rawkv-bench inside the VM that scripts/bench.sh boots (scripts/vm.sh
# --virtfs: the host's root is at /host, read-only). On each device in turn:
# the virtio disk DEV, then a brd RAM disk of BRD_MIB MiB.
#
#   run-guest.sh DEV BRD_MIB [rawkv-bench options...]
#
# Loads ext4 (and its dependencies) from the host's /lib/modules for the
# guest kernel; mkfs.ext4 is the host's, run through the host's dynamic
# loader by mkfs-ext4.sh. Exit status: 0 when every rawkv-bench run exited 0.

DIR=$(dirname "$0")
DEV=${1:?usage: run-guest.sh DEV BRD_MIB [options]}
BRD_MIB=${2:?usage: run-guest.sh DEV BRD_MIB [options]}
shift 2
KVER=$(uname -r)
HOSTMOD=/host/lib/modules/$KVER
MNT=/tmp/bench-mnt
rc=0

# insmod a module of the host's tree with its dependencies (deepest first).
load_host_mod() { # load_host_mod kernel/fs/ext4/ext4.ko
	line=$(grep -m1 "^$1:" "$HOSTMOD/modules.dep") || {
		echo "run-guest.sh: $1 is not in $HOSTMOD/modules.dep" >&2
		return 1
	}
	deps=
	for d in ${line#*:}; do deps="$d $deps"; done
	for d in $deps $1; do
		name=$(basename "$d" .ko)
		[ -d "/sys/module/$(echo "$name" | tr - _)" ] && continue
		insmod "$HOSTMOD/$d" || return 1
	done
}

FILEOPTS=
if [ -d "$HOSTMOD" ] && load_host_mod kernel/fs/ext4/ext4.ko && mkdir -p "$MNT"; then
	FILEOPTS="--mkfs $DIR/mkfs-ext4.sh --mnt $MNT"
else
	echo "run-guest.sh: no ext4 (is the host's root at /host?): no file-per-key rows" >&2
fi

echo "# guest: $(uname -r), $(grep -c ^processor /proc/cpuinfo) CPUs," \
	"$(awk '/MemTotal/ { printf "%d MiB", $2 / 1024 }' /proc/meminfo)"

disk_label="virtio-blk (QEMU raw image, cache=writeback)"
# $FILEOPTS is split into words on purpose (busybox sh has no arrays).
# shellcheck disable=SC2086
"$DIR/rawkv-bench" --label "$disk_label" $FILEOPTS "$@" "$DEV" || rc=1

insmod "/lib/modules/$KVER/kernel/drivers/block/brd.ko" rd_nr=1 \
	rd_size=$((BRD_MIB * 1024)) || exit 1
i=0
while [ ! -b /dev/ram0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
# shellcheck disable=SC2086
"$DIR/rawkv-bench" --label "brd RAM disk" $FILEOPTS "$@" /dev/ram0 || rc=1
rmmod brd
exit $rc
