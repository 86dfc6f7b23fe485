"""Compiled per-pixel kernels (Cython, built by the package's build). Their numpy references,
which the tests compare them with, live beside the code that calls them."""

try:
    from ._deband import deband_slots, entries_within, smooth_pixels
    from ._denoise import (
        block_gradient,
        block_noise_sums,
        block_sums,
        denoise_step,
        downsample,
        indexed_noise_sums,
    )
    from ._distinct import distinct_keys, distinct_rgba, distinct_state
    from ._lzw import encode as lzw_encode
    from ._paint import kept_slots, sticky_slots
    from ._peers import peer_slots
    from ._pixels import (
        box_not,
        count_bytes,
        count_where,
        delta_pixels,
        gather_into,
        lut_where,
        planes_rgba,
        set_bits,
    )
except ImportError as exc:  # a broken or missing build: say how to mend it, never run slow
    raise ImportError(
        "gifquant's compiled kernels are missing or broken "
        f"({exc}); reinstall it with: pip install --force-reinstall --no-cache-dir gifquant "
        "(or, in a checkout: pip install -e .)"
    ) from None

__all__ = [
    "block_gradient",
    "block_noise_sums",
    "block_sums",
    "box_not",
    "count_bytes",
    "count_where",
    "deband_slots",
    "delta_pixels",
    "denoise_step",
    "distinct_keys",
    "distinct_rgba",
    "distinct_state",
    "downsample",
    "entries_within",
    "gather_into",
    "indexed_noise_sums",
    "kept_slots",
    "lut_where",
    "lzw_encode",
    "peer_slots",
    "planes_rgba",
    "set_bits",
    "smooth_pixels",
    "sticky_slots",
]
