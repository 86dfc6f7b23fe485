"""Read GIFs and still or animated images (PNG, APNG, JPEG, WebP) through Pillow, frame by frame.

Pillow composites each GIF frame (disposal, offsets, local palettes, interlace, transparency) the
way ffmpeg's decoder does; only the current frame and the canvas are held in memory.
"""

from __future__ import annotations

import struct
import warnings
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

from ..errors import GifquantError
from ..frames import ClipInfo, Frame
from .budget import check_budget
from .gifscan import GifLayout, is_gif, scan_gif

# Pillow's own bomb check would fire before ours with a less useful message; ours is --max-pixels.
Image.MAX_IMAGE_PIXELS = None

# What a broken file makes Pillow raise (struct.error: short reads in its block parsers).
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError, struct.error)


def _layout(source: str | BinaryIO) -> GifLayout | None:
    """The block structure when ``source`` is a GIF, else None; a stream is left where it was."""
    if isinstance(source, str):
        with open(source, "rb", buffering=1 << 20) as f:
            if not is_gif(f.read(6)):
                return None
            f.seek(0)
            return scan_gif(f)
    pos = source.tell()
    try:
        if not is_gif(source.read(6)):
            return None
        source.seek(pos)
        return scan_gif(source)
    finally:
        source.seek(pos)


def _fit(rgba: np.ndarray, h: int, w: int) -> np.ndarray:
    out = np.zeros((h, w, 4), np.uint8)
    hh, ww = min(h, rgba.shape[0]), min(w, rgba.shape[1])
    out[:hh, :ww] = rgba[:hh, :ww]
    return out


class ImageReader:
    """Iterate the frames of an image file as ``Frame`` (RGBA, duration in seconds).

    Use as a context manager; ``info`` is known once it is open. A GIF's block structure is
    walked first, so a truncated file, a zero-size frame or a clip over the pixel budgets
    (``max_pixels`` per frame, ``max_clip_pixels`` per clip, 0 = no limit) is refused before
    any pixel is decoded or written.
    """

    seeked = 0.0  # it cannot seek: a trim starts from the first frame

    def __init__(
        self,
        source: str | BinaryIO,
        *,
        name: str,
        max_pixels: int,
        max_clip_pixels: int = 0,
    ) -> None:
        self._name = name
        self._max_pixels = max_pixels
        self._max_clip_pixels = max_clip_pixels
        try:
            layout = _layout(source)
        except ValueError as exc:
            raise GifquantError(f"{name}: broken or truncated file: {exc}") from None
        except OSError as exc:
            raise GifquantError(f"{name}: cannot read: {exc.strerror or exc}") from None
        if layout is not None:
            _check_layout(name, layout, max_pixels=max_pixels, max_clip_pixels=max_clip_pixels)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._im = Image.open(source)
        except UnidentifiedImageError:
            raise GifquantError(f"{name}: not an image or video gifquant can read") from None
        except _DECODE_ERRORS as exc:
            raise GifquantError(f"{name}: cannot read: {exc}") from None
        try:
            self.info = self._clip_info(layout)
        except BaseException:
            self._im.close()
            raise

    def _clip_info(self, layout: GifLayout | None) -> ClipInfo:
        w, h = self._im.size
        if w <= 0 or h <= 0:
            raise GifquantError(f"{self._name}: zero-size image ({w}x{h})")
        loop = self._im.info.get("loop")
        if layout is not None:
            n_frames = layout.n_frames
        else:
            # The frame size first: counting frames may mean parsing the whole file.
            check_budget(self._name, w, h, 1, max_pixels=self._max_pixels, max_clip_pixels=0)
            try:
                n_frames = int(getattr(self._im, "n_frames", 1))
            except _DECODE_ERRORS as exc:
                raise GifquantError(f"{self._name}: broken or truncated file: {exc}") from None
            check_budget(
                self._name,
                w,
                h,
                n_frames,
                max_pixels=self._max_pixels,
                max_clip_pixels=self._max_clip_pixels,
            )
        # A constant rate that shows every frame (video output): that of the shortest delay.
        fps = None
        if layout is not None and layout.min_delay_cs:
            fps = min(50.0, max(5.0, 100.0 / layout.min_delay_cs))
        return ClipInfo(
            w,
            h,
            loop=None if loop is None else int(loop),
            fps=fps,
            n_frames=n_frames,
            transparency=bool(layout and layout.transparency),
        )

    def __enter__(self) -> ImageReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._im.close()

    def __iter__(self) -> Iterator[Frame]:
        n = 0
        total = 0
        try:
            for im in ImageSequence.Iterator(self._im):
                # Seeking sized the canvas but decoded nothing yet: the last chance to refuse.
                w, h = im.size
                check_budget(self._name, w, h, 1, max_pixels=self._max_pixels, max_clip_pixels=0)
                total += w * h
                if self._max_clip_pixels and total > self._max_clip_pixels:
                    raise GifquantError(
                        f"{self._name}: over {self._max_clip_pixels} decoded pixels at frame {n} "
                        "(--max-clip-pixels); refusing a possible decompression bomb"
                    )
                rgba = np.asarray(im.convert("RGBA"))
                if rgba.shape[:2] != (self.info.height, self.info.width):
                    # Pillow grows the canvas for frames drawn out of bounds; the logical
                    # screen (what ffmpeg and browsers show) is the first frame's size.
                    rgba = _fit(rgba, self.info.height, self.info.width)
                ms = im.info.get("duration") or 0
                n += 1
                # Handed over, not kept: no reference stays here while the frame is worked on.
                out = [Frame(rgba, float(ms) / 1000.0)]
                del rgba
                yield out.pop()
        except GifquantError:
            raise
        except _DECODE_ERRORS as exc:
            raise GifquantError(
                f"{self._name}: broken or truncated file at frame {n}: {exc}"
            ) from None
        if n == 0:
            raise GifquantError(f"{self._name}: no frames")


def _check_layout(name: str, layout: GifLayout, *, max_pixels: int, max_clip_pixels: int) -> None:
    if layout.width == 0 or layout.height == 0:
        raise GifquantError(f"{name}: zero-size image ({layout.width}x{layout.height})")
    if layout.zero_size_frame is not None:
        raise GifquantError(f"{name}: frame {layout.zero_size_frame} has zero width or height")
    check_budget(
        name,
        layout.canvas_width,
        layout.canvas_height,
        max(1, layout.n_frames),
        max_pixels=max_pixels,
        max_clip_pixels=max_clip_pixels,
    )
    if layout.truncated:
        # Refused rather than cut short: a clip missing its end is not what the user asked for.
        raise GifquantError(
            f"{name}: truncated file: it ends inside frame {layout.n_frames} "
            f"(after {layout.n_frames} complete frames)"
        )
    if layout.n_frames == 0:
        raise GifquantError(f"{name}: no frames")
