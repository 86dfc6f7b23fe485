"""Resize frames to a ``W:H`` spec (-1 keeps the aspect ratio); area interpolation to shrink."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

MAX_SIDE = 16384


def parse_scale(text: str) -> tuple[int, int]:
    """``W:H`` (or ``WxH``) with positive sizes, -1 (keep the aspect ratio) or -2 (the same,
    rounded to even). Raises ValueError with a user-facing message."""
    sep = ":" if ":" in text else "x"
    parts = text.split(sep)
    if len(parts) != 2:
        raise ValueError(f"{text!r} is not W:H (e.g. 480:-1)")
    try:
        w, h = int(parts[0]), int(parts[1])
    except ValueError:
        raise ValueError(f"{text!r} is not W:H with whole numbers (e.g. 480:-1)") from None
    for v in (w, h):
        if v == 0 or v < -2 or v > MAX_SIDE:
            raise ValueError(f"{text!r}: each side is 1..{MAX_SIDE}, or -1 to keep the aspect")
    if w < 0 and h < 0:
        raise ValueError(f"{text!r}: at most one side can be -1")
    return w, h


def fit_size(width: int, height: int, spec: tuple[int, int]) -> tuple[int, int]:
    """The output size for a source of ``width`` x ``height`` and a parsed ``spec``."""
    w, h = spec
    if w < 0:
        w = _derived(h * width / height, even=w == -2)
    if h < 0:
        h = _derived(w * height / width, even=h == -2)
    return w, h


def _derived(exact: float, *, even: bool) -> int:
    if even:
        return max(2, 2 * round(exact / 2))
    return max(1, round(exact))


def resize_rgba(rgba: NDArray[np.uint8], width: int, height: int) -> NDArray[np.uint8]:
    """Resize an RGBA frame of shape (h, w, 4) uint8 to (height, width, 4).

    Area interpolation when shrinking (no aliasing), bicubic when enlarging. Colour is
    premultiplied by alpha on the way, so transparent pixels' hidden RGB does not bleed in.
    """
    h0, w0 = rgba.shape[:2]
    if (h0, w0) == (height, width):
        return rgba
    import cv2  # here, not at the top: most runs never resize, and cv2 takes ~25 ms to import

    shrink = width * height < w0 * h0
    interp = cv2.INTER_AREA if shrink else cv2.INTER_CUBIC
    alpha = rgba[..., 3]
    if bool((alpha == 255).all()):
        out = cv2.resize(np.ascontiguousarray(rgba), (width, height), interpolation=interp)
        out[..., 3] = 255
        return out
    pre = rgba.astype(np.float32)
    pre[..., :3] *= pre[..., 3:4] / 255.0
    res = cv2.resize(pre, (width, height), interpolation=interp)
    a = np.clip(res[..., 3:4], 0.0, 255.0)
    rgb = np.where(a > 0, res[..., :3] * 255.0 / np.maximum(a, 1e-6), 0.0)
    out = np.empty((height, width, 4), np.uint8)
    out[..., :3] = np.clip(np.rint(rgb), 0, 255)
    out[..., 3] = np.rint(a[..., 0])
    return out
