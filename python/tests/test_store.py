# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
"""rawkv.Store: every method with every kind of buffer, and its errors."""
import errno
import mmap
import os
import sys
import threading
import time

import pytest

import rawkv

try:
    import numpy
except ImportError:  # setup.sh installs python3-numpy; without it, say so
    numpy = None

needs_numpy = pytest.mark.skipif(numpy is None, reason="python3-numpy is not installed")


def pattern(n, seed=0):
    return bytes((i * 31 + seed) & 0xFF for i in range(n))


def test_put_get_bytes(store, key):
    v = pattern(100000, 1)
    store.put(key, v)
    assert store.get(key) == v
    assert store.exists(key) == len(v)


@pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview", "mmap", "numpy"])
def test_value_kinds_round_trip(store, key, kind):
    raw = pattern(65536 + 123, 7)
    if kind == "bytes":
        v = raw
    elif kind == "bytearray":
        v = bytearray(raw)
    elif kind == "memoryview":
        v = memoryview(bytearray(b"xx" + raw + b"yy"))[2:-2]
    elif kind == "mmap":
        v = mmap.mmap(-1, len(raw))
        v.write(raw)
    else:
        if numpy is None:
            pytest.skip("python3-numpy is not installed")
        v = numpy.frombuffer(raw, dtype=numpy.uint8).copy()
    store.put(key, v)
    assert store.get(key) == raw
    # and back into the same kind of buffer, in place
    if kind == "bytes":
        dst = bytearray(len(raw))
    elif kind == "bytearray":
        dst = bytearray(len(raw) + 10)
    elif kind == "memoryview":
        dst = memoryview(bytearray(len(raw) + 4))[4:]
    elif kind == "mmap":
        dst = mmap.mmap(-1, len(raw))
    else:
        dst = numpy.zeros(len(raw), dtype=numpy.uint8)
    assert store.get_into(key, dst) == len(raw)
    assert bytes(memoryview(dst)[: len(raw)]) == raw


@needs_numpy
def test_numpy_typed_array_round_trip(store, key):
    a = numpy.arange(50000, dtype=numpy.float32)
    store.put(key, a)
    assert store.exists(key) == a.nbytes
    b = numpy.zeros_like(a)
    assert store.get_into(key, b) == a.nbytes
    assert numpy.array_equal(a, b)


@needs_numpy
def test_noncontiguous_rejected(store, key):
    # the exporter refuses a contiguous view: numpy with ValueError,
    # memoryview with BufferError
    a = numpy.zeros((64, 64), dtype=numpy.uint8)[:, ::2]
    with pytest.raises((BufferError, ValueError)):
        store.put(key, a)
    with pytest.raises((BufferError, ValueError)):
        store.get_into(key, a)
    m = memoryview(bytearray(64))[::2]
    with pytest.raises((BufferError, ValueError)):
        store.put(key, m)
    with pytest.raises((BufferError, ValueError)):
        store.get_into(key, m)
    assert store.exists(key) is None


def test_get_into_writes_in_place(store, key):
    v = pattern(4096 * 3 + 5, 3)
    store.put(key, v)
    buf = bytearray(b"\xee" * (len(v) + 100))
    view = memoryview(buf)
    assert store.get_into(key, view) == len(v)
    assert buf[: len(v)] == v
    assert buf[len(v):] == b"\xee" * 100  # nothing past the value


def test_zero_length_value(store, key):
    store.put(key, b"")
    assert store.get(key) == b""
    assert store.exists(key) == 0
    assert store.get_into(key, bytearray(0)) == 0
    assert store.get_into(key, bytearray(8)) == 0


def test_str_and_bytes_keys_are_the_same_utf8(store):
    store.put("pytest/clé", b"one")
    assert store.get("pytest/clé".encode()) == b"one"
    assert store.get(bytearray("pytest/clé".encode())) == b"one"
    store.put(b"pytest/\x00nul\xff", b"two")
    assert store.get(memoryview(b"pytest/\x00nul\xff")) == b"two"


def test_overwrite_and_delete(store, key):
    store.put(key, b"a" * 10)
    store.put(key, b"b" * 20)
    assert store.get(key) == b"b" * 20
    store.delete(key)
    assert store.exists(key) is None
    with pytest.raises(FileNotFoundError):
        store.delete(key)


def test_missing_key(store, key):
    with pytest.raises(FileNotFoundError) as ei:
        store.get(key)
    assert ei.value.errno == errno.ENOENT
    assert ei.value.filename == key  # the key is in the message
    assert key in str(ei.value)
    with pytest.raises(FileNotFoundError):
        store.get_into(key, bytearray(10))
    assert store.exists(key) is None


def test_buffer_too_small(store, key):
    v = pattern(5000)
    store.put(key, v)
    buf = bytearray(b"\x11" * 4999)
    with pytest.raises(OSError) as ei:
        store.get_into(key, buf)
    assert ei.value.errno == errno.ERANGE
    assert "5000" in str(ei.value)
    assert ei.value.value_length == 5000
    with pytest.raises(OSError) as ei:
        store.get_into(key, bytearray(0))
    assert ei.value.errno == errno.ERANGE


@pytest.mark.parametrize("kind", ["bytes", "readonly-memoryview", "readonly-mmap"])
def test_get_into_readonly_buffer(store, key, kind, tmp_path):
    store.put(key, b"new value!")
    if kind == "bytes":
        buf = b"old value!"
    elif kind == "readonly-memoryview":
        backing = bytearray(b"old value!")
        buf = memoryview(backing).toreadonly()
    else:
        p = tmp_path / "f"
        p.write_bytes(b"old value!")
        f = open(p, "rb")
        buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        f.close()
    before = bytes(buf)
    with pytest.raises(OSError) as ei:
        store.get_into(key, buf)
    assert ei.value.errno == errno.EINVAL
    assert bytes(buf) == before == b"old value!"
    if kind == "readonly-memoryview":
        assert backing == b"old value!"


def test_key_limits(store):
    k = "pytest/" + "k" * (rawkv.KEY_MAX - 7)
    assert len(k.encode()) == rawkv.KEY_MAX
    store.put(k, b"longest")
    assert store.get(k) == b"longest"
    for bad in (k + "x", b"", ""):
        with pytest.raises(OSError) as ei:
            store.put(bad, b"v")
        assert ei.value.errno == errno.EINVAL
        with pytest.raises(OSError) as ei:
            store.get(bad)
        assert ei.value.errno == errno.EINVAL


def test_value_too_large(store, key):
    vmax = store.stat()["value_max"]
    with pytest.raises(OSError) as ei:
        store.put(key, bytearray(vmax + 1))
    assert ei.value.errno == errno.E2BIG
    store.put(key, bytearray(vmax))
    assert store.exists(key) == vmax


def test_bad_types(store, key):
    for k in (1, None, 1.5, ["a"]):
        with pytest.raises(TypeError):
            store.put(k, b"v")
    with pytest.raises(TypeError):
        store.put(key, "a str is not a buffer")
    with pytest.raises(TypeError):
        store.put(key, 123)
    with pytest.raises(TypeError):
        store.get_into(key, None)
    with pytest.raises(TypeError):
        store.put_batch([(key,)])
    with pytest.raises(TypeError):
        rawkv.Store(123)


def test_closed_store(dev_path, store, key):
    s = rawkv.Store(dev_path)
    s.put(key, b"x")
    s.close()
    assert s.closed
    s.close()  # idempotent
    for call in (lambda: s.get(key), lambda: s.put(key, b"y"), s.flush, s.stat,
                 lambda: s.exists(key), lambda: s.delete(key)):
        with pytest.raises(ValueError):
            call()
    with rawkv.Store(dev_path) as s2:
        assert s2.get(key) == b"x"
    assert s2.closed


def test_readonly_store(dev_path, store, key):
    store.put(key, b"ro")
    with rawkv.Store(dev_path, readonly=True) as ro:
        assert ro.get(key) == b"ro"
        assert ro.exists(key) == 2
        assert ro.stat()["slots_used"] >= 1
        for call in (lambda: ro.put(key, b"x"), lambda: ro.delete(key), ro.flush,
                     lambda: ro.put_batch([(key, b"x")])):
            with pytest.raises(OSError) as ei:
                call()
            assert ei.value.errno == errno.EBADF
    assert store.get(key) == b"ro"


def test_open_missing_node():
    with pytest.raises(FileNotFoundError) as ei:
        rawkv.Store("/dev/rawkv-does-not-exist")
    assert ei.value.filename == "/dev/rawkv-does-not-exist"


def test_not_a_rawkv_device(key):
    with rawkv.Store("/dev/null") as s:
        with pytest.raises(OSError) as ei:
            s.put(key, b"v")
        assert ei.value.errno == errno.ENOTTY


def test_stat_fields(store, key):
    st0 = store.stat()
    for f in ("slot_size", "value_max", "key_max", "slots_total", "slots_used",
              "device_bytes", "checkpoint_seq", "puts", "gets", "hits", "misses",
              "deletes", "evictions", "checkpoints", "bytes_written", "bytes_read",
              "entry_mem_bytes", "table_mem_bytes", "io_errors", "load_dropped",
              "stale_dropped", "logical_block_size", "bytes_zero_copy",
              "bytes_bounced", "crc32c_mbps"):
        assert isinstance(st0[f], int), f
    assert isinstance(st0["crc32c_driver"], str) and st0["crc32c_driver"]
    assert st0["key_max"] == rawkv.KEY_MAX
    store.put(key, b"s" * 1000)
    store.get_into(key, bytearray(1000))  # one GET (get() asks the length first)
    st1 = store.stat()
    assert st1["puts"] == st0["puts"] + 1
    assert st1["hits"] == st0["hits"] + 1
    assert st1["slots_used"] >= 1


def test_flush_and_put_sync_commit(store, key):
    store.put(key, b"f")
    c0 = store.stat()["checkpoints"]
    store.flush()
    c1 = store.stat()["checkpoints"]
    assert c1 > c0
    store.put_sync(key + "s", b"sync")
    assert store.stat()["checkpoints"] > c1
    assert store.get(key + "s") == b"sync"


def test_put_batch_get_batch(store, key):
    items = [("%s/%d" % (key, i), pattern(1000 + i, i)) for i in range(20)]
    items.append(("", b"bad key"))
    items.append(("%s/big" % key, bytearray(store.stat()["value_max"] + 1)))
    res = store.put_batch(items)
    assert res[:20] == [0] * 20
    assert res[20] == -errno.EINVAL and res[21] == -errno.E2BIG
    keys = [k for k, _ in items[:20]] + ["%s/missing" % key, items[0][0]]
    bufs = [bytearray(2000) for _ in range(21)] + [bytearray(10)]
    res = store.get_batch(keys, bufs)
    for i in range(20):
        assert res[i] == 1000 + i
        assert bufs[i][: res[i]] == items[i][1]
    assert res[20] == -errno.ENOENT
    assert res[21] == -errno.ERANGE
    assert store.put_batch([]) == [] and store.get_batch([], []) == []
    with pytest.raises(ValueError):
        store.get_batch(keys, bufs[:-1])
    with pytest.raises(OSError) as ei:
        store.get_batch([key], [b"readonly"])
    assert ei.value.errno == errno.EINVAL


def test_refcounts_do_not_leak(store, key):
    v = bytearray(pattern(3000))
    k = (key + "/rc").encode()
    buf = bytearray(3000)
    base = [sys.getrefcount(x) for x in (v, k, buf)]
    for _ in range(50):
        store.put(k, v)
        store.get_into(k, buf)
        store.get(k)
        store.exists(k)
        store.put_batch([(k, v)])
        store.get_batch([k], [buf])
        with pytest.raises(OSError):
            store.get_into(k, bytearray(1))
        with pytest.raises(FileNotFoundError):
            store.get(k + b"/none")
    assert [sys.getrefcount(x) for x in (v, k, buf)] == base


def test_buffer_released_after_call(store, key):
    # a pinned buffer (Py_buffer still held) cannot be resized
    buf = bytearray(100)
    store.put(key, buf)
    store.get_into(key, buf)
    buf.extend(b"x")  # BufferError if get_into or put kept the buffer
    store.put_batch([(key, buf)])
    store.get_batch([key], [buf])
    buf.extend(b"y")


def test_gil_released_during_io(store, key):
    """Another thread keeps running Python code while a GET is in the kernel.

    With a switch interval far longer than the test, the main thread gives the
    GIL away only when a call releases it; the other thread gives it back at
    each sleep(0). So its counter can advance during store.get_into() only if
    get_into() released the GIL. The pure-Python control shows the counter
    standing still when nothing releases it.
    """
    vmax = store.stat()["value_max"]
    store.put(key, bytearray(vmax))
    buf = bytearray(vmax)
    count = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            count[0] += 1
            if count[0] % 16 == 0:
                time.sleep(0)  # hands the GIL back to a waiting main thread

    old = sys.getswitchinterval()
    t = threading.Thread(target=spin)
    t.start()
    try:
        while count[0] == 0:
            time.sleep(0.001)
        sys.setswitchinterval(1000.0)
        time.sleep(0.01)
        # control: pure Python, no GIL release: the counter stands still
        c0 = count[0]
        x = 0
        for i in range(200000):
            x += i
        control = count[0] - c0
        moved = 0
        for _ in range(5):
            c0 = count[0]
            store.get_into(key, buf)
            moved += count[0] - c0
    finally:
        sys.setswitchinterval(old)
        stop.set()
        t.join()
    assert control == 0
    assert moved > 0
