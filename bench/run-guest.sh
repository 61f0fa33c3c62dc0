#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Run rawkv-bench inside the VM that scripts/bench.sh boots (scripts/vm.sh
# --virtfs: the host's root is at /host, read-only).
#
#   run-guest.sh DEV [--perf] [--old BRD_MIB] -- [rawkv-bench options...]
#
# Runs `rawkv-bench --model OPTIONS DEV` (the drive model's rows; with
# --calibrate among the options it first measures crc32c: AF_ALG needs
# af_alg and algif_hash, loaded here from the host's /lib/modules).
#   --perf          then a profile run: the 1 MiB PUT and GET rows of rawkv,
#                   1 thread, 64 MiB each, under the host's `perf record -a
#                   -g -e cpu-clock -F 1000`; prints the top symbols of each between
#                   BENCH-PERF-BEGIN NAME and BENCH-PERF-END lines.
#   --old BRD_MIB   then the older bench: rawkv next to raw and file per key
#                   on ext4 (the host's mkfs.ext4), load and memory, on DEV
#                   and on a brd RAM disk of BRD_MIB MiB.
# Exit status: 0 when every rawkv-bench run exited 0.

DIR=$(dirname "$0")
DEV=${1:?usage: run-guest.sh DEV [--perf] [--old BRD_MIB] -- [options]}
shift
PERF=
OLD=
while [ $# -gt 0 ]; do
	case $1 in
	--perf) PERF=1; shift ;;
	--old) OLD=$2; shift 2 ;;
	--) shift; break ;;
	*) break ;;
	esac
done
KVER=$(uname -r)
HOSTMOD=/host/lib/modules/$KVER
HOSTLIB=/host/usr/lib/x86_64-linux-gnu
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

echo "# guest: $(uname -r), $(grep -c ^processor /proc/cpuinfo) CPUs," \
	"$(awk '/MemTotal/ { printf "%d MiB", $2 / 1024 }' /proc/meminfo)," \
	"clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"

# AF_ALG for the calibration (kernel crc32c timed from user space).
if [ -d "$HOSTMOD" ]; then
	load_host_mod kernel/crypto/algif_hash.ko ||
		echo "run-guest.sh: no algif_hash: no AF_ALG calibration" >&2
fi

"$DIR/rawkv-bench" --model "$@" "$DEV" || rc=1

if [ -n "$PERF" ]; then
	# The host's perf through the host's loader; kernel symbols readable.
	cat >/tmp/perf.sh <<EOF
#!/bin/sh
exec $HOSTLIB/ld-linux-x86-64.so.2 --library-path $HOSTLIB /host/usr/bin/perf "\$@"
EOF
	chmod +x /tmp/perf.sh
	echo 0 >/proc/sys/kernel/kptr_restrict
	echo -1 >/proc/sys/kernel/perf_event_paranoid
	echo "# profile run: rawkv 1 MiB PUT and GET, 1 thread, under perf (its rows are not reported)"
	if "$DIR/rawkv-bench" --model --perf /tmp/perf.sh --sizes 1M --threads 1 --depth 0 \
		--no-raw --no-sync --row-mib 64 --min-ops 16 --mem-entries 0 "$DEV" \
		>/tmp/perf-run.log 2>&1; then
		grep '^# \[' /tmp/perf-run.log | grep -E 'perf|rawkv'
	else
		echo "# profile run failed:"
		tail -n 20 /tmp/perf-run.log
	fi
	for name in put get; do
		[ -f "/tmp/perf-$name.data" ] || continue
		echo "BENCH-PERF-BEGIN $name"
		/tmp/perf.sh report -i "/tmp/perf-$name.data" --stdio --no-children \
			--sort dso,sym -g none --percent-limit 0.5 2>/dev/null |
			grep -v -e '^$' -e 'To display the perf.data' -e 'tips.txt' -e '^#$' | head -n 60
		echo "BENCH-PERF-END"
	done
fi

if [ -n "$OLD" ]; then
	FILEOPTS=
	if [ -d "$HOSTMOD" ] && load_host_mod kernel/fs/ext4/ext4.ko && mkdir -p "$MNT"; then
		FILEOPTS="--mkfs $DIR/mkfs-ext4.sh --mnt $MNT"
	else
		echo "run-guest.sh: no ext4 (is the host's root at /host?): no file-per-key rows" >&2
	fi
	disk_label="virtio-blk (QEMU raw image, cache=unsafe), older bench"
	# $FILEOPTS is split into words on purpose (busybox sh has no arrays).
	# shellcheck disable=SC2086
	"$DIR/rawkv-bench" --label "$disk_label" $FILEOPTS "$DEV" || rc=1
	insmod "/lib/modules/$KVER/kernel/drivers/block/brd.ko" rd_nr=1 \
		rd_size=$((OLD * 1024)) || exit 1
	i=0
	while [ ! -b /dev/ram0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	# shellcheck disable=SC2086
	"$DIR/rawkv-bench" --label "brd RAM disk, older bench" $FILEOPTS /dev/ram0 || rc=1
	rmmod brd
fi
exit $rc
