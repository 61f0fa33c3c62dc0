# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
"""Several stores from Python (attach, detach) and listing keys (Store.keys)."""
import errno
import os

import pytest

import rawkv

DEV2 = os.environ.get("RAWKV_TEST_DEV2")


@pytest.fixture
def second(extra_stores):
    """A second store on the guest's second disk, detached afterwards."""
    return extra_stores.attach("RAWKV_TEST_DEV2", format=True, slot_size=1 << 20,
                               checkpoint_ms=0)


def test_attach_use_detach_again(second):
    assert second == "/dev/rawkv1"
    value = bytes(range(256)) * 40
    with rawkv.Store(second) as s:
        s.put("stores/k", value)       # no flush: the detach commits it
        assert s.get("stores/k") == value
        with pytest.raises(OSError) as e:
            rawkv.detach(second)       # open: refused, nothing changes
        assert e.value.errno == errno.EBUSY
        assert s.get("stores/k") == value
    with open("/sys/class/misc/rawkv1/backing_dev") as f:
        assert f.read().strip() == DEV2
    with open("/sys/class/misc/rawkv1/checkpoint_ms") as f:
        assert f.read().strip() == "0"
    rawkv.detach(1)
    assert not os.path.exists(second)
    node = rawkv.attach(DEV2)          # no format: what the detach wrote
    assert node == second
    with rawkv.Store(node) as s:
        assert s.get("stores/k") == value


def test_attach_detach_errors(module):
    for dev, err in (("/dev/rawkv-no-such-disk", errno.ENOENT),
                     ("/dev/null", errno.ENOTBLK),
                     ("", errno.EINVAL)):
        with pytest.raises(OSError) as e:
            rawkv.attach(dev)
        assert e.value.errno == err, dev
    with pytest.raises(OSError) as e:
        rawkv.attach("/dev/vda", format=True, slot_size=12345)
    assert e.value.errno == errno.EINVAL
    with pytest.raises(OSError) as e:
        rawkv.detach(200)
    assert e.value.errno == errno.ENODEV
    for bad in ("sda", "/dev/rawkv0", -1, 256):
        with pytest.raises(OSError) as e:
            rawkv.detach(bad)
        assert e.value.errno == errno.EINVAL, bad
    with pytest.raises(ValueError):
        rawkv.attach("/dev/vdb", checkpoint_ms=-5)
    assert not os.path.exists("/dev/rawkv1")


def test_keys_lists_every_key_once(store):
    want = {}
    for i in range(150):
        k = ("pytest/keys/%d" % i).encode()
        v = b"x" * (i * 7)
        store.put(k, v)
        want[k] = len(v)
    store.delete(b"pytest/keys/3")
    del want[b"pytest/keys/3"]
    seen = {}
    for k, n in store.keys():
        assert k not in seen, k
        seen[k] = n
    mine = {k: n for k, n in seen.items() if k.startswith(b"pytest/keys/")}
    assert mine == want
    it = store.keys()
    list(it)
    assert list(it) == []              # exhausted stays exhausted
