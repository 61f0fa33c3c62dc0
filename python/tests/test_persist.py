# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
"""Flushed values, and their metadata, survive rmmod and insmod (the module
reloads the store)."""
import os

import pytest

import rawkv


def test_flushed_values_survive_reload(module, dev_path):
    keys = {"pytest/persist/%d" % i: os.urandom(1000 * i + 7) for i in range(10)}
    with rawkv.Store(dev_path) as s:
        s.put_batch(list(keys.items()))
        s.put_sync("pytest/persist/sync", b"sync value")
        s.delete("pytest/persist/0")
        s.flush()
        used = s.stat()["slots_used"]
    module.unload()
    assert not os.path.exists(dev_path)
    with pytest.raises(FileNotFoundError):
        rawkv.Store(dev_path)
    module.load(fmt=False)
    with rawkv.Store(dev_path) as s:
        assert s.exists("pytest/persist/0") is None
        for k, v in list(keys.items())[1:]:
            assert s.get(k) == v
        assert s.get("pytest/persist/sync") == b"sync value"
        assert s.stat()["slots_used"] == used
        assert s.stat()["load_dropped"] == 0


def test_metadata_survives_reload(module, dev_path):
    metas = {"pytest/persist-meta/%d" % i: bytes([i]) * (i * 50) for i in range(6)}
    with rawkv.Store(dev_path) as s:
        for i, (k, m) in enumerate(metas.items()):
            put = s.put_sync if i % 2 else s.put
            put(k, b"value %d" % i, meta=m)
        s.put("pytest/persist-meta/dropped", b"v", meta=b"old")
        s.put("pytest/persist-meta/dropped", b"w")  # no metadata any more
        s.flush()
    module.unload()
    module.load(fmt=False)
    with rawkv.Store(dev_path) as s:
        for i, (k, m) in enumerate(metas.items()):
            assert s.get(k, with_meta=True) == (b"value %d" % i, m)
            assert s.meta(k) == m
        assert s.get("pytest/persist-meta/dropped", with_meta=True) == (b"w", b"")
        assert s.stat()["load_dropped"] == 0
