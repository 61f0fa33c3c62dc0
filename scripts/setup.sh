#!/bin/sh
# Install everything rawkv needs to build and test on Debian 12.
# Idempotent: does nothing when every package is already present.
set -eu

PKGS="build-essential linux-headers-amd64 linux-image-amd64 linux-source-6.1
qemu-system-x86 busybox-static cpio xz-utils zstd kmod perl bc"
# Building the debug kernel (scripts/debug-kernel.sh).
PKGS="$PKGS flex bison libelf-dev libssl-dev"
# librawkv's asynchronous API (userlib/rawkv_ring.c) and its tests: liburing.
PKGS="$PKGS liburing-dev"
# make lint: sparse (checkpatch.pl comes from the linux-source tarball).
PKGS="$PKGS sparse"
# The fuzzer of kmod/rawkv_decode.c (fuzz/, scripts/fuzz.sh): clang and
# its libFuzzer and sanitizer runtimes; llvm-cov for `make -C fuzz coverage`.
PKGS="$PKGS clang libclang-rt-14-dev llvm-14"
# make bench: the guest profile (the host's perf, run in the guest over 9p);
# its raw io_uring rows link liburing.a from liburing-dev above.
PKGS="$PKGS linux-perf"
# The Python package (python/): headers for its C extension; pytest and numpy
# for its tests, run in the guest with the host's python3 over 9p.
PKGS="$PKGS python3-dev python3-pytest python3-numpy"
# make install and its test (scripts/install-test.sh): dkms builds the module
# from dkms.conf; pkg-config reads rawkv.pc; groff and mandoc check the man
# pages; readelf (binutils, in build-essential) the soname.
PKGS="$PKGS dkms pkg-config groff-base mandoc"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "setup: installing$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
