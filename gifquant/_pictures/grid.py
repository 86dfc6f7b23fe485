"""``compare``: an animated grid of the source and a product of settings (k, mode, metric,
space), every panel labelled with its setting and what it measured.

Rows are the products of modes, metrics and spaces; columns are the k values, after the source
(shown at the head of every row, drawn once in the palette). The clip is run twice: once to
measure every panel, once to draw the grid with the figures in the labels. All panels share one
GIF palette of 256 entries, so their k values must add up to fewer than about 220.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .._core.colour import SPACES
from .._core.kmeans import METRICS
from .._core.options import DEFAULT_K, QuantizeOptions
from .._core.representative import REPRESENTATIVES
from .._errors import GifquantError, Setting, SettingError
from .._io.budget import DEFAULT_MAX_CLIP_PIXELS, DEFAULT_MAX_PIXELS
from .._io.streams import OutputOptions, check_input, open_input, open_output, output_format
from .._io.timeline import TimelineOptions, apply_timeline
from .._run.once import Stats, _check_output
from .._run.pipeline import Panel, run
from .._run.settings import ReadSettings
from .panels import LABEL_COLOURS, grid_size

MODES = ("random", "seeded")
# The source panel's share of the palette, at least.
SOURCE_COLOURS = 16
DEFAULT_PANEL_WIDTH = 320


@dataclass(frozen=True)
class CompareReport:
    """What ``compare`` wrote: ``frames``, ``seconds``, ``bytes`` of ``path``, and each
    panel's ``Stats`` by its label (``"seeded k=4"``, ...), in grid order."""

    path: str
    frames: int
    seconds: float
    bytes: int | None
    panels: dict[str, Stats]

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{label}</td><td>{s.dE:.2f}</td><td>{s.flicker:.3f}</td>"
            f"<td>{s.incoherence:.4f}</td><td>{s.colours_on_screen}</td></tr>"
            for label, s in self.panels.items()
        )
        table = (
            "<table><tr><th>panel</th><th>dE</th><th>flicker</th><th>incoherence</th>"
            f"<th>colours</th></tr>{rows}</table>"
        )
        if self.path.lower().endswith(".gif") and os.path.isfile(self.path):
            import base64

            with open(self.path, "rb") as f:
                data = base64.b64encode(f.read()).decode()
            return f'<div><img src="data:image/gif;base64,{data}"/>{table}</div>'
        return table


class _Discard:
    def write(self, frame) -> None:
        pass


def compare(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    k: int | Sequence[int] = (DEFAULT_K,),
    modes: Sequence[str] = MODES,
    metrics: Sequence[str] = ("euclidean",),
    spaces: Sequence[str] = ("lab",),
    representatives: Sequence[str] = ("mean",),
    denoise: Sequence[float | str] = (1.0,),
    deband: Sequence[float | str] = (1.0,),
    source: bool = True,
    panel_width: int | None = None,
    format: str | None = None,
    overwrite: bool = True,
    ss: float = 0.0,
    t: float | None = None,
    frames: int | None = None,
    fps: float | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_clip_pixels: int | None = None,
    on_frame: Callable[[int], None] | None = None,
    **options,
) -> CompareReport:
    """Write to ``dst`` a grid comparing settings on ``src``: rows of ``modes`` x ``metrics``
    x ``spaces`` x ``representatives`` x ``denoise`` x ``deband`` strengths ("auto", "off" or
    numbers), columns of ``k`` values after the ``source``; each
    panel labelled with its setting and its measured dE, flicker (``fl``) and colours on
    screen (``c``). Same frame count and timing as the source; a source wider than
    ``panel_width`` (default 320) is scaled down. ``dst``'s format is its extension's (or
    ``format``); an existing ``dst`` is replaced (``overwrite=False``: it is an error), never
    ``src``. Other keywords are ``QuantizeOptions`` fields shared by every panel (e.g.
    ``enhance``, ``min_saturation``).

    Raises GifquantError (a ValueError) for bad settings, inputs or outputs, and
    FileNotFoundError for a missing ``src``.
    """
    src, dst = os.fspath(src), os.fspath(dst)
    check_input(src)
    ks = [k] if isinstance(k, int) else list(k)
    _check_choices("modes", modes, MODES)
    _check_choices("metrics", metrics, METRICS)
    _check_choices("spaces", spaces, SPACES)
    _check_choices("representatives", representatives, REPRESENTATIVES)
    if not ks or any(
        isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 256 for v in ks
    ):
        raise SettingError("{k}: whole numbers 1..256, not {ks}", ks=ks)
    base = QuantizeOptions(**options)
    strengths = []
    for name, given in (("denoise", denoise), ("deband", deband)):
        if isinstance(given, (str, int, float)) or not given:
            raise SettingError("{name}: one or more of auto, off or a strength", name=Setting(name))
        try:
            strengths.append([getattr(dataclasses.replace(base, **{name: v}), name) for v in given])
        except (TypeError, ValueError) as exc:
            raise SettingError("{name}: {exc}", name=Setting(name), exc=exc) from None
    fmt = output_format(dst, format)
    _check_output(src, dst, fmt, overwrite)
    base = dataclasses.replace(base, delta=base.delta and fmt == "gif")
    cells, columns = _cells(base, ks, (modes, metrics, spaces, representatives, *strengths), source)
    used = sum(p.options.k for p in dict.fromkeys(cells) if p.options is not None)
    room = 256 - LABEL_COLOURS - 1 - (SOURCE_COLOURS if source else 0)
    if used > room:
        raise GifquantError(
            f"the grid's panels need {used} colours, and one frame holds {room} besides the "
            "labels" + (" and the source" if source else "") + ": fewer or smaller k values"
        )
    if panel_width is not None and not 16 <= panel_width <= 4096:
        raise SettingError("{panel_width} {value} is outside 16..4096", value=panel_width)
    read = ReadSettings(
        ss=ss, t=t, frames=frames, fps=fps, max_pixels=max_pixels, max_clip_pixels=max_clip_pixels
    )
    panel_width = panel_width or DEFAULT_PANEL_WIDTH
    started = time.perf_counter()
    # Pass 1: measure every panel.
    measured = _run(src, cells, columns, None, None, None, read, panel_width, on_frame)
    stats = {
        label: Stats(m.mean_de, m.flicker, m.incoherence, m.colours_max)
        for label, m in measured.panel_meters.items()
    }
    # Pass 2: draw the grid, its labels saying what pass 1 measured.
    named = {p: dataclasses.replace(p, label=_label(p, stats)) for p in dict.fromkeys(cells)}
    drawn = _run(
        src, [named[p] for p in cells], columns, dst, fmt, "draw", read, panel_width, on_frame
    )
    size = None if dst == "-" or not os.path.isfile(dst) else os.path.getsize(dst)
    return CompareReport(dst, drawn.n_frames, time.perf_counter() - started, size, stats)


def _check_choices(name: str, given: Sequence[str], allowed: Sequence[str]) -> None:
    if isinstance(given, str) or not given or any(g not in allowed for g in given):
        raise SettingError(
            "{name}: one or more of {allowed}", name=Setting(name), allowed=", ".join(allowed)
        )


def _cells(base, ks, axes, source) -> tuple[list[Panel], int]:
    """The grid's panels row by row (a row for each combination of the ``axes``: modes,
    metrics, spaces, representatives, denoise and deband strengths), and its columns."""
    modes, metrics, spaces, representatives, denoise, deband = axes
    original = Panel("source\n", None)  # two lines, as the measured panels
    cells = []
    rows = itertools.product(
        dict.fromkeys(modes), metrics, spaces, representatives, denoise, deband
    )
    for mode, metric, space, representative, dn, db in rows:
        if source:
            cells.append(original)
        for k in ks:
            label = f"{mode} k={k}"
            for name, values, v in (
                ("", metrics, metric),
                ("", spaces, space),
                ("", representatives, representative),
                ("denoise ", denoise, dn),
                ("deband ", deband, db),
            ):
                if len(values) > 1:
                    label += f" {name}{_strength_word(v) if name else v}"
            opts = dataclasses.replace(
                base,
                k=k,
                seeded=mode == "seeded",
                metric=metric,
                space=space,
                representative=representative,
                denoise=dn,
                deband=db,
            )
            cells.append(Panel(label, opts))
    return cells, len(ks) + bool(source)


def _strength_word(v: float) -> str:
    return {0.0: "off", 1.0: "auto"}.get(v, f"{v:g}")


def _label(p: Panel, stats: dict[str, Stats]) -> str:
    s = stats.get(p.label)
    if s is None:
        return p.label
    return f"{p.label}\ndE {s.dE:.1f}  fl {s.flicker:.2f}  {s.colours_on_screen}c"


def _run(src, cells, columns, dst, fmt, draw, read: ReadSettings, panel_width: int, on_frame):
    """One pass over the clip: measure the panels (``draw`` None) or write the grid, each
    panel at most ``panel_width`` wide."""
    with contextlib.ExitStack() as stack:
        budget = read.max_clip_pixels
        reader = stack.enter_context(
            open_input(
                src,
                max_pixels=read.max_pixels,
                max_clip_pixels=DEFAULT_MAX_CLIP_PIXELS if budget is None else budget,
                start=read.ss,
            )
        )
        scale = (panel_width, -2) if reader.info.width > panel_width else None
        timeline = TimelineOptions(
            ss=max(0.0, read.ss - reader.seeked),
            t=read.t,
            frames=read.frames,
            fps=read.fps,
            scale=scale,
        )
        info, clip = apply_timeline(reader, reader.info, timeline)
        sink = _Discard()
        # Checked on the first pass too, before any frame is read: not once it is measured.
        w, h = grid_size(len(cells), columns, info.width, info.height, lines=2)
        if max(w, h) > 16384 or w * h > read.max_pixels:
            raise SettingError(
                "the grid would be {w}x{h}: too large; a smaller {panel_width} or fewer panels "
                "makes it fit",
                w=w,
                h=h,
            )
        if draw:
            grid = dataclasses.replace(info, width=w, height=h)
            sink = stack.enter_context(open_output(dst, fmt, grid, OutputOptions()))
        first = next(p.options for p in cells if p.options is not None)
        report = run(
            clip,
            _Discard(),
            first,
            compare_sink=sink,
            panels=cells,
            on_frame=on_frame,
            measure=not draw,
            columns=columns,
        )
        if report.n_frames == 0:
            raise GifquantError(f"{src}: no frames in the requested range")
    return report
