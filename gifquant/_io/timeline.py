"""Cut and retime a frame stream the way ffmpeg's ``-ss``/``-t``/``-frames``/``fps``/``scale`` do.

Frames in, frames out, one at a time: the same for GIF, video and y4m sources.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .._core.frames import ClipInfo, Frame
from .resize import fit_size, resize_rgba

_EPS = 1e-6  # seconds; absorbs the float error of summed frame durations


@dataclass(frozen=True)
class TimelineOptions:
    """ss : start, seconds; t : length, seconds (None: to the end); frames : at most this many
    output frames; fps : resample to this constant rate; scale : (w, h) spec, -1 keeps aspect;
    speed : play this many times as fast, 0.01..100 (0.5 half speed: every frame kept, its time
    divided by it; after the trim, before the resampling)."""

    ss: float = 0.0
    t: float | None = None
    frames: int | None = None
    fps: float | None = None
    scale: tuple[int, int] | None = None
    speed: float = 1.0


class CfrClock:
    """Map frames of any duration onto a constant-rate clock, like ffmpeg's fps filter.

    Source frame i, shown from t_i to t_(i+1), fills the output slots round(t_i * fps) up to
    round(t_(i+1) * fps) - 1: frames are duplicated or dropped, the timeline is kept.
    """

    def __init__(self, fps: float) -> None:
        self.fps = fps
        self._t = 0.0
        self._slots = 0

    def repeats(self, duration: float) -> int:
        """How many output frames the next source frame, shown ``duration`` s, becomes."""
        self._t += duration
        end = math.floor(self._t * self.fps + 0.5 + _EPS)
        n = max(0, end - self._slots)
        self._slots += n
        return n

    @property
    def n_out(self) -> int:
        return self._slots


def trim(frames: Iterable[Frame], ss: float, t: float | None) -> Iterator[Frame]:
    """The frames shown between ``ss`` and ``ss + t`` seconds, durations clipped to that window.

    A frame cut by an edge of the window stays when at least half of it is inside (the
    nearest-frame rule), so a long GIF frame that covers ``ss`` is not lost.
    """
    end = math.inf if t is None else ss + t
    clock = 0.0
    fallback = None  # a frame mostly outside the window, shown only if nothing else is
    shown = False
    for fr in frames:
        a, b = clock, clock + fr.duration
        clock = b
        if a >= end - _EPS:
            break
        if b <= ss + _EPS and fr.duration > 0:
            continue
        lo, hi = max(a, ss), min(b, end)
        if (lo, hi) != (a, b):
            fr = dataclasses.replace(fr, duration=max(0.0, hi - lo))
        cut_start = a < ss - _EPS and b - ss < (b - a) / 2
        cut_end = b > end + _EPS and hi - lo < (b - a) / 2
        if cut_start or cut_end:
            if not shown:
                fallback = fr
            if b > end + _EPS:
                break
            continue
        shown = True
        yield fr
        del fr  # not held while the next frame is decoded
    if not shown and fallback is not None:
        yield fallback


def faster(frames: Iterable[Frame], speed: float) -> Iterator[Frame]:
    """Every frame kept, shown ``1 / speed`` as long (``speed`` 2: twice as fast)."""
    for fr in frames:
        yield dataclasses.replace(fr, duration=fr.duration / speed)
        del fr  # not held while the next frame is decoded


def resample(frames: Iterable[Frame], fps: float) -> Iterator[Frame]:
    """Frames on a constant ``fps`` clock: each lasts 1/fps; duplicated or dropped to keep time."""
    clock = CfrClock(fps)
    dur = 1.0 / fps
    last = None
    for fr in frames:
        n = clock.repeats(fr.duration)
        if n:
            out = dataclasses.replace(fr, duration=dur)
            for _ in range(n):
                yield out
        last = fr
    if clock.n_out == 0 and last is not None:  # a clip shorter than half a slot still shows
        yield dataclasses.replace(last, duration=dur)


def scale(frames: Iterable[Frame], width: int, height: int) -> Iterator[Frame]:
    for fr in frames:
        yield Frame(resize_rgba(fr.rgba, width, height), fr.duration, fr.opaque)
        del fr


def apply_timeline(
    frames: Iterable[Frame], info: ClipInfo, opts: TimelineOptions
) -> tuple[ClipInfo, Iterator[Frame]]:
    """Apply trim, fps, frame limit and scale (in ffmpeg's order) to a stream of frames.

    Returns the output's ClipInfo (size, rate, estimated frame count) and the frame iterator.
    """
    it: Iterator[Frame] = iter(frames)
    n = info.n_frames
    fps = info.fps
    if opts.ss > 0 or opts.t is not None:
        it = trim(it, opts.ss, opts.t)
        if n is not None and fps:
            n = max(0, n - round(opts.ss * fps))
            if opts.t is not None:
                n = min(n, max(1, round(opts.t * fps)))
    if opts.speed != 1.0:
        it = faster(it, opts.speed)
        fps = fps * opts.speed if fps else fps
    if opts.fps is not None:
        it = resample(it, opts.fps)
        n = round(n * opts.fps / fps) if n is not None and fps else None
        fps = opts.fps
    if opts.frames is not None:
        it = itertools.islice(it, opts.frames)
        n = opts.frames if n is None else min(n, opts.frames)
    width, height = info.width, info.height
    if opts.scale is not None:
        width, height = fit_size(info.width, info.height, opts.scale)
        if (width, height) != (info.width, info.height):
            it = scale(it, width, height)
    out = dataclasses.replace(info, width=width, height=height, fps=fps, n_frames=n)
    return out, it
