#!/bin/bash
# make check: run the selftests in a QEMU guest, twice on the same disks (the second
# boot checks what survived a real reboot), then print "N passed, N failed" last.
# Disks: vda 1 GiB (512 B sectors), vdb 64 MiB (4096 B logical blocks), vdc 16 KiB,
# vdd 64 MiB (512 B) and vde 1 GiB: the data and log devices of dm-log-writes;
# vdf 64 MiB: where the crash tests build the images of their power cuts.
# Guest: /rawkv/guest-check.sh boot1, then boot2. Passed = pass + xfail of every
# "# Totals:" line; failed = fail + xpass + skip + error, plus one per bad boot (kernel
# log problem, timeout, crash, missing Totals line, non-zero guest status), then one more
# for scripts/crash-blackbox.sh (QEMU killed mid-workload, recovery checked on a third boot)
# and one for a 30 s run of the decoder fuzzer (scripts/fuzz.sh), and one for the
# installation (scripts/install-test.sh: make install, pkg-config, dkms, man pages, a VM run).
# Then the Python package's tests in a boot of their own ("python", python/tests, its own
# disks; RAWKV_CHECK_PYTHON_TIMEOUT, default 900 s): each test counts, plus one failure for
# a bad boot. RAWKV_CHECK_PYTHON=0 leaves that boot out (make check-debug does).
# First, on the host: the unit test of the in-memory index (build/index/index_test, from
# selftests/index/), its "# Totals:" line counted the same way, plus one failure if it has
# none or exits non-zero with no failure counted.
# RAWKV_CHECK_BUDGET: seconds for both boots together (default 900).
# RAWKV_CHECK_GUEST_ENV: variables for the guest's tests, e.g. RAWKV_FUZZ_CALLS=200000.
set -u

TOP=$(cd "$(dirname "$0")/.." && pwd)
VM=$TOP/build/vm
BUDGET=${RAWKV_CHECK_BUDGET:-900}

mkdir -p "$VM" || exit 1
rm -f "$VM"/vd[a-f].img
truncate -s 1G "$VM/vda.img" && truncate -s 64M "$VM/vdb.img" &&
	truncate -s 16K "$VM/vdc.img" && truncate -s 64M "$VM/vdd.img" &&
	truncate -s 1G "$VM/vde.img" && truncate -s 64M "$VM/vdf.img" || exit 1

passed=0
failed=0

# add_totals LOG: add the "# Totals:" lines of LOG to passed and failed; their failures in
# $f. Fails if LOG has none.
add_totals() {
	local totals
	totals=$(tr -d '\r' <"$1" | sed -n 's/^# Totals: \(pass:.*\)$/\1/p')
	[ -n "$totals" ] || return 1
	read -r p f <<<"$(echo "$totals" | awk -F'[: ]+' '
		{ for (i = 1; i < NF; i += 2) n[$i] += $(i + 1) }
		END { print n["pass"] + n["xfail"], n["fail"] + n["xpass"] + n["skip"] + n["error"] }')"
	passed=$((passed + p))
	failed=$((failed + f))
}

# The index's unit test: kmod/index.c in user space, on the host, a few seconds.
echo "# ==== index: build/index/index_test (kmod/index.c in user space, ASan and UBSan)"
"$TOP/build/index/index_test" 2>&1 | tee "$VM/check-index.log"
rc=${PIPESTATUS[0]}
if ! add_totals "$VM/check-index.log"; then
	failed=$((failed + 1))
	echo "not ok - index: no '# Totals:' line (exit status $rc); see $VM/check-index.log"
elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
	failed=$((failed + 1))
	echo "not ok - index: exit status $rc; see $VM/check-index.log"
fi

start=$SECONDS

boot() { # boot NAME TIMEOUT
	local name=$1 secs=$2 log=$VM/check-$1.log rc totals why=()
	echo "# ==== $name: /rawkv/guest-check.sh $name (timeout ${secs}s)"
	"$TOP/scripts/vm.sh" --name "check-$name" --timeout "$secs" \
		--disk "$VM/vda.img" --disk "$VM/vdb.img:4096" --disk "$VM/vdc.img" \
		--disk "$VM/vdd.img" --disk "$VM/vde.img" --disk "$VM/vdf.img" \
		--run "${RAWKV_CHECK_GUEST_ENV:-} /rawkv/guest-check.sh $name" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}

	add_totals "$log" && totals=yes || totals=

	((rc & 64)) && why+=("vm.sh could not start the VM")
	((rc & 4)) && why+=("timed out after ${secs}s")
	(( (rc & 6) == 2 )) && why+=("guest crashed or panicked (no exit status)")
	((rc & 1)) && why+=("guest-check.sh exited with status $(sed -n 's/.*RAWKV-GUEST-EXIT //p' "$log" | tail -n1)")
	((rc & 8)) && why+=("kernel log: $(sed -n '/kernel log problems/{n;s/^[0-9]*:\[ *[0-9.]*\] //p;q}' "$log")")
	[ -z "$totals" ] && why+=("no '# Totals:' line")
	if [ ${#why[@]} -gt 0 ]; then
		failed=$((failed + 1))
		printf 'not ok - %s: %s' "$name" "${why[0]}"
		printf '; %s' "${why[@]:1}"
		echo
	fi
	echo "# $name logs: $log and $VM/check-$name/"
}

boot boot1 $((BUDGET * 2 / 3))
left=$((BUDGET - (SECONDS - start)))
if [ $left -ge 30 ]; then
	boot boot2 $left
else
	failed=$((failed + 1))
	echo "not ok - boot2: not run, only ${left}s of the ${BUDGET}s budget left"
fi

# The Python package (python/): its pytest tests in a boot of their own, on a disk of its
# own (build/vm/python-vda.img, 2 GiB sparse; python-vdb.img and python-vdc.img, 64 MiB,
# for more stores: RAWKV_TEST_DEV2 and RAWKV_TEST_DEV3), with the host's python3 run in the guest
# over 9p (python/tests/guest-pytest.sh: the tests twice, as built and under ASan/UBSan);
# each test of each pass counts, through the "# Totals:" line that its conftest prints,
# plus one failure for a bad boot. Not counted in the budget.
python_boot() {
	local log=$VM/check-python.log secs=${RAWKV_CHECK_PYTHON_TIMEOUT:-900} rc why=()
	echo "# ==== python: python/tests under pytest in the guest (timeout ${secs}s)"
	rm -f "$VM"/python-vd[abc].img && truncate -s 2G "$VM/python-vda.img" &&
		truncate -s 64M "$VM/python-vdb.img" && truncate -s 64M "$VM/python-vdc.img" || {
		failed=$((failed + 1)); echo "not ok - python: cannot create its disk images"; return; }
	"$TOP/scripts/vm.sh" --name check-python --timeout "$secs" --virtfs \
		--disk "$VM/python-vda.img" --disk "$VM/python-vdb.img" --disk "$VM/python-vdc.img" \
		--run "RAWKV_TEST_DEV2=/dev/vdb RAWKV_TEST_DEV3=/dev/vdc sh /host$TOP/python/tests/guest-pytest.sh $TOP/python /dev/vda" \
		2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	add_totals "$log" || why+=("no '# Totals:' line")
	((rc & 64)) && why+=("vm.sh could not start the VM")
	((rc & 4)) && why+=("timed out after ${secs}s")
	(( (rc & 6) == 2 )) && why+=("guest crashed or panicked (no exit status)")
	((rc & 8)) && why+=("kernel log: $(sed -n '/kernel log problems/{n;s/^[0-9]*:\[ *[0-9.]*\] //p;q}' "$log")")
	# rc & 1 (pytest failed) is counted by the Totals line already
	if [ ${#why[@]} -gt 0 ]; then
		failed=$((failed + 1))
		printf 'not ok - python: %s' "${why[0]}"
		printf '; %s' "${why[@]:1}"
		echo
	fi
	echo "# python logs: $log and $VM/check-python/"
}
if [ "${RAWKV_CHECK_PYTHON:-1}" = 1 ]; then
	python_boot
else
	echo "# ==== python: left out (RAWKV_CHECK_PYTHON=0)"
fi

# One more pass or failure: QEMU killed in the middle of a workload, then recovery checked
# (scripts/crash-blackbox.sh, its own disk image; not counted in the budget above).
echo "# ==== crash-blackbox: kill QEMU during a workload, boot again and check"
"$TOP/scripts/crash-blackbox.sh" 2>&1 | tee "$VM/check-blackbox.log"
if [ "${PIPESTATUS[0]}" -eq 0 ]; then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
fi

# And one for the decoder fuzzer: 30 seconds of scripts/fuzz.sh (make fuzz runs 10 minutes).
echo "# ==== fuzz: rawkv_decode.c under libFuzzer, ASan and UBSan for ${RAWKV_CHECK_FUZZ_SECONDS:-30}s"
if "$TOP/scripts/fuzz.sh" "${RAWKV_CHECK_FUZZ_SECONDS:-30}" 2>&1 | tail -n 20 | tee "$VM/check-fuzz.log" &&
	[ "${PIPESTATUS[0]}" -eq 0 ]; then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
	echo "not ok - fuzz: see $VM/check-fuzz.log"
fi

# And one for the installation: make install into a temporary DESTDIR, a program built
# with pkg-config only, dkms for $KVER, the man pages and udev rule, and the dkms-built
# module with that program in a VM of its own (scripts/install-test.sh).
echo "# ==== install: make install, pkg-config, dkms, man pages; the result in a VM"
if "$TOP/scripts/install-test.sh" 2>&1 | tee "$VM/check-install.log" &&
	[ "${PIPESTATUS[0]}" -eq 0 ]; then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
	echo "not ok - install: see $VM/check-install.log"
fi

echo "$passed passed, $failed failed"
[ $failed -eq 0 ] && [ $passed -gt 0 ]
