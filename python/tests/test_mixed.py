# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
"""Three stores on three disks, used by C and Python processes at once.

Store 0 (the session's, /dev/vda) and two attached for this test (RAWKV_TEST_DEV2
and RAWKV_TEST_DEV3) each get Python worker processes (multiprocessing, librawkv
through the extension) and C worker processes (a shell loop of the static rawkv
CLI, RAWKV_CLI) at the same time: PUT or PUT_SYNC, with or without metadata, each
value read back and compared, a FLUSH per round. Every worker records the values
it knows to be flushed (acknowledged by PUT_SYNC, or PUT then FLUSH), in order.

While a Python process holds the second store open and keeps doing I/O, detaching
it fails with EBUSY (from Python and from the CLI); the third store, whose workers
are done, detaches. Then rmmod and insmod, the two stores attached again by path
(one from Python, one with the CLI), and every recorded value with its metadata
is read back byte for byte, through Python and through the CLI.
"""
import errno
import multiprocessing
import os
import random
import subprocess

import pytest

import rawkv

CLI = os.environ.get("RAWKV_CLI")
SIZES = (64 << 10, 200 << 10, 512 << 10, 1 << 20)
SLOT_SIZE = 2 << 20        # the attached stores: values up to 2 MiB - 4 KiB
NKEYS = 3                  # keys per worker
TIMEOUT = 300              # seconds for any worker or wait

# One C worker: a shell loop of CLI calls over a manifest of lines
# "put|put-sync KEY VALUE_FILE META_FILE|-" and "flush". Each value (and its
# metadata) is read back and compared; what a flush or put-sync made durable
# is appended to LOG as "KEY VALUE_FILE META_FILE|-".
C_WORKER = r'''
cli=$1 dev=$2 manifest=$3 log=$4
out=$log.out pending=$log.pending
: >"$pending"
while read -r op key val meta; do
	if [ "$op" = flush ]; then
		"$cli" -d "$dev" flush || exit 1
		cat "$pending" >>"$log" && : >"$pending" || exit 1
		continue
	fi
	if [ "$meta" = - ]; then
		"$cli" -d "$dev" "$op" "$key" "$val"
	else
		"$cli" -d "$dev" "$op" --meta-file "$meta" "$key" "$val"
	fi || exit 1
	"$cli" -d "$dev" get "$key" "$out" || exit 1
	cmp -s "$val" "$out" || { echo "c worker: $key: value read back differs" >&2; exit 1; }
	"$cli" -d "$dev" meta "$key" >"$out" || exit 1
	if [ "$meta" = - ]; then
		[ ! -s "$out" ]
	else
		cmp -s "$meta" "$out"
	fi || { echo "c worker: $key: metadata read back differs" >&2; exit 1; }
	if [ "$op" = put-sync ]; then
		echo "$key $val $meta" >>"$log"
	else
		echo "$key $val $meta" >>"$pending"
	fi || exit 1
done <"$manifest"
[ ! -s "$pending" ] || { echo "c worker: manifest ends without a flush" >&2; exit 1; }
'''


def value_of(seed, size):
    return random.Random(seed).randbytes(size)


def meta_of(seed):
    """Metadata of 0 to 256 bytes, or None (none at all) for some seeds."""
    if seed % 4 == 0:
        return None
    return random.Random(seed ^ 0x5A5A).randbytes(seed % 257)


def py_worker(node, prefix, seed, rounds, log, ready=None, stop=None):
    """PUT and PUT_SYNC NKEYS keys for some rounds, reading each back; a FLUSH
    per round. Records "KEY SEED SIZE META_HEX|-" for each value once durable.
    With ready and stop: then keeps the store open and busy (PUT_SYNC and GET
    of one more key) from setting ready until stop is set."""
    rng = random.Random(seed)

    def one(s, key, sync, pending, rec):
        vseed, size = rng.getrandbits(32), rng.choice(SIZES)
        value, meta = value_of(vseed, size), meta_of(vseed)
        (s.put_sync if sync else s.put)(key, value, meta=meta)
        buf = bytearray(size)
        assert s.get_into(key, buf, with_meta=True) == (size, meta or b""), key
        assert buf == value, key
        line = "%s %d %d %s\n" % (key, vseed, size, meta.hex() if meta is not None else "-")
        if sync:
            rec.write(line)
            rec.flush()
        else:
            pending.append(line)

    with rawkv.Store(node) as s, open(log, "w") as rec:
        for r in range(rounds):
            pending = []
            for i in range(NKEYS):
                one(s, "%s/k%d" % (prefix, i), (i + r) % 2 == 1, pending, rec)
            s.flush()
            rec.writelines(pending)
            rec.flush()
        if ready is None:
            return
        n = 0
        while True:
            one(s, "%s/busy" % prefix, True, None, rec)
            n += 1
            if n == 1:
                ready.set()
            if stop.wait(0.05):
                break


class Workers:
    """The worker processes of the test, Python and C; kill() ends any left."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.py = {}           # name -> (Process, store index, log)
        self.c = {}            # name -> (Popen, store index, log)
        self.env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}

    def start_py(self, name, store, node, seed, rounds, **kw):
        log = str(self.tmp / (name + ".log"))
        p = multiprocessing.Process(target=py_worker, name=name,
                                    args=(node, "pytest/mixed/" + name, seed, rounds, log),
                                    kwargs=kw)
        p.start()
        self.py[name] = (p, store, log)

    def start_c(self, name, store, node, seed, rounds):
        """A C worker with its manifest and value files, made here."""
        rng = random.Random(seed)
        d = self.tmp / name
        d.mkdir()
        lines = []
        for r in range(rounds):
            for i in range(NKEYS):
                vseed, size = rng.getrandbits(32), rng.choice(SIZES)
                val = d / ("r%d-k%d.val" % (r, i))
                val.write_bytes(value_of(vseed, size))
                meta = meta_of(vseed)
                mfile = "-"
                if meta is not None:
                    mfile = str(d / ("r%d-k%d.meta" % (r, i)))
                    with open(mfile, "wb") as f:
                        f.write(meta)
                op = "put-sync" if (i + r) % 2 else "put"
                lines.append("%s pytest/mixed/%s/k%d %s %s\n" % (op, name, i, val, mfile))
            lines.append("flush\n")
        (d / "manifest").write_text("".join(lines))
        log = str(d / "log")
        open(log, "w").close()
        p = subprocess.Popen(["/bin/sh", "-c", C_WORKER, "c-worker", CLI, node,
                              str(d / "manifest"), log], env=self.env)
        self.c[name] = (p, store, log)

    def wait(self, store=None):
        """Wait for the workers (of one store); each must exit 0."""
        for name, (p, s, _) in self.py.items():
            if store in (None, s):
                p.join(TIMEOUT)
                assert p.exitcode == 0, "python worker %s: exit code %s" % (name, p.exitcode)
        for name, (p, s, _) in self.c.items():
            if store in (None, s):
                assert p.wait(TIMEOUT) == 0, "C worker %s: exit status %s" % (name, p.returncode)

    def flushed(self):
        """{store index: {key: (value, meta)}}: the last durable value of every
        key, from the workers' records."""
        want = {}
        for _, s, log in self.py.values():
            with open(log) as f:
                for line in f:
                    key, vseed, size, mhex = line.split()
                    want.setdefault(s, {})[key] = (
                        value_of(int(vseed), int(size)),
                        b"" if mhex == "-" else bytes.fromhex(mhex))
        for _, s, log in self.c.values():
            with open(log) as f:
                for line in f:
                    key, val, mfile = line.split()
                    with open(val, "rb") as fv:
                        value = fv.read()
                    meta = b""
                    if mfile != "-":
                        with open(mfile, "rb") as fm:
                            meta = fm.read()
                    want.setdefault(s, {})[key] = (value, meta)
        return want

    def kill(self):
        for p, _, _ in self.py.values():
            if p.is_alive():
                p.kill()
            p.join(10)
        for p, _, _ in self.c.values():
            if p.poll() is None:
                p.kill()
                p.wait(10)


def cli(*args):
    """Run the rawkv CLI; -> (exit status, stdout bytes, stderr text)."""
    r = subprocess.run([CLI] + list(args), capture_output=True,
                       env={k: v for k, v in os.environ.items() if k != "LD_PRELOAD"})
    return r.returncode, r.stdout, r.stderr.decode(errors="replace")


@pytest.fixture
def workers(tmp_path):
    w = Workers(tmp_path)
    yield w
    w.kill()


def test_three_stores_c_and_python_detach_reload(module, dev_path, extra_stores, workers):
    if not (CLI and os.access(CLI, os.X_OK)):
        pytest.fail("no rawkv CLI in RAWKV_CLI (%r): guest-pytest.sh copies it" % CLI)
    attach_opts = dict(format=True, slot_size=SLOT_SIZE, evict=False)
    nodes = [dev_path,
             extra_stores.attach("RAWKV_TEST_DEV2", **attach_opts),
             extra_stores.attach("RAWKV_TEST_DEV3", **attach_opts)]
    assert len(set(nodes)) == 3
    with rawkv.Store(dev_path) as s:
        st = s.stat()
        # room for this test's keys without evicting any on store 0
        assert st["slots_total"] - st["slots_used"] >= 64, st
        evictions = st["evictions"]

    ready, stop = multiprocessing.Event(), multiprocessing.Event()
    # Store 2's workers do one round, the others two: they finish first.
    for si, node in enumerate(nodes):
        rounds = 1 if si == 2 else 2
        for w in range(2):
            workers.start_py("s%d-py%d" % (si, w), si, node, 1000 * si + w, rounds)
            workers.start_c("s%d-c%d" % (si, w), si, node, 1000 * si + 100 + w, rounds)
    workers.start_py("s1-busy", 1, nodes[1], 1999, 1, ready=ready, stop=stop)

    # Store 2 done and closed by all; store 1 held open and busy.
    workers.wait(store=2)
    assert ready.wait(TIMEOUT), "the busy worker of store 1 never started"
    with pytest.raises(OSError) as ei:
        rawkv.detach(nodes[1])
    assert ei.value.errno == errno.EBUSY
    rc, _, err = cli("detach", nodes[1])
    assert rc == 1 and "in use" in err, err
    rawkv.detach(nodes[2])
    assert not os.path.exists(nodes[2])
    rc, _, err = cli("-d", nodes[2], "exists", "pytest/mixed/s2-py0/k0")
    assert rc == 1 and "no such device node" in err, err
    stop.set()
    workers.wait()

    want = workers.flushed()
    assert sorted(want) == [0, 1, 2]
    for si, n in ((0, 4 * NKEYS), (1, 5 * NKEYS + 1), (2, 4 * NKEYS)):
        assert len(want[si]) == n, (si, sorted(want[si]))
    with rawkv.Store(dev_path) as s:
        assert s.stat()["evictions"] == evictions

    # rmmod writes store 0's and store 1's final metadata; store 2's was
    # written by its detach. Then the stores come back from their disks.
    module.unload()
    module.load(fmt=False)
    nodes[1] = extra_stores.attach("RAWKV_TEST_DEV2")
    rc, out, err = cli("attach", os.environ["RAWKV_TEST_DEV3"])
    assert rc == 0, err
    nodes[2] = out.decode().strip()
    assert nodes[2].startswith("/dev/rawkv") and os.path.exists(nodes[2]), out

    for si, node in enumerate(nodes):
        with rawkv.Store(node) as s:
            for key, (value, meta) in want[si].items():
                assert s.get(key, with_meta=True) == (value, meta), (node, key)
            assert s.stat()["load_dropped"] == 0, node
        for key, (value, meta) in want[si].items():
            rc, out, err = cli("-d", node, "get", key)
            assert rc == 0 and out == value, (node, key, err)
            rc, out, err = cli("-d", node, "meta", key)
            assert rc == 0 and out == meta, (node, key, err)
    # stores 1 and 2 are detached by extra_stores; store 0's keys stay
