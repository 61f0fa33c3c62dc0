#!/bin/bash
# Build (once) a debug kernel from Debian's linux-source-6.1 for `make check-debug`:
# KASAN, lockdep (PROVE_LOCKING), DEBUG_ATOMIC_SLEEP, kmemleak and UBSAN, with the
# virtio, brd, crc32c, debugfs and dm-log-writes pieces rawkv's tests need built
# in.
#
#   scripts/debug-kernel.sh        build if needed; print the build directory
#
# The tree lives outside the repository, in $RAWKV_CACHE (default
# /var/cache/rawkv), and is reused until this script or the tarball changes.
# Output: $RAWKV_CACHE/linux-debug/arch/x86/boot/bzImage; the directory is a
# KDIR for building rawkv.ko against it.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${RAWKV_CACHE:-/var/cache/rawkv}
SRC=/usr/src/linux-source-6.1.tar.xz
TREE=$CACHE/linux-debug
STAMP=$TREE/.rawkv-stamp

"$TOP/scripts/setup.sh" >&2
want=$( (sha256sum "$0" | cut -d' ' -f1; stat -c %s.%Y "$SRC") | sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] &&
   [ -f "$TREE/arch/x86/boot/bzImage" ]; then
	echo "$TREE"
	exit 0
fi

mkdir -p "$CACHE"
rm -rf "$TREE" "$CACHE/linux-source-6.1"
echo "debug-kernel: extracting $SRC" >&2
tar -xJf "$SRC" -C "$CACHE"
mv "$CACHE/linux-source-6.1" "$TREE"
cd "$TREE"

make -s x86_64_defconfig >&2
make -s kvm_guest.config >&2
s=scripts/config
# What rawkv's tests need, built in.
$s --enable VIRTIO --enable VIRTIO_PCI --enable VIRTIO_BLK \
	--enable BLK_DEV_RAM --set-val BLK_DEV_RAM_COUNT 1 \
	--enable CRYPTO_CRC32C --enable LIBCRC32C --enable DEBUG_FS \
	--enable MODULES --enable MODULE_UNLOAD --enable DEVTMPFS \
	--enable BLK_DEV_INITRD --enable SERIAL_8250_CONSOLE \
	--enable DETECT_HUNG_TASK --set-val DEFAULT_HUNG_TASK_TIMEOUT 60 \
	--enable USERFAULTFD \
	--enable MD --enable BLK_DEV_DM --enable DM_LOG_WRITES
# The checkers.
$s --enable KASAN --enable KASAN_GENERIC --enable KASAN_INLINE \
	--enable PROVE_LOCKING --enable DEBUG_LOCKDEP --enable DEBUG_ATOMIC_SLEEP \
	--enable DEBUG_KMEMLEAK --set-val DEBUG_KMEMLEAK_MEM_POOL_SIZE 16000 \
	--disable DEBUG_KMEMLEAK_DEFAULT_OFF --enable DEBUG_KMEMLEAK_AUTO_SCAN \
	--enable UBSAN --enable UBSAN_BOUNDS --enable UBSAN_SHIFT \
	--enable DEBUG_LIST --enable DEBUG_SG --enable FRAME_POINTER
# Faster to build, nothing the guest uses.
$s --disable DEBUG_INFO --enable DEBUG_INFO_NONE --disable DEBUG_INFO_BTF \
	--disable DRM --disable SOUND --disable USB_SUPPORT --disable WIRELESS \
	--disable WLAN --disable NETFILTER --disable HID --disable INPUT_MOUSE \
	--disable AGP --disable FB --disable NFS_FS --disable CIFS --disable ETHERNET \
	--disable WATCHDOG --disable IPV6 --disable HAMRADIO --disable BT \
	--disable MODULE_SIG --disable SECURITY_SELINUX
make -s olddefconfig >&2
for opt in KASAN PROVE_LOCKING DEBUG_ATOMIC_SLEEP DEBUG_KMEMLEAK UBSAN VIRTIO_BLK BLK_DEV_RAM LIBCRC32C USERFAULTFD DM_LOG_WRITES; do
	grep -q "^CONFIG_$opt=y" .config || { echo "debug-kernel: CONFIG_$opt did not stick" >&2; exit 1; }
done

echo "debug-kernel: building in $TREE (about 10-15 minutes on 2 cores)" >&2
start=$SECONDS
make -s -j"$(($(nproc) + 1))" bzImage modules >&2
# modules.dep and modules.builtin for scripts/vm.sh (RAWKV_VM_MODDIR).
make -s INSTALL_MOD_PATH="$TREE/mod-install" modules_install >&2
echo "debug-kernel: built in $((SECONDS - start)) s" >&2
echo "$want" >"$STAMP"
echo "$TREE"
