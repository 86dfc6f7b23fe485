"""Pixel budgets: refuse decompression bombs before decoding them, and cap a whole clip."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator

from .._core.frames import Frame
from .._errors import SettingError

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
        raise SettingError(
            "{name}: {w}x{h} = {n} pixels per frame is over the limit of {limit} ({max_pixels}); "
            "refusing a possible decompression bomb",
            name=name,
            w=width,
            h=height,
            n=width * height,
            limit=max_pixels,
        )
    total = width * height * n_frames
    if max_clip_pixels and total > max_clip_pixels:
        raise SettingError(
            "{name}: {frames} frames of {w}x{h} = {n} pixels is over the limit of {limit} for a "
            "clip ({max_clip_pixels}); refusing a possible decompression bomb",
            name=name,
            frames=n_frames,
            w=width,
            h=height,
            n=total,
            limit=max_clip_pixels,
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
            raise SettingError(
                "{name}: over {limit} decoded pixels at frame {n} ({max_clip_pixels}); refusing "
                "a possible decompression bomb",
                name=name,
                limit=max_clip_pixels,
                n=n,
            )
        # Handed over, not kept: no reference stays here while the frame is worked on.
        out = [frame]
        del frame
        yield out.pop()


def return_freed_memory() -> None:
    """Have glibc's malloc map blocks of 4 MiB and more on their own, so that freeing one hands
    it back to the system. By default the threshold climbs to 32 MiB after the first large free,
    and a large frame's many chunk-sized temporaries then stay resident (~60 MB at 16 M pixels).
    Elsewhere (not glibc) nothing is done. Only for frames of SERIAL_PIXELS or more."""
    _mallopt(4 << 20, 128 << 10)  # (128 KiB: glibc's default trim threshold)


def keep_freed_memory() -> None:
    """Have glibc's malloc keep freed blocks up to 16 MiB for reuse, and give a heap's free top
    back only past 16 MiB. A mid-sized frame's arrays (a 720p frame's are 1 to 11 MB, several a
    frame in each stage's thread) are then reused rather than mapped afresh and faulted in page
    by page, which the stages' threads also queue for (720p cockatoo k=16: 109,000 -> 67,000
    page faults, 2 ms of CPU and 4% of the wall a frame, the peak about the same; 32 and 64
    MiB were no faster and held 25 MB more at k=256). For frames of KEEP_PIXELS up to
    SERIAL_PIXELS."""
    _mallopt(16 << 20, 16 << 20)


# Frames from this many pixels on are worth ``keep_freed_memory`` (it imports ctypes).
KEEP_PIXELS = 1 << 18


def _mallopt(mmap_threshold: int, trim_threshold: int) -> None:
    """glibc's M_MMAP_THRESHOLD (a fixed value also stops its climbing) and M_TRIM_THRESHOLD;
    elsewhere nothing."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        libc.mallopt(-3, mmap_threshold)
        libc.mallopt(-1, trim_threshold)
    except (OSError, AttributeError):
        pass
