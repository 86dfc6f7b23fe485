"""Read GIFs and still or animated images (PNG, APNG, JPEG, WebP) through Pillow, frame by frame.

Pillow composites each GIF frame (disposal, offsets, local palettes, interlace, transparency) the
way ffmpeg's decoder does; only the current frame and the canvas are held in memory.
"""

from __future__ import annotations

import contextlib
import io
import os
import struct
import sys
import threading
import warnings
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
from PIL import GifImagePlugin, Image, ImageSequence, UnidentifiedImageError

from .._core.frames import ClipInfo, Frame, IndexedPixels
from .._errors import GifquantError, SettingError
from .budget import check_budget
from .gif.scan import GifLayout, is_gif, scan_gif
from .gif.splice import SplicedReader

# What a broken file makes Pillow raise (struct.error: short reads in its block parsers;
# KeyError: a TIFF page with an unknown compression code).
_DECODE_ERRORS = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    LookupError,
    TypeError,
    ArithmeticError,
    struct.error,
)

# Pillow's bomb guard (Image.MAX_IMAGE_PIXELS) is a setting of the whole process, left as the
# program importing gifquant set it; it is lifted only while we call Pillow with a larger budget
# of our own (--max-pixels, checked on the file's structure before Pillow sees a frame).
_lift_lock = threading.Lock()
_lift_users = 0
_lift_saved: int | None = None


@contextlib.contextmanager
def _pillow_call(max_pixels: int, *, c_stderr: bool = False) -> Iterator[None]:
    """Around each call into Pillow (never across a yield): its warnings are dropped, not
    printed (stderr is one line), and its bomb guard does not refuse what ``max_pixels`` allows.

    c_stderr : also hold back what C libraries write to the stderr file descriptor (libtiff
        prints its decoding errors there); an error raised inside carries their last line
    """
    global _lift_users, _lift_saved
    with _lift_lock:
        limit = Image.MAX_IMAGE_PIXELS
        lifted = bool(_lift_users) or (limit is not None and max_pixels > limit)
        if lifted:
            if not _lift_users:
                _lift_saved = limit
                Image.MAX_IMAGE_PIXELS = None
            _lift_users += 1
    try:
        with warnings.catch_warnings(), _c_stderr_held(c_stderr):
            warnings.simplefilter("ignore")
            yield
    finally:
        if lifted:
            with _lift_lock:
                _lift_users -= 1
                if not _lift_users:
                    Image.MAX_IMAGE_PIXELS = _lift_saved


# GIF frames are read as palette indices (no expansion to colours, and a frame's distinct colours
# come from its index counts) only in a process that is gifquant's own: the command line and its
# batch workers. That takes Pillow's GIF loading strategy, a setting of the whole process, which a
# program importing gifquant may rely on in threads of its own; gifquant's calls set it and put it
# back under one lock.
_own_process = False
_strategy_lock = threading.Lock()


def own_process() -> None:
    """Declare the process gifquant's own (the command line, a batch worker): GIFs whose frames
    all share one transparent index (or none) are then decoded as palette indices."""
    global _own_process
    _own_process = True


@contextlib.contextmanager
def _gif_strategy(indexed: bool | None) -> Iterator[None]:
    """Around a Pillow call on a GIF in our own process (``indexed`` None: not a GIF, or not our
    process): Pillow keeps frames in palette mode while their palette stays the same when
    ``indexed``, and expands them to RGB after the first otherwise (its default)."""
    if indexed is None:
        yield
        return
    wanted = (
        GifImagePlugin.LoadingStrategy.RGB_AFTER_DIFFERENT_PALETTE_ONLY
        if indexed
        else GifImagePlugin.LoadingStrategy.RGB_AFTER_FIRST
    )
    with _strategy_lock:
        saved = GifImagePlugin.LOADING_STRATEGY
        GifImagePlugin.LOADING_STRATEGY = wanted
        try:
            yield
        finally:
            GifImagePlugin.LOADING_STRATEGY = saved


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


@contextlib.contextmanager
def _c_stderr_held(hold: bool) -> Iterator[None]:
    """File descriptor 2 sent to a temporary file while the body runs (when ``hold``); a
    decoding error raised inside gets the file's last line as a note for its message."""
    if not hold:
        yield
        return
    import tempfile  # here: 3 ms of start-up (shutil, random), for the formats that need it

    sys.stderr.flush()
    with tempfile.TemporaryFile() as held:
        saved = os.dup(2)
        os.dup2(held.fileno(), 2)
        try:
            yield
        except _DECODE_ERRORS as exc:
            os.dup2(saved, 2)
            held.seek(0)
            lines = held.read().decode(errors="replace").strip().splitlines()
            if lines and not exc.args[1:]:
                exc.args = (f"{exc.args[0] if exc.args else exc}: {lines[-1].strip()}",)
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _spliced(source: str | BinaryIO, hidden: tuple[tuple, ...]) -> BinaryIO:
    """``source`` without (or with replaced) the byte ranges ``hidden`` (see SplicedReader),
    buffered (Pillow reads byte by byte), or read into memory when small (Pillow seeks at
    every frame, and each seek refills a buffer through Python code)."""
    f = source if not isinstance(source, str) else open(source, "rb")  # noqa: SIM115
    try:
        view = io.BufferedReader(SplicedReader(f, hidden, owns=f is not source), 1 << 16)
    except BaseException:
        if f is not source:
            f.close()
        raise
    size = view.raw.seek(0, os.SEEK_END)
    view.raw.seek(0)
    if size > _SPLICED_IN_MEMORY:
        return view
    with view:
        return io.BytesIO(view.read())


_SPLICED_IN_MEMORY = 16 << 20


# Pillow modes whose pixels are all opaque (a GIF frame decodes as RGB unless it has
# transparency, then as RGBA).
_OPAQUE_MODES = frozenset(("RGB", "L", "1", "CMYK", "YCbCr"))


def _pixels(im: Image.Image) -> tuple[np.ndarray, bool]:
    """A decoded frame's (height, width, 4) uint8 pixels, and whether every one is opaque."""
    if im.mode == "RGB":
        # Pillow holds RGB as 4 bytes a pixel: packed as RGBA it is one copy, not a conversion
        # (5-10x faster). The fourth byte is 255 unless the image was made blank, so it is
        # checked, on whole words, and converted after all when it is not.
        w, h = im.size
        data = np.frombuffer(im.tobytes("raw", "RGBA"), np.uint8)
        words = data.view(np.uint32)
        # Alpha is a word's top byte on a little-endian machine, its low byte otherwise.
        opaque = words >= 0xFF000000 if sys.byteorder == "little" else (words & 0xFF) == 0xFF
        if opaque.all():
            return data.reshape(h, w, 4), True
    # Modes without alpha convert to alpha 255: no pass over it to find out.
    return np.asarray(im.convert("RGBA")), im.mode in _OPAQUE_MODES


def _indexed(im: Image.Image, tables: dict) -> tuple[IndexedPixels, bool]:
    """A palette-mode GIF frame as its indices and each index's RGBA, as Pillow would expand
    them (indices past the palette are black; the transparent one has alpha 0); and whether
    every index is opaque."""
    indices = np.asarray(im)  # decodes the frame
    transparent = im.info.get("transparency")
    key = (im.im.getpalette("RGB", "RGB"), transparent)
    known = tables.get(key)
    if known is None:
        if len(tables) > 64:  # a GIF whose frames keep changing palette: keep a few
            tables.clear()
        rgb = np.frombuffer(key[0], np.uint8).reshape(-1, 3)[:256]
        table = np.zeros((256, 4), np.uint8)
        table[: len(rgb), :3] = rgb
        table[:, 3] = 255
        if isinstance(transparent, int) and 0 <= transparent < 256:
            table[transparent, 3] = 0
        table.flags.writeable = False
        known = tables[key] = (table, bool(table[:, 3].min() == 255))
    return IndexedPixels(indices, known[0]), known[1]


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
        self._layout = layout
        # Palette indices where every frame's indices mean the same colours (see own_process).
        self._strategy = layout.indexable if layout and _own_process else None
        self._tables: dict = {}
        # Pillow reads a view of a GIF without the blocks it misreads (an empty extension makes
        # it swallow the next frame), and, for palette indices, without local colour tables
        # that repeat the global one (Pillow expands every frame after one that has a table of
        # its own); the file itself is not copied.
        self._view: BinaryIO | None = None
        cut = ()
        if layout is not None:
            cut = layout.hidden + (layout.repeated_tables if self._strategy else ())
        if cut:
            try:
                self._view = _spliced(source, tuple(sorted(cut)))
            except OSError as exc:
                raise GifquantError(f"{name}: cannot read: {exc.strerror or exc}") from None
            source = self._view
        try:
            with _pillow_call(max_pixels), _gif_strategy(self._strategy):
                self._im = Image.open(source)
        except UnidentifiedImageError:
            self._close_view()
            raise GifquantError(f"{name}: not an image or video gifquant can read") from None
        except (*_DECODE_ERRORS, Image.DecompressionBombError) as exc:
            self._close_view()
            raise GifquantError(f"{name}: cannot read: {_why(exc)}") from None
        # libtiff prints its errors on stderr itself (Pillow decodes compressed TIFFs with it).
        self._c_stderr = self._im.format == "TIFF"
        try:
            self.info = self._clip_info(layout)
        except BaseException:
            self.close()
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
                with _pillow_call(self._max_pixels):
                    n_frames = int(getattr(self._im, "n_frames", 1))
            except (*_DECODE_ERRORS, Image.DecompressionBombError) as exc:
                raise GifquantError(
                    f"{self._name}: broken or truncated file: {_why(exc)}"
                ) from None
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
        self._close_view()

    def _close_view(self) -> None:
        if self._view is not None:
            self._view.close()

    def __iter__(self) -> Iterator[Frame]:
        n = 0
        total = 0
        frames = ImageSequence.Iterator(self._im)
        # The block scan's count for a GIF, Pillow's own for the others.
        expected = self.info.n_frames
        while True:
            try:
                with (
                    _pillow_call(self._max_pixels, c_stderr=self._c_stderr),
                    _gif_strategy(self._strategy),
                ):
                    im = next(frames, None)
                    if im is None:
                        break
                    # Seeking sized the canvas but decoded nothing yet: the last chance to refuse.
                    w, h = im.size
                    check_budget(
                        self._name, w, h, 1, max_pixels=self._max_pixels, max_clip_pixels=0
                    )
                    total += w * h
                    if self._max_clip_pixels and total > self._max_clip_pixels:
                        raise SettingError(
                            "{name}: over {limit} decoded pixels at frame {n} ({max_clip_pixels}); "
                            "refusing a possible decompression bomb",
                            name=self._name,
                            limit=self._max_clip_pixels,
                            n=n,
                        )
                    indexed = None
                    if self._strategy and im.mode == "P":
                        indexed, opaque = _indexed(im, self._tables)
                        rgba = None
                    else:
                        rgba, opaque = _pixels(im)
                    ms = im.info.get("duration") or 0
            except GifquantError:
                raise
            except (*_DECODE_ERRORS, Image.DecompressionBombError) as exc:
                raise GifquantError(
                    f"{self._name}: broken or truncated file at frame {n}: {_why(exc)}"
                ) from None
            if expected is not None and n >= expected:
                raise GifquantError(_miscount(self._name, expected, f"more than {expected}"))
            shape = (rgba if indexed is None else indexed.indices).shape[:2]
            if shape != (self.info.height, self.info.width):
                # Pillow grows the canvas for frames drawn out of bounds; the logical
                # screen (what ffmpeg and browsers show) is the first frame's size.
                if indexed is not None:
                    rgba, indexed = indexed.rgba(), None
                rgba = _fit(rgba, self.info.height, self.info.width)
                opaque = False  # the canvas around it is transparent
            n += 1
            # Handed over, not kept: no reference stays here while the frame is worked on.
            out = [Frame(rgba, float(ms) / 1000.0, opaque, indexed)]
            del rgba, indexed
            yield out.pop()
        if n == 0:
            raise GifquantError(f"{self._name}: no frames")
        if expected is not None and n != expected:
            # Never a clip silently shorter than the file: refused, and nothing is written.
            raise GifquantError(_miscount(self._name, expected, str(n)))


def _why(exc: BaseException) -> str:
    """What a decoding error says, in a few words."""
    if isinstance(exc, KeyError):
        return f"unknown value {exc}"
    return str(exc) or type(exc).__name__


def _miscount(name: str, expected: int, got: str) -> str:
    return (
        f"{name}: the file holds {expected} frames but the decoder read {got}; "
        "refusing rather than write a different clip"
    )


def _check_layout(name: str, layout: GifLayout, *, max_pixels: int, max_clip_pixels: int) -> None:
    if layout.width == 0 or layout.height == 0:
        raise GifquantError(f"{name}: zero-size image ({layout.width}x{layout.height})")
    if layout.zero_size_frame is not None:
        raise GifquantError(f"{name}: frame {layout.zero_size_frame} has zero width or height")
    if max(layout.canvas_width, layout.canvas_height) > 0xFFFF:
        # A frame placed near x or y = 65535 reaches past what a GIF canvas can be.
        raise GifquantError(
            f"{name}: a frame reaches past the largest GIF canvas (65535 pixels): "
            f"{layout.canvas_width}x{layout.canvas_height}"
        )
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
