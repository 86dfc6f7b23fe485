"""Values passed between the stages: source frames in, quantized frames out."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from .._kernels import gather_into, set_bits


@dataclass(frozen=True)
class IndexedPixels:
    """A frame as palette indices (a GIF decoded without expanding it to colours).

    indices : ndarray of shape (height, width), uint8
    table : ndarray of shape (256, 4), uint8: each index's RGBA (alpha 0 or 255)
    """

    indices: NDArray[np.uint8]
    table: NDArray[np.uint8]

    def rgba(self) -> NDArray[np.uint8]:
        """The pixels as (height, width, 4) uint8: each index's table row, gathered as one
        32-bit word (compiled: numpy's ``words[indices]`` makes an intp copy of the indices
        first and took 3x as long, 0.2 ms a 480x270 frame, once a frame of every GIF read)."""
        words = np.ascontiguousarray(self.table).reshape(-1).view(np.uint32)
        h, w = self.indices.shape
        out = np.empty((h, w), np.uint32)
        gather_into(words, self.indices, out)
        return out.view(np.uint8).reshape(h, w, 4)


def indexed_rgba_reference(px: IndexedPixels) -> NDArray[np.uint8]:
    """``IndexedPixels.rgba`` in numpy (the tests' oracle)."""
    words = px.table.reshape(-1).view(np.uint32)
    return words[px.indices].view(np.uint8).reshape(px.indices.shape + (4,))


@dataclass(frozen=True, eq=False)
class Frame:
    """One decoded frame.

    pixels : ndarray of shape (height, width, 4), uint8, fully composited; None when
        ``indexed`` holds them
    duration : display time in seconds
    opaque : the reader knows every alpha is 255 (video); False: not known, look
    indexed : the same frame as palette indices, when the reader has it so (``rgba`` is then
        made from it on first use)
    fed : the denoised pixels to quantize instead, (height, width, 4) uint8, by denoising
        strength (``denoise.denoised``); a strength not in it quantizes ``rgba`` as it is
    held : by strength, how many of ``fed``'s pixels are not the source's
    still_held : by strength, the pixels whose source is exactly as in the frame before, held
        or not: a bit a pixel (``numpy.packbits`` of the flat mask) and every pixel's source
        colour packed (``colour.pack_rgb``, (h * w,) uint32: the painter keeps the still ones
        coherent with their source colour's other pixels; ``still`` unpacks the mask)
    """

    pixels: NDArray[np.uint8] | None
    duration: float
    opaque: bool = False
    indexed: IndexedPixels | None = None
    fed: dict[float, NDArray[np.uint8]] | None = None
    held: dict[float, int] | None = None
    still_held: dict[float, tuple[NDArray[np.uint8], NDArray[np.uint32]]] | None = None

    def to_quantize(self, denoise: float) -> Frame:
        """The frame the quantizer reads at denoising strength ``denoise``: the denoised
        pixels where there are, else this frame."""
        if not self.fed or denoise not in self.fed:
            return self
        return Frame(self.fed[denoise], self.duration, self.opaque)

    def still(self, denoise: float) -> tuple[NDArray[np.intp], NDArray[np.uint32]] | None:
        """``still_held`` at strength ``denoise`` as flat indices (n,) and every pixel's packed
        source colour, or None."""
        if not self.still_held or denoise not in self.still_held:
            return None
        bits, keys = self.still_held[denoise]
        return set_bits(bits), keys  # packbits' padding bits are 0

    @cached_property
    def rgba(self) -> NDArray[np.uint8]:
        """(height, width, 4) uint8, fully composited."""
        return self.pixels if self.pixels is not None else self.indexed.rgba()

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width)."""
        source = self.pixels if self.pixels is not None else self.indexed.indices
        return source.shape[:2]


@dataclass(frozen=True)
class ClipInfo:
    """What a reader knows about a clip before the frames arrive.

    loop : GIF loop count (0 = forever, None = play once), carried to GIF output
    fps : nominal frame rate (video sources), or None
    n_frames : frame count when the container tells it cheaply, else None
    transparency : the source may have transparent pixels (GIF output then gives every frame
        a transparent index, so decoders that judge by the first frame keep the alpha)
    """

    width: int
    height: int
    loop: int | None = 0
    fps: float | None = None
    n_frames: int | None = None
    transparency: bool = False


@dataclass(frozen=True)
class QuantizedFrame:
    """A palette image: what the viewer sees is ``palette[indices]`` (and see-through where
    ``indices == transparent``).

    indices : ndarray of shape (height, width), uint8, each < len(palette)
    palette : ndarray of shape (n_colours, 3), uint8 sRGB, 1 <= n_colours <= 256
    transparent : palette index of see-through pixels, or None
    duration : display time in seconds
    changed : ndarray of shape (height, width), bool: the pixels whose colour differs from the
        previous frame's (a writer may leave the others as they are on screen); None: draw the
        whole frame
    """

    indices: NDArray[np.uint8]
    palette: NDArray[np.uint8]
    transparent: int | None
    duration: float
    changed: NDArray[np.bool_] | None = None

    @property
    def rgb(self) -> NDArray[np.uint8]:
        """What the viewer sees, shape (height, width, 3)."""
        return self.palette[self.indices]

    @property
    def rgba(self) -> NDArray[np.uint8]:
        """What the viewer sees with alpha, shape (height, width, 4)."""
        out = np.empty(self.indices.shape + (4,), dtype=np.uint8)
        out[..., :3] = self.palette[self.indices]
        out[..., 3] = 255
        if self.transparent is not None:
            out[self.indices == self.transparent] = 0
        return out


def still_indices_reference(bits: NDArray[np.uint8]) -> NDArray[np.intp]:
    """``Frame.still``'s flat indices from the packed bits (``_kernels.set_bits``) in numpy."""
    return np.flatnonzero(np.unpackbits(bits))
