#!/bin/bash
# make lint: the kernel's own checkers on the module, against $KDIR.
#   1. a W=1 build with -Werror (no compiler warning at all);
#   2. sparse (C=2: every file, not only the ones rebuilt), no report at all;
#   3. checkpatch.pl --strict from Debian's linux-source-6.1 tarball, no error
#      or warning except the types listed in IGNORE below.
# Prints one "ok"/"not ok" line per checker, then "N passed, N failed", and
# exits non-zero if any failed.
set -u

TOP=$(cd "$(dirname "$0")/.." && pwd)
KDIR=${KDIR:-/lib/modules/${KVER:-$("$TOP/scripts/kver.sh")}/build}
TOOLS=$TOP/build/kernel-tools
SRC=/usr/src/linux-source-6.1.tar.xz

# Deliberate, and why:
#  LINUX_VERSION_CODE: kmod/compat.h is the one place that holds the version
#    differences an out-of-tree module must handle.
#  BIT_MACRO: kmod/rawkv_format.h is shared with user-space tests and the
#    fuzzer, where BIT() does not exist.
#  CONSTANT_COMPARISON: checkpatch reads "LINUX_VERSION_CODE >= KERNEL_VERSION()"
#    as a comparison with the constant on the left.
IGNORE=LINUX_VERSION_CODE,BIT_MACRO,CONSTANT_COMPARISON

"$TOP/scripts/setup.sh" || exit 1
if [ ! -f "$TOOLS/scripts/checkpatch.pl" ]; then
	mkdir -p "$TOOLS"
	tar -xJf "$SRC" -C "$TOOLS" --strip-components=1 \
		linux-source-6.1/scripts/checkpatch.pl \
		linux-source-6.1/scripts/spelling.txt \
		linux-source-6.1/scripts/const_structs.checkpatch || exit 1
fi

failed=0
report() { # report NAME STATUS LOG
	if [ "$2" -eq 0 ]; then
		echo "ok - $1"
	else
		failed=$((failed + 1))
		echo "not ok - $1"
		sed 's/^/#   /' "$3"
	fi
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT

make -s -C "$KDIR" M="$TOP" clean >/dev/null 2>&1
make -s -C "$KDIR" M="$TOP" W=1 KCFLAGS=-Werror modules >"$log" 2>&1
st=$?
grep -E 'warning:|error:' "$log" >/dev/null && st=1
report "W=1 build against $KDIR" $st "$log"

make -s -C "$KDIR" M="$TOP" C=2 CHECK="sparse" modules >"$log" 2>&1
st=$?
# sparse prints file:line:col: warning/error lines; anything else is noise.
grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error):' "$log" >/dev/null && st=1
report "sparse (C=2)" $st "$log"

perl "$TOOLS/scripts/checkpatch.pl" --strict --no-tree --terse --show-types \
	--ignore "$IGNORE" -f $(ls "$TOP"/kmod/*.[ch] | grep -v '\.mod\.c$') "$TOP"/uapi/rawkv.h \
	>"$log" 2>&1
st=0
grep -E ': (ERROR|WARNING|CHECK):' "$log" >/dev/null && st=1
report "checkpatch --strict (ignoring $IGNORE)" $st "$log"

echo "$((3 - failed)) passed, $failed failed"
exit $((failed > 0))
