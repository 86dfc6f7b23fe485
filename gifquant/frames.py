"""Values passed between the stages: source frames in, quantized frames out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .colour import unpack_rgb


@dataclass(frozen=True)
class Frame:
    """One decoded frame.

    rgba : ndarray of shape (height, width, 4), uint8, fully composited
    duration : display time in seconds
    opaque : the reader knows every alpha is 255 (video); False: not known, look
    """

    rgba: NDArray[np.uint8]
    duration: float
    opaque: bool = False


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
    """A palette image.

    indices : ndarray of shape (height, width), uint8, each < len(palette)
    palette : ndarray of shape (n_colours, 3), uint8 sRGB, 1 <= n_colours <= 256
    transparent : palette index that stands for a transparent pixel, or None
    duration : display time in seconds
    delta : the transparent index means "unchanged: what is on screen stays", not "see-through"
    screen : with ``delta``, ndarray (height, width, 3) uint8 of what is on screen after the frame
    screen_packed : or the same as (height, width) uint32 0xRRGGBB words, unpacked on demand
    """

    indices: NDArray[np.uint8]
    palette: NDArray[np.uint8]
    transparent: int | None
    duration: float
    delta: bool = False
    screen: NDArray[np.uint8] | None = None
    screen_packed: NDArray[np.uint32] | None = None

    def rgb(self) -> NDArray[np.uint8]:
        """What the viewer sees, shape (height, width, 3)."""
        if self.screen is not None:
            return self.screen
        if self.screen_packed is not None:
            return unpack_rgb(self.screen_packed)
        if self.delta:
            raise ValueError("a delta frame made without its screen (export_screen=False)")
        return self.palette[self.indices]

    def rgba(self) -> NDArray[np.uint8]:
        """What the viewer sees with alpha, shape (height, width, 4)."""
        out = np.empty(self.indices.shape + (4,), dtype=np.uint8)
        if self.screen is not None or self.screen_packed is not None or self.delta:
            out[..., :3] = self.rgb()
            out[..., 3] = 255
            return out
        out[..., :3] = self.palette[self.indices]
        out[..., 3] = 255
        if self.transparent is not None:
            out[self.indices == self.transparent] = 0
        return out
