"""Read GIFs and still or animated images (PNG, APNG, JPEG, WebP) through Pillow, frame by frame.

Pillow composites each GIF frame (disposal, offsets, local palettes, interlace, transparency) the
way ffmpeg's decoder does; only the current frame and the canvas are held in memory.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

from ..errors import GifquantError
from ..frames import ClipInfo, Frame

# Pillow's own bomb check would fire before ours with a less useful message; ours is --max-pixels.
Image.MAX_IMAGE_PIXELS = None


def _fit(rgba: np.ndarray, h: int, w: int) -> np.ndarray:
    out = np.zeros((h, w, 4), np.uint8)
    hh, ww = min(h, rgba.shape[0]), min(w, rgba.shape[1])
    out[:hh, :ww] = rgba[:hh, :ww]
    return out


class ImageReader:
    """Iterate the frames of an image file as ``Frame`` (RGBA, duration in seconds).

    Use as a context manager; ``info`` is known once it is open.
    """

    seeked = 0.0  # it cannot seek: a trim starts from the first frame

    def __init__(self, source: str | BinaryIO, *, name: str, max_pixels: int) -> None:
        self._name = name
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._im = Image.open(source)
        except UnidentifiedImageError:
            raise GifquantError(f"{name}: not an image or video gifquant can read") from None
        except (OSError, ValueError, SyntaxError) as exc:
            raise GifquantError(f"{name}: cannot read: {exc}") from None
        w, h = self._im.size
        if w <= 0 or h <= 0:
            self._im.close()
            raise GifquantError(f"{name}: zero-size image ({w}x{h})")
        if w * h > max_pixels:
            self._im.close()
            raise GifquantError(
                f"{name}: {w}x{h} = {w * h} pixels per frame is over the limit of {max_pixels} "
                "(--max-pixels); refusing a possible decompression bomb"
            )
        loop = self._im.info.get("loop")
        try:
            n_frames = int(getattr(self._im, "n_frames", 1))
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            self._im.close()
            raise GifquantError(f"{name}: broken or truncated file: {exc}") from None
        self.info = ClipInfo(w, h, loop=None if loop is None else int(loop), n_frames=n_frames)

    def __enter__(self) -> ImageReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._im.close()

    def __iter__(self) -> Iterator[Frame]:
        n = 0
        try:
            for im in ImageSequence.Iterator(self._im):
                rgba = np.asarray(im.convert("RGBA"))
                if rgba.shape[:2] != (self.info.height, self.info.width):
                    # Pillow grows the canvas for frames drawn out of bounds; the logical
                    # screen (what ffmpeg and browsers show) is the first frame's size.
                    rgba = _fit(rgba, self.info.height, self.info.width)
                ms = im.info.get("duration") or 0
                n += 1
                yield Frame(rgba, float(ms) / 1000.0)
        except GifquantError:
            raise
        except (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError) as exc:
            raise GifquantError(
                f"{self._name}: broken or truncated file at frame {n}: {exc}"
            ) from None
        if n == 0:
            raise GifquantError(f"{self._name}: no frames")
