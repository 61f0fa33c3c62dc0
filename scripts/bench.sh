#!/bin/bash
# make bench: rawkv next to raw O_DIRECT I/O on the same virtio disk, in two
# boots of the QEMU (TCG) guest (BENCHMARKS.md):
#
#   0. on the host: bench/rawkv-bench --host-crc (a user-space crc32c, for
#      the guest's slowdown against this host, and the SSE4.2 crc32c a real
#      core's checksum is projected with);
#   1. unthrottled: calibration (the guest's kernel crc32c: rawkv stat, and
#      AF_ALG from user space; the same user-space crc32c), the rows without
#      a throttle (CPU cost under emulation, not drive speed), the
#      projection to a fast drive, and (BENCH_PERF=1) a perf profile;
#   2. throttled: QEMU throttles the disk (throttling.bps-total) to half the
#      guest's kernel crc32c speed, and the same rows run again; a row
#      counts when raw O_DIRECT ran within +-10 % of the throttle.
#
# Expects the build (`make bench` does it first). Settings (environment):
#   BENCH_QUICK=1       a quick look for development: 4 KiB, 64 KiB and 1 MiB,
#                       1 and 4 threads, short rows, no profile (~5 min)
#   BENCH_THROTTLE_MBPS throttle in MB/s (10^6 B/s) instead of half the
#                       measured kernel crc32c speed
#   BENCH_ROW_SECS      throttled rows move this many seconds' worth at the
#                       throttle (default 3; at least 2 s each after the
#                       bucket of 0.1 s)
#   BENCH_MAX_SECS      a row stops after this long (default 6)
#   BENCH_PERF          1 (default): profile a 1 MiB PUT and GET in boot 1
#   BENCH_OLD_MIB       N: also the older bench (file per key on ext4, a brd
#                       RAM disk of N MiB, load and memory) in boot 1
#   BENCH_DISK_MIB      size of the virtio disk image (default 4096; fresh,
#                       sparse, deleted after the run)
#   BENCH_VM_MIB        guest memory (default 2048; 3072 with BENCH_OLD_MIB)
#   BENCH_TIMEOUT       seconds before each VM is killed (default 1200)
#   BENCH_ARGS          extra rawkv-bench options for both boots
#
# Output: progress and tables; build/bench/bench.log (everything),
# build/bench/results.md (the tables), build/bench/perf-{put,get}.txt.
# Exit status: 0 when both guests finished, every operation succeeded and
# the kernel log is clean; never on speed.
set -u

TOP=$(cd "$(dirname "$0")/.." && pwd)
OUT=$TOP/build/bench
QUICK=${BENCH_QUICK:-0}
DISK_MIB=${BENCH_DISK_MIB:-4096}
OLD_MIB=${BENCH_OLD_MIB:-}
VM_MIB=${BENCH_VM_MIB:-$([ -n "$OLD_MIB" ] && echo 3072 || echo 2048)}
TIMEOUT=${BENCH_TIMEOUT:-1200}
ROW_SECS=${BENCH_ROW_SECS:-3}
MAX_SECS=${BENCH_MAX_SECS:-6}
PERF=${BENCH_PERF:-1}
ARGS=${BENCH_ARGS:-}
SIZES="--sizes 4K,64K,1M,4M,16M --threads 1,4,8"
UNTHR_MIB=256
if [ "$QUICK" = 1 ]; then
	SIZES="--sizes 4K,64K,1M --threads 1,4"
	UNTHR_MIB=64
	ROW_SECS=${BENCH_ROW_SECS:-2.5}
	MAX_SECS=${BENCH_MAX_SECS:-4}
	PERF=${BENCH_PERF:-0}
fi

for f in "$TOP/bench/rawkv-bench" "$TOP/kmod/rawkv.ko"; do
	[ -f "$f" ] || { echo "bench.sh: $f is missing: run make bench" >&2; exit 64; }
done

mkdir -p "$OUT" || exit 1
PAYLOAD=$OUT/payload
rm -rf "$PAYLOAD" "$OUT/vda.img" "$OUT"/perf-*.txt
mkdir -p "$PAYLOAD" || exit 1
cp "$TOP/bench/rawkv-bench" "$TOP/bench/run-guest.sh" "$TOP/bench/mkfs-ext4.sh" "$PAYLOAD/" ||
	exit 1
LOG=$OUT/bench.log
log() { echo "$*" | tee -a "$LOG"; }

start=$SECONDS
: >"$LOG"
log "# host: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)," \
	"$(free -m | awk '/^Mem:/ { print $2 " MiB" }'), $(sed -n 's/^PRETTY_NAME=//p' /etc/os-release | tr -d '"')"
log "# $(qemu-system-x86_64 --version | head -n1), TCG, -smp 2 -m $VM_MIB;" \
	"virtio disk ${DISK_MIB} MiB (512 B sectors, cache=unsafe)"
log "# rawkv $(git -C "$TOP" describe --always --dirty 2>/dev/null)," \
	"guest kernel ${KVER:-$("$TOP/scripts/kver.sh")}"
log "# host load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$QUICK" = 1 ] && log "# BENCH_QUICK=1: a quick look, not the full bench"

# 0. The user-space crc32c on the host: best of two runs (the host is shared).
host_crc=0
host_hwcrc=0
for _ in 1 2; do
	out=$("$TOP/bench/rawkv-bench" --host-crc)
	m=$(echo "$out" | sed -n 's/^BENCH-HOSTCRC user_crc32c_mbps=\([0-9.]*\).*/\1/p')
	h=$(echo "$out" | sed -n 's/.* hw_crc32c_mbps=\([0-9.]*\).*/\1/p')
	host_crc=$(awk -v a="$host_crc" -v b="${m:-0}" 'BEGIN { print (b > a ? b : a) }')
	host_hwcrc=$(awk -v a="$host_hwcrc" -v b="${h:-0}" 'BEGIN { print (b > a ? b : a) }')
done
log "# host: user-space crc32c (slicing-by-8, rawkv-bench --host-crc): $host_crc MB/s"
log "# host: SSE4.2 crc32c, one stream, cold memory (rawkv-bench --host-crc): $host_hwcrc MB/s"

rc=0
# A fresh sparse image: the virtio disk starts as zeroes. Both boots use it.
truncate -s "${DISK_MIB}M" "$OUT/vda.img" || exit 1

# 1. Unthrottled: calibration, the rows, the projection, the profile.
G1=()
[ "$PERF" = 1 ] && G1+=(--perf)
[ -n "$OLD_MIB" ] && G1+=(--old "$OLD_MIB")
log "# == boot 1: unthrottled (calibration; CPU cost under emulation)"
t1=$SECONDS
RAWKV_VM_PAYLOAD=$PAYLOAD "$TOP/scripts/vm.sh" --name bench --virtfs --mem "$VM_MIB" \
	--timeout "$TIMEOUT" --disk "$OUT/vda.img" \
	--run "/rawkv/run-guest.sh /dev/vda ${G1[*]} -- --calibrate $SIZES \
--label 'virtio-blk, unthrottled (TCG: CPU cost under emulation, not drive speed)' \
--row-mib $UNTHR_MIB --min-ops 16 --max-ops 200000 --row-secs $MAX_SECS \
--mem-entries 0 --host-crc-mbps $host_crc --host-hwcrc-mbps $host_hwcrc $ARGS" 2>&1 | tee -a "$LOG"
rc=$((rc | PIPESTATUS[0]))
log "# boot 1 took $((SECONDS - t1)) s"

# 2. Throttled to half the guest's kernel crc32c speed.
cal=$(tr -d '\r' <"$LOG" | sed -n 's/^BENCH-CAL kernel_crc32c_mbps=\([0-9.]*\) source=\([^ ]*\).*/\1 \2/p' |
	tail -n1)
read -r crc src <<<"${cal:-0 none}"
if [ -n "${BENCH_THROTTLE_MBPS:-}" ]; then
	thr=$BENCH_THROTTLE_MBPS
	log "# calibration: guest kernel crc32c $crc MB/s ($src); throttle $thr MB/s from BENCH_THROTTLE_MBPS"
elif awk -v c="$crc" 'BEGIN { exit !(c > 0) }'; then
	thr=$(awk -v c="$crc" 'BEGIN { printf "%.1f", c / 2 }')
	log "# calibration: guest kernel crc32c $crc MB/s ($src); throttle = half: $thr MB/s"
else
	log "bench.sh: no calibration from boot 1: no throttled rows"
	thr=
	rc=$((rc | 1))
fi
if [ -n "$thr" ]; then
	bps=$(awk -v t="$thr" 'BEGIN { printf "%d", t * 1e6 }')
	row_mib=$(awk -v t="$thr" -v s="$ROW_SECS" 'BEGIN { printf "%.1f", t * 1e6 * s / 1048576 }')
	log "# == boot 2: throttled to $bps B/s (throttling.bps-total; bucket $((bps / 10)) B);" \
		"rows of $row_mib MiB ($ROW_SECS s at the throttle), stopped at $MAX_SECS s"
	t2=$SECONDS
	RAWKV_VM_PAYLOAD=$PAYLOAD "$TOP/scripts/vm.sh" --name bench --virtfs --mem "$VM_MIB" \
		--timeout "$TIMEOUT" --disk "$OUT/vda.img" --throttle "$bps" \
		--run "/rawkv/run-guest.sh /dev/vda -- $SIZES \
--label 'virtio-blk throttled to $thr MB/s (QEMU throttling.bps-total=$bps)' \
--throttle-mbps $thr --row-mib $row_mib --min-ops 16 --max-ops 200000 \
--row-secs $MAX_SECS --mem-entries 0 $ARGS" 2>&1 | tee -a "$LOG"
	rc=$((rc | PIPESTATUS[0]))
	log "# boot 2 took $((SECONDS - t2)) s"
fi
rm -f "$OUT/vda.img"
log "# host load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
log "# bench.sh: both boots took $((SECONDS - start)) s"

# The profiles, then the tables: from each "###" heading to the guest's exit,
# minus progress lines.
for name in put get; do
	tr -d '\r' <"$LOG" | awk -v n="$name" '
		$0 == "BENCH-PERF-BEGIN " n { on = 1; next }
		/^BENCH-PERF-END/ { on = 0 }
		on' >"$OUT/perf-$name.txt"
	[ -s "$OUT/perf-$name.txt" ] || rm -f "$OUT/perf-$name.txt"
done
tr -d '\r' <"$LOG" | awk '
	/^# (host|rawkv|guest|QEMU|bench.sh|calibration|==|BENCH_QUICK)/ { print; next }
	/^### / { on = 1 }
	/^RAWKV-GUEST-EXIT|^BENCH-PERF-BEGIN|^# profile run/ { on = 0 }
	on && !/^# \[/ { print }' >"$OUT/results.md"
echo "bench.sh: tables in $OUT/results.md, everything in $LOG (exit $rc)"
exit "$rc"
