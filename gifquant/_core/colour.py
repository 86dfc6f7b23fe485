"""Colour spaces: sRGB <-> CIELAB (D65) and sRGB <-> OkLab, in pure numpy.

All functions take and return arrays whose last axis holds the three channels. RGB is either
``uint8`` (0..255) or float (0..255); the working spaces are ``float32``.
"""

from __future__ import annotations

import sys
from typing import Literal

import numpy as np
from numpy.typing import NDArray

Space = Literal["rgb", "lab", "oklab"]
SPACES: tuple[str, ...] = ("rgb", "lab", "oklab")
# About one CIE76 dE in each working space's units (L* runs 0..100, OkLab's L 0..1, RGB 0..255).
DE_UNIT: dict[str, float] = {"rgb": 2.55, "lab": 1.0, "oklab": 0.01}

_RGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ)
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883])

# OkLab (Björn Ottosson, 2020): linear sRGB -> LMS -> cube root -> Lab.
_OK_M1 = np.array(
    [
        [0.4122214708, 0.5363325363, 0.0514459929],
        [0.2119034982, 0.6806995451, 0.1073969566],
        [0.0883024619, 0.2817188376, 0.6299787005],
    ]
)
_OK_M2 = np.array(
    [
        [0.2104542553, 0.7936177850, -0.0040720468],
        [1.9779984951, -2.4285922050, 0.4505937099],
        [0.0259040371, 0.7827717662, -0.8086757660],
    ]
)
_OK_M1_INV = np.linalg.inv(_OK_M1)
_OK_M2_INV = np.linalg.inv(_OK_M2)
# OkLab's L runs 0..1; scaled by 100 so that distances read like CIELAB's and thresholds carry over.
_OK_SCALE = 100.0


# Rows per matrix product: keeps OpenBLAS single-threaded, whose threads cost more than they save
# on (n, 3) x (3, 3) products and keep spinning, stealing the other core from the pipeline.
_ROWS = 8192


def _mul(x: NDArray, m: NDArray) -> NDArray[np.float64]:
    """``x @ m.T`` for colours x (..., 3) and a (3, 3) matrix, in row blocks."""
    flat = np.asarray(x, dtype=np.float64).reshape(-1, x.shape[-1])
    out = np.empty((len(flat), m.shape[0]))
    for start in range(0, len(flat), _ROWS):
        np.matmul(flat[start : start + _ROWS], m.T, out=out[start : start + _ROWS])
    return out.reshape(x.shape[:-1] + (m.shape[0],))


def _srgb_to_linear(rgb: NDArray) -> NDArray[np.float64]:
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


_LINEAR_LUT = _srgb_to_linear(np.arange(256))


def _linear(rgb: NDArray) -> NDArray[np.float64]:
    if rgb.dtype == np.uint8:
        return _LINEAR_LUT[rgb]
    return _srgb_to_linear(rgb)


def _linear_to_srgb(lin: NDArray) -> NDArray[np.float64]:
    lin = np.clip(lin, 0.0, 1.0)
    c = np.where(lin <= 0.0031308, lin * 12.92, 1.055 * np.power(lin, 1 / 2.4) - 0.055)
    return c * 255.0


def _in_chunks(convert):
    """``convert`` (colours (..., 3) -> float32 (..., 3)) a chunk of whole ``_ROWS`` blocks at
    a time, so the very same matrix blocks run: its float64 temporaries of millions of colours
    at once would cost ~100 bytes a colour."""

    def chunked(rgb: NDArray) -> NDArray[np.float32]:
        rgb = np.asarray(rgb)
        if rgb.size <= 3 * _CHUNK_ROWS:
            return convert(rgb)
        flat = rgb.reshape(-1, 3)
        out = np.empty(flat.shape, np.float32)
        for start in range(0, len(flat), _CHUNK_ROWS):
            out[start : start + _CHUNK_ROWS] = convert(flat[start : start + _CHUNK_ROWS])
        return out.reshape(rgb.shape)

    chunked.__doc__ = convert.__doc__
    chunked.__name__ = convert.__name__
    return chunked


_CHUNK_ROWS = 8 * _ROWS


@_in_chunks
def rgb_to_lab(rgb: NDArray) -> NDArray[np.float32]:
    """sRGB (..., 3) -> CIELAB (..., 3) float32, D65 white."""
    xyz = _mul(_linear(rgb), _RGB_TO_XYZ) / _WHITE_D65
    eps, kappa = 216 / 24389, 24389 / 27
    f = np.where(xyz > eps, np.cbrt(xyz), (kappa * xyz + 16) / 116)
    lab = np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])],
        axis=-1,
    )
    return lab.astype(np.float32)


def lab_to_rgb(lab: NDArray) -> NDArray[np.float64]:
    """CIELAB (..., 3) -> sRGB float (..., 3) in 0..255 (clipped to the gamut)."""
    lab = np.asarray(lab, dtype=np.float64)
    fy = (lab[..., 0] + 16) / 116
    fx = fy + lab[..., 1] / 500
    fz = fy - lab[..., 2] / 200
    f = np.stack([fx, fy, fz], axis=-1)
    eps, kappa = 216 / 24389, 24389 / 27
    xyz = np.where(f**3 > eps, f**3, (116 * f - 16) / kappa) * _WHITE_D65
    return _linear_to_srgb(_mul(xyz, _XYZ_TO_RGB))


@_in_chunks
def rgb_to_oklab(rgb: NDArray) -> NDArray[np.float32]:
    """sRGB (..., 3) -> OkLab (..., 3) float32, L scaled to 0..100."""
    lms = np.cbrt(_mul(_linear(rgb), _OK_M1))
    return (_mul(lms, _OK_M2) * _OK_SCALE).astype(np.float32)


def oklab_to_rgb(lab: NDArray) -> NDArray[np.float64]:
    """OkLab (..., 3), L in 0..100 -> sRGB float (..., 3) in 0..255 (clipped)."""
    lms = _mul(np.asarray(lab, dtype=np.float64) / _OK_SCALE, _OK_M2_INV)
    return _linear_to_srgb(_mul(lms**3, _OK_M1_INV))


def to_space(rgb: NDArray, space: Space) -> NDArray[np.float32]:
    """Convert sRGB colours (..., 3) into the working ``space``."""
    if space == "rgb":
        return np.asarray(rgb, dtype=np.float32)
    if space == "lab":
        return rgb_to_lab(rgb)
    if space == "oklab":
        return rgb_to_oklab(rgb)
    raise ValueError(f"unknown colour space {space!r}")


def from_space(values: NDArray, space: Space) -> NDArray[np.uint8]:
    """Convert working-space colours (..., 3) back to sRGB ``uint8`` (rounded, clipped)."""
    if space == "rgb":
        rgb = np.asarray(values, dtype=np.float64)
    elif space == "lab":
        rgb = lab_to_rgb(values)
    elif space == "oklab":
        rgb = oklab_to_rgb(values)
    else:
        raise ValueError(f"unknown colour space {space!r}")
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def pack_rgb(rgb: NDArray[np.uint8], out: NDArray[np.uint32] | None = None) -> NDArray[np.uint32]:
    """Each pixel of an (..., 3) or (..., 4) uint8 image as one integer ``r << 16 | g << 8 | b``.

    Returns a flat (n_pixels,) uint32 array (``out``, when given); sorting it sorts the colours as
    (r, g, b) tuples.
    """
    if rgb.shape[-1] == 4 and rgb.dtype == np.uint8:
        # Four bytes per pixel: read as one big-endian word, r << 24 | g << 16 | b << 8 | a,
        # and shifted (the ufunc swaps the bytes of a chunk at a time as it goes: 3x faster
        # than swapping them all first).
        words = np.ascontiguousarray(rgb).reshape(-1).view(">u4")
        return np.right_shift(words, 8, out=out, dtype=np.uint32)
    flat = rgb.reshape(-1, rgb.shape[-1])
    if out is not None:
        np.copyto(out, pack_rgb(rgb))
        return out
    key = flat[:, 0].astype(np.uint32) << 16
    key |= flat[:, 1].astype(np.uint32) << 8
    key |= flat[:, 2]
    return key


def unpack_rgb(key: NDArray) -> NDArray[np.uint8]:
    """Inverse of ``pack_rgb``: (...,) integers -> (..., 3) uint8 colours (a new array)."""
    key = np.asarray(key, dtype=np.uint32)
    if sys.byteorder == "little":  # the bytes of each word are b, g, r, 0
        return np.ascontiguousarray(key.view(np.uint8).reshape(key.shape + (4,))[..., 2::-1])
    out = np.empty(key.shape + (3,), dtype=np.uint8)
    out[..., 0] = key >> 16
    out[..., 1] = key >> 8
    out[..., 2] = key
    return out


def squared_de(lab_a: NDArray, lab_b: NDArray) -> NDArray[np.float32]:
    # Channel by channel on one temporary: a third of the memory traffic of (d * d).sum(-1).
    d = np.subtract(lab_a, lab_b, dtype=np.float32)
    np.multiply(d, d, out=d)
    s = np.add(d[..., 0], d[..., 1], out=np.empty(d.shape[:-1], dtype=np.float32))
    s += d[..., 2]
    return s


def delta_e(lab_a: NDArray, lab_b: NDArray) -> NDArray[np.float32]:
    """CIE76 colour difference between two Lab arrays of the same shape (..., 3)."""
    s = squared_de(lab_a, lab_b)
    return np.sqrt(s, out=s)


def over_matte(
    rgba: NDArray[np.uint8], matte: tuple[int, int, int], alpha_threshold: int | None = None
) -> NDArray[np.uint8]:
    """Composite a (height, width, 4) uint8 frame over the opaque colour ``matte``.

    alpha_threshold : None: every pixel is composited and comes out opaque; else pixels with
        alpha below it become fully transparent (alpha 0) and the others are composited and
        come out opaque (what a GIF can hold)
    Returns a new (height, width, 4) uint8 array.
    """
    a = rgba[..., 3:4].astype(np.uint16)
    bg = np.asarray(matte, np.uint16)
    out = np.empty_like(rgba)
    # Rounded integer "over": rgb * a + matte * (255 - a), divided by 255.
    out[..., :3] = (rgba[..., :3] * a + bg * (255 - a) + 127) // 255
    out[..., 3] = 255
    if alpha_threshold is not None:
        out[rgba[..., 3] < alpha_threshold, 3] = 0
    return out


def grey_levels(rgb: NDArray[np.uint8]) -> NDArray[np.int32]:
    """Each colour's grey level (..., 3) uint8 -> (...,) int32, as PIL's ``convert("L")``
    computes it (ITU-R 601-2 luma in 16-bit fixed point, rounded)."""
    c = np.asarray(rgb, dtype=np.int32)
    return (c[..., 0] * 19595 + c[..., 1] * 38470 + c[..., 2] * 7471 + 0x8000) >> 16


def enhance_colours(rgb: NDArray[np.uint8], factor: float) -> NDArray[np.uint8]:
    """Scale colours' saturation around their grey level, as PIL's ``ImageEnhance.Color``:
    ``grey + factor * (c - grey)``, clipped to 0..255 and truncated (PIL's ``Image.blend``,
    in float32). 1 leaves the colours as they are, 0 makes them grey.

    rgb : (..., 3) uint8. Returns (..., 3) uint8, a new array.
    """
    c = np.asarray(rgb, dtype=np.float32)
    grey = grey_levels(rgb).astype(np.float32)[..., None]
    out = grey + np.float32(factor) * (c - grey)
    return np.clip(out, 0, 255, out=out).astype(np.uint8)


def hsv_saturation(rgb: NDArray[np.uint8]) -> NDArray[np.float64]:
    """HSV saturation ``(max - min) / max`` of colours (..., 3) uint8 -> (...,) in 0..1 (0 for
    black)."""
    c = np.asarray(rgb)
    hi = c.max(-1).astype(np.float64)
    lo = c.min(-1).astype(np.float64)
    return np.divide(hi - lo, hi, out=np.zeros_like(hi), where=hi > 0)
