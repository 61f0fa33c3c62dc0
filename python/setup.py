# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
"""setuptools build of the rawkv package, for users who install with pip.

The repository's own build and tests use python/Makefile (no pip needed).
This compiles librawkv's two sources into a static library linked into the
extension, as the Makefile links their objects: `pip install ./python`, or
`python3 setup.py build_clib build_ext --inplace`, from a checkout of the
whole repository (it needs ../userlib and ../uapi), with liburing-dev installed.
"""
import os

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
USERLIB = os.path.relpath(os.path.join(HERE, "..", "userlib"), HERE)
UAPI = os.path.relpath(os.path.join(HERE, "..", "uapi"), HERE)

setup(
    # librawkv first (its <rawkv.h> is the uapi header), linked in statically
    libraries=[("rawkv_pic", {
        "sources": [os.path.join(USERLIB, "rawkv.c"), os.path.join(USERLIB, "rawkv_ring.c")],
        "include_dirs": [UAPI, USERLIB],
        "cflags": ["-std=gnu11"],
    })],
    ext_modules=[
        Extension(
            "rawkv._rawkv",
            sources=["rawkv/_rawkv.c"],
            include_dirs=[USERLIB],
            libraries=["rawkv_pic", "uring"],
            extra_compile_args=["-std=gnu11", "-Wall", "-Wextra"],
        )
    ],
)
