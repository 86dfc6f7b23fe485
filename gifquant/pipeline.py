"""Run a clip through the quantizer: frames in, palette frames out, metrics on the side.

Knows nothing of files or terminals: it takes an iterable of frames and sinks with ``write``;
progress goes to a callback.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from . import compare
from .colour import SPACES
from .frames import Frame, QuantizedFrame
from .kmeans import METRICS
from .metrics import QualityMeter
from .quantize import FrameResult, QuantizeOptions, TemporalQuantizer, as_items, from_items


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


def parse_panels(spec: str, base: QuantizeOptions) -> list[Panel]:
    """Panels from a comma list: ``random``, ``seeded``, ``original``, ``k=N``, ``metric=M``,
    ``space=S`` (each a variation of ``base``). Raises ValueError with a user-facing message."""
    panels = []
    for raw in spec.split(","):
        tok = raw.strip().lower()
        if tok == "random":
            panels.append(Panel("random", dataclasses.replace(base, seeded=False)))
        elif tok == "seeded":
            panels.append(Panel("seeded", dataclasses.replace(base, seeded=True)))
        elif tok == "original":
            panels.append(Panel("original", None))
        elif tok.startswith("k="):
            try:
                k = int(tok[2:])
                opts = dataclasses.replace(base, k=k)
            except ValueError:
                raise ValueError(f"bad panel {raw!r}: k must be a whole number 1..256") from None
            panels.append(Panel(f"k={k}", opts))
        elif tok.startswith("metric="):
            if tok[7:] not in METRICS:
                raise ValueError(f"bad panel {raw!r}: metric is one of {', '.join(METRICS)}")
            panels.append(Panel(tok[7:], dataclasses.replace(base, metric=tok[7:])))
        elif tok.startswith("space="):
            if tok[6:] not in SPACES:
                raise ValueError(f"bad panel {raw!r}: space is one of {', '.join(SPACES)}")
            panels.append(Panel(tok[6:], dataclasses.replace(base, space=tok[6:])))
        else:
            raise ValueError(
                f"bad panel {raw!r}: use random, seeded, original, k=N, metric=M or space=S"
            )
    if len(panels) < 2:
        raise ValueError("a comparison needs at least two panels")
    if sum(p.options is None for p in panels) > 1:
        raise ValueError("only one 'original' panel")
    used = sum(p.options.k for p in panels if p.options is not None)
    spare = 256 - compare.LABEL_COLOURS - 1 - used
    if spare < (16 if any(p.options is None for p in panels) else 0):
        raise ValueError(
            f"the panels' palettes ({used} colours) do not fit one GIF frame of 256 colours"
            + (" with room for the original" if any(p.options is None for p in panels) else "")
            + "; use a smaller -k"
        )
    return panels


def _original_options(panels: list[Panel], base: QuantizeOptions) -> QuantizeOptions:
    used = sum(p.options.k for p in panels if p.options is not None)
    k = 256 - compare.LABEL_COLOURS - 1 - used
    return dataclasses.replace(base, k=min(k, 256), seeded=True)


def run(
    frames: Iterable[Frame],
    sink,
    options: QuantizeOptions,
    *,
    compare_sink=None,
    panels: list[Panel] | None = None,
    on_frame: Callable[[int], None] | None = None,
    measure: bool = True,
) -> RunReport:
    """Quantize ``frames`` into ``sink`` (and the comparison into ``compare_sink``)."""
    report = RunReport()
    start = time.perf_counter()
    main_q = TemporalQuantizer(options)
    panel_qs: list[tuple[Panel, TemporalQuantizer]] = []
    if compare_sink is not None and panels:
        for p in panels:
            opts = p.options if p.options is not None else _original_options(panels, options)
            panel_qs.append((p, TemporalQuantizer(opts)))
            if p.options is not None:
                report.panel_meters[p.label] = QualityMeter()
    for i, fr in enumerate(frames):
        res = main_q.quantize(fr.rgba, fr.duration)
        sink.write(res.frame)
        if res.cut:
            report.cuts.append(i)
        if measure:
            _measure(report.meter, fr, res)
        if panel_qs:
            out: list[QuantizedFrame] = []
            for p, q in panel_qs:
                # The panel matching the main run reuses its result rather than computing it twice.
                r = res if p.options == options else q.quantize(fr.rgba, fr.duration)
                out.append(r.frame)
                if p.label in report.panel_meters and measure:
                    _measure(report.panel_meters[p.label], fr, r)
            compare_sink.write(
                compare.compose(out, [p.label for p, _ in panel_qs], first=report.n_frames == 0)
            )
        report.n_frames += 1
        if on_frame is not None:
            on_frame(i)
    report.seconds = time.perf_counter() - start
    return report


def _measure(meter: QualityMeter, fr: Frame, res: FrameResult) -> None:
    if res.screen_lab is not None and res.source_lab is not None:
        # The quantizer already holds both sides in Lab: no second colour conversion.
        h, w = res.frame.indices.shape
        src = from_items(np.take(as_items(res.source_lab), res.source.inverse)).reshape(h, w, 4)
        meter.update_lab(src, res.screen_lab.reshape(h, w, 4).copy())
        return
    mask = fr.rgba[..., 3] >= 128
    meter.update(fr.rgba[..., :3], res.frame.rgb(), mask)
