#!/bin/bash
# Run one command in a throw-away QEMU (TCG) guest booted from the Debian kernel $KVER
# with a busybox initramfs, the repo's built artifacts under /rawkv, and raw disk images.
#
#   scripts/vm.sh [--name NAME] [--timeout SECS] [--mem MIB] [--virtfs]
#                 [--throttle BPS] [--disk FILE[:LBS]]... --run 'COMMAND'
#
# --disk     raw image, attached in order as /dev/vda, vdb, ...; ":4096" sets logical and
#            physical block size. Images are used in place, so they persist across runs.
# --run      shell command run by /bin/sh in the guest, cwd /rawkv, PATH starting with /rawkv.
# --throttle QEMU throttles every --disk to BPS bytes per second, reads and writes
#            together (throttling.bps-total; its bucket holds BPS/10 bytes, 0.1 s).
# --timeout  seconds before QEMU is killed (default 300); the guest dumps blocked tasks
#            to the console a little before that.
# --mem      guest memory in MiB (default 1024).
# --virtfs   share the host's root read-only over 9p, mounted at /host in the guest
#            before COMMAND runs (the 9p modules are loaded at boot); host tools then
#            run with /host/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 --library-path.
# RAWKV_VM_PAYLOAD=DIR  extra files copied into /rawkv last (for trying out stand-ins).
# RAWKV_VM_LOCK=FILE    wait for an flock on FILE first and hold it until QEMU exits: several
#                       worktrees testing on one small machine then take turns.
#
# Prints the command's output (guest ttyS1, ending with "RAWKV-GUEST-EXIT <status>").
# Logs and the initramfs are in build/vm/NAME/: out.log, console.log, qemu.log.
# Exit status is a bit mask (0 = all good):
#   1  the guest command exited non-zero
#   2  no exit marker: the guest hung, crashed or panicked
#   4  timeout: the guest watchdog fired or QEMU was killed
#   8  the kernel log has a BUG/WARNING/Oops/lockdep/... line (printed on stderr)
#   64 usage or setup error (nothing was run)
set -u

TOP=$(cd "$(dirname "$0")/.." && pwd)
NAME=vm
TIMEOUT=300
MEM=${RAWKV_VM_MEM:-1024}
VIRTFS=
RUN=
THROTTLE=
DISKS=()

die() { echo "vm.sh: $*" >&2; exit 64; }

while [ $# -gt 0 ]; do
	case $1 in
	--name) NAME=$2; shift 2 ;;
	--timeout) TIMEOUT=$2; shift 2 ;;
	--mem) MEM=$2; shift 2 ;;
	--virtfs) VIRTFS=1; shift ;;
	--throttle) THROTTLE=$2; shift 2 ;;
	--run) RUN=$2; shift 2 ;;
	--disk) DISKS+=("$2"); shift 2 ;;
	-h | --help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument: $1 (see --help)" ;;
	esac
done
[ -n "$RUN" ] || die "--run is required"
case $TIMEOUT in '' | *[!0-9]*) die "bad --timeout: $TIMEOUT" ;; esac
case $MEM in '' | *[!0-9]*) die "bad --mem: $MEM" ;; esac
case $THROTTLE in *[!0-9]*) die "bad --throttle: $THROTTLE" ;; esac
case $NAME in '' | */* | .*) die "bad --name: $NAME" ;; esac

if [ -n "${RAWKV_VM_LOCK:-}" ]; then
	exec 9>>"$RAWKV_VM_LOCK" || die "cannot open $RAWKV_VM_LOCK"
	flock 9 || die "cannot lock $RAWKV_VM_LOCK"
fi

KVER=${KVER:-$("$TOP/scripts/kver.sh")}
[ -n "$KVER" ] || die "no kernel found (run scripts/setup.sh)"
# A kernel built elsewhere (scripts/debug-kernel.sh): RAWKV_VM_KERNEL is its image,
# RAWKV_VM_MODDIR the directory holding its modules.dep and modules.builtin.
KERNEL=${RAWKV_VM_KERNEL:-/boot/vmlinuz-$KVER}
MODDIR=${RAWKV_VM_MODDIR:-/lib/modules/$KVER}
[ -r "$KERNEL" ] || die "cannot read $KERNEL"
[ -r "$MODDIR/modules.dep" ] || die "missing $MODDIR/modules.dep"

DIR=$TOP/build/vm/$NAME
ROOT=$DIR/root
OUT=$DIR/out.log
CONSOLE=$DIR/console.log
QLOG=$DIR/qemu.log
INITRD=$DIR/initramfs.cpio
rm -rf "$ROOT"
mkdir -p "$ROOT"/{etc/vm,rawkv,proc,sys,dev,tmp,root} || die "cannot create $ROOT"

# busybox and its applet links
BUSYBOX=/bin/busybox
if [ ! -x "$BUSYBOX" ] || ldd "$BUSYBOX" >/dev/null 2>&1; then
	die "$BUSYBOX is missing or not static (install busybox-static)"
fi
mkdir -p "$ROOT/bin"
cp "$BUSYBOX" "$ROOT/bin/busybox"
for a in $("$BUSYBOX" --list-full); do
	mkdir -p "$ROOT/$(dirname "$a")"
	[ -e "$ROOT/$a" ] || ln -s /bin/busybox "$ROOT/$a"
done
cp "$TOP/scripts/guest-init" "$ROOT/init"
chmod 755 "$ROOT/init"

# Kernel modules, dependencies first, decompressed, with a modules.dep for modprobe.
declare -A SEEN=()
MODS=()
add_mod() { # add_mod NAME|PATH
	local m=$1 line path deps i
	if [[ $m == */* ]]; then
		line=$(grep -m1 "^$m:" "$MODDIR/modules.dep")
	else
		local re=${m//[-_]/[-_]}
		line=$(grep -m1 -E "(^|/)$re\.ko(\.[a-z]+)?:" "$MODDIR/modules.dep")
		if [ -z "$line" ]; then
			grep -q -E "/$re\.ko$" "$MODDIR/modules.builtin" 2>/dev/null ||
				echo "vm.sh: warning: module $m not found for $KVER" >&2
			return
		fi
	fi
	path=${line%%:*}
	[ -n "${SEEN[$path]:-}" ] && return
	SEEN[$path]=1
	read -r -a deps <<<"${line#*:}"
	for ((i = ${#deps[@]} - 1; i >= 0; i--)); do add_mod "${deps[i]}"; done
	MODS+=("$path")
}
modfile() { echo "${1%.ko*}.ko"; }
# dm-mod and dm-log-writes: the crash tests record writes through dm-log-writes.
for m in virtio_pci virtio_blk crc32c_generic libcrc32c dm_mod dm_log_writes; do add_mod "$m"; done
[ -n "$VIRTFS" ] && for m in 9pnet_virtio 9p; do add_mod "$m"; done
for p in "${MODS[@]}"; do modfile "$p"; done >"$ROOT/etc/vm/boot-modules"
add_mod brd
mkdir -p "$ROOT/lib/modules/$KVER"
for p in "${MODS[@]}"; do
	dst=$ROOT/lib/modules/$KVER/$(modfile "$p")
	mkdir -p "$(dirname "$dst")"
	case $p in
	*.ko.xz) xz -dc "$MODDIR/$p" >"$dst" ;;
	*.ko.zst) zstd -qdc "$MODDIR/$p" >"$dst" ;;
	*.ko.gz) gzip -dc "$MODDIR/$p" >"$dst" ;;
	*) cp "$MODDIR/$p" "$dst" ;;
	esac || die "cannot copy module $p"
done
for p in "${MODS[@]}"; do
	line=$(grep -m1 "^$p:" "$MODDIR/modules.dep")
	dep=""
	for d in ${line#*:}; do dep="$dep $(modfile "$d")"; done
	echo "$(modfile "$p"):$dep"
done >"$ROOT/lib/modules/$KVER/modules.dep"

# Payload: whatever of the repo's artifacts exists, then RAWKV_VM_PAYLOAD.
copy_payload() { # copy_payload SRC [all]: a file, or a dir's executable and *.sh files
	local f
	if [ -f "$1" ]; then
		cp "$1" "$ROOT/rawkv/"
	elif [ -d "$1" ]; then
		for f in "$1"/*; do
			[ -f "$f" ] && { [ -n "${2:-}" ] || [ -x "$f" ] || [[ $f == *.sh ]]; } &&
				cp "$f" "$ROOT/rawkv/"
		done
	fi
	return 0
}
copy_payload "$TOP/kmod/rawkv.ko"
copy_payload "$TOP/userlib/rawkv"
copy_payload "$TOP/selftests"
[ -n "${RAWKV_VM_PAYLOAD:-}" ] && copy_payload "$RAWKV_VM_PAYLOAD" all
chmod +x "$ROOT"/rawkv/*.sh 2>/dev/null
# Dynamically linked payload binaries get their shared libraries too.
for f in "$ROOT"/rawkv/*; do
	libs=$(ldd "$f" 2>/dev/null) || continue
	for lib in $(echo "$libs" | grep -o '/[^ ]*'); do
		[ -e "$ROOT$lib" ] || { mkdir -p "$ROOT$(dirname "$lib")" && cp -L "$lib" "$ROOT$lib"; }
	done
done

# Per-run configuration and command
GUEST_TIMEOUT=0
[ "$TIMEOUT" -ge 40 ] && GUEST_TIMEOUT=$((TIMEOUT - 15))
LETTERS=abcdefghijklmnopqrstuvwxyz
DEVS=""
QDISKS=()
n=0
for spec in "${DISKS[@]}"; do
	file=$spec
	lbs=""
	if [[ $spec =~ ^(.*):([0-9]+)$ ]]; then
		file=${BASH_REMATCH[1]}
		lbs=${BASH_REMATCH[2]}
	fi
	[ -f "$file" ] || die "disk image not found: $file"
	[ $n -lt 26 ] || die "too many disks"
	dev=vd${LETTERS:n:1}
	DEVS="$DEVS $dev"
	opt="virtio-blk-pci,drive=d$n,serial=$dev"
	[ -n "$lbs" ] && opt="$opt,logical_block_size=$lbs,physical_block_size=$lbs"
	# cache=unsafe: the guest still sees a volatile write cache (flushes
	# and FUA reach QEMU as on any disk); QEMU just skips the host's fsync
	# for these scratch images, which would only slow the tests down.
	drv="file=${file//,/,,},format=raw,if=none,id=d$n,cache=unsafe"
	[ -n "$THROTTLE" ] && drv="$drv,throttling.bps-total=$THROTTLE"
	QDISKS+=(-drive "$drv" -device "$opt")
	n=$((n + 1))
done
cat >"$ROOT/etc/vm/conf" <<EOF
KVER=$KVER
DISKS="${DEVS# }"
GUEST_TIMEOUT=$GUEST_TIMEOUT
EOF
{
	[ -n "$VIRTFS" ] && cat <<'EOF'
mkdir -p /host && mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 host /host ||
	echo "vm.sh: cannot mount the host's root at /host" >&2
EOF
	printf '%s\n' "$RUN"
} >"$ROOT/etc/vm/run.sh"
QEXTRA=()
[ -n "$VIRTFS" ] &&
	QEXTRA+=(-virtfs "local,path=/,mount_tag=host,security_model=none,readonly=on")

(cd "$ROOT" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$INITRD" ||
	die "cannot build $INITRD"

# Boot
rm -f "$OUT" "$CONSOLE" "$QLOG"
# no5lvl: "-cpu max" offers 5-level paging, under which the KASAN debug
# kernel now and then reports a wild access in an interrupt during early
# boot, before any of rawkv runs; 4-level paging, as on most servers.
timeout -k 5 "$TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -m "$MEM" -smp 2 \
	-nodefaults -nographic -no-reboot -monitor none \
	-kernel "$KERNEL" -initrd "$INITRD" \
	-append "console=ttyS0 loglevel=7 panic=-1 oops=panic no5lvl" \
	-serial "file:$CONSOLE" -serial "file:$OUT" \
	"${QDISKS[@]}" "${QEXTRA[@]}" </dev/null >"$QLOG" 2>&1
qrc=$?
touch "$OUT" "$CONSOLE"

# Verdict
cat "$OUT"
rc=0
status=$(tr -d '\r' <"$OUT" | sed -n 's/^.*RAWKV-GUEST-EXIT \([0-9]*\)$/\1/p' | tail -n1)
if [ -z "$status" ]; then
	rc=$((rc | 2))
	if [ $qrc -eq 124 ] || [ $qrc -eq 137 ] || grep -q '^RAWKV-GUEST-TIMEOUT' "$OUT"; then
		rc=$((rc | 4))
		echo "vm.sh: $NAME: timed out after ${TIMEOUT}s" >&2
	else
		echo "vm.sh: $NAME: guest exited without a status (QEMU status $qrc)" >&2
	fi
	[ -s "$QLOG" ] && sed 's/^/qemu: /' "$QLOG" >&2
	echo "vm.sh: $NAME: last console lines:" >&2
	tail -n 40 "$CONSOLE" | tr -d '\r' >&2
elif [ "$status" -ne 0 ]; then
	rc=$((rc | 1))
	echo "vm.sh: $NAME: guest command exited with status $status" >&2
fi
# Leaks count by kmemleak's scan after the command (guest-init prints every
# object still unreferenced then, after every rmmod). Its background scans
# also print "N new suspected memory leaks" for objects only briefly out of
# its sight (in flight in a device, say); those that really leak are still
# there at the end.
BAD='BUG:|WARNING:|Oops|general protection fault|Kernel panic|blocked for more than|INFO: task|possible circular locking|DEBUG_LOCKS_WARN_ON|turning off the locking correctness validator|possible recursive locking|irq lock inversion|lock held when returning|inconsistent lock state|UBSAN|KASAN|unreferenced object|Call Trace'
if bad=$(tr -d '\r' <"$CONSOLE" | grep -n -E "$BAD"); then
	rc=$((rc | 8))
	echo "vm.sh: $NAME: kernel log problems ($CONSOLE):" >&2
	echo "$bad" | head -n 60 >&2
fi
[ $rc -ne 0 ] && echo "vm.sh: $NAME: exit $rc; logs in $DIR" >&2
exit $rc
