#!/bin/bash
# make scale: the table of issue 9 ("Measured by make scale") on sparse disk images in one
# QEMU (TCG) guest: selftests/rawkv_scale on
#   vda  4 TiB, formatted with 64 KiB slots (~67 M slots): format, PUT, rmmod, reload, GET all
#   vdb  4 TiB, 1 MiB slots: bytes read by a clean reload
#   vdc  32 GiB, 8 KiB slots, 300,000 entries: bytes written by FLUSH after 1 and 100 PUTs,
#        reload after a power cut, GET p99 beside PUT+FLUSH over idle
#   vdd  64 MiB scratch: the raw-I/O baseline printed beside the p99 row
# and the kernel memory per slot of each store. The images are build/vm/scale-*.img, made
# fresh (truncate) and deleted at the end; formatting vda writes about 1.6 GB of zeros.
# Prints the guest's table and ends with "N passed, N failed": one per row, plus one failure
# for a bad VM run (kernel BUG/WARNING/Oops in its log, timeout, crash, missing rows).
#
# Settings (environment):
#   RAWKV_SCALE_MEM      guest memory in MiB (default 6144: the 64 KiB-slot store
#                        needs ~2.5 GiB of table)
#   RAWKV_SCALE_TIMEOUT  seconds before the VM is killed (default 3600)
#   RAWKV_SCALE_BIG      size of vda and vdb (default 4T)
#   RAWKV_SCALE_SMALL    size of vdc (default 32G)
#   RAWKV_SCALE_VALUES   values on vda and vdb (default 2000)
#   RAWKV_SCALE_ENTRIES  entries on vdc (default 300000)
#   RAWKV_SCALE_GETS     GETs per side of the p99 row (default 8000)
set -u

TOP=$(cd "$(dirname "$0")/.." && pwd)
VM=$TOP/build/vm
MEM=${RAWKV_SCALE_MEM:-6144}
TIMEOUT=${RAWKV_SCALE_TIMEOUT:-3600}
BIG=${RAWKV_SCALE_BIG:-4T}
SMALL=${RAWKV_SCALE_SMALL:-32G}
LOG=$VM/scale.log
IMGS=("$VM/scale-64k.img" "$VM/scale-1m.img" "$VM/scale-8k.img" "$VM/scale-scratch.img")

[ -x "$TOP/selftests/rawkv_scale" ] && [ -f "$TOP/kmod/rawkv.ko" ] ||
	{ echo "scale.sh: build first (make scale does)" >&2; exit 64; }
mkdir -p "$VM" || exit 1
# Formatting vda writes ~1.6 GB, the 300,000 entries ~1.3 GB; ask for room to spare.
free_kib=$(df -Pk "$VM" | awk 'NR == 2 { print $4 }')
if [ "${free_kib:-0}" -lt $((8 << 20)) ]; then
	echo "scale.sh: only $((free_kib >> 20)) GiB free under $VM; the sparse images need about 4 GiB" >&2
	echo "0 passed, 1 failed"
	exit 1
fi
trap 'rm -f "${IMGS[@]}"' EXIT
rm -f "${IMGS[@]}"
truncate -s "$BIG" "${IMGS[0]}" && truncate -s "$BIG" "${IMGS[1]}" &&
	truncate -s "$SMALL" "${IMGS[2]}" && truncate -s 64M "${IMGS[3]}" || exit 1

start=$SECONDS
echo "# scale: host $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg);" \
	"rawkv $(git -C "$TOP" describe --always --dirty 2>/dev/null); guest ${MEM} MiB"
"$TOP/scripts/vm.sh" --name scale --mem "$MEM" --timeout "$TIMEOUT" \
	--disk "${IMGS[0]}" --disk "${IMGS[1]}" --disk "${IMGS[2]}" --disk "${IMGS[3]}" \
	--run "/rawkv/rawkv_scale --dev64k /dev/vda --dev1m /dev/vdb --dev8k /dev/vdc \
--scratch /dev/vdd --values ${RAWKV_SCALE_VALUES:-2000} \
--entries ${RAWKV_SCALE_ENTRIES:-300000} --gets ${RAWKV_SCALE_GETS:-8000}" 2>&1 | tee "$LOG"
rc=${PIPESTATUS[0]}
vm_secs=$((SECONDS - start))

out=$(tr -d '\r' <"$LOG")
passed=$(grep -c '^ok ' <<<"$out")
failed=$(grep -c '^not ok ' <<<"$out")
why=()
((rc & 64)) && why+=("vm.sh could not start the VM")
((rc & 4)) && why+=("timed out after ${TIMEOUT}s")
(((rc & 6) == 2)) && why+=("guest crashed or panicked (no exit status)")
((rc & 8)) && why+=("kernel log: $(sed -n '/kernel log problems/{n;s/^[0-9]*:\[ *[0-9.]*\] //p;q}' <<<"$out")")
grep -q '^1\.\.[0-9]' <<<"$out" || why+=("rawkv_scale did not finish (no TAP plan line)")
if [ ${#why[@]} -gt 0 ]; then
	failed=$((failed + 1))
	printf 'not ok - scale VM: %s' "${why[0]}"
	[ ${#why[@]} -gt 1 ] && printf '; %s' "${why[@]:1}"
	echo
fi
elapsed=$((SECONDS - start))
echo "# scale: ${vm_secs} s in the VM, $((elapsed / 60)) min $((elapsed % 60)) s in all;" \
	"log in $LOG, VM logs in $VM/scale/"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
