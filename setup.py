"""Builds the compiled kernels; everything else is in pyproject.toml.

Every ``gifquant/_kernels/_*.pyx`` becomes the extension ``gifquant._kernels._*``, so a new
kernel needs no edit here."""

from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup

# No -march=native: the wheel must run on any x86-64 or aarch64. No fused multiply-adds (the
# default on aarch64): the kernels must round as their numpy references do.
extensions = [
    Extension(
        f"gifquant._kernels.{pyx.stem}",
        [pyx.as_posix()],
        extra_compile_args=["-O3", "-ffp-contract=off"],
    )
    for pyx in sorted(Path("gifquant/_kernels").glob("_*.pyx"))
]

setup(ext_modules=cythonize(extensions, compiler_directives={"language_level": "3"}))
