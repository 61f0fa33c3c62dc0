#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Fuzz kmod/rawkv_decode.c: install clang and libFuzzer if needed, build
# fuzz/, check the seed corpus, fuzz for SECS seconds (default 600) on a copy
# of it in build/fuzz/, then print one summary line:
#
#   fuzz: ok: N execs in S s (R/s), cov C, ft F, corpus K (+A new)
#
# Exits non-zero on any crash, sanitizer report, violated invariant, leak
# or hang; the reproducer is in build/fuzz/artifacts/ (replay it with
# `make -C fuzz repro FILE=...`), the log in build/fuzz/run.log.
set -u

TOP=$(cd "$(dirname "$0")/.." && pwd)
OUT=$TOP/build/fuzz
secs=${1:-600}

case $secs in
'' | *[!0-9]*)
	echo "usage: $0 [SECONDS]" >&2
	exit 2
	;;
esac

"$TOP/scripts/setup.sh" || exit 1
rm -f "$OUT/run.log"
start=$(date +%s)
make -s -C "$TOP/fuzz" run SECONDS="$secs"
rc=$?
took=$(($(date +%s) - start))

log=$OUT/run.log
stat() { sed -n "s/^stat::$1: *//p" "$log" 2>/dev/null | tail -n 1; }
execs=$(stat number_of_executed_units)
rate=$(stat average_exec_per_sec)
added=$(stat new_units_added)
last=$(grep -E '^#[0-9]+' "$log" 2>/dev/null | tail -n 1)
cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$last")
summary="${execs:-?} execs in $took s (${rate:-?}/s), cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?} (+${added:-?} new)"

if [ "$rc" -ne 0 ]; then
	shopt -s nullglob
	repro=("$OUT"/artifacts/*)
	echo "fuzz: FAILED (make exit $rc): $summary; reproducer: ${repro[*]:-none}"
	exit 1
fi
echo "fuzz: ok: $summary"
