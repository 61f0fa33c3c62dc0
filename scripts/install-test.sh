#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Test rawkv's installation for the kernel $KVER (default: scripts/kver.sh), as
# make check's "install" item; prints "ok"/"not ok" lines and exits 0 only when
# every one is ok.
#
#  1. make install DESTDIR=<tmp> PREFIX=/usr: every file is there, the library's
#     soname and links, rawkv.pc, the module's vermagic, the udev rule's
#     patterns, the man pages (groff -ww and mandoc -Tlint, no warnings);
#  2. a program built only with `pkg-config --static --cflags --libs rawkv`
#     against that DESTDIR (selftests/install/rawkv_install_smoke.c), and once
#     dynamically (it must need librawkv.so.0);
#  3. dkms add/build/install of `make dkms-source` for $KVER, in a dkms tree,
#     source tree and install tree of its own under <tmp> (so the host's
#     /var/lib/dkms, /usr/src and /lib/modules are never touched; --no-depmod),
#     signed with a throw-away key; dkms status; the module's vermagic; then
#     dkms remove --all leaves nothing behind;
#  4. in a VM (scripts/vm.sh, RAWKV_VM_PAYLOAD): insmod the dkms-built module on
#     a scratch disk of its own with format=1, run the program and the
#     installed CLI against /dev/rawkv, rmmod;
#  5. make uninstall DESTDIR=<tmp> leaves no file behind.
#
# The busybox guest has no udev, so the rule itself is not applied there; its
# patterns are checked here against the node names it must and must not match.
# Everything lives in one temporary directory, removed at exit.
# RAWKV_INSTALL_TEST_VM=0 leaves out step 4 (and says so), for a quick run on the
# host; make check never sets it.
set -u

TOP=$(cd "$(dirname "$0")/.." && pwd)
KVER=${KVER:-$("$TOP/scripts/kver.sh")}
export KVER
VERSION=$(cat "$TOP/VERSION")
TMP=$(mktemp -d /tmp/rawkv-install-test.XXXXXX) || exit 1
D=$TMP/destdir
LOG=$TMP/log
n=0
failed=0

cleanup() {
	# dkms remove is part of the test; this is only for an early exit.
	[ -d "$TMP/dkms/tree/rawkv" ] && dkms_cmd remove -m rawkv -v "$VERSION" --all >/dev/null 2>&1
	rm -rf "$TMP"
}
trap cleanup EXIT

ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
# check DESCRIPTION COMMAND...: one line for whether COMMAND succeeds; its
# output goes to $LOG and is shown on failure.
check() {
	local what=$1
	shift
	if "$@" >"$LOG" 2>&1; then
		ok "$what"
	else
		not_ok "$what"
		sed 's/^/#   /' "$LOG" | tail -n 20
	fi
}

echo "# install-test: rawkv $VERSION for $KVER in $TMP"

# --- 1. make install into DESTDIR -------------------------------------------
check "make install DESTDIR=... PREFIX=/usr" \
	make -C "$TOP" --no-print-directory install DESTDIR="$D" PREFIX=/usr

MODDIR=$D/lib/modules/$KVER/updates/kmod
KO=$(ls "$MODDIR"/rawkv.ko* 2>/dev/null | head -n 1)
FILES="usr/bin/rawkv usr/lib/librawkv.a usr/lib/librawkv.so.$VERSION
usr/lib/librawkv.so.0 usr/lib/librawkv.so usr/lib/pkgconfig/rawkv.pc
usr/include/rawkv.h usr/include/rawkv/uapi.h usr/share/man/man8/rawkv.8
usr/share/man/man3/librawkv.3 usr/share/man/man4/rawkv.4
lib/udev/rules.d/60-rawkv.rules"
missing=
for f in $FILES; do
	[ -f "$D/$f" ] || missing="$missing $f"
done
[ -n "$KO" ] || missing="$missing lib/modules/$KVER/updates/kmod/rawkv.ko"
if [ -z "$missing" ]; then
	ok "every file installed ($(echo $FILES | wc -w) and the module)"
else
	not_ok "files missing from DESTDIR:$missing"
fi

soname=$(readelf -d "$D/usr/lib/librawkv.so.$VERSION" 2>/dev/null |
	sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = librawkv.so.0 ] && ok "soname of librawkv.so.$VERSION is librawkv.so.0" ||
	not_ok "soname of librawkv.so.$VERSION is '$soname', not librawkv.so.0"
links="$(readlink "$D/usr/lib/librawkv.so.0") $(readlink "$D/usr/lib/librawkv.so")"
[ "$links" = "librawkv.so.$VERSION librawkv.so.0" ] &&
	ok "librawkv.so -> librawkv.so.0 -> librawkv.so.$VERSION" ||
	not_ok "library links are '$links'"

vermagic=$(modinfo -F vermagic "$KO" 2>/dev/null)
[ "${vermagic%% *}" = "$KVER" ] && ok "installed module's vermagic is $KVER" ||
	not_ok "installed module's vermagic is '$vermagic', not $KVER"

export PKG_CONFIG_SYSROOT_DIR=$D
export PKG_CONFIG_LIBDIR=$D/usr/lib/pkgconfig:/usr/lib/x86_64-linux-gnu/pkgconfig:/usr/share/pkgconfig
check "rawkv.pc is valid (pkg-config --validate)" pkg-config --validate rawkv
pcver=$(pkg-config --modversion rawkv 2>/dev/null)
[ "$pcver" = "$VERSION" ] && ok "rawkv.pc version is $VERSION (VERSION)" ||
	not_ok "rawkv.pc version is '$pcver', VERSION says $VERSION"

# Man pages: the installed ones, no warnings from groff or mandoc.
for m in man8/rawkv.8 man3/librawkv.3 man4/rawkv.4; do
	f=$D/usr/share/man/$m
	out=$(groff -man -Tutf8 -ww -z "$f" 2>&1) && [ -z "$out" ] &&
		out=$(mandoc -Tlint -W warning "$f" 2>&1) && [ -z "$out" ] &&
		[ "$(groff -man -Tutf8 "$f" 2>/dev/null | wc -l)" -gt 20 ] &&
		ok "man page ${m#*/} renders without warnings (groff -ww, mandoc -Tlint)" || {
		not_ok "man page ${m#*/}: warnings, or nothing rendered"
		echo "$out" | sed 's/^/#   /' | head -n 20
	}
done

# udev: the store nodes match, the control node and others do not, and every
# rule that matches sets group rawkv and mode 0660.
RULES=$D/lib/udev/rules.d/60-rawkv.rules
udev_ok=1
# rule_for NAME: the KERNEL=="..." lines of the rules whose pattern matches NAME
rule_for() {
	local line pat
	while IFS= read -r line; do
		[[ $line =~ KERNEL==\"([^\"]*)\" ]] || continue
		pat=${BASH_REMATCH[1]}
		# shellcheck disable=SC2053
		[[ $1 == $pat ]] && echo "$line"
	done <"$RULES"
}
for name in rawkv rawkv0 rawkv7 rawkv12 rawkv4095; do
	r=$(rule_for "$name")
	if [ -z "$r" ] || echo "$r" | grep -v -q 'GROUP="rawkv", MODE="0660"'; then
		udev_ok=0
		echo "# udev: /dev/$name: no rule giving group rawkv and mode 0660"
	fi
done
for name in rawkv-control rawkvx rawkv_0 xrawkv rawk; do
	if [ -n "$(rule_for "$name")" ]; then
		udev_ok=0
		echo "# udev: /dev/$name must keep the module's mode, but a rule matches it"
	fi
done
grep -q '^SUBSYSTEM!="misc", GOTO="rawkv_end"' "$RULES" 2>/dev/null ||
	{ udev_ok=0; echo "# udev: the rules are not limited to misc devices"; }
[ $udev_ok = 1 ] && ok "udev rule: rawkv and rawkvN get group rawkv, 0660; rawkv-control does not" ||
	not_ok "udev rule patterns"

# --- 2. a program built with pkg-config only ----------------------------------
mkdir -p "$TMP/payload" "$TMP/cc"
cp "$TOP/selftests/install/rawkv_install_smoke.c" "$TMP/cc/"
# shellcheck disable=SC2046
check "program built with only pkg-config --static --cflags --libs rawkv (-static)" \
	bash -c 'cd "$1" && gcc -static -O2 -Wall -Wextra -Werror -o smoke rawkv_install_smoke.c \
		$(pkg-config --static --cflags --libs rawkv)' _ "$TMP/cc"
cp "$TMP/cc/smoke" "$TMP/payload/rawkv_install_smoke" 2>/dev/null
check "program built with only pkg-config --cflags --libs rawkv (shared)" \
	bash -c 'cd "$1" && gcc -O2 -Wall -Wextra -Werror -o smoke-shared rawkv_install_smoke.c \
		$(pkg-config --cflags --libs rawkv) &&
		readelf -d smoke-shared | grep -F "(NEEDED)" | grep -F "[librawkv.so.0]"' _ "$TMP/cc"

# --- 3. dkms ------------------------------------------------------------------
DK=$TMP/dkms
mkdir -p "$DK/tree" "$DK/src" "$DK/modules/$KVER"
# Signing: dkms signs with its MOK key; a throw-away one here, not /var/lib/dkms's.
export mok_signing_key=$DK/mok.key mok_certificate=$DK/mok.pub
dkms_cmd() {
	dkms "$@" --dkmstree "$DK/tree" --sourcetree "$DK/src" \
		--installtree "$DK/modules" --no-depmod
}
check "make dkms-source into a dkms source tree" \
	make -C "$TOP" --no-print-directory dkms-source DESTDIR="$DK/src" \
	DKMS_SRCDIR="/rawkv-$VERSION"
check "dkms add rawkv/$VERSION" dkms_cmd add -m rawkv -v "$VERSION"
# A kernel tree of its own (make check-debug's KDIR) instead of /lib/modules/$KVER/build.
KSRC=()
[ "${KDIR:-}" != "/lib/modules/$KVER/build" ] && [ -d "${KDIR:-}" ] && KSRC=(--kernelsourcedir "$KDIR")
check "dkms build rawkv/$VERSION -k $KVER" dkms_cmd build -m rawkv -v "$VERSION" -k "$KVER" "${KSRC[@]}"
check "dkms install rawkv/$VERSION -k $KVER" dkms_cmd install -m rawkv -v "$VERSION" -k "$KVER" "${KSRC[@]}"
# stdout only: dkms's readelf prints warnings on stderr for 6.12's modules.
status=$(dkms_cmd status -m rawkv 2>/dev/null)
echo "# dkms status: $status"
[[ $status == "rawkv/$VERSION, $KVER, x86_64: installed"* ]] &&
	ok "dkms status: rawkv/$VERSION installed for $KVER" || not_ok "dkms status: '$status'"
DKO=$(ls "$DK/modules/$KVER/updates/dkms"/rawkv.ko* 2>/dev/null | head -n 1)
vermagic=$(modinfo -F vermagic "$DKO" 2>/dev/null)
[ -n "$DKO" ] && [ "${vermagic%% *}" = "$KVER" ] &&
	ok "dkms installed ${DKO#"$DK/modules/"}, vermagic $KVER" ||
	not_ok "dkms module '${DKO:-none}' vermagic '$vermagic', not $KVER"
case $DKO in
*.ko.xz) xz -dc "$DKO" >"$TMP/payload/rawkv-dkms.ko" ;;
*.ko.zst) zstd -qdc "$DKO" >"$TMP/payload/rawkv-dkms.ko" ;;
*.ko) cp "$DKO" "$TMP/payload/rawkv-dkms.ko" ;;
esac

# --- 4. in the VM: the dkms-built module, the program and the installed CLI -----
cp "$D/usr/bin/rawkv" "$TMP/payload/rawkv-installed" 2>/dev/null
cat >"$TMP/payload/install-guest.sh" <<'EOF'
#!/bin/sh
# Guest half of scripts/install-test.sh: everything it needs is in /rawkv.
cd /rawkv || exit 1
rc=0
say() { echo "guest: $*"; }
if insmod ./rawkv-dkms.ko dev=/dev/vda format=1; then
	say "ok - insmod the dkms-built rawkv.ko (format=1)"
else
	say "not ok - insmod the dkms-built rawkv.ko"
	exit 1
fi
[ -c /dev/rawkv ] && say "ok - /dev/rawkv exists" || { say "not ok - no /dev/rawkv"; rc=1; }
./rawkv_install_smoke /dev/rawkv || rc=1
echo "value from the installed CLI" >/tmp/v
if ./rawkv-installed put cli-key /tmp/v && ./rawkv-installed get cli-key /tmp/w &&
	cmp /tmp/v /tmp/w && ./rawkv-installed flush; then
	say "ok - installed CLI: put, get, flush"
else
	say "not ok - installed CLI: put, get, flush"
	rc=1
fi
if rmmod rawkv; then say "ok - rmmod"; else say "not ok - rmmod"; rc=1; fi
exit $rc
EOF
truncate -s 64M "$TMP/disk.img"
if [ "${RAWKV_INSTALL_TEST_VM:-1}" = 0 ]; then
	echo "# the VM run is left out (RAWKV_INSTALL_TEST_VM=0)"
elif [ -x "$TMP/payload/rawkv_install_smoke" ] && [ -f "$TMP/payload/rawkv-dkms.ko" ]; then
	# A debug kernel (make check-debug) takes minutes to boot.
	RAWKV_VM_PAYLOAD=$TMP/payload "$TOP/scripts/vm.sh" --name install-test --timeout 900 \
		--disk "$TMP/disk.img" --run '/rawkv/install-guest.sh' >"$TMP/vm.log" 2>&1
	rc=$?
	tr -d '\r' <"$TMP/vm.log" | grep -E '^(ok|not ok|guest:|#)' | sed 's/^/# vm: /'
	[ $rc -eq 0 ] && ok "in the VM: dkms-built module, pkg-config program, installed CLI" || {
		not_ok "in the VM (vm.sh status $rc; logs in $TOP/build/vm/install-test/)"
		tail -n 20 "$TMP/vm.log" | sed 's/^/#   /'
	}
else
	not_ok "in the VM: not run, no program or no dkms-built module"
fi

# --- 5. uninstall --------------------------------------------------------------
check "dkms remove rawkv/$VERSION --all" dkms_cmd remove -m rawkv -v "$VERSION" --all
left=$(find "$DK/tree" "$DK/modules" -name 'rawkv*' 2>/dev/null)
status=$(dkms_cmd status -m rawkv 2>/dev/null)
[ -z "$left" ] && [ -z "$status" ] &&
	ok "after dkms remove: no status, no module, no tree" ||
	not_ok "dkms remove left: $left $status"
check "make uninstall DESTDIR=..." \
	make -C "$TOP" --no-print-directory uninstall DESTDIR="$D" PREFIX=/usr
left=$(find "$D" ! -type d 2>/dev/null)
[ -z "$left" ] && ok "make uninstall removed every file" ||
	not_ok "make uninstall left: $(echo $left)"

echo "# install-test: $((n - failed)) of $n ok"
[ $failed -eq 0 ]
