"""Pixel budgets: refuse decompression bombs before decoding them, and cap a whole clip."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from .._errors import GifquantError
from .._frames import Frame

# Per frame: 2^25, 8K UHD (7680x4320) fits. A bomb GIF claims billions; and a large frame costs
# 23 (noise through y4m) to 35 (pure RGB noise) bytes a pixel to quantize, plus ~100 MB
# (scripts/bench_memory.py --section large): at most ~1.2 GB here, so a machine with 4 GB
# finishes it.
DEFAULT_MAX_PIXELS = 1 << 25
# Per clip: about 20 minutes of 640x480 at 25 fps; a bomb repeats a huge frame many times.
DEFAULT_MAX_CLIP_PIXELS = 10_000_000_000


def check_budget(
    name: str, width: int, height: int, n_frames: int, *, max_pixels: int, max_clip_pixels: int
) -> None:
    """Refuse a clip whose frames (as decoded: ``width`` x ``height``) are over the budgets.

    ``max_clip_pixels`` 0 means no limit for the whole clip.
    """
    if width * height > max_pixels:
        raise GifquantError(
            f"{name}: {width}x{height} = {width * height} pixels per frame is over the limit of "
            f"{max_pixels} (--max-pixels); refusing a possible decompression bomb"
        )
    total = width * height * n_frames
    if max_clip_pixels and total > max_clip_pixels:
        raise GifquantError(
            f"{name}: {n_frames} frames of {width}x{height} = {total} pixels is over the limit of "
            f"{max_clip_pixels} for a clip (--max-clip-pixels); refusing a possible "
            "decompression bomb"
        )


def limit_clip(frames: Iterable[Frame], *, name: str, max_clip_pixels: int) -> Iterator[Frame]:
    """Pass frames through, refusing once more than ``max_clip_pixels`` have been decoded.

    For readers that cannot tell the clip's size up front (video, stdin); 0 means no limit.
    """
    total = 0
    n = -1
    for frame in frames:  # not enumerate(): its reused result tuple would keep the frame
        n += 1
        h, w = frame.shape
        total += h * w
        if max_clip_pixels and total > max_clip_pixels:
            raise GifquantError(
                f"{name}: over {max_clip_pixels} decoded pixels at frame {n} "
                "(--max-clip-pixels); refusing a possible decompression bomb"
            )
        # Handed over, not kept: no reference stays here while the frame is worked on.
        out = [frame]
        del frame
        yield out.pop()
