# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
"""rawkv: a persistent key-value store in the Linux kernel on a raw block device.

Python bindings of librawkv (the C extension ``rawkv._rawkv``):

- ``Store(path="/dev/rawkv", readonly=False)``: put, put_sync, get, get_into,
  delete, exists, meta, flush, stat, put_batch, get_batch, close; a context
  manager.
- User metadata with a value (up to 256 bytes, any buffer):
  ``put(key, value, meta=m)``; ``get(key, with_meta=True)`` ->
  ``(value, meta)``, ``get_into(key, buf, with_meta=True)`` -> ``(n, meta)``,
  ``exists(key, with_meta=True)`` -> ``(length, meta)`` or None,
  ``meta(key)`` -> bytes (``b""`` when none); a PUT without ``meta`` stores
  none. On a Ring: ``put(..., meta=m)`` and ``get(..., with_meta=True)``,
  which completes as ``(tag, result, meta)``.
- ``Store.keys()``: an iterator of ``(key, value_len)`` over the store's keys.
- ``attach(dev, format=False, slot_size=0, checkpoint_ms=None, evict=True)``
  and ``detach(store)``: several stores per module (root).
- ``Ring(store, depth=64)``: the asynchronous API on io_uring: put, put_sync,
  get, delete, exists (each with a tag), submit, reap, eventfd, close.
- ``rawkv.lmcache.RawkvConnector``: an LMCache ``native_plugin`` L2 adapter.

Errors are ``OSError(errno, text, key)``: FileNotFoundError for a missing key,
and so on. See README.md, "Python".
"""
from ._rawkv import (DEFAULT_DEVICE, KEY_MAX, RING_DEPTH_MAX, Ring, Store, attach,
                     detach, strerror)

__all__ = ["Store", "Ring", "attach", "detach", "strerror", "KEY_MAX", "RING_DEPTH_MAX",
           "DEFAULT_DEVICE"]
