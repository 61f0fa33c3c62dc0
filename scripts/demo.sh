#!/bin/bash
# make demo: format a fresh 1 GiB disk in a QEMU guest, store a few values (one of 5 MiB),
# flush, power off without unloading; boot again on the same disk, read the values back
# and compare their sha256 sums with the first boot's. Exits non-zero on any mismatch.
set -u

TOP=$(cd "$(dirname "$0")/.." && pwd)
VM=$TOP/build/vm
IMG=$VM/demo-vda.img
KEYS="greeting lines big"

mkdir -p "$VM" || exit 1
rm -f "$IMG"
truncate -s 1G "$IMG" || exit 1

# Guest helper: echo a command, then run it.
X='x() { printf "\n$ %s\n" "$*"; eval "$*"; }'

BOOT1="$X
set -e
x insmod /rawkv/rawkv.ko dev=/dev/vda format=1 slot_size=$((8 << 20))
x 'echo \"hello, rawkv\" >/tmp/greeting'
x 'rawkv put greeting /tmp/greeting'
x 'printf \"line %s\\n\" 1 2 3 >/tmp/lines'
x 'rawkv put lines - </tmp/lines'
x 'dd if=/dev/urandom of=/tmp/big bs=1M count=5 2>/dev/null'
x 'rawkv put big /tmp/big'
x 'echo scratch | rawkv put scratch -'
x 'rawkv del scratch'
x 'rawkv get greeting -'
x 'rawkv get big - | sha256sum'
x 'cd /tmp && sha256sum $KEYS'
x 'rawkv flush'
x 'rawkv stat'
echo
echo '(powering off without rmmod)'"

run() { # run NAME COMMAND
	echo "==== $1"
	"$TOP/scripts/vm.sh" --name "demo-$1" --timeout 300 --disk "$IMG" --run "$2" |
		tee "$VM/demo-$1.log"
	return "${PIPESTATUS[0]}"
}

run boot1 "$BOOT1" || { echo "demo: boot 1 failed"; exit 1; }

expect=""
for k in $KEYS; do
	sum=$(sed -n "s/^\([0-9a-f]\{64\}\)  $k\$/\1/p" "$VM/demo-boot1.log" | tail -n1)
	[ -n "$sum" ] || { echo "demo: no sha256 for $k in boot 1's output"; exit 1; }
	expect="$expect
E_$k=$sum"
done

BOOT2="$X$expect
set -e
x insmod /rawkv/rawkv.ko dev=/dev/vda
x 'rawkv stat'
for k in $KEYS; do x \"rawkv get \$k /tmp/\$k\"; done
x 'rawkv get greeting -'
x 'cd /tmp && sha256sum $KEYS'
echo
bad=0
for k in $KEYS; do
	eval want=\\\$E_\$k
	got=\$(sha256sum </tmp/\$k | cut -c1-64)
	if [ \"\$got\" = \"\$want\" ]; then echo \"\$k: matches boot 1\"
	else echo \"\$k: MISMATCH: boot 1 \$want, now \$got\"; bad=1; fi
done
if rawkv get scratch - >/dev/null 2>&1; then echo 'scratch: MISMATCH: deleted but still there'; bad=1
else echo 'scratch: gone, as deleted in boot 1'; fi
x 'rmmod rawkv'
exit \$bad"

run boot2 "$BOOT2" || { echo "demo: boot 2 failed (see above)"; exit 1; }
echo "demo: all values survived the reboot; logs in $VM/demo-boot1.log, demo-boot2.log"
