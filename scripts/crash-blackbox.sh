#!/bin/bash
# Black-box crash test: kill QEMU in the middle of a rawkv workload, boot again on the same
# disk and check what came back against every operation the guest had acknowledged.
#
#   scripts/crash-blackbox.sh            (run by scripts/check.sh after its two boots)
#
# Boot 1 formats vda (build/vm/blackbox-vda.img, 1 GiB) and runs
# `rawkv_crash_test --blackbox-run SEED`: random PUTs (half of them rawkv_put_sync),
# overwrites, DELETEs and FLUSHes, with the periodic checkpoint on, each one announced as
# "BB OP ..." and, once it returned, "BB ACK ..." on the serial port (drained before the
# next operation, so out.log on the host has every line the guest wrote). After a random
# number of acknowledged operations (50..300) the host SIGKILLs QEMU. Boot 2 gets the
# "BB" lines as /rawkv/blackbox-ack.log and runs `rawkv_crash_test --blackbox-verify`:
# the module must load, every GET must return -ENOENT or the bytes of a PUT of that key,
# everything before the last acknowledged FLUSH and every acknowledged sync PUT (and
# DELETE of a key with a sync PUT since the last checkpoint) must be there, slots_used
# must match and stale_dropped stay 0.
#
# Killing QEMU keeps every write the guest issued (the image is a host file), so this
# checks recovery from an unclean stop, not from a lost device cache.
#
# RAWKV_BLACKBOX_SEED   workload seed (default: random); RAWKV_BLACKBOX_ACKS: acknowledged
# operations before the kill (default: 50 + seed % 251). Prints "ok - crash-blackbox ..."
# or "not ok - crash-blackbox: why" last; exit status 0 or 1.
set -u

# With RAWKV_VM_LOCK (scripts/vm.sh), take the lock for both boots here, before the
# clock of the kill starts, and not again in each vm.sh.
if [ -n "${RAWKV_VM_LOCK:-}" ]; then
	exec 8>>"$RAWKV_VM_LOCK" && flock 8 || { echo "not ok - crash-blackbox: cannot lock $RAWKV_VM_LOCK"; exit 1; }
	unset RAWKV_VM_LOCK
fi

TOP=$(cd "$(dirname "$0")/.." && pwd)
VM=$TOP/build/vm
IMG=$VM/blackbox-vda.img
PAYLOAD=$VM/blackbox-payload
RUN_NAME=blackbox-run
VERIFY_NAME=blackbox-verify
OUT=$VM/$RUN_NAME/out.log
SEED=${RAWKV_BLACKBOX_SEED:-$(((RANDOM << 15) | RANDOM))}
TARGET=${RAWKV_BLACKBOX_ACKS:-$((50 + SEED % 251))}
WAIT=240	# seconds to wait for the acknowledgements

fail() {
	echo "not ok - crash-blackbox: $* (seed $SEED; logs in $VM/$RUN_NAME and $VM/$VERIFY_NAME)"
	exit 1
}

acks() { tr -d '\r' 2>/dev/null <"$OUT" | grep -c '^BB ACK '; }

# The qemu-system process under the vm.sh process $1.
qemu_of() {
	local p
	for p in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		case $(ps -o comm= -p "$p" 2>/dev/null) in
		qemu-system*) echo "$p"; return 0 ;;
		esac
		qemu_of "$p" && return 0
	done
	return 1
}

[ -x "$TOP/selftests/rawkv_crash_test" ] || fail "selftests/rawkv_crash_test is not built"
mkdir -p "$VM" || exit 1
rm -f "$IMG"
truncate -s 1G "$IMG" || exit 1
rm -rf "$VM/$RUN_NAME" "$PAYLOAD"
mkdir -p "$PAYLOAD" || exit 1

echo "# crash-blackbox: seed $SEED, QEMU is killed after $TARGET acknowledged operations"
"$TOP/scripts/vm.sh" --name "$RUN_NAME" --timeout $((WAIT + 60)) --disk "$IMG" \
	--run "/rawkv/rawkv_crash_test --blackbox-run $SEED" >"$VM/$RUN_NAME.log" 2>&1 &
vmpid=$!

killed=
start=$SECONDS
while kill -0 "$vmpid" 2>/dev/null; do
	if [ "$(acks)" -ge "$TARGET" ]; then
		qpid=$(qemu_of "$vmpid") && kill -KILL "$qpid" && killed=$qpid
		break
	fi
	[ $((SECONDS - start)) -gt "$WAIT" ] && break
	sleep 0.1
done
if [ -z "$killed" ]; then
	kill "$vmpid" 2>/dev/null
	wait "$vmpid"
	tail -n 20 "$VM/$RUN_NAME.log" | sed 's/^/# run: /'
	fail "the workload did not reach $TARGET acknowledged operations ($(acks) after $((SECONDS - start)) s)"
fi
wait "$vmpid"
rc=$?
n=$(acks)
echo "# crash-blackbox: killed QEMU (pid $killed) after $n acknowledged operations, $((SECONDS - start)) s after boot"
tr -d '\r' <"$OUT" | grep '^BB \(FAIL\|START\)' | sed 's/^/# run: /'
tr -d '\r' <"$OUT" | grep -q '^BB FAIL' && fail "the workload saw a wrong result before the kill"
((rc & 8)) && fail "kernel log problems during the workload (see $VM/$RUN_NAME/console.log)"

tr -d '\r' <"$OUT" | grep '^BB ' >"$PAYLOAD/blackbox-ack.log"
RAWKV_VM_PAYLOAD=$PAYLOAD "$TOP/scripts/vm.sh" --name "$VERIFY_NAME" --timeout 300 \
	--disk "$IMG" --run "/rawkv/rawkv_crash_test --blackbox-verify /rawkv/blackbox-ack.log" \
	>"$VM/$VERIFY_NAME.log" 2>&1
rc=$?
grep -E '^(BB|vm.sh)' "$VM/$VERIFY_NAME.log" | tr -d '\r' | sed 's/^/# verify: /'
[ $rc -eq 0 ] || fail "verification boot failed (vm.sh status $rc)"
grep -q '^BB VERIFY OK' "$VM/$VERIFY_NAME.log" || fail "no 'BB VERIFY OK'"
echo "ok - crash-blackbox: killed after $n acknowledged operations, recovery checked (seed $SEED)"
exit 0
