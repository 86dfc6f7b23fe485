"""Builds the compiled kernels; everything else is in pyproject.toml.

Every ``gifquant/_kernels/_*.pyx`` becomes the extension ``gifquant._kernels._*``, so a new
kernel needs no edit here."""

import sys
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup

# No -march=native: the wheel must run on any x86-64 or aarch64. No fused multiply-adds (gcc's
# default on aarch64, clang's within an expression): the kernels must round as their numpy
# references do. MSVC (Windows wheels) spells its optimisation /O2 and contracts nothing under
# its default /fp:precise.
FLAGS = ["/O2"] if sys.platform == "win32" else ["-O3", "-ffp-contract=off"]
extensions = [
    Extension(f"gifquant._kernels.{pyx.stem}", [pyx.as_posix()], extra_compile_args=FLAGS)
    for pyx in sorted(Path("gifquant/_kernels").glob("_*.pyx"))
]

setup(ext_modules=cythonize(extensions, compiler_directives={"language_level": "3"}))
