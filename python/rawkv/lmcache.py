# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
"""rawkv as an LMCache L2 store: a ``native_plugin`` adapter.

LMCache (multiprocess mode) loads it with::

    --l2-adapter '{"type": "native_plugin", "module_path": "rawkv.lmcache",
                   "class_name": "RawkvConnector",
                   "adapter_params": {"path": "/dev/rawkv"}}'

It follows the duck-typed ``native_plugin`` interface of LMCache PR #2851
(in LMCache v0.4.3/v0.4.4; checked against v0.4.7), with
``submit_batch_delete`` from PR #2939:

- ``event_fd() -> int``: readable (level-triggered) while completions wait;
  LMCache polls it and never reads it: ``drain_completions()`` resets it.
- ``submit_batch_get(keys, memoryviews)``, ``submit_batch_set(keys,
  memoryviews)``, ``submit_batch_exists(keys)``, ``submit_batch_delete(keys)``
  return an int future id at once (never blocking on I/O); several threads
  may call them at the same time.
- ``drain_completions() -> list[(future_id, ok, error, list[bool] | None)]``:
  one tuple per submitted batch. ``result_bools[i]`` is for ``keys[i]``:
  GET loaded (the value exists and its length is exactly
  ``len(memoryviews[i])``), EXISTS found, DELETE deleted; None for SET.
  A missing key is a False, not an error; ``ok`` is False and ``error`` names
  the first key that failed otherwise (for GET, also when a key was not
  loaded).
- ``close()``: idempotent; waits for the operations in the kernel, drops
  what was not submitted, reports no completions afterwards.

It runs on the extension's io_uring ``Ring``: the ring's eventfd is the
adapter's ``event_fd()``; the kernel signals it when operations complete,
and the adapter writes it itself when a batch completes without reaching
the kernel (an empty batch, a value larger than ``value_max``). Batches
larger than the ring wait in a queue and are prepared as room frees up
(in ``drain_completions()``). The memoryviews are pinned (their Py_buffer
held) until their operation is reaped.

Keys: LMCache's keys are ``str``; rawkv's are 1..255 bytes. A key whose
UTF-8 form is 1..255 bytes and does not start with a NUL byte is stored
as that UTF-8; any other key (longer, empty, or starting with NUL) is
stored as ``b"\\0lmcache-sha256:" + sha256(utf8).digest()`` (48 bytes),
deterministic across processes, and never equal to a key stored as it
is. Values are stored as the bytes of the memoryview, nothing added.
"""
import collections
import errno
import hashlib
import os
import threading

from . import _rawkv

__all__ = ["RawkvConnector", "map_key"]

_HASH_PREFIX = b"\x00lmcache-sha256:"

_GET, _SET, _EXISTS, _DELETE = "get", "set", "exists", "delete"


def map_key(key):
    """The rawkv key under which LMCache's key (a str) is stored."""
    b = key.encode("utf-8")
    if 0 < len(b) <= _rawkv.KEY_MAX and not b.startswith(b"\x00"):
        return b
    return _HASH_PREFIX + hashlib.sha256(b).digest()


class _Batch:
    __slots__ = ("fid", "kind", "names", "keys", "views", "expect", "results", "left")

    def __init__(self, fid, kind, names, keys, views):
        self.fid = fid
        self.kind = kind
        self.names = names  # LMCache's keys
        self.keys = keys  # rawkv's keys (map_key)
        self.views = views
        self.expect = [memoryview(v).nbytes for v in views] if views is not None else None
        self.results = [None] * len(keys)
        self.left = len(keys)


class RawkvConnector:
    """LMCache ``native_plugin`` connector on a rawkv store.

    adapter_params: ``path`` (device node, default /dev/rawkv), ``depth``
    (ring depth: operations in the kernel at once, default 256), ``sync``
    (True: every SET is a put_sync, durable when it completes; default
    False: LMCache's L2 is a cache, committed by rawkv's periodic commit).
    """

    def __init__(self, path=_rawkv.DEFAULT_DEVICE, depth=256, sync=False):
        self._store = _rawkv.Store(path)
        try:
            self._ring = _rawkv.Ring(self._store, int(depth))
        except BaseException:
            self._store.close()
            raise
        self._efd = self._ring.eventfd()
        self._sync = bool(sync)
        self._value_max = self._store.stat()["value_max"]
        self._lock = threading.Lock()
        self._next_id = 1
        self._waiting = collections.deque()  # (batch, index) not yet prepared
        self._done = collections.deque()  # finished batches
        self._closed = False
        self._draining = False  # in drain_completions(): it returns what completes

    # -- the interface -------------------------------------------------

    def event_fd(self):
        return self._efd

    def submit_batch_get(self, keys, memoryviews):
        return self._submit(_GET, keys, memoryviews)

    def submit_batch_set(self, keys, memoryviews):
        return self._submit(_SET, keys, memoryviews)

    def submit_batch_exists(self, keys):
        return self._submit(_EXISTS, keys, None)

    def submit_batch_delete(self, keys):
        return self._submit(_DELETE, keys, None)

    def drain_completions(self):
        with self._lock:
            if self._closed:
                return []
            # Reset the eventfd, then reap; until a reap finds nothing. A
            # completion posted after the last reset is left signalled, and
            # the fd is not left readable for one already reaped.
            self._draining = True
            try:
                while True:
                    try:
                        os.eventfd_read(self._efd)
                    except BlockingIOError:
                        pass
                    done = self._ring.reap()
                    if not done:
                        break
                    for (batch, i), res in done:
                        self._finish_op(batch, i, res)
                self._pump()
            finally:
                self._draining = False
            out = [self._completion(b) for b in self._done]
            self._done.clear()
            return out

    def close(self):
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._waiting.clear()
            self._done.clear()
            self._ring.close()  # waits for the kernel, unpins the buffers
            self._store.close()

    # -- internals -----------------------------------------------------

    def _submit(self, kind, keys, views):
        keys = list(keys)
        if views is not None:
            views = list(views)
            if len(views) != len(keys):
                raise ValueError("%d keys but %d memoryviews" % (len(keys), len(views)))
        rkeys = [map_key(k) for k in keys]
        with self._lock:
            if self._closed:
                raise RuntimeError("rawkv connector is closed")
            fid = self._next_id
            self._next_id += 1
            batch = _Batch(fid, kind, keys, rkeys, views)
            for i in range(len(keys)):
                self._waiting.append((batch, i))
            if not keys:
                self._complete(batch)
            self._pump()
            return fid

    def _pump(self):
        """Prepare waiting operations while the ring has room; submit."""
        ring = self._ring
        while self._waiting and ring.pending < ring.depth:
            batch, i = self._waiting.popleft()
            key = batch.keys[i]
            try:
                if batch.kind == _GET:
                    ring.get(key, batch.views[i], (batch, i))
                elif batch.kind == _SET:
                    v = batch.views[i]
                    if self._sync:
                        ring.put_sync(key, v, (batch, i))
                    else:
                        ring.put(key, v, (batch, i))
                elif batch.kind == _EXISTS:
                    ring.exists(key, (batch, i))
                else:
                    ring.delete(key, (batch, i))
            except OSError as e:  # never reached the kernel
                self._finish_op(batch, i, -(e.errno or errno.EIO))
            except (TypeError, BufferError, ValueError):
                self._finish_op(batch, i, -errno.EINVAL)
        try:
            ring.submit()
        except OSError:
            # still prepared: have drain_completions() try again
            os.eventfd_write(self._efd, 1)

    def _finish_op(self, batch, i, res):
        batch.results[i] = res
        batch.left -= 1
        if batch.left == 0:
            self._complete(batch)

    def _complete(self, batch):
        batch.views = None  # the ring no longer needs them
        self._done.append(batch)
        # signal after queueing, so a drain finds it; the drain running now
        # returns it anyway
        if not self._draining:
            os.eventfd_write(self._efd, 1)

    @staticmethod
    def _completion(batch):
        ok, error, bools = True, "", []
        for i, res in enumerate(batch.results):
            if batch.kind == _GET:
                good = res is not None and res >= 0 and res == batch.expect[i]
            elif batch.kind == _EXISTS:
                good = res >= 0
            else:
                good = res == 0
            bools.append(bool(good))
            if good:
                continue
            if res == -errno.ENOENT and batch.kind in (_EXISTS, _DELETE):
                continue  # a miss, not a failure
            if ok:
                ok = False
                if res >= 0:
                    why = "value is %d bytes, buffer %d" % (res, batch.expect[i])
                else:
                    why = "%s (errno %d)" % (_rawkv.strerror(res), -res)
                error = "rawkv %s of key %r: %s" % (batch.kind, batch.names[i], why)
        return (batch.fid, ok, error, None if batch.kind == _SET else bools)
