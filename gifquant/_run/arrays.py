"""Quantize frames held in memory: numpy arrays, PIL images, iterables of frames, or a file.

``quantize`` is the entry point for a notebook: what imageio, OpenCV and PIL return goes in,
arrays of the same shape come out (each frame with at most k colours), or an ``Animation``
that plays itself inline.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageSequence

from .._core.deband import with_smooth
from .._core.denoise import denoised
from .._core.distinct import frame_colours
from .._core.frames import Frame, QuantizedFrame
from .._core.options import QuantizeOptions
from .._core.temporal import TemporalQuantizer
from .._errors import InputNotFoundError
from .._io.atomic import remove_all, scratch_path
from .._io.streams import open_input
from .display import Animation

# The display time of a frame whose source does not say (10 fps).
DEFAULT_DURATION = 0.1


def quantize(
    frames,
    k: int = 16,
    *,
    bgr: bool = False,
    durations: float | Iterable[float] | None = None,
    as_animation: bool = False,
    on_progress: Callable[[int, int | None], None] | None = None,
    **options,
):
    """Quantize frames to at most ``k`` colours each, seeding each frame from the last.

    Parameters
    ----------
    frames : one of
        - an ndarray of shape (N, H, W, 3 or 4), uint8 (what ``imageio.v3.imread`` returns for
          a clip): the result is an ndarray of the same shape;
        - an ndarray of shape (H, W, 3 or 4), uint8: one frame, and one frame comes back;
        - an iterable of (H, W, 3 or 4) uint8 arrays or PIL images (``imageio.v3.imiter``, a
          list, a generator): the result is an iterator, one frame out per frame in, so a long
          clip streams through in bounded memory;
        - a path, bytes or a binary file object of a GIF, image or video, or a PIL image: its
          frames, as an iterator of (H, W, 4) arrays.
    k : palette entries per frame, 1..256
    bgr : the arrays' channels are OpenCV's B, G, R(, A) (output in the same order); say so,
        gifquant does not guess
    durations : display time of each frame in seconds (a number for all, or one per frame);
        default: the file's timing, else 0.1 s. Used by ``as_animation``.
    as_animation : return an ``Animation`` (it plays inline in Jupyter; ``.frames``, ``.save``)
    on_progress : called with (frames done, frames in all) after each frame; the total is
        None for an iterable or a file, whose length is not known up front
    **options : the other ``QuantizeOptions`` fields (``seeded``, ``metric``, ``space``,
        ``dither``, ...)

    Returns
    -------
    ndarray, iterator of ndarrays, or Animation, as above. Each frame keeps its channels: with
    alpha, see-through pixels have alpha 0 and the others 255.

    Raises
    ------
    TypeError : frames that are not uint8 (convert floats in 0..1 with
        ``(x * 255).round().astype(np.uint8)``) or not frames at all, or a setting of the
        wrong type
    ValueError : arrays without a channel axis of 3 or 4, frames of different sizes, k outside
        1..256, a broken file
    FileNotFoundError : a path that does not exist

    Examples
    --------
    >>> import numpy as np, gifquant
    >>> frames = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    >>> out = gifquant.quantize(frames, k=4)
    >>> out.shape, out.dtype
    ((3, 8, 8, 3), dtype('uint8'))
    >>> max(len(np.unique(f.reshape(-1, 3), axis=0)) for f in out)
    4
    >>> [f.shape for f in gifquant.quantize(iter(frames), k=4)]
    [(8, 8, 3), (8, 8, 3), (8, 8, 3)]
    >>> gifquant.quantize(frames, k=4, durations=0.1, as_animation=True)
    <gifquant.Animation: 3 frames of 8x8, 0.30 s>
    >>> gifquant.quantize(frames.astype(float), k=4)
    Traceback (most recent call last):
    TypeError: frames must be uint8, not float64; convert floats in 0..1 with ...
    """
    opts = dataclasses.replace(QuantizeOptions(k=k, **options), delta=False)  # whole frames
    source = frames_of(frames, bgr)
    total = source.total if isinstance(frames, np.ndarray) else None  # None for a file too
    painted = _progress(_paint(source, opts, _durations(durations, total)), on_progress, total)
    if as_animation:
        with contextlib.closing(source):
            return Animation([frame for frame, _ in painted])
    if total is None:
        return _stream(source, painted, bgr)
    pictures = np.stack([_picture(frame, channels, bgr) for frame, channels in painted])
    return pictures[0] if frames.ndim == 3 else pictures


def _stream(source, painted, bgr: bool) -> Iterator[NDArray[np.uint8]]:
    """The pictures of ``painted`` (made from ``source``), closing ``source`` at the end."""
    with contextlib.closing(source):
        for frame, channels in painted:
            yield _picture(frame, channels, bgr)


def _check_array(a: np.ndarray, name: str) -> np.ndarray:
    if a.dtype != np.uint8:
        hint = (
            "; convert floats in 0..1 with (x * 255).round().astype(np.uint8)"
            if a.dtype.kind == "f"
            else "; convert it with .astype(np.uint8) if its values are 0..255"
        )
        raise TypeError(f"{name} must be uint8, not {a.dtype}{hint}")
    if a.ndim not in (3, 4) or a.shape[-1] not in (3, 4):
        raise ValueError(
            f"{name} must have shape (N, H, W, 3 or 4) or (H, W, 3 or 4), not {a.shape}: "
            "the last axis is the colour channels (grey images: np.stack([g] * 3, -1))"
        )
    if a.shape[-3] == 0 or a.shape[-2] == 0 or (a.ndim == 4 and a.shape[0] == 0):
        raise ValueError(f"{name} is empty: shape {a.shape}")
    return a


def _as_rgba(frame: np.ndarray, bgr: bool) -> tuple[NDArray[np.uint8], int]:
    """(H, W, 4) RGBA for the quantizer, and the caller's channel count."""
    channels = frame.shape[-1]
    rgba = np.empty(frame.shape[:2] + (4,), np.uint8)
    rgba[..., :3] = frame[..., 2::-1] if bgr else frame[..., :3]
    rgba[..., 3] = frame[..., 3] if channels == 4 else 255
    return rgba, channels


def _picture(result: QuantizedFrame, channels: int, bgr: bool) -> NDArray[np.uint8]:
    out = result.rgba if channels == 4 else result.rgb
    if bgr:
        out = out[..., [2, 1, 0, 3][:channels]]
    return np.ascontiguousarray(out)


def _durations(durations, n: int | None) -> Iterator[float]:
    """Each frame's duration: from ``durations`` (a number or one per frame), else None."""
    if durations is None:
        while True:
            yield None
    if isinstance(durations, (int, float, np.number)):
        if not np.isfinite(durations) or durations < 0:
            raise ValueError(f"durations must be seconds >= 0, not {durations}")
        while True:
            yield float(durations)
    listed = [float(d) for d in durations]
    if n is not None and len(listed) != n:
        raise ValueError(f"durations has {len(listed)} values for {n} frames")
    for d in listed:
        if not np.isfinite(d) or d < 0:
            raise ValueError(f"durations must be seconds >= 0, not {d}")
    yield from listed
    while True:  # a stream longer than the list: the last duration
        yield listed[-1] if listed else None


def _paint(source, opts: QuantizeOptions, durations: Iterator[float | None]):
    """(QuantizedFrame, channels) for each (rgba, channels, duration) item of ``source``; a
    duration from ``durations`` wins over the item's own. Denoised as ``convert`` does (a few
    frames behind the source, for the look-ahead)."""
    q = TemporalQuantizer(opts)
    channels_of: deque[int] = deque()

    def frames() -> Iterator[Frame]:
        size = None
        for i, (rgba, channels, own) in enumerate(source):
            if size is None:
                size = rgba.shape[:2]
            elif rgba.shape[:2] != size:
                raise ValueError(
                    f"frame {i} is {rgba.shape[1]}x{rgba.shape[0]}, frame 0 "
                    f"{size[1]}x{size[0]}: all frames must have one size"
                )
            d = next(durations)
            duration = d if d is not None else own if own is not None else DEFAULT_DURATION
            channels_of.append(channels)
            yield Frame(rgba, duration)

    for fr in denoised(frames(), [opts.denoise]):
        fed = fr.to_quantize(opts.denoise)
        still = fr.still(opts.denoise)
        plan = q.plan(None, prepared=with_smooth(frame_colours(fed.rgba, opts), fed, opts))
        yield q.paint(plan, fr.duration, still).frame, channels_of.popleft()


def _progress(items, on_progress, total: int | None = None):
    """``items``, telling ``on_progress`` (when given) of each one done."""
    for done, item in enumerate(items, 1):
        if on_progress is not None:
            on_progress(done, total)
        yield item


class _Source:
    """(rgba, channels, duration) items of frames in memory or in a file, closable; ``total``
    the number of frames when known (an array's, a file's that says)."""

    def __init__(self, items: Iterable, close=None, total: int | None = None) -> None:
        self._items = iter(items)
        self._close = close
        self.total = total

    def __iter__(self):
        return self._items

    def close(self) -> None:
        if self._close is not None:
            self._close()
            self._close = None


def frames_of(frames, bgr: bool = False) -> _Source:
    """(rgba, channels, duration) items of any input ``quantize`` takes, arrays too; closable
    (use ``contextlib.closing``)."""
    if isinstance(frames, np.ndarray):
        array = _check_array(frames, "frames")
        stack = array[None] if array.ndim == 3 else array
        return _Source(((*_as_rgba(f, bgr), None) for f in stack), total=len(stack))
    return _source(frames, bgr)


def _source(frames, bgr: bool) -> _Source:
    if isinstance(frames, Image.Image):
        return _Source(_pil_frames(frames))
    if isinstance(frames, (str, os.PathLike)):
        path = os.fspath(frames)
        if not os.path.exists(path):
            raise InputNotFoundError(f"{path}: no such file")
        return _file_frames(path)
    if isinstance(frames, (bytes, bytearray, memoryview)) or hasattr(frames, "read"):
        made: list[str] = []  # the spool's name, known before it exists
        try:
            name = scratch_path("gifquant-", made)
            with open(name, "wb") as spool:
                if hasattr(frames, "read"):
                    while chunk := frames.read(1 << 20):
                        if not isinstance(chunk, (bytes, bytearray)):
                            raise TypeError("frames: a file object must be opened in binary mode")
                        spool.write(chunk)
                else:
                    spool.write(bytes(frames))
            return _file_frames(name, cleanup=name)  # removes the spool on any exit
        except BaseException:
            remove_all(made)
            raise
    if isinstance(frames, Iterable):
        return _Source(_iterable_frames(frames, bgr))
    raise TypeError(
        "frames must be a uint8 array, an iterable of frames, a PIL image, a path, bytes or "
        f"a binary file object, not {type(frames).__name__}"
    )


def _iterable_frames(frames: Iterable, bgr: bool) -> Iterator:
    for i, frame in enumerate(frames):
        if isinstance(frame, Image.Image):
            yield np.asarray(frame.convert("RGBA")), 4, None
            continue
        if not isinstance(frame, np.ndarray):
            raise TypeError(f"frame {i} must be a uint8 array or PIL image, not {type(frame)}")
        a = _check_array(frame, f"frame {i}")
        if a.ndim != 3:
            raise ValueError(f"frame {i} must have shape (H, W, 3 or 4), not {a.shape}")
        rgba, channels = _as_rgba(a, bgr)
        yield rgba, channels, None


def _pil_frames(im) -> Iterator:
    for frame in ImageSequence.Iterator(im):
        ms = frame.info.get("duration")
        yield np.asarray(frame.convert("RGBA")), 4, (ms / 1000.0 if ms else None)


def _file_frames(path: str, cleanup: str | None = None) -> _Source:
    stack = contextlib.ExitStack()
    if cleanup is not None:
        stack.callback(os.unlink, cleanup)
    try:
        reader = stack.enter_context(open_input(path))
    except BaseException:
        stack.close()
        raise

    def items():
        for fr in reader:
            yield fr.rgba, 4, fr.duration

    return _Source(items(), stack.close, reader.info.n_frames)
