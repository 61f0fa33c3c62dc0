# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
"""rawkv.Ring: the asynchronous API on io_uring, with its eventfd."""
import errno
import os
import select
import sys

import pytest

import rawkv


def reap_all(ring, n):
    """Reap n completions, waiting on the eventfd between reaps."""
    efd = ring.eventfd()
    got = []
    while len(got) < n:
        r, _, _ = select.select([efd], [], [], 60)
        assert r, "eventfd never became readable"
        try:
            os.eventfd_read(efd)
        except BlockingIOError:
            pass
        got += ring.reap()
    return got


def test_ring_round_trip(store, key):
    vals = {"%s/%d" % (key, i): bytes([i]) * (1000 * i + 1) for i in range(16)}
    with rawkv.Ring(store, 40) as ring:
        for i, (k, v) in enumerate(vals.items()):
            ring.put(k, v, ("put", k))
        assert ring.pending == 16
        assert ring.submit() == 16
        res = reap_all(ring, 16)
        assert sorted(res) == sorted((("put", k), 0) for k in vals)
        assert ring.pending == 0
        bufs = {k: bytearray(20000) for k in vals}
        for k in vals:
            ring.get(k, bufs[k], ("get", k))
            ring.exists(k, ("exists", k))
        ring.get(key + "/missing", bytearray(10), "miss")
        ring.get(key + "/0", bytearray(0), "len0")
        ring.submit()
        res = dict(reap_all(ring, 34))
        for k, v in vals.items():
            assert res[("get", k)] == len(v)
            assert res[("exists", k)] == len(v)
            assert bufs[k][: len(v)] == v
        assert res["miss"] == -errno.ENOENT
        assert res["len0"] == 1  # length 0: only the length, as rawkv_get()
        for k in vals:
            ring.delete(k, k)
        ring.put_sync(key + "/sync", b"durable", "sync")
        ring.submit()
        res = dict(reap_all(ring, 17))
        assert all(res[k] == 0 for k in vals) and res["sync"] == 0
    for k in vals:
        assert store.exists(k) is None
    assert store.get(key + "/sync") == b"durable"


def test_ring_reap_wait(store, key):
    with rawkv.Ring(store, 4) as ring:
        assert ring.reap(wait=True) == []  # nothing in flight: no wait
        ring.put(key, b"w" * 100000, 7)
        ring.submit()
        got = []
        while not got:
            got = ring.reap(max=1, wait=True)
        assert got == [(7, 0)]


def test_ring_full_and_errors(store, key):
    with rawkv.Ring(store, 2) as ring:
        ring.exists(key, 1)
        ring.exists(key, 2)
        with pytest.raises(OSError) as ei:
            ring.exists(key, 3)
        assert ei.value.errno == errno.EBUSY
        ring.submit()
        assert sorted(reap_all(ring, 2)) == [(1, -errno.ENOENT), (2, -errno.ENOENT)]
        with pytest.raises(OSError) as ei:
            ring.get(key, b"read-only", 4)  # nothing prepared, nothing written
        assert ei.value.errno == errno.EINVAL
        with pytest.raises(OSError) as ei:
            ring.put("", b"x", 5)
        assert ei.value.errno == errno.EINVAL
        with pytest.raises(OSError) as ei:
            ring.put(key, bytearray(store.stat()["value_max"] + 1), 6)
        assert ei.value.errno == errno.E2BIG
        with pytest.raises(TypeError):
            ring.put(key, 12, 7)
        assert ring.pending == 0
    with pytest.raises(ValueError):
        rawkv.Ring(store, 0)
    with pytest.raises(TypeError):
        rawkv.Ring("not a store", 4)


def test_ring_pins_buffers_until_reaped(store, key):
    store.put(key, b"p" * 5000)
    buf = bytearray(5000)
    tag = object()
    k = (key).encode()
    base = [sys.getrefcount(x) for x in (buf, tag, k)]
    with rawkv.Ring(store, 4) as ring:
        ring.get(k, buf, tag)
        pinned = [sys.getrefcount(x) for x in (buf, tag, k)]
        assert all(p > b for p, b in zip(pinned, base)), (pinned, base)
        with pytest.raises(BufferError):
            buf.extend(b"x")  # pinned: its Py_buffer is held
        ring.submit()
        got = reap_all(ring, 1)
        assert got[0][0] is tag and got[0][1] == 5000
        del got
        assert [sys.getrefcount(x) for x in (buf, tag, k)] == base
        buf.extend(b"x")  # released at reap
        # prepared and never submitted: released at close
        ring.get(k, buf, tag)
    assert [sys.getrefcount(x) for x in (buf, tag, k)] == base
    assert buf[:5000] == b"p" * 5000  # the unsubmitted GET never ran
    buf.extend(b"y")


def test_ring_close_with_ops_in_flight(store, key):
    vals = [bytearray(b"%d" % i) * 20000 for i in range(8)]
    ring = rawkv.Ring(store, 8)
    for i, v in enumerate(vals):
        ring.put("%s/%d" % (key, i), v, i)
    ring.submit()
    ring.close()  # waits for the kernel
    ring.close()
    assert ring.closed
    for i, v in enumerate(vals):
        assert store.get("%s/%d" % (key, i)) == v
        v.extend(b"!")  # unpinned
    with pytest.raises(ValueError):
        ring.submit()
    with pytest.raises(ValueError):
        ring.put(key, b"x", 1)


def test_store_closed_while_ring_open(dev_path, store, key):
    s = rawkv.Store(dev_path)
    ring = rawkv.Ring(s, 4)
    s.close()  # the handle stays open for the ring
    with pytest.raises(ValueError):
        s.get(key)
    ring.put(key, b"after close", 1)
    ring.submit()
    assert reap_all(ring, 1) == [(1, 0)]
    ring.close()
    assert store.get(key) == b"after close"


def test_ring_shared_by_threads(store, key):
    """Several threads prepare and submit on one Ring while another reaps."""
    import threading

    for i in range(4):
        store.put("%s/%d" % (key, i), bytes([i]) * (3000 + i))
    nthreads, per = 4, 40
    ring = rawkv.Ring(store, 8)
    bufs = {}
    results = {}
    errors = []
    stop = threading.Event()

    def producer(t):
        try:
            for j in range(per):
                tag = (t, j)
                bufs[tag] = bytearray(4000)
                while True:
                    try:
                        ring.get("%s/%d" % (key, (t + j) % 4), bufs[tag], tag)
                        break
                    except OSError as e:
                        if e.errno != errno.EBUSY:
                            raise
                        threading.Event().wait(0.001)
                ring.submit()
        except BaseException as e:
            errors.append(e)

    def reaper():
        efd = ring.eventfd()
        while not stop.is_set() or ring.pending:
            select.select([efd], [], [], 0.05)
            try:
                os.eventfd_read(efd)
            except BlockingIOError:
                pass
            ring.submit()
            for tag, res in ring.reap():
                assert tag not in results
                results[tag] = res

    r = threading.Thread(target=reaper, daemon=True)
    r.start()
    ts = [threading.Thread(target=producer, args=(t,), daemon=True) for t in range(nthreads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    stop.set()
    r.join(120)
    ring.close()
    assert not errors, errors
    assert len(results) == nthreads * per
    for (t, j), res in results.items():
        i = (t + j) % 4
        assert res == 3000 + i
        assert bufs[(t, j)][:res] == bytes([i]) * res
