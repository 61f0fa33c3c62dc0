# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
"""User metadata with a value: put(meta=), get/get_into/exists(with_meta=True),
Store.meta(), and the same on a Ring."""
import errno
import sys

import pytest

import rawkv

from test_ring import reap_all

try:
    import numpy
except ImportError:  # setup.sh installs python3-numpy; without it, say so
    numpy = None

META_MAX = 256


def pattern(n, seed=0):
    return bytes((i * 31 + seed) & 0xFF for i in range(n))


def meta_of(kind, raw):
    """raw (bytes) as a buffer of the given kind."""
    if kind == "bytes":
        return raw
    if kind == "bytearray":
        return bytearray(raw)
    if kind == "memoryview":
        return memoryview(bytearray(b"<" + raw + b">"))[1:-1]
    if numpy is None:
        pytest.skip("python3-numpy is not installed")
    return numpy.frombuffer(raw, dtype=numpy.uint8).copy()


@pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview", "numpy"])
@pytest.mark.parametrize("sync", [False, True], ids=["put", "put_sync"])
def test_meta_round_trip(store, key, kind, sync):
    value = pattern(70000, 3)
    raw = b'{"shape": [2, 16, 256], "dtype": "bf16"}\x00\xff'
    put = store.put_sync if sync else store.put
    put(key, value, meta_of(kind, raw))
    assert store.get(key, with_meta=True) == (value, raw)
    assert store.get(key) == value  # without: as before
    buf = bytearray(len(value) + 5)
    assert store.get_into(key, buf, with_meta=True) == (len(value), raw)
    assert buf[: len(value)] == value
    assert store.get_into(key, buf) == len(value)
    assert store.exists(key, with_meta=True) == (len(value), raw)
    assert store.exists(key) == len(value)
    assert store.meta(key) == raw
    put(key=key, value=b"kw", meta=raw[:3])  # keywords too
    assert store.get(key, with_meta=True) == (b"kw", raw[:3])


def test_meta_numpy_typed(store, key):
    if numpy is None:
        pytest.skip("python3-numpy is not installed")
    m = numpy.arange(META_MAX // 4, dtype=numpy.float32)  # exactly 256 bytes
    store.put(key, b"v", meta=m)
    got = numpy.frombuffer(store.meta(key), dtype=numpy.float32)
    assert numpy.array_equal(got, m)
    with pytest.raises(OSError) as ei:
        store.put(key, b"w", meta=numpy.zeros(META_MAX // 4 + 1, dtype=numpy.float32))
    assert ei.value.errno == errno.EMSGSIZE
    with pytest.raises(ValueError):  # numpy refuses a contiguous view of it
        store.put(key, b"w", meta=numpy.zeros((16, 16), dtype=numpy.uint8)[:, ::2])


def test_meta_lengths(store, key):
    store.put(key, b"empty meta", meta=b"")
    assert store.get(key, with_meta=True) == (b"empty meta", b"")
    full = pattern(META_MAX, 9)
    store.put(key, b"full meta", meta=full)
    assert store.get(key, with_meta=True) == (b"full meta", full)
    assert store.exists(key, with_meta=True) == (9, full)
    for too_long in (META_MAX + 1, 4096):
        with pytest.raises(OSError) as ei:
            store.put(key, b"new value", meta=bytes(too_long))
        assert ei.value.errno == errno.EMSGSIZE
        assert ei.value.filename == key
        with pytest.raises(OSError) as ei:
            store.put_sync(key, b"new value", meta=bytearray(too_long))
        assert ei.value.errno == errno.EMSGSIZE
    # nothing changed: the old value and its metadata
    assert store.get(key, with_meta=True) == (b"full meta", full)


def test_put_without_meta_drops_it(store, key):
    store.put(key, b"one", meta=b"m1")
    assert store.meta(key) == b"m1"
    store.put(key, b"two")
    assert store.get(key, with_meta=True) == (b"two", b"")
    assert store.meta(key) == b""
    store.put_sync(key, b"three", meta=b"m3")
    store.put_sync(key, b"four", meta=None)
    assert store.exists(key, with_meta=True) == (4, b"")


def test_no_meta_reads_empty(store, key):
    store.put(key, pattern(5000))
    assert store.get(key, with_meta=True) == (pattern(5000), b"")
    assert store.get_into(key, bytearray(5000), with_meta=True) == (5000, b"")
    assert store.exists(key, with_meta=True) == (5000, b"")
    assert store.meta(key) == b""


def test_zero_length_value_with_meta(store, key):
    store.put(key, b"", meta=b"only metadata")
    assert store.get(key, with_meta=True) == (b"", b"only metadata")
    assert store.get_into(key, bytearray(0), with_meta=True) == (0, b"only metadata")
    assert store.get_into(key, bytearray(4), with_meta=True) == (0, b"only metadata")
    assert store.exists(key, with_meta=True) == (0, b"only metadata")


def test_meta_missing_key(store, key):
    with pytest.raises(FileNotFoundError) as ei:
        store.get(key, with_meta=True)
    assert ei.value.filename == key
    with pytest.raises(FileNotFoundError):
        store.get_into(key, bytearray(10), with_meta=True)
    with pytest.raises(FileNotFoundError) as ei:
        store.meta(key)
    assert ei.value.errno == errno.ENOENT and ei.value.filename == key
    assert store.exists(key, with_meta=True) is None  # as exists(key)


def test_meta_buffer_too_small_and_readonly(store, key):
    store.put(key, pattern(3000), meta=b"m")
    with pytest.raises(OSError) as ei:
        store.get_into(key, bytearray(2999), with_meta=True)
    assert ei.value.errno == errno.ERANGE
    assert ei.value.value_length == 3000
    before = b"x" * 3000
    with pytest.raises(OSError) as ei:
        store.get_into(key, before, with_meta=True)  # bytes: read-only
    assert ei.value.errno == errno.EINVAL
    backing = bytearray(before)
    with pytest.raises(OSError) as ei:
        store.get_into(key, memoryview(backing).toreadonly(), with_meta=True)
    assert ei.value.errno == errno.EINVAL
    assert backing == before


def test_meta_bad_types(store, key):
    for bad in (123, "a str is not a buffer", [b"m"]):
        with pytest.raises(TypeError):
            store.put(key, b"v", meta=bad)
        with pytest.raises(TypeError):
            store.put_sync(key, b"v", bad)
    with pytest.raises(TypeError):
        store.meta(None)
    with pytest.raises(TypeError):
        store.get(key, no_such_argument=True)
    with pytest.raises(OSError) as ei:
        store.meta("")
    assert ei.value.errno == errno.EINVAL


def test_meta_readonly_store(dev_path, store, key):
    store.put(key, b"ro", meta=b"ro meta")
    with rawkv.Store(dev_path, readonly=True) as ro:
        assert ro.get(key, with_meta=True) == (b"ro", b"ro meta")
        assert ro.meta(key) == b"ro meta"
        with pytest.raises(OSError) as ei:
            ro.put(key, b"x", meta=b"y")
        assert ei.value.errno == errno.EBADF
    assert store.meta(key) == b"ro meta"


def test_meta_closed_store(dev_path, key):
    s = rawkv.Store(dev_path)
    s.close()
    for call in (lambda: s.meta(key), lambda: s.get(key, with_meta=True),
                 lambda: s.put(key, b"v", meta=b"m"),
                 lambda: s.exists(key, with_meta=True)):
        with pytest.raises(ValueError):
            call()


def test_meta_refcounts_and_release(store, key):
    m = bytearray(b"meta" * 10)
    k = (key + "/rc").encode()
    base = [sys.getrefcount(x) for x in (m, k)]
    for _ in range(30):
        store.put(k, b"v", meta=m)
        store.put_sync(k, b"v", meta=m)
        store.get(k, with_meta=True)
        store.get_into(k, bytearray(1), with_meta=True)
        store.exists(k, with_meta=True)
        store.meta(k)
        with pytest.raises(OSError):
            store.put(k, b"v", meta=bytes(META_MAX + 1))
        with pytest.raises(FileNotFoundError):
            store.meta(k + b"/none")
    assert [sys.getrefcount(x) for x in (m, k)] == base
    m.extend(b"!")  # BufferError if a put kept the metadata pinned


def test_ring_meta(store, key):
    raw = pattern(200, 5)
    vals = {"%s/%d" % (key, i): pattern(3000 * i + 1, i) for i in range(6)}
    metas = {k: raw[: 40 * i] for i, k in enumerate(vals)}  # the first: none
    with rawkv.Ring(store, 16) as ring:
        for i, (k, v) in enumerate(vals.items()):
            put = ring.put_sync if i % 2 else ring.put
            put(k, v, ("put", k), meta=bytearray(metas[k]) if i else None)
        ring.submit()
        assert sorted(reap_all(ring, 6)) == sorted((("put", k), 0) for k in vals)
        bufs = {k: bytearray(20000) for k in vals}
        for k in vals:
            ring.get(k, bufs[k], ("meta", k), with_meta=True)
        ring.get(key + "/0", bytearray(100), "plain")
        ring.get(key + "/missing", bytearray(10), "missing", with_meta=True)
        ring.get(key + "/5", bytearray(0), "len0", with_meta=True)
        ring.get(key + "/5", bytearray(10), "small", with_meta=True)
        ring.submit()
        res = {r[0]: r[1:] for r in reap_all(ring, 10)}
        for k, v in vals.items():
            assert res[("meta", k)] == (len(v), metas[k])
            assert bufs[k][: len(v)] == v
        assert res["plain"] == (1,)  # a GET without with_meta: (tag, result)
        assert res["missing"] == (-errno.ENOENT, None)
        assert res["len0"] == (len(vals[key + "/5"]), metas[key + "/5"])
        assert res["small"] == (-errno.ERANGE, None)
        # a too long metadata fails when prepared: nothing is queued
        with pytest.raises(OSError) as ei:
            ring.put(key + "/0", b"x", "long", meta=bytes(META_MAX + 1))
        assert ei.value.errno == errno.EMSGSIZE
        with pytest.raises(TypeError):
            ring.put(key + "/0", b"x", "bad", meta=12)
        assert ring.pending == 0
    for k in vals:
        assert store.get(k, with_meta=True) == (vals[k], metas[k])


def test_ring_pins_meta_until_reaped(store, key):
    m = bytearray(b"pinned meta")
    base = sys.getrefcount(m)
    with rawkv.Ring(store, 4) as ring:
        ring.put(key, b"value", 1, meta=m)
        assert sys.getrefcount(m) > base
        with pytest.raises(BufferError):
            m.extend(b"x")  # its Py_buffer is held until the reap
        ring.submit()
        assert reap_all(ring, 1) == [(1, 0)]
        assert sys.getrefcount(m) == base
        m.extend(b"x")
        ring.put(key, b"value", 2, meta=m)  # never submitted: freed at close
    assert sys.getrefcount(m) == base
    m.extend(b"y")
    assert store.get(key, with_meta=True) == (b"value", b"pinned meta")
