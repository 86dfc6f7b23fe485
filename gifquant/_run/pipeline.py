"""Run a clip through the quantizer: frames in, palette frames out, metrics on the side.

Knows nothing of files or terminals: it takes an iterable of frames and sinks with ``write``;
progress goes to a callback.
"""

from __future__ import annotations

import contextlib
import dataclasses
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from .._core.colour import SPACES, rgb_to_lab
from .._core.deband import with_smooth
from .._core.denoise import denoised
from .._core.distinct import FrameColours, frame_colours, source_colours
from .._core.frames import Frame
from .._core.kmeans import METRICS, distances
from .._core.metrics import QualityMeter
from .._core.options import QuantizeOptions
from .._core.temporal import FramePlan, FrameResult, TemporalQuantizer
from .._errors import SettingError
from .._pictures import panels as compare


@dataclass(frozen=True)
class Panel:
    """One panel of a comparison: a quantizer setting, or the (reduced) original when None."""

    label: str
    options: QuantizeOptions | None


@dataclass
class RunReport:
    """What a run measured."""

    n_frames: int = 0
    seconds: float = 0.0
    meter: QualityMeter = field(default_factory=QualityMeter)
    panel_meters: dict[str, QualityMeter] = field(default_factory=dict)
    cuts: list[int] = field(default_factory=list)
    frames: list[dict] = field(default_factory=list)  # per-frame records, with ``records``


def parse_panels(spec: str, base: QuantizeOptions) -> list[Panel]:
    """Panels from a comma list: ``random``, ``seeded``, ``original``, ``k=N``, ``metric=M``,
    ``space=S``, ``denoise=D``, ``deband=D`` (each a variation of ``base``). Raises
    ValueError with a user-facing message."""
    panels = [_panel(raw, base) for raw in spec.split(",")]
    if len(panels) < 2:
        raise ValueError("a comparison needs at least two panels")
    originals = sum(p.options is None for p in panels)
    if originals > 1:
        raise ValueError("only one 'original' panel")
    used = sum(p.options.k for p in panels if p.options is not None)
    spare = 256 - compare.LABEL_COLOURS - 1 - used
    if spare < (16 if originals else 0):
        raise SettingError(
            "the panels' palettes ({used} colours) do not fit one GIF frame of 256 colours"
            + (" with room for the original" if originals else "")
            + ("; use a palette of fewer colours" if base.palette else "; use a smaller {k}"),
            used=used,
        )
    return panels


def _panel(raw: str, base: QuantizeOptions) -> Panel:
    """One panel of ``parse_panels``' list: a word, or a setting ``name=value``."""
    tok = raw.strip().lower()
    if tok in ("random", "seeded"):
        return Panel(f"{tok} k={base.k}", dataclasses.replace(base, seeded=tok == "seeded"))
    if tok == "original":
        return Panel("original", None)
    name, eq, value = tok.partition("=")
    make = _PANEL_SETTINGS.get(name) if eq else None
    if make is None:
        raise ValueError(
            f"bad panel {raw!r}: use random, seeded, original, k=N, metric=M, space=S, "
            "denoise=D or deband=D"
        )
    return make(raw, name, value, base)


def _k_panel(raw: str, name: str, value: str, base: QuantizeOptions) -> Panel:
    if base.palette is not None:  # replace() would keep the palette's own k
        raise ValueError(f"bad panel {raw!r}: a fixed palette has its own colours")
    try:
        k = int(value)
        opts = dataclasses.replace(base, k=k)
    except ValueError:
        raise ValueError(f"bad panel {raw!r}: k must be a whole number 1..256") from None
    return Panel(f"k={k}", opts)


def _choice_panel(choices: tuple[str, ...]):
    def make(raw: str, name: str, value: str, base: QuantizeOptions) -> Panel:
        if value not in choices:
            raise ValueError(f"bad panel {raw!r}: {name} is one of {', '.join(choices)}")
        return Panel(f"{value} k={base.k}", dataclasses.replace(base, **{name: value}))

    return make


def _strength_panel(raw: str, name: str, value: str, base: QuantizeOptions) -> Panel:
    try:
        opts = dataclasses.replace(base, **{name: value})
    except ValueError:
        raise ValueError(f"bad panel {raw!r}: {name} is auto, off or a strength") from None
    return Panel(f"{name} {value} k={base.k}", opts)


# The settings a panel may vary, ``name=value``: how each makes its panel.
_PANEL_SETTINGS = {
    "k": _k_panel,
    "metric": _choice_panel(METRICS),
    "space": _choice_panel(SPACES),
    "denoise": _strength_panel,
    "deband": _strength_panel,
}


def _original_options(panels: list[Panel], base: QuantizeOptions) -> QuantizeOptions:
    used = sum(p.options.k for p in panels if p.options is not None)
    k = 256 - compare.LABEL_COLOURS - 1 - used
    # The original as it is: not enhanced, every colour fitted, means, its own colours.
    return dataclasses.replace(
        base,
        k=min(k, 256),
        seeded=True,
        enhance=1.0,
        min_saturation=0.0,
        representative="mean",
        palette=None,
        transfer=None,
        transfer_shares=None,
    )


@dataclass(frozen=True)
class Prepared:
    """A frame and its distinct colours (the reader thread's work)."""

    frame: Frame
    colours: FrameColours


@dataclass(frozen=True)
class Planned:
    """A frame, its distinct colours and its palette (the planner thread's work)."""

    frame: Frame
    colours: FrameColours
    plan: FramePlan


@dataclass(frozen=True)
class Painted:
    """Frame ``index`` quantized: the main result and each comparison panel's (in order)."""

    index: int
    frame: Frame
    result: FrameResult
    panels: list[FrameResult]


class _Stages:
    """The work of a run, stage by stage; ``run`` decides which thread does what."""

    def __init__(
        self, options, sink, compare_sink, panels, measure, on_frame, records, columns=None
    ) -> None:
        self.records = records
        self._last_palette_lab: NDArray | None = None
        self.options = options
        self.sink = sink
        self.compare_sink = compare_sink
        self.measure = measure
        self.on_frame = on_frame
        self.report = RunReport()
        self.quantizer = TemporalQuantizer(options)
        self.panels: list[tuple[Panel, TemporalQuantizer]] = []
        self.cells: list[int] = []  # the grid, row by row: which panel each cell shows
        self.columns = columns
        if compare_sink is not None and panels:
            unique = list(dict.fromkeys(panels))  # a panel in several cells is worked once
            self.cells = [unique.index(p) for p in panels]
            for p in unique:
                opts = p.options if p.options is not None else _original_options(unique, options)
                self.panels.append((p, TemporalQuantizer(opts)))
                if p.options is not None:
                    self.report.panel_meters[p.label] = QualityMeter()
        # The denoising strengths the run and its panels ask for (0: off).
        self.strengths = {options.denoise, *(q.options.denoise for _, q in self.panels)}
        self.serial = False  # frames one at a time, not in threads (``run`` sets it)
        self.denoising = any(s > 0 for s in self.strengths)
        # Whether painting asked for the last painted frame's smooth pixels (``_smooth``).
        self.smooth_asked = True

    def prepare(self, fr: Frame) -> Prepared:
        """Frame-local work, done by the reader thread while the last frame is quantized."""
        fed = fr.to_quantize(self.options.denoise)
        source = source_colours(fed, self.options.alpha_threshold)
        colours = frame_colours(None, self.options, source)
        colours = self._smooth(colours, fed, self.options)
        if fr.fed is not None and not self.panels:
            # Past here the denoised pixels are not looked at, and the source's only by the
            # meter: let them go (4 to 8 bytes a pixel for each frame in flight).
            pixels = fr.rgba if self.measure else _NO_PIXELS
            fr = Frame(pixels, fr.duration, fr.opaque, held=fr.held, still_held=fr.still_held)
        return Prepared(fr, colours)

    def plan(self, item: Prepared) -> Planned:
        """The main run's palette, decided in its own thread while the last frame is painted."""
        fr, fc = item.frame, item.colours
        return Planned(fr, fc, self.quantizer.plan(None, prepared=fc))

    def paint(self, i: int, item: Planned) -> Painted:
        fr, fc = item.frame, item.colours
        still = fr.still(self.options.denoise)
        res = self.quantizer.paint(item.plan, fr.duration, still)
        if fc.smooth is not None:
            self.smooth_asked = fc.smooth.asked
        # The panel matching the main run reuses its result rather than computing it twice.
        others = [
            res if p.options == self.options else self._panel(q, fr, fc) for p, q in self.panels
        ]
        if fr.still_held is not None and not self.panels:
            # Past painting, the still pixels (up to 7 bytes a pixel) are not looked at.
            fr = Frame(fr.pixels, fr.duration, fr.opaque, fr.indexed, fed=fr.fed, held=fr.held)
        return Painted(i, fr, res, others)

    def _panel(self, q: TemporalQuantizer, fr: Frame, fc: FrameColours) -> FrameResult:
        # Panels share the frame's distinct colours; what depends on their options is theirs.
        same = (q.options.alpha_threshold, q.options.denoise) == (
            self.options.alpha_threshold,
            self.options.denoise,
        )
        fed = fr.to_quantize(q.options.denoise)
        source = fc.source if same else source_colours(fed, q.options.alpha_threshold)
        colours = frame_colours(None, q.options, source)
        if same and (q.options.deband > 0) == (self.options.deband > 0):
            colours = dataclasses.replace(colours, smooth=fc.smooth)
        else:
            colours = self._smooth(colours, fed, q.options)
        return q.quantize(None, fr.duration, prepared=colours)

    def _smooth(self, fc: FrameColours, fed: Frame, options: QuantizeOptions) -> FrameColours:
        """``with_smooth``: when are a frame's smooth pixels measured. One frame at a time,
        only if painting asks for them, when the frame is small (its pixels are kept till
        then). In threads, by the reader at once, off the painter's thread, while painting
        asks for them (k=256: nearly every frame); else only if asked, the frame kept as its
        4x smaller copy till then (720p k=16: no frame is, 5 ms a frame spared)."""
        if self.serial:
            h, w = fed.shape
            return with_smooth(fc, fed, options, lazy=h * w < SERIAL_PIXELS)
        return with_smooth(fc, fed, options, lazy=not self.smooth_asked, small=True)

    def write(self, item: Painted) -> None:
        self.sink.write(item.result.frame)
        if self.panels:
            labels = [self.panels[c][0].label for c in self.cells]
            frames = [item.panels[c].frame for c in self.cells]
            self.compare_sink.write(
                compare.compose(frames, labels, first=item.index == 0, columns=self.columns)
            )

    def meter(self, item: Painted) -> None:
        if not self.measure:
            return
        m = self.report.meter
        observed = len(m.frame_incoherence)
        _measure(m, item.frame, item.result, self.options)
        if self.records:
            self.report.frames.append(self._record(item, observed))
        for (p, q), r in zip(self.panels, item.panels, strict=True):
            if p.label in self.report.panel_meters:
                _measure(self.report.panel_meters[p.label], item.frame, r, q.options)

    def _record(self, item: Painted, observed: int) -> dict:
        """The per-frame record of ``--report`` (keys: see the README)."""
        m, out = self.report.meter, item.result.frame
        counts = np.bincount(out.indices.ravel(), minlength=len(out.palette))
        if out.transparent is not None:
            counts[out.transparent] = 0
        order = np.argsort(-counts, kind="stable")
        order = order[counts[order] > 0]
        total = counts.sum()
        lab = rgb_to_lab(out.palette[order])
        drift = None
        if self._last_palette_lab is not None and len(lab) and len(self._last_palette_lab):
            drift = float(
                np.sqrt(distances(lab, self._last_palette_lab, "euclidean").min(1)).mean()
            )
        self._last_palette_lab = lab
        return {
            "index": item.index,
            "dE": m.frame_de[-1],
            "flicker": m.frame_flicker[-1],
            "incoherence": m.frame_incoherence[-1] if len(m.frame_incoherence) > observed else None,
            "ghosts": m.frame_ghosts[-1] if len(m.frame_incoherence) > observed else None,
            "dE_p99": m.frame_p99[-1] if m.frame_p99 else None,
            "colours_on_screen": m.frame_colours[-1] if m.frame_colours else None,
            "palette": [
                {
                    "colour": "#{:02x}{:02x}{:02x}".format(*out.palette[i].tolist()),
                    "share": round(float(counts[i] / total), 6),
                }
                for i in order
            ],
            "drift": drift,
            "cut": bool(item.result.cut),
            "held": (item.frame.held or {}).get(self.options.denoise, 0),
            "unchanged": out.changed is not None and not bool(out.changed.any()),
            "bytes": None,
        }

    def done(self, item: Painted) -> None:
        if item.result.cut:
            self.report.cuts.append(item.index)
        self.report.n_frames += 1
        if self.on_frame is not None:
            self.on_frame(item.index)


def run(
    frames: Iterable[Frame],
    sink,
    options: QuantizeOptions,
    *,
    compare_sink=None,
    panels: list[Panel] | None = None,
    on_frame: Callable[[int], None] | None = None,
    measure: bool = True,
    threads: bool = True,
    records: bool = False,
    columns: int | None = None,
    queue_frames: int = 2,
) -> RunReport:
    """Quantize ``frames`` into ``sink`` (and the comparison into ``compare_sink``).

    With ``threads`` the frames are read one thread ahead and written (encoded, measured) one
    thread behind the quantizer, through short queues: frame order is kept, at most a few frames
    are in flight, and an exception in either thread is raised here. Without, one frame is
    worked on at a time, and its pixels are let go once planned unless measured or compared
    (for frames of ``SERIAL_PIXELS`` or more, where memory matters more than the overlap).
    ``queue_frames``: frames in flight per queue between threads (see ``frames_in_flight``).
    """
    start = time.perf_counter()
    stages = _Stages(
        options, sink, compare_sink, panels, measure, on_frame, records and measure, columns
    )
    if stages.denoising:
        frames = denoised(frames, stages.strengths)
    stages.serial = not threads
    if threads:
        _threaded(frames, stages, queue_frames)
    else:
        _serial(frames, stages)
    stages.report.seconds = time.perf_counter() - start
    return stages.report


def _serial(frames: Iterable[Frame], stages: _Stages) -> None:
    i = -1
    for fr in frames:  # not enumerate(): its reused result tuple would keep the frame
        i += 1
        prepared = stages.prepare(fr)
        if not stages.measure and not stages.panels:
            # Past its distinct colours, nothing reads the frame's pixels: let them go.
            fr = Frame(_NO_PIXELS, fr.duration, fr.opaque, held=fr.held, still_held=fr.still_held)
        planned = stages.quantizer.plan(None, prepared=prepared.colours)
        del prepared
        item = stages.paint(i, Planned(fr, planned.colours, planned))
        del fr, planned
        stages.write(item)
        stages.meter(item)
        stages.done(item)
        del item


def _threaded(frames: Iterable[Frame], stages: _Stages, queue: int) -> None:
    # Stages, each in its own thread: read -> plan -> paint (here) -> write, and -> measure.
    with contextlib.ExitStack() as stack:
        if stages.denoising and queue > 1:
            # Denoising in a thread of its own: with the frame's distinct colours in the same
            # thread it was the slowest stage (720p cockatoo k=16: 4.2 -> 3.9 s). Not where one
            # frame waits per queue: memory, not the overlap, counts there.
            frames = stack.enter_context(_Prefetch(frames, queue, name="gifquant-denoise"))
        reader = stack.enter_context(_Prefetch(frames, queue, stages.prepare))
        planner = stack.enter_context(_Prefetch(reader, queue, stages.plan, name="gifquant-plan"))
        # While the reader thread starts the decoder and prepares the first frame, load what
        # the first fit needs (numpy.random is imported on first use).
        np.random.default_rng(0)
        writer = stack.enter_context(_Drain(stages.write, queue, name="gifquant-write"))
        meters = None
        if stages.measure:
            meters = stack.enter_context(_Drain(stages.meter, queue, name="gifquant-measure"))
        for i, planned in enumerate(planner):
            item = stages.paint(i, planned)
            writer.put(item)
            if meters is not None:
                meters.put(item)
            stages.done(item)


def frames_in_flight(pixels: int) -> int:
    """Frames in flight per queue between threads for frames of ``pixels``: two smooth the
    stages; from a megapixel (over 720p) one, as a frame's state costs more than the overlap
    gains (about 5 bytes a pixel a frame in flight, and eight frames are at two a queue)."""
    return 1 if pixels >= 1 << 20 else 2


# Frames of at least this many pixels (1080p is just under) are best run one at a time, without
# the threads, which keep several frames in flight at their stages: a frame's working set, not
# the stages' overlap, matters then (4 frames of 2000x2000 noise: 643 -> 272 MiB, and faster).
SERIAL_PIXELS = 1 << 21
_NO_PIXELS = np.zeros((0, 0, 4), np.uint8)
# How often a blocked thread looks whether the run was stopped, seconds.
_POLL = 0.1
# How long a stopping run waits for a stage's thread before giving up on it, seconds.
_GIVE_UP = 10.0
_END = object()


class _Prefetch:
    """Iterate ``prepare(frame)`` for ``frames`` in a background thread, ``maxsize`` items ahead;
    re-raise its errors.

    Leaving the context stops the thread after the frame it is reading; the source iterator is
    closed in that thread (a generator must be closed by the thread that runs it).
    """

    def __init__(
        self,
        frames: Iterable,
        maxsize: int,
        prepare: Callable = lambda x: x,
        *,
        name: str = "gifquant-read",
    ) -> None:
        self._frames = frames
        self._prepare = prepare
        # A stage fed by another one stops it too, so that neither waits on the other.
        self._upstream = frames if isinstance(frames, _Prefetch) else None
        self._queue: queue.Queue = queue.Queue(maxsize)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)

    def __enter__(self) -> _Prefetch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._upstream is not None:
            self._upstream._stop.set()
        deadline = time.monotonic() + _GIVE_UP
        while self._thread.is_alive() and time.monotonic() < deadline:
            self._empty()  # unblock a pending put
            self._thread.join(_POLL)

    def _empty(self) -> None:
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def _work(self) -> None:
        it = iter(self._frames)
        try:
            for fr in it:
                if not self._put((self._prepare(fr), None)):
                    return
            self._put((_END, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consuming thread
            self._put((_END, exc))
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    close()

    def __iter__(self) -> Iterator:
        while True:
            try:
                item, exc = self._queue.get(timeout=_POLL)
            except queue.Empty:
                if self._stop.is_set():
                    return  # stopped from downstream: nothing more will come
                continue
            if exc is not None:
                raise exc
            if item is _END:
                return
            yield item


class _Drain:
    """Hand items to ``work`` in a background thread, in order, through a bounded queue.

    ``put`` raises the thread's error once it has failed; leaving the context without an error
    waits for every item to be done and raises the thread's error, if any.
    """

    def __init__(self, work: Callable[[object], None], maxsize: int, *, name: str) -> None:
        self._work_fn = work
        self._queue: queue.Queue = queue.Queue(maxsize)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)

    def __enter__(self) -> _Drain:
        self._thread.start()
        return self

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if self._error is not None:
                continue  # failed: keep draining so the producer never blocks
            try:
                self._work_fn(item)
            except BaseException as exc:  # noqa: BLE001 - handed to the producing thread
                self._error = exc

    def put(self, item: object) -> None:
        self._raise()
        while True:
            try:
                self._queue.put(item, timeout=_POLL)
                return
            except queue.Full:
                self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            # Failing or interrupted: drop what is queued and stop as soon as the current item
            # is done; its outcome no longer matters.
            self._error = self._error or exc
            with contextlib.suppress(queue.Empty):
                while True:
                    self._queue.get_nowait()
        while True:
            try:
                self._queue.put(_END, timeout=_POLL)
                break
            except queue.Full:
                continue
        # Finishing: every item must be written. Failing: a thread stuck in its item (a pipe
        # nobody reads) is given up on; it is a daemon, and its child is killed at exit.
        deadline = None if exc_type is None else time.monotonic() + _GIVE_UP
        while self._thread.is_alive() and (deadline is None or time.monotonic() < deadline):
            self._thread.join(_POLL)
        if exc_type is None:
            self._raise()


def _measure(meter: QualityMeter, fr: Frame, res: FrameResult, options: QuantizeOptions) -> None:
    out = res.frame
    mask = fr.rgba[..., 3] >= 128
    src = res.source
    # Not denoised, or denoised without a pixel held: the quantizer's colours are the source's
    # (``prepare`` lets the denoised pixels go, so ``fed`` cannot tell).
    quantized_as_is = not (fr.held or {}).get(options.denoise)
    if quantized_as_is and options.alpha_threshold == 128 and src.opaque.shape == mask.shape:
        # The quantizer already split the source into distinct colours over the same mask.
        meter.update_indexed(src, out.indices, out.palette)
        meter.observe_indexed(fr.rgba, mask, out.indices, out.palette)
    else:
        meter.update(fr.rgba[..., :3], out.rgb, mask)
