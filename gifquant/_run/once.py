"""Convert a file: what the command line does, as one call (the CLI parses, calls this, prints).

``convert`` assembles a run: it checks the paths, opens the input (a seeking video reader
skips the start itself), applies the pixel budgets and the timeline, opens the outputs (the
comparison canvas sized for its panels), runs the pipeline and says what it measured. It never
prints; notes for the user come back in the report.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageSequence

from .._core.denoise import MAX_PIXELS as DENOISE_MAX_PIXELS
from .._core.frames import Frame
from .._core.metrics import QualityMeter
from .._core.options import QuantizeOptions
from .._errors import GifquantError, SettingError
from .._io.atomic import committed_together, is_special, written_at
from .._io.budget import (
    DEFAULT_MAX_CLIP_PIXELS,
    KEEP_PIXELS,
    keep_freed_memory,
    limit_clip,
    return_freed_memory,
)
from .._io.gif.blocks import frame_sizes
from .._io.image import ImageReader
from .._io.matte import OPAQUE_FORMATS, apply_matte
from .._io.prestart import EarlyStart
from .._io.streams import (
    OutputOptions,
    check_paths,
    inside,
    open_input,
    open_output,
    output_format,
    same_file,
)
from .._io.timeline import apply_timeline
from .pipeline import SERIAL_PIXELS, frames_in_flight, parse_panels, run
from .settings import ReadSettings, Settings, WriteSettings


@dataclass(frozen=True)
class Stats:
    """How an output compares with its source (see the README's definitions).

    dE : mean CIE76 colour error; flicker : mean dE change between frames where the source is
    still; incoherence : share of unchanged source pixels shown unlike their colour's others
    (over 2.3 dE), ghosts : the same over 4.6 dE; colours_on_screen : the most distinct colours
    shown in any frame; dE_p99 : the mean of the frames' 99th percentile of per-pixel dE;
    banding : the share of the source's smooth areas where the output shows an edge
    """

    dE: float
    flicker: float
    incoherence: float
    colours_on_screen: int
    ghosts: float = 0.0
    dE_p99: float = 0.0
    banding: float = 0.0


@dataclass(frozen=True)
class ConvertReport:
    """What ``convert`` did.

    frames : frames written; seconds : wall time of the whole run; bytes : size of the output
    (a folder's PNG files summed; None for stdout, a device or a FIFO)
    dE, flicker, incoherence, colours_on_screen, ghosts, dE_p99, banding : the output against
        its source, measured with ``stats=True`` (None otherwise; see ``Stats``)
    cuts : frames detected as scene cuts
    panels : each comparison panel's ``Stats`` by label (with ``stats=True`` and ``compare``)
    notes : advice for the user (e.g. a frame rate browsers slow down, a large output)
    chosen : with ``max_size``, the settings the size search chose (else None)
    """

    frames: int
    seconds: float
    bytes: int | None
    dE: float | None = None
    flicker: float | None = None
    incoherence: float | None = None
    colours_on_screen: int | None = None
    ghosts: float | None = None
    dE_p99: float | None = None
    banding: float | None = None
    cuts: tuple[int, ...] = ()
    panels: dict[str, Stats] = dataclasses.field(default_factory=dict)
    notes: tuple[str, ...] = ()
    frame_records: tuple[dict, ...] = ()
    settings: dict = dataclasses.field(default_factory=dict)
    chosen: SizeChoice | None = None

    def to_json(self) -> str:
        """``{"settings", "frames", "summary"}``, the ``--report`` file (keys in the README):
        ``frame_records`` are filled by ``convert(..., records=True)``."""
        import json  # here: json and html (below) were 3 ms of every run's start-up

        summary = {
            "frames": self.frames,
            "seconds": round(self.seconds, 3),
            "bytes": self.bytes,
            "dE": self.dE,
            "flicker": self.flicker,
            "incoherence": self.incoherence,
            "colours_on_screen": self.colours_on_screen,
            "ghosts": self.ghosts,
            "dE_p99": self.dE_p99,
            "banding": self.banding,
            "cuts": list(self.cuts),
        }
        doc = {"settings": self.settings, "frames": list(self.frame_records), "summary": summary}
        return json.dumps(doc, indent=1) + "\n"

    def _repr_html_(self) -> str:
        """In a notebook: the figures as a small table (the measures with ``stats=True``, the
        size search's choice, the comparison panels), and the notes."""
        import html  # here, not at the top: see to_json

        fps = f" ({self.frames / self.seconds:.1f} fps)" if self.seconds else ""
        size = "stdout" if self.bytes is None else f"{self.bytes:,} bytes"
        rows = [("frames", f"{self.frames}"), ("time", f"{self.seconds:.2f} s{fps}")]
        rows.append(("output", size))
        if self.dE is not None:
            rows.append(("measured", _stats_text(self)))
        if self.cuts:
            rows.append(("scene cuts", f"{len(self.cuts)}: " + ", ".join(map(str, self.cuts[:10]))))
        if self.chosen is not None:
            c = self.chosen
            rate = "" if c.fps is None else f", {c.fps:g} fps"
            rows.append(("chosen", f"k={c.k}, lossy {c.lossy}, {c.width}x{c.height}{rate}"))
        rows += [(f"panel {label}", _stats_text(st)) for label, st in self.panels.items()]
        rows += [("note", note) for note in self.notes]
        cells = "".join(
            f'<tr><th style="text-align:left">{html.escape(name)}</th>'
            f'<td style="text-align:left">{html.escape(value)}</td></tr>'
            for name, value in rows
        )
        return f"<table><caption>gifquant.ConvertReport</caption>{cells}</table>"


def _stats_text(st: Stats | ConvertReport) -> str:
    return (
        f"dE {st.dE:.2f} (p99 {st.dE_p99:.2f}), flicker {st.flicker:.4f}, incoherence "
        f"{st.incoherence:.4f}, ghosts {st.ghosts:.4f}, banding {st.banding:.4f}, "
        f"{st.colours_on_screen} colours on screen"
    )


@dataclass(frozen=True)
class SizeChoice:
    """The settings ``max_size`` chose, and what the probe predicted for them.

    k, lossy : palette entries and gifsicle lossy level; width, height : the output's size;
    fps : the frame rate resampled to (None: the source's timing); predicted : bytes the probe
    predicted for the whole clip; probes : candidate settings probed
    """

    k: int
    lossy: int
    width: int
    height: int
    fps: float | None
    predicted: int
    probes: int


@dataclass(frozen=True)
class Progress:
    """What a run tells its caller while it goes (each None: not told).

    on_progress : called with (frames done, frames in all) after each frame is quantized;
        the total is None when the input does not say (a pipe, some videos)
    on_frame : called with each frame's index once it is quantized
    on_note : called with a note as soon as it is known (a GIF predicted to be very large, from
        its first frames); every note is also in the report
    on_palette_progress : as ``on_progress``, while another clip is read for its palette
        (``transfer``, ``palette_from``)
    """

    on_progress: Callable[[int, int | None], None] | None = None
    on_frame: Callable[[int], None] | None = None
    on_note: Callable[[str], None] | None = None
    on_palette_progress: Callable[[int, int | None], None] | None = None

    def step(
        self, total: int | None, predictor: _Predictor | None = None
    ) -> Callable[[int], None] | None:
        """The pipeline's callback after each frame of ``total``: ``on_progress``, then the
        size ``predictor``'s look at the frames written, then ``on_frame``."""
        step = self.on_frame
        if predictor is not None:
            step = predictor.wrap(step)
        if self.on_progress is not None:
            step = _reporting(step, self.on_progress, total)
        return step


def one_pass(
    src: str,
    dst: str,
    settings: Settings,
    progress: Progress | None = None,
    *,
    early: EarlyStart | None = None,
) -> ConvertReport:
    """Convert ``src`` into ``dst`` once, with ``settings`` as they are (their size target is
    not this function's: the size search runs this once for each setting it probes). ``src``
    is a checked input; ``progress`` and errors as ``convert``'s; ``early`` is what the command
    started while importing (``_io.prestart.EarlyStart``), for the reader and writer to take.
    """
    started = time.perf_counter()  # the whole run: another clip read for its palette too
    progress = progress or Progress()
    write = settings.write
    fmt = output_format(dst, write.format)
    _check_output(src, dst, fmt, write.overwrite)
    quant = _read_palettes_into(settings, progress.on_palette_progress)
    if write.lossy and fmt != "gif":
        raise SettingError("{lossy} is for GIF output (this output is {fmt})", fmt=fmt)
    panel_list, compare_fmt = _panels(src, dst, fmt, write, quant)
    quant = dataclasses.replace(quant, delta=quant.delta and fmt == "gif")

    with contextlib.ExitStack() as stack:
        stack.enter_context(committed_together())  # the output and the comparison, or neither
        info, clip = _open_clip(stack, src, fmt, settings, quant.alpha_threshold, early)
        notes = _clip_notes(info, fmt, quant)
        sink = stack.enter_context(open_output(dst, fmt, info, write.output, early=early))
        compare_sink = _open_comparison(stack, write, panel_list, compare_fmt, info)
        predictor = None
        if fmt == "gif" and info.n_frames and hasattr(sink, "frame_bytes"):
            predictor = _Predictor(sink, info.n_frames, fmt, quant.k, write.lossy, progress.on_note)
        large = info.width * info.height >= SERIAL_PIXELS
        if large:
            return_freed_memory()
        elif info.width * info.height >= KEEP_PIXELS:
            keep_freed_memory()
        report = run(
            clip,
            sink,
            quant,
            compare_sink=compare_sink,
            panels=panel_list,
            on_frame=progress.step(info.n_frames, predictor),
            measure=write.stats or write.records,
            records=write.records,
            # Large frames one at a time: memory, not speed, is the limit.
            threads=not large if write.threads is None else write.threads and not large,
            queue_frames=frames_in_flight(info.width * info.height),
        )
        if report.n_frames == 0:  # raised inside the block, so no output file is left
            raise _no_frames(src, settings.read)
    # The whole run: reading other palettes to the encoder's last byte (ffmpeg finishing a webm).
    seconds = time.perf_counter() - started
    predicted = None if predictor is None else predictor.note
    return _report(src, dst, fmt, settings, quant, report, sink, seconds, notes, predicted)


def _clip_notes(info, fmt: str, quant: QuantizeOptions) -> list[str]:
    """Notes on the clip as it is opened: frames too large to denoise, a rate browsers slow."""
    notes = []
    if quant.denoise > 0 and info.width * info.height >= DENOISE_MAX_PIXELS:
        notes.append(
            f"frames of {info.width}x{info.height} are not denoised (over "
            f"{DENOISE_MAX_PIXELS} pixels, where it would break the memory promise)"
        )
    if fmt == "gif" and info.fps and info.fps > 50:
        notes.append(
            f"{info.fps:g} fps needs GIF delays under 2 cs, which browsers slow down to "
            "10 cs; --fps 25 plays at the right speed"
        )
    return notes


def _open_comparison(stack, write: WriteSettings, panel_list, compare_fmt, info):
    """The comparison's sink opened on ``stack``, sized for its panels (None without one)."""
    if panel_list is None:
        return None
    from .._pictures.panels import grid_size  # see _panels

    n = len(panel_list)
    width, height = grid_size(n, n, info.width, info.height)  # one row
    grid = dataclasses.replace(info, width=width, height=height)
    options = OutputOptions(matte=write.matte)
    return stack.enter_context(open_output(write.compare, compare_fmt, grid, options))


def _no_frames(src: str, read: ReadSettings) -> SettingError:
    return SettingError(
        "{src}: no frames in the requested range ({ss} {start:g}"
        + (" {t} {length:g})" if read.t is not None else ")"),
        src=src,
        start=read.ss,
        length=read.t,
    )


def _read_palettes_into(settings: Settings, on_progress=None) -> QuantizeOptions:
    """The quantizer's settings with the palettes of other files read into them."""
    settings = read_palettes(settings, on_progress)
    quant, target = settings.quantize, settings.transfer
    if target is not None:
        quant = dataclasses.replace(quant, transfer=target.colours, transfer_shares=target.shares)
    return quant


def read_palettes(
    settings: Settings, on_progress: Callable[[int, int | None], None] | None = None
) -> Settings:
    """``settings`` with ``palette_from`` read into the quantizer's fixed palette, and
    ``transfer`` (a path, a ``Palette`` or colours) read into a ``Palette``: what a batch or
    the size search does once, for all its runs. ``on_progress(done, total)`` is told of each
    frame of another clip read for its palette."""
    quant, transfer = settings.quantize, settings.transfer
    if settings.palette_from is None and transfer is None:
        return settings
    # Imported here: palette files and pictures (with the k-means of a palette's own) are
    # 9 ms of the start-up of a run that reads no other palette.
    from .._pictures.files import load_palette

    if settings.palette_from is not None:
        colours = load_palette(
            settings.palette_from, quant.k, option="palette_from", on_progress=on_progress
        ).colours
        quant = dataclasses.replace(quant, palette=colours)
    if transfer is not None:
        transfer = load_palette(
            transfer, quant.transfer_colours, option="transfer", on_progress=on_progress
        )
    return dataclasses.replace(settings, quantize=quant, palette_from=None, transfer=transfer)


def _panels(
    src: str, dst: str, fmt: str, write: WriteSettings, quant: QuantizeOptions
) -> tuple[list | None, str | None]:
    """The comparison's panels and format (None, None without one), its path checked."""
    compare = write.compare
    if compare is None:
        return None, None
    if compare == "-" or same_file(compare, dst):
        raise SettingError("{compare} needs its own file path, not the output's")
    compare_fmt = output_format(compare, None, option="compare")
    if (fmt == "png" and inside(compare, dst)) or (compare_fmt == "png" and inside(dst, compare)):
        raise SettingError("{compare} and the output cannot be one inside the other")
    _check_output(src, compare, compare_fmt, write.overwrite)
    # Only GIF output draws what changed over what is on screen.
    panel_options = dataclasses.replace(quant, delta=quant.delta and compare_fmt == "gif")
    spec = "random,seeded" if write.panels is None else write.panels
    try:
        return parse_panels(spec, panel_options), compare_fmt
    except ValueError as exc:
        raise SettingError("{panels}: {exc}", exc=exc) from None


def _open_clip(stack, src: str, fmt: str, settings: Settings, alpha_threshold: int, early):
    """The input opened on ``stack``, composited over the matte, trimmed, resampled and scaled:
    (the output's ClipInfo, its frames)."""
    read, write = settings.read, settings.write
    budget = DEFAULT_MAX_CLIP_PIXELS if read.max_clip_pixels is None else read.max_clip_pixels
    reader = stack.enter_context(
        open_input(
            src,
            max_pixels=read.max_pixels,
            max_clip_pixels=budget,
            start=read.ss,
            early=early,
        )
    )
    timeline = dataclasses.replace(read.timeline, ss=max(0.0, read.ss - reader.seeked))
    # An image reader keeps to its clip budget itself (before decoding each frame); for
    # video and y4m, whose length is their own, there is none unless asked for.
    decoded = reader
    if not isinstance(reader, ImageReader) and read.max_clip_pixels:
        decoded = limit_clip(reader, name=src, max_clip_pixels=read.max_clip_pixels)
    # Compositing comes before scaling: an edge blends into the matte, not into black.
    opaque_out = fmt in OPAQUE_FORMATS
    decoded = apply_matte(decoded, write.matte, None if opaque_out else alpha_threshold)
    info, clip = apply_timeline(decoded, reader.info, timeline)
    if write.loop is not None:
        info = dataclasses.replace(info, loop=None if write.loop == -1 else write.loop)
    if opaque_out:
        info = dataclasses.replace(info, transparency=False)
    if info.width * info.height > read.max_pixels:
        raise SettingError(
            "{scale}: {w}x{h} is over the limit of {n} pixels per frame ({max_pixels})",
            w=info.width,
            h=info.height,
            n=read.max_pixels,
        )
    return info, clip


def _report(src, dst, fmt, settings: Settings, quant, report, sink, seconds, notes, predicted):
    """The ConvertReport of a finished run: what it measured (the file itself after a lossy
    step), its notes (``predicted``: the large-output note said while it ran) and settings."""
    write = settings.write
    measure = write.stats or write.records
    frame_bytes = _frame_bytes(dst, sink, write.lossy and write.records)
    written = report.n_frames if frame_bytes is None else len(frame_bytes)
    if write.records and frame_bytes is not None:
        _add_bytes(report.frames, frame_bytes, merged=write.merge_duplicates)
    measured = {}
    if measure:
        m = report.meter
        if write.lossy:  # the grain comes after the quantizer: measure the file itself
            m = _measure_file(src, dst, settings.read, write.matte, quant)
            if m is None:
                notes.append("--stats with --lossy to a stream: measured before the lossy step")
                m = report.meter
        measured = dataclasses.asdict(_stats(m))
    panel_stats = {
        label: _stats(m) for label, m in (report.panel_meters.items() if measure else ())
    }
    size = _size(dst)
    if predicted is not None:
        notes.append(predicted)
    elif size is not None and size > LARGE_OUTPUT:
        notes.append(_large_note(size, fmt, quant.k, write.lossy))
    return ConvertReport(
        frames=written,
        seconds=seconds,
        bytes=size,
        cuts=tuple(report.cuts),
        panels=panel_stats,
        notes=tuple(notes),
        frame_records=tuple(report.frames),
        settings={
            "input": src,
            "output": dst,
            "format": fmt,
            **{f.name: getattr(quant, f.name) for f in dataclasses.fields(quant)},
        },
        **measured,
    )


def _frame_bytes(dst: str, sink, lossy: bool) -> list[int] | None:
    """Bytes of each frame of a GIF as written: by the writer, or after ``lossy``, of the
    file itself (None for other formats, and a lossy stream)."""
    frame_bytes = getattr(sink, "frame_bytes", None)
    if frame_bytes is None or not lossy:
        return frame_bytes
    if dst == "-" or is_special(dst):
        return None
    with open(written_at(dst), "rb") as f:
        return frame_sizes(f)


def _add_bytes(records: list[dict], frame_bytes: list[int], *, merged: bool) -> None:
    """Each record's ``bytes``; with ``merged`` (merge_duplicates), a frame that changed
    nothing after the first was folded into the frame before: 0 bytes, ``merged`` true."""
    sizes = iter(frame_bytes)
    for i, record in enumerate(records):
        folded = merged and i > 0 and record["unchanged"]
        if merged:
            record["merged"] = folded
        record["bytes"] = 0 if folded else next(sizes, None)


def _stats(m: QualityMeter) -> Stats:
    return Stats(m.mean_de, m.flicker, m.incoherence, m.colours_max, m.ghosts, m.de_p99, m.banding)


# Outputs above this get a note with the options that would shrink them.
LARGE_OUTPUT = 50 << 20


class _Predictor:
    """Predicts a GIF's size from its first written frames; says so (``on_note``) when it
    will be very large, while the run goes on."""

    def __init__(self, sink, n_frames: int, fmt: str, k: int, lossy, on_note) -> None:
        self._sink, self._n, self._fmt, self._k, self._lossy = sink, n_frames, fmt, k, lossy
        self._on_note = on_note
        self._decided = False
        self.note: str | None = None

    def wrap(self, step: Callable[[int], None] | None) -> Callable[[int], None]:
        def wrapped(i: int) -> None:
            if not self._decided:
                self._look()
            if step is not None:
                step(i)

        return wrapped

    def _look(self) -> None:
        written = self._sink.frame_bytes
        # Enough frames to go by: a tenth of the clip, at least 8 (or all of a short one).
        if len(written) < min(self._n, max(8, self._n // 10)):
            return
        self._decided = True
        predicted = int(sum(written) / len(written) * self._n)
        if predicted > LARGE_OUTPUT:
            self.note = _large_note(predicted, self._fmt, self._k, self._lossy, predicted=True)
            if self._on_note is not None:
                self._on_note(self.note)


def _large_note(size: int, fmt: str, k: int, lossy: int, *, predicted: bool = False) -> str:
    ways = ["--max-size 10M", "--scale 480:-1", "--fps 12"]
    if fmt == "gif":
        if not lossy:
            ways.append("--lossy 40")
        if k > 32:
            ways.append("-k 32")
    what = (
        f"will be about {size / (1 << 20):.0f} MiB"
        if predicted
        else (f"is {size / (1 << 20):.0f} MiB")
    )
    return f"the output {what}; {', '.join(ways)} would make it smaller"


def _measure_file(
    src: str, dst: str, read: ReadSettings, matte: tuple[int, int, int], quant: QuantizeOptions
):
    """A QualityMeter of the GIF file ``dst`` against a second read of the source (None when
    either cannot be read again: stdin, stdout, a pipe or device)."""
    if src == "-" or dst == "-" or not os.path.isfile(src) or is_special(dst):
        return None
    budget = DEFAULT_MAX_CLIP_PIXELS if read.max_clip_pixels is None else read.max_clip_pixels
    with open_input(src, max_pixels=read.max_pixels, max_clip_pixels=budget, start=read.ss) as r:
        tl = dataclasses.replace(read.timeline, ss=max(0.0, read.ss - r.seeked))
        _, clip = apply_timeline(apply_matte(r, matte, quant.alpha_threshold), r.info, tl)
        return measure_gif(clip, written_at(dst))


def _check_output(src: str, dst: str, fmt: str, overwrite: bool) -> None:
    check_paths(src, dst, fmt)  # the input, a folder, a missing or read-only folder
    if dst != "-" and os.path.lexists(dst) and not overwrite and not is_special(dst):
        raise GifquantError(f"{dst}: already exists (overwrite=True replaces it)")


def _reporting(
    on_frame: Callable[[int], None] | None,
    on_progress: Callable[[int, int | None], None],
    total: int | None,
) -> Callable[[int], None]:
    """``on_frame``, and ``on_progress`` told of each frame done (``total``: None when the
    input does not say how many frames it holds)."""
    done = 0

    def step(i: int) -> None:
        nonlocal done
        done += 1
        on_progress(done, total)
        if on_frame is not None:
            on_frame(i)

    return step


def _size(path: str) -> int | None:
    """Bytes of a written output: a file's size, a folder's files summed; None for a stream."""
    if path == "-" or is_special(path):
        return None
    path = written_at(path)  # not yet in place when its caller commits outputs together
    if os.path.isdir(path):
        return sum(e.stat().st_size for e in os.scandir(path) if e.is_file())
    return os.path.getsize(path)


def decode_gif(path: str) -> Iterator[np.ndarray]:
    """The frames a GIF shows, (height, width, 4) uint8, composited as browsers do."""
    with Image.open(path) as im:
        for fr in ImageSequence.Iterator(im):
            yield np.asarray(fr.convert("RGBA"))


def measure_gif(source: Iterable[Frame], path: str):
    """A QualityMeter of the GIF at ``path`` against ``source`` frames (same timeline)."""
    meter = QualityMeter()
    for src, out in zip(source, decode_gif(path), strict=False):
        if src.rgba.shape[:2] != out.shape[:2]:
            raise GifquantError(f"{path}: frame size differs from the source's")
        meter.update(src.rgba[..., :3], out[..., :3], src.rgba[..., 3] >= 128)
    return meter
