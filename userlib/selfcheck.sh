#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Host-only checks of the rawkv CLI; needs no module.
# usage: selfcheck.sh PATH-TO-rawkv
rawkv=${1:-./rawkv}
fails=0

# expect STATUS STDERR-PATTERN ARGS...
expect() {
	want=$1 pat=$2
	shift 2
	err=$("$rawkv" "$@" 2>&1 </dev/null >/dev/null)
	got=$?
	if [ "$got" != "$want" ] || ! printf '%s\n' "$err" | grep -q -- "$pat"; then
		echo "selfcheck.sh: rawkv $*: status $got, stderr: $err" >&2
		fails=$((fails + 1))
	fi
}

expect 0 '' --help
expect 2 'missing command'
expect 2 'unknown command: frob' frob
expect 2 'expects KEY' get
expect 2 'expects KEY' del a b
expect 2 'takes no arguments' stat x
expect 2 'Try' -x stat
expect 1 '^rawkv: /nonexistent: no such device node (is the rawkv module loaded?)$' \
	-d /nonexistent stat
[ -e /dev/rawkv ] || expect 1 'rawkv: /dev/rawkv: no such device node' get k
expect 1 '^rawkv: get k: not a rawkv device' -d /dev/null get k
expect 1 '^rawkv: put k: not a rawkv device' -d /dev/null put k
expect 1 '^rawkv: /nonexistent: No such file' -d /dev/null put k /nonexistent
expect 1 '^rawkv: put : invalid argument' -d /dev/null put ''
expect 1 '^rawkv: del k: not a rawkv device' -d /dev/null del k
expect 2 'expects KEY' exists
expect 1 '^rawkv: exists k: not a rawkv device' -d /dev/null exists k
expect 1 '^rawkv: flush: not a rawkv device' -d /dev/null flush
expect 1 '^rawkv: stat: not a rawkv device' -d /dev/null stat
"$rawkv" --help | grep -q '^usage: rawkv' || { echo "selfcheck.sh: --help" >&2; fails=$((fails + 1)); }

[ "$fails" = 0 ] || { echo "selfcheck.sh: $fails failures" >&2; exit 1; }
echo "selfcheck.sh: CLI OK"
