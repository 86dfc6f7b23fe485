"""Write a clip as a numbered sequence of palette PNGs in a folder (``frame_000001.png``, ...)."""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from ..frames import QuantizedFrame

NAME = "frame_{:06d}.png"


class PngSequenceWriter:
    """One indexed PNG per frame, palette and transparency exactly as quantized."""

    def __init__(self, folder: str) -> None:
        self._folder = folder
        self.n_frames = 0

    def write(self, frame: QuantizedFrame) -> None:
        h, w = frame.indices.shape
        im = Image.frombuffer("P", (w, h), np.ascontiguousarray(frame.indices), "raw", "P", 0, 1)
        im.putpalette(frame.palette.astype(np.uint8).tobytes(), "RGB")
        params = {} if frame.transparent is None else {"transparency": int(frame.transparent)}
        self.n_frames += 1
        im.save(os.path.join(self._folder, NAME.format(self.n_frames)), "PNG", **params)

    def close(self) -> None:
        pass
