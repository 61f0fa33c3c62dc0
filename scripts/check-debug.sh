#!/bin/bash
# make check-debug: every selftest on a debug kernel (KASAN, lockdep, atomic-sleep
# checks, kmemleak, UBSAN) built from Debian's linux-source-6.1 by
# scripts/debug-kernel.sh (once, cached outside the repository). Any report of
# those checkers in the console fails the run (scripts/vm.sh), and the guest
# triggers a kmemleak scan after the tests, when every rmmod is done.
# Prints "N passed, N failed" last, like make check.
set -u

TOP=$(cd "$(dirname "$0")/.." && pwd)
TREE=$("$TOP/scripts/debug-kernel.sh") || { echo "0 passed, 1 failed"; exit 1; }
export KVER=$(make -s -C "$TREE" kernelrelease)
export KDIR=$TREE
export RAWKV_VM_KERNEL=$TREE/arch/x86/boot/bzImage
export RAWKV_VM_MODDIR=$TREE/mod-install/lib/modules/$KVER
# KASAN's shadow and kmemleak's pool need room.
export RAWKV_VM_MEM=${RAWKV_VM_MEM:-2048}
# KASAN makes everything slower: more time, and a shorter ioctl fuzz.
export RAWKV_CHECK_BUDGET=${RAWKV_CHECK_BUDGET:-3600}
export RAWKV_CHECK_GUEST_ENV=${RAWKV_CHECK_GUEST_ENV:-RAWKV_FUZZ_CALLS=200000}
export RAWKV_CHECK_FUZZ_SECONDS=${RAWKV_CHECK_FUZZ_SECONDS:-10}
# Not the Python boot: on this kernel its two pytest passes take most of an hour (a
# third of the plain pass in 8 minutes), and they reach the module through the same
# library calls as the C tests, which run here; make check runs them on 6.1 and 6.12.
export RAWKV_CHECK_PYTHON=${RAWKV_CHECK_PYTHON:-0}

make -C "$TOP" all KVER="$KVER" KDIR="$KDIR" || { echo "0 passed, 1 failed"; exit 1; }
exec "$TOP/scripts/check.sh"
