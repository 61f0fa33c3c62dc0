# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
"""rawkv.lmcache.RawkvConnector driven as LMCache's native_plugin bridge does.

The bridge (NativeConnectorL2Adapter) calls submit_batch_* from several
threads, polls event_fd() for POLLIN in one demux thread, never reads it,
and calls drain_completions() when it is readable. The Demux class below
does exactly that, and the tests check every completion tuple and the bytes.
"""
import ctypes
import errno
import hashlib
import importlib
import multiprocessing
import os
import select
import threading

import pytest

import rawkv
from rawkv.lmcache import RawkvConnector, map_key

REQUIRED = ["event_fd", "submit_batch_get", "submit_batch_set", "submit_batch_exists",
            "drain_completions", "close"]


class Demux:
    """LMCache's demux loop: poll(POLLIN, 500 ms), drain, dispatch by id."""

    def __init__(self, conn):
        self.conn = conn
        self.results = {}
        self.cond = threading.Condition()
        self.stop = threading.Event()
        self.drains = 0
        self.empty_drains = 0
        self.t = threading.Thread(target=self.loop)
        self.t.start()

    def loop(self):
        p = select.poll()
        p.register(self.conn.event_fd(), select.POLLIN)
        while not self.stop.is_set():
            if not p.poll(500):
                continue
            comps = self.conn.drain_completions()
            self.drains += 1
            if not comps:
                self.empty_drains += 1
            with self.cond:
                for c in comps:
                    assert c[0] not in self.results, "two completions for one id"
                    self.results[c[0]] = c
                self.cond.notify_all()

    def wait(self, fid, timeout=120):
        with self.cond:
            assert self.cond.wait_for(lambda: fid in self.results, timeout), \
                "no completion for future %d" % fid
            return self.results.pop(fid)

    def close(self):
        self.stop.set()
        self.t.join(5)
        assert not self.t.is_alive()
        self.conn.close()


def l1_buffer(n, fill=None):
    """A memoryview over ctypes memory, as LMCache's obj.byte_array."""
    mem = (ctypes.c_uint8 * n)()
    mv = memoryview(mem).cast("B")
    if fill is not None:
        mv[:] = fill
    return mv


def value(key, n):
    return (hashlib.sha256(key.encode()).digest() * (n // 32 + 1))[:n]


def lmc_key(i, model="llama", salt=None):
    k = "%s@%08x@%x@%s" % (model, 255, 0, hashlib.sha256(b"%d" % i).hexdigest())
    return k + ("@" + salt if salt else "")


@pytest.fixture
def conn(request, dev_path):
    if os.environ.get("RAWKV_TEST_GUEST"):
        request.getfixturevalue("module")
    c = RawkvConnector(path=dev_path, depth=16)
    d = Demux(c)
    yield c, d
    d.close()


def test_loader_contract(dev_path, request):
    """What _create_native_plugin_l2_adapter does: import, cls(**params), check."""
    if os.environ.get("RAWKV_TEST_GUEST"):
        request.getfixturevalue("module")
    mod = importlib.import_module("rawkv.lmcache")
    cls = getattr(mod, "RawkvConnector")
    c = cls(**{"path": dev_path})
    try:
        for m in REQUIRED + ["submit_batch_delete"]:
            assert callable(getattr(c, m, None)), m
        assert isinstance(c.event_fd(), int)
        assert c.drain_completions() == []
    finally:
        c.close()
    c.close()  # idempotent
    assert c.drain_completions() == []
    with pytest.raises(RuntimeError):
        c.submit_batch_exists(["k"])


def test_map_key():
    short = lmc_key(1)
    assert map_key(short) == short.encode()
    long_ = "m" * 300 + "@x"
    assert len(map_key(long_)) == 48 and map_key(long_) == map_key("m" * 300 + "@x")
    assert map_key(long_) != map_key(long_ + "y")
    assert map_key("\x00abc") != b"\x00abc"
    assert len(map_key("é" * 128)) == 48  # 256 bytes of UTF-8
    assert map_key("é" * 127) == ("é" * 127).encode()


def test_set_exists_get_delete(conn):
    c, d = conn
    n = 8
    size = 256 * 1024
    keys = [lmc_key(i) for i in range(n)]
    keys.append("long-model-name-" * 30 + "@000000ff@0@abcd")  # > 255 bytes
    keys.append(lmc_key(99, salt="alice"))
    srcs = [l1_buffer(size, value(k, size)) for k in keys]
    fid = c.submit_batch_set(keys, srcs)
    assert isinstance(fid, int)
    f, ok, err, bools = d.wait(fid)
    assert (f, ok, err, bools) == (fid, True, "", None)

    probe = keys + ["absent@00000000@0@00"]
    fid = c.submit_batch_exists(probe)
    assert d.wait(fid) == (fid, True, "", [True] * len(keys) + [False])

    dsts = [l1_buffer(size, b"\x00" * size) for _ in keys]
    fid = c.submit_batch_get(keys, dsts)
    assert d.wait(fid) == (fid, True, "", [True] * len(keys))
    for k, dst in zip(keys, dsts):
        assert bytes(dst) == value(k, size)

    fid = c.submit_batch_delete(keys[:3] + ["absent@00000000@0@00"])
    assert d.wait(fid) == (fid, True, "", [True, True, True, False])
    fid = c.submit_batch_exists(keys[:4])
    assert d.wait(fid)[3] == [False, False, False, True]


def test_get_partial_miss_and_wrong_size(conn):
    c, d = conn
    k = lmc_key(1000)
    c_fid = c.submit_batch_set([k], [l1_buffer(4096, value(k, 4096))])
    assert d.wait(c_fid)[1] is True
    miss = lmc_key(1001)
    dsts = [l1_buffer(4096), l1_buffer(4096), l1_buffer(8192)]
    fid = c.submit_batch_get([k, miss, k], dsts)
    f, ok, err, bools = d.wait(fid)
    assert bools == [True, False, False]  # the 3rd: stored 4096 bytes, buffer 8192
    assert ok is False and miss in err
    assert bytes(dsts[0]) == value(k, 4096)


def test_errors_without_the_kernel_complete(conn, store):
    c, d = conn
    vmax = store.stat()["value_max"]
    k = lmc_key(2000)
    fid = c.submit_batch_set([k], [l1_buffer(vmax + 1)])
    f, ok, err, bools = d.wait(fid)
    assert ok is False and "errno %d" % errno.E2BIG in err and k in err and bools is None
    fid = c.submit_batch_exists([])
    assert d.wait(fid) == (fid, True, "", [])
    with pytest.raises(ValueError):
        c.submit_batch_set([k, k], [l1_buffer(10)])


def test_eventfd_is_reset_by_drain(dev_path, request):
    if os.environ.get("RAWKV_TEST_GUEST"):
        request.getfixturevalue("module")
    c = RawkvConnector(path=dev_path, depth=4)
    try:
        efd = c.event_fd()
        p = select.poll()
        p.register(efd, select.POLLIN)
        assert p.poll(0) == []
        fid = c.submit_batch_exists([lmc_key(i, model="efd") for i in range(10)])  # > depth
        comps = []
        while not comps:
            assert p.poll(60000), "event fd never readable"
            comps += c.drain_completions()
        assert comps == [(fid, True, "", [False] * 10)]
        assert p.poll(0) == []  # reset: LMCache never reads it
        assert c.drain_completions() == []
    finally:
        c.close()


def test_many_threads_submit_concurrently(conn):
    c, d = conn
    nthreads, per, size = 4, 12, 64 * 1024
    errors = []
    # the bridge holds its lock around submit; submit itself must still be
    # safe to call from several threads: call it without one here

    def worker(t):
        try:
            keys = [lmc_key(t * 1000 + i, model="thr") for i in range(per)]
            srcs = [l1_buffer(size, value(k, size)) for k in keys]
            fids = [c.submit_batch_set(keys[i:i + 3], srcs[i:i + 3]) for i in range(0, per, 3)]
            for f in fids:
                assert d.wait(f)[1:] == (True, "", None)
            dsts = [l1_buffer(size) for _ in keys]
            fid = c.submit_batch_get(keys, dsts)
            assert d.wait(fid)[1:] == (True, "", [True] * per)
            for k, dst in zip(keys, dsts):
                assert bytes(dst) == value(k, size)
        except BaseException as e:  # report in the main thread
            errors.append(e)

    ts = [threading.Thread(target=worker, args=(t,)) for t in range(nthreads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(300)
    assert not errors, errors
    assert d.drains > 0


def _child(path, idx, nkeys, size, q):
    try:
        c = RawkvConnector(path=path, depth=8)
        d = Demux(c)
        try:
            keys = [lmc_key(idx * 1000 + i, model="proc") for i in range(nkeys)]
            srcs = [l1_buffer(size, value(k, size)) for k in keys]
            assert d.wait(c.submit_batch_set(keys, srcs))[1] is True
            # every other process's keys, as they appear
            q.put(("ok", idx))
        finally:
            d.close()
    except BaseException as e:
        q.put(("error", "%s: %r" % (idx, e)))


def test_several_processes_share_the_store(conn):
    c, d = conn
    nproc, nkeys, size = 3, 6, 128 * 1024
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    ps = [ctx.Process(target=_child, args=(c._store.path, i, nkeys, size, q)) for i in range(nproc)]
    for p in ps:
        p.start()
    got = [q.get(timeout=300) for _ in ps]
    for p in ps:
        p.join(60)
        assert p.exitcode == 0
    assert sorted(got) == [("ok", i) for i in range(nproc)], got
    # this process reads what the others wrote
    keys = [lmc_key(i * 1000 + j, model="proc") for i in range(nproc) for j in range(nkeys)]
    dsts = [l1_buffer(size) for _ in keys]
    fid = c.submit_batch_get(keys, dsts)
    assert d.wait(fid) == (fid, True, "", [True] * len(keys))
    for k, dst in zip(keys, dsts):
        assert bytes(dst) == value(k, size)
