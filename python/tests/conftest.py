# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
"""Fixtures of the rawkv Python tests.

They need a rawkv device. In the test VM (tests/guest-pytest.sh, run by
scripts/check.sh) RAWKV_TEST_DEV names a scratch disk and RAWKV_KO the
module: the session formats the disk and loads rawkv on it (4 MiB slots), and
a missing device is a failure. Elsewhere the tests are skipped unless
/dev/rawkv exists (then they use it as it is and write keys under "pytest/").
RAWKV_TEST_DEV2 and RAWKV_TEST_DEV3 name more disks for more stores (the
extra_stores fixture), RAWKV_CLI the static rawkv CLI (userlib/rawkv).
"""
import errno
import glob
import os
import subprocess
import sys

import pytest

# after PYTHONPATH: the package it names (e.g. the sanitized one) comes first
sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

DEV_NODE = "/dev/rawkv"
SLOT_SIZE = 4 << 20
IN_GUEST = bool(os.environ.get("RAWKV_TEST_GUEST"))


def _run(*cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    return r.returncode, (r.stdout + r.stderr).strip()


class Module:
    """Loads and unloads rawkv.ko on the test disk (guest only)."""

    def __init__(self, ko, dev):
        self.ko, self.dev = ko, dev

    def loaded(self):
        return os.path.exists("/sys/module/rawkv")

    def load(self, fmt=False):
        args = ["insmod", self.ko, "dev=" + self.dev]
        if fmt:
            args += ["format=1", "slot_size=%d" % SLOT_SIZE]
        rc, out = _run(*args)
        assert rc == 0, "insmod failed: %s" % out

    def unload(self):
        rc, out = _run("rmmod", "rawkv")
        assert rc == 0, "rmmod failed: %s" % out


@pytest.fixture(scope="session")
def module():
    ko, dev = os.environ.get("RAWKV_KO"), os.environ.get("RAWKV_TEST_DEV")
    if not (IN_GUEST and ko and dev):
        pytest.skip("not in the test VM (RAWKV_TEST_GUEST, RAWKV_KO, RAWKV_TEST_DEV)")
    m = Module(ko, dev)
    if m.loaded():
        m.unload()
    m.load(fmt=True)
    yield m
    if m.loaded():
        m.unload()


class ExtraStores:
    """Stores on the test VM's extra disks, see the extra_stores fixture."""

    def attach(self, var, **opts):
        """rawkv.attach() the disk named by environment variable var; -> node."""
        import rawkv

        dev = os.environ.get(var)
        if not dev:
            pytest.fail("no %s: the test VM gives the Python tests that disk" % var)
        return rawkv.attach(dev, **opts)

    @staticmethod
    def cleanup(module):
        """Leave the module loaded with store 0 alone: reload it if a test left
        it unloaded, detach every other store still attached."""
        import rawkv

        if not module.loaded():
            module.load(fmt=False)
        for node in sorted(glob.glob("/dev/rawkv[1-9]*")):
            try:
                rawkv.detach(node)
            except OSError as e:
                assert e.errno == errno.ENODEV, "detach %s: %s" % (node, e)


@pytest.fixture
def extra_stores(module):
    """attach(VAR, **opts) -> node for the disk in $VAR (RAWKV_TEST_DEV2 or 3);
    afterwards only store 0 is left, whatever the test attached, and loaded."""
    es = ExtraStores()
    yield es
    es.cleanup(module)


@pytest.fixture(scope="session")
def dev_path():
    """The device node; loads the module in the guest."""
    if IN_GUEST:
        return DEV_NODE
    if not os.path.exists(DEV_NODE):
        pytest.skip("no %s (the tests run in the VM: make check)" % DEV_NODE)
    return DEV_NODE


@pytest.fixture
def store(request, dev_path):
    import rawkv

    if IN_GUEST:
        request.getfixturevalue("module")
    s = rawkv.Store(dev_path)
    yield s
    s.close()


@pytest.fixture
def key(request):
    """A key of its own for each test."""
    return "pytest/%s" % request.node.name


def pytest_terminal_summary(terminalreporter):
    """The kselftest-style line scripts/check.sh sums (add_totals)."""
    st = terminalreporter.stats
    n = {k: len([r for r in st.get(k, []) if getattr(r, "when", "call") in ("call", "setup", "teardown")])
         for k in ("passed", "failed", "xfailed", "xpassed", "skipped", "error")}
    # a test counts once: passes are call reports; failures/errors per report
    terminalreporter.write_line(
        "# Totals: pass:%d fail:%d xfail:%d xpass:%d skip:%d error:%d"
        % (n["passed"], n["failed"], n["xfailed"], n["xpassed"], n["skipped"], n["error"]))


def pytest_report_header(config):
    import rawkv

    return "rawkv: %s" % os.path.dirname(rawkv._rawkv.__file__)
