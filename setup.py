"""Build the Cython extensions in ``cext/`` into the ``qk`` package.

Each extension is one concern: the record layout probe, the shared-memory ring and the WAL framing
(with CRC32C). Cython and numpy are build requirements (pyproject.toml), so ``pip install .`` and
``pip install -e .`` work on a fresh machine.
"""

from __future__ import annotations

import numpy
from Cython.Build import cythonize
from setuptools import Extension, find_packages, setup

COMPILE_ARGS = ["-O3", "-std=c11", "-Wno-unused-function"]

EXTENSIONS = {
    "qk.schemas._layout": "cext/layout.pyx",
    "qk.rings._ring": "cext/ring.pyx",
    "qk.wal._frames": "cext/wal.pyx",
    "qk.bars._aggregate": "cext/aggregate.pyx",
    "qk.books._book": "cext/book.pyx",
    "qk.indicators._indicators": "cext/indicators.pyx",
}


def _extension(name: str, source: str) -> Extension:
    return Extension(
        name,
        [source],
        include_dirs=["cext", numpy.get_include()],
        extra_compile_args=COMPILE_ARGS,
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION"), ("_GNU_SOURCE", "1")],
    )


setup(
    # `bench/` lives at the top level (the owner's layout) and installs as `qk.bench`.
    packages=[*find_packages(include=["qk", "qk.*"]), "qk.bench"],
    package_dir={"qk.bench": "bench"},
    ext_modules=cythonize(
        [_extension(name, source) for name, source in EXTENSIONS.items()],
        compiler_directives={"language_level": "3", "boundscheck": False, "wraparound": False},
        include_path=["cext"],
    ),
)
