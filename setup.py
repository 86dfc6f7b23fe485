"""Builds the compiled kernels; everything else is in pyproject.toml."""

from Cython.Build import cythonize
from setuptools import Extension, setup

# No -march=native: the wheel must run on any x86-64 or aarch64.
extensions = [
    Extension(
        "gifquant._kernels._denoise",
        ["gifquant/_kernels/_denoise.pyx"],
        extra_compile_args=["-O3"],
    )
]

setup(ext_modules=cythonize(extensions, compiler_directives={"language_level": "3"}))
