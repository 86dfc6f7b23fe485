"""The matte: what transparent and semi-transparent source pixels are composited over.

Outputs that cannot hold transparency (mp4, webm, y4m) composite every pixel over it; GIF and
PNG keep pixels with alpha below the threshold transparent and composite the rest, so a
half-transparent edge blends into the matte instead of showing its straight colour.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

import numpy as np

from .._core.colour import over_matte
from .._core.frames import Frame
from .._errors import SettingError

WHITE = (255, 255, 255)
# Formats whose pixels are all opaque: the matte shows wherever the source was see-through.
OPAQUE_FORMATS: tuple[str, ...] = ("mp4", "webm", "y4m")


def parse_colour(value: str | tuple[int, int, int]) -> tuple[int, int, int]:
    """An sRGB colour from a name (``white``, ``black``, any CSS name), ``#rgb``, ``#rrggbb``
    or an (r, g, b) tuple of 0..255 integers."""
    if isinstance(value, str):
        from PIL import ImageColor

        text = value.strip()
        if re.fullmatch(r"[0-9a-fA-F]{6}", text):  # ffmpeg's spelling: no '#'
            text = "#" + text
        try:
            rgb = ImageColor.getrgb(text)
        except ValueError:
            raise SettingError(
                "{matte}: {value!r} is not a colour (a name such as white, or #rrggbb)",
                value=value,
            ) from None
        if len(rgb) == 4 and rgb[3] != 255:
            raise SettingError(
                "{matte}: {value!r} is not opaque; a matte has no alpha", value=value
            )
        return (int(rgb[0]), int(rgb[1]), int(rgb[2]))
    if (
        isinstance(value, (tuple, list))
        and len(value) == 3
        and all(isinstance(c, (int, np.integer)) and 0 <= c <= 255 for c in value)
    ):
        return (int(value[0]), int(value[1]), int(value[2]))
    raise TypeError(f"matte must be a colour name, '#rrggbb' or (r, g, b), not {value!r}")


def apply_matte(
    frames: Iterable[Frame], matte: tuple[int, int, int], alpha_threshold: int | None
) -> Iterator[Frame]:
    """The frames composited over ``matte`` (see ``over_matte``; ``alpha_threshold`` None: all
    of every frame). Opaque frames pass untouched, as do frames whose alpha is only 0 or 255
    when a threshold keeps the transparent ones (nothing would change)."""
    thresholded = alpha_threshold is not None and alpha_threshold > 0
    for fr in frames:
        # (A palette frame's alpha is only 0 or 255.)
        if fr.opaque or (thresholded and fr.indexed is not None):
            yield fr
            continue
        alpha = fr.rgba[..., 3]
        if alpha.min() == 255:
            yield Frame(fr.rgba, fr.duration, opaque=True)
            continue
        if thresholded and not ((alpha != 0) & (alpha != 255)).any():
            yield fr
            continue
        yield Frame(
            over_matte(fr.rgba, matte, alpha_threshold), fr.duration, alpha_threshold is None
        )
