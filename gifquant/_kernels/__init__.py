"""Compiled per-pixel kernels (Cython, built by the package's build). Their numpy references,
which the tests compare them with, live beside the code that calls them."""

try:
    from ._deband import deband_slots
    from ._denoise import block_gradient, block_noise_sums, denoise_step, downsample
    from ._lzw import encode as lzw_encode
except ImportError as exc:  # a broken or missing build: say how to mend it, never run slow
    raise ImportError(
        "gifquant's compiled kernels are missing or broken "
        f"({exc}); reinstall it with: pip install --force-reinstall --no-cache-dir gifquant "
        "(or, in a checkout: pip install -e .)"
    ) from None

__all__ = [
    "block_gradient",
    "block_noise_sums",
    "deband_slots",
    "denoise_step",
    "downsample",
    "lzw_encode",
]
