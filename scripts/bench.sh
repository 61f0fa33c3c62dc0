#!/bin/bash
# make bench: boot the QEMU (TCG) guest once and run bench/rawkv-bench on a
# fresh virtio disk image, then on a brd RAM disk: rawkv next to raw O_DIRECT
# I/O and next to file-per-key on ext4, on the same device; load time; kernel
# memory per entry. Expects the build (`make bench` does it first).
#
# Settings (environment):
#   BENCH_DISK_MIB  size of the virtio disk image (default 1024)
#   BENCH_BRD_MIB   size of the brd RAM disk (default 1024)
#   BENCH_VM_MIB    guest memory (default 3072: the RAM disk lives in it)
#   BENCH_TIMEOUT   seconds before the VM is killed (default 1500)
#   BENCH_ARGS      extra rawkv-bench options (see bench/rawkv-bench.c), e.g.
#                   "--sizes 4K,64K --mem-entries 0" for a quick look
#
# Output: the progress and the tables; build/bench/bench.log (all of it),
# build/bench/results.md (the tables only). Exit status: vm.sh's (0 = the
# guest finished, every operation succeeded, the kernel log is clean).
set -u

TOP=$(cd "$(dirname "$0")/.." && pwd)
OUT=$TOP/build/bench
DISK_MIB=${BENCH_DISK_MIB:-1024}
BRD_MIB=${BENCH_BRD_MIB:-1024}
VM_MIB=${BENCH_VM_MIB:-3072}
TIMEOUT=${BENCH_TIMEOUT:-1500}
ARGS=${BENCH_ARGS:-}

for f in "$TOP/bench/rawkv-bench" "$TOP/kmod/rawkv.ko"; do
	[ -f "$f" ] || { echo "bench.sh: $f is missing: run make bench" >&2; exit 64; }
done

mkdir -p "$OUT" || exit 1
PAYLOAD=$OUT/payload
rm -rf "$PAYLOAD" "$OUT/vda.img"
mkdir -p "$PAYLOAD" || exit 1
cp "$TOP/bench/rawkv-bench" "$TOP/bench/run-guest.sh" "$TOP/bench/mkfs-ext4.sh" "$PAYLOAD/" ||
	exit 1
# A fresh sparse image every run: the virtio disk starts as zeroes, like the RAM disk.
truncate -s "${DISK_MIB}M" "$OUT/vda.img" || exit 1

start=$SECONDS
{
	echo "# host: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)," \
		"$(free -m | awk '/^Mem:/ { print $2 " MiB" }'), $(sed -n 's/^PRETTY_NAME=//p' /etc/os-release | tr -d '"')"
	echo "# $(qemu-system-x86_64 --version | head -n1), TCG, -smp 2 -m $VM_MIB;" \
		"virtio disk ${DISK_MIB} MiB (512 B sectors), brd ${BRD_MIB} MiB"
	echo "# rawkv $(git -C "$TOP" describe --always --dirty 2>/dev/null)," \
		"guest kernel ${KVER:-$("$TOP/scripts/kver.sh")}"
	echo "# host load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/bench.log"
RAWKV_VM_PAYLOAD=$PAYLOAD "$TOP/scripts/vm.sh" --name bench --virtfs --mem "$VM_MIB" \
	--timeout "$TIMEOUT" --disk "$OUT/vda.img" \
	--run "/rawkv/run-guest.sh /dev/vda $BRD_MIB $ARGS" 2>&1 | tee -a "$OUT/bench.log"
rc=${PIPESTATUS[0]}
rm -f "$OUT/vda.img"
elapsed=$((SECONDS - start))
echo "# host load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/bench.log"
echo "# bench.sh: VM run took ${elapsed} s" | tee -a "$OUT/bench.log"

# The tables: everything from the first "###" heading of each device, minus progress lines.
tr -d '\r' <"$OUT/bench.log" | awk '
	/^# (host|rawkv|guest|QEMU|bench.sh)/ { print; next }
	/^### / { on = 1 }
	/^RAWKV-GUEST-EXIT/ { on = 0 }
	on && !/^# \[/ { print }' >"$OUT/results.md"
echo "bench.sh: tables in $OUT/results.md, everything in $OUT/bench.log (exit $rc)"
exit "$rc"
