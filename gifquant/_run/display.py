"""An animation that shows itself: inline in Jupyter as a GIF, a PNG still as the fallback.

No dependency on IPython: Jupyter calls ``_repr_html_`` / ``_repr_mimebundle_`` by name.
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from .._core.frames import QuantizedFrame
from .._io.atomic import output_file
from .._io.gif.write import GifWriter

# Larger GIFs are not put inline (a notebook holds them in its file and the browser's memory).
INLINE_LIMIT = 20 * 1024 * 1024


class Animation:
    """Quantized frames with their timing.

    frames : ndarray of shape (N, H, W, 4), uint8 RGBA, what a viewer sees (computed on use)
    durations : list of N display times in seconds
    palettes : each frame's palette, ndarrays of shape (n_colours, 3), uint8

    ``save(path)`` writes a GIF (exact palettes, whole frames); ``to_gif()`` gives its bytes.
    """

    def __init__(self, frames: Sequence[QuantizedFrame], *, loop: int | None = 0) -> None:
        if not frames:
            raise ValueError("an animation needs at least one frame")
        self._frames = list(frames)
        self.loop = loop

    def __len__(self) -> int:
        return len(self._frames)

    def __repr__(self) -> str:
        h, w = self._frames[0].indices.shape
        return f"<gifquant.Animation: {len(self)} frames of {w}x{h}, {self.seconds:.2f} s>"

    @property
    def frames(self) -> NDArray[np.uint8]:
        return np.stack([f.rgba for f in self._frames])

    @property
    def durations(self) -> list[float]:
        return [f.duration for f in self._frames]

    @property
    def palettes(self) -> list[NDArray[np.uint8]]:
        return [f.palette for f in self._frames]

    @property
    def seconds(self) -> float:
        return float(sum(self.durations))

    def to_gif(self) -> bytes:
        """The animation as GIF bytes."""
        buf = io.BytesIO()
        h, w = self._frames[0].indices.shape
        alpha = any(f.transparent is not None for f in self._frames)
        writer = GifWriter(buf, w, h, loop=self.loop, always_transparent=alpha)
        for f in self._frames:
            writer.write(f)
        writer.close()
        return buf.getvalue()

    def save(self, path: str | os.PathLike) -> None:
        """Write the animation as a GIF to ``path`` (replaced whole, or not at all)."""
        data = self.to_gif()
        with output_file(os.fspath(path)) as f:
            f.write(data)

    def _still_png(self) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(self._frames[0].rgba).save(buf, "PNG")
        return buf.getvalue()

    def _repr_html_(self) -> str:
        data = self.to_gif()
        h, w = self._frames[0].indices.shape
        if len(data) > INLINE_LIMIT:
            still = base64.b64encode(self._still_png()).decode()
            note = (
                f"gifquant: this animation is {len(data) / 2**20:.1f} MB as a GIF, over the "
                f"{INLINE_LIMIT // 2**20} MB shown inline; its first frame is below. Save it "
                "with .save('out.gif')."
            )
            return (
                f"<div><p>{html.escape(note)}</p>"
                f'<img src="data:image/png;base64,{still}" width="{w}" height="{h}"/></div>'
            )
        gif = base64.b64encode(data).decode()
        return f'<img src="data:image/gif;base64,{gif}" width="{w}" height="{h}"/>'

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, object]:
        return {"text/html": self._repr_html_(), "image/png": self._still_png()}
