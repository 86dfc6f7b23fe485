"""The palette of an image or a clip: each frame's colours with their shares, and overall.

``palette`` runs the temporal quantizer over the frames (seeded, so a clip's palette holds
still; ``seeded=False`` for the flickering baseline) and counts each entry's pixels. The
overall palette is a k-means of every frame's entries weighted by their pixels, in CIELAB.
``PaletteReport`` writes the forms ``--palette-from`` reads (JSON, GIMP .gpl, hex lines) and
draws the pictures (swatch, timeline, 3-D plots; see ``draw.py``).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .._core.colour import hsv_saturation, lab_to_rgb, rgb_to_lab, to_space
from .._core.kmeans import kmeans
from .._core.options import DEFAULT_K, QuantizeOptions
from .._core.representative import cluster_modes
from .._core.temporal import TemporalQuantizer, neutral_entries
from .._errors import GifquantError, SettingError
from .._io.budget import return_freed_memory
from .._io.timeline import trim
from .._run.arrays import frames_of
from .._run.pipeline import SERIAL_PIXELS
from .draw import PLOT_AXES, scatter3d, swatch, timeline
from .model import Palette, sorted_palette

FORMATS = ("json", "gpl", "hex")


@dataclass(frozen=True)
class PaletteReport:
    """A clip's palettes: one per frame, and ``overall`` for the whole clip.

    frames : list of Palette, one per frame
    overall : Palette of at most k colours
    k, seeded, space : the settings it was made with (``space``: the clustering's, and the
        3-D plot's)
    """

    frames: list[Palette]
    overall: Palette
    k: int
    seeded: bool
    samples: NDArray[np.uint8] | None = None  # (n, 2, 3): a pixel's colour, its entry's
    space: str = "lab"

    def plot3d(self, path: str, kind: str | None = None, space: str | None = None) -> None:
        """Sampled pixels in ``space`` (default the one the palette was made in: CIELAB,
        OkLab or RGB), coloured by their palette entry, the overall palette ringed: ``.html``
        an interactive 3-D scatter (plotly, ``gifquant[plot]``), ``.png`` a 3-D view from the
        front left with the axes' ticks and names (lightness, or B, up)."""
        if self.samples is None or not len(self.samples):
            raise GifquantError("no opaque pixels to plot")
        space = self.space if space is None else space
        if space not in PLOT_AXES:
            raise ValueError(f"space must be one of {', '.join(PLOT_AXES)}, not {space!r}")
        src, ent = self.samples[:, 0], self.samples[:, 1]
        points = plot_coordinates(src, space)
        centres = plot_coordinates(self.overall.colours, space)
        kind = (kind or os.path.splitext(path)[1]).lower()
        if kind == ".png":
            title = f"pixels in {SPACE_NAMES[space]}, coloured by entry; the palette ringed"
            picture = scatter3d(points, ent, centres, self.overall.colours, PLOT_AXES[space], title)
            picture.save(path, "PNG")
        elif kind in (".html", ".htm"):
            _plotly_html(path, points, ent, centres, self.overall, PLOT_AXES[space])
        else:
            raise GifquantError(f"{path}: a 3-D plot is .html (interactive) or .png")

    def to_json(self) -> str:
        """``{"k", "seeded", "overall": [{"colour": "#rrggbb", "share"}], "frames": [...]}``."""
        doc = {
            "k": self.k,
            "seeded": self.seeded,
            "overall": self.overall.records(),
            "frames": [{"index": i, "colours": p.records()} for i, p in enumerate(self.frames)],
        }
        return json.dumps(doc, indent=1) + "\n"

    def to_gpl(self, name: str = "gifquant") -> str:
        """The overall palette as a GIMP palette (``.gpl``), shares in the colour names."""
        lines = ["GIMP Palette", f"Name: {name}", "Columns: 0", "#"]
        for (r, g, b), h, s in zip(
            self.overall.colours.tolist(), self.overall.hex, self.overall.shares, strict=True
        ):
            lines.append(f"{r:3d} {g:3d} {b:3d}\t{h} {100 * s:.2f}%")
        return "\n".join(lines) + "\n"

    def to_hex(self) -> str:
        """The overall palette as ``#rrggbb`` lines, most common first."""
        return "".join(h + "\n" for h in self.overall.hex)

    def text(self, fmt: str) -> str:
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
        return {"json": self.to_json, "gpl": self.to_gpl, "hex": self.to_hex}[fmt]()

    def swatch(self, width: int = 600, height: int = 80):
        """The overall palette as a bar, each colour's segment as wide as its share (PIL)."""
        return swatch(self.overall, width, height)

    def timeline(self, px: int = 4, height: int = 120):
        """Each frame's palette as a column ``px`` wide, stacked by share (PIL image)."""
        return timeline(self.frames, px, height)

    def _repr_html_(self) -> str:
        """In a notebook: the overall palette (swatch, hex codes, shares), then the timeline."""
        import base64
        import io

        buf = io.BytesIO()
        self.timeline().save(buf, "PNG")
        mode = "seeded" if self.seeded else "random"
        return (
            f"<div><div>k={self.k} {mode}, {len(self.frames)} frames; overall:</div>"
            f"{self.overall._repr_html_()}<div>each frame's palette, stacked by share:</div>"
            f'<img src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}"/>'
            "</div>"
        )


def palette(
    frames,
    k: int = DEFAULT_K,
    *,
    seeded: bool = True,
    bgr: bool = False,
    samples: int = 4096,
    on_progress: Callable[[int, int | None], None] | None = None,
    ss: float = 0.0,
    t: float | None = None,
    max_frames: int | None = None,
    **options,
) -> PaletteReport:
    """The palette of ``frames`` (anything ``gifquant.quantize`` takes): each frame's ``k``
    colours with their shares, and the clip's overall palette of ``k`` colours. ``ss``, ``t``
    and ``max_frames`` pick a stretch as ``convert``'s ``ss``, ``t`` and ``frames`` do (from
    ``ss`` seconds on, ``t`` seconds long, at most ``max_frames`` frames; frames without a
    duration count 0.1 s).

    ``options`` are ``QuantizeOptions`` fields: ``min_saturation=0.3`` keeps greys out of the
    fit so the palette holds the salient colours, ``representative="mode"`` makes every colour
    one the clip holds (the overall palette too), ``enhance=1.5`` saturates before clustering.
    ``on_progress(done, total)`` is called after each frame (``total`` None when the input
    does not say).

    Raises the errors ``gifquant.quantize`` raises.

    >>> import numpy as np, gifquant
    >>> two = np.zeros((1, 4, 4, 3), np.uint8); two[0, :, :1] = 255
    >>> gifquant.palette(two, k=2).overall.records()
    [{'colour': '#000000', 'share': 0.75}, {'colour': '#ffffff', 'share': 0.25}]
    """
    opts = QuantizeOptions(k=k, seeded=seeded, delta=False, **options)
    q = TemporalQuantizer(opts)
    per_frame: list[Palette] = []
    rng = np.random.default_rng(0)
    kept: list[NDArray[np.uint8]] = []
    n_kept = 0
    with contextlib.closing(frames_of(frames, bgr)) as source:
        for rgba, duration in _stretch(source, ss, t, max_frames):
            if not per_frame and rgba.shape[0] * rgba.shape[1] >= SERIAL_PIXELS:
                return_freed_memory()  # as convert does for large frames
            out = q.quantize(rgba, duration or 0.1).frame
            counts = np.bincount(out.indices.ravel(), minlength=len(out.palette))
            if out.transparent is not None:
                counts[out.transparent] = 0
            per_frame.append(sorted_palette(out.palette, counts))
            if on_progress is not None:
                on_progress(len(per_frame), source.total)
            if samples:
                pairs = _sample(rgba, out, samples, rng)
                kept.append(pairs)
                n_kept += len(pairs)
                if n_kept > 4 * samples:  # keep memory bounded on long clips
                    both = np.concatenate(kept)
                    kept, n_kept = [both[rng.choice(len(both), samples, replace=False)]], samples
    if not per_frame:
        raise ValueError("frames: no frames")
    picked = None
    if samples:
        both = np.concatenate(kept) if kept else np.zeros((0, 2, 3), np.uint8)
        picked = (
            both[rng.choice(len(both), samples, replace=False)] if len(both) > samples else both
        )
    overall = _overall(
        per_frame, k, mode=opts.representative == "mode", min_saturation=opts.min_saturation
    )
    return PaletteReport(per_frame, overall, k, seeded, picked, opts.space)


@dataclass(frozen=True)
class _Timed:
    rgba: NDArray[np.uint8]
    duration: float


def _stretch(source, ss: float, t: float | None, max_frames: int | None):
    """(rgba, duration) of the frames of ``source`` from ``ss`` seconds on, ``t`` long, at
    most ``max_frames`` of them (``timeline.trim``'s rule)."""
    timed = (_Timed(rgba, duration or 0.1) for rgba, _, duration in source)
    if ss > 0 or t is not None:
        timed = trim(timed, ss, t)
    for item in itertools.islice(timed, max_frames):
        yield item.rgba, item.duration


def _sample(rgba: NDArray[np.uint8], out, n: int, rng) -> NDArray[np.uint8]:
    """Up to ``n`` opaque pixels of a frame: (n, 2, 3), their colour and their entry's."""
    idx = out.indices.ravel()
    where = np.flatnonzero(rgba[..., 3].ravel() >= 128)
    if len(where) > n:
        where = rng.choice(where, n, replace=False)
    src = rgba.reshape(-1, 4)[where, :3]
    return np.stack([src, out.palette[idx[where]]], axis=1).astype(np.uint8)


SPACE_NAMES = {"lab": "CIELAB", "oklab": "OkLab", "rgb": "RGB"}


def plot_coordinates(rgb: NDArray[np.uint8], space: str) -> NDArray[np.float32]:
    """Colours (n, 3) uint8 where the 3-D plots put them, (n, 3): across, into the picture and
    up (a*, b*, L* in CIELAB; OkLab's a, b, L; R, G, B)."""
    v = to_space(rgb, space)
    return v if space == "rgb" else v[:, [1, 2, 0]]


def _plotly_html(path: str, points, colours, centres, overall: Palette, axes) -> None:
    try:
        import plotly.graph_objects as go
    except ImportError:
        raise SettingError(
            "{plot3d} FILE.html needs plotly: pip install 'gifquant[plot]' (or write a .png)"
        ) from None
    css = [f"rgb({r},{g},{b})" for r, g, b in colours.tolist()]
    fig = go.Figure(
        [
            go.Scatter3d(
                x=points[:, 0],
                y=points[:, 1],
                z=points[:, 2],
                mode="markers",
                marker={"size": 2, "color": css},
                name="pixels",
            ),
            go.Scatter3d(
                x=centres[:, 0],
                y=centres[:, 1],
                z=centres[:, 2],
                mode="markers",
                marker={"size": 9, "color": overall.hex, "line": {"width": 2, "color": "black"}},
                name="palette",
                text=overall.hex,
            ),
        ]
    )
    names = ("xaxis", "yaxis", "zaxis")
    fig.update_layout(
        scene={
            name: {"title": a.name, "range": [a.lo, a.hi]}
            for name, a in zip(names, axes, strict=True)
        }
    )
    fig.write_html(path, include_plotlyjs=True, full_html=True)


def _overall(
    frames: list[Palette], k: int, *, mode: bool = False, min_saturation: float = 0.0
) -> Palette:
    """A weighted k-means, in CIELAB, of every frame's colours (weights: their pixels); each
    overall colour is its cluster's mean, or with ``mode`` its most common frame colour (so a
    palette of colours that occur stays one). With ``min_saturation``, the salient colours and
    the neutral ones are clustered apart, into as many entries as a frame gives each, so a
    salient colour of a few pixels is not merged into the grey that covers the clip."""
    colours = np.concatenate([p.colours for p in frames])
    weights = np.concatenate([p.shares for p in frames])
    if len(colours) == 0 or weights.sum() == 0:
        return Palette(np.zeros((0, 3), np.uint8), np.zeros(0))
    distinct, inverse = np.unique(colours, axis=0, return_inverse=True)
    w = np.bincount(inverse.ravel(), weights=weights, minlength=len(distinct))
    keep = w > 0
    distinct, w = distinct[keep], w[keep]
    if len(distinct) <= k:
        return sorted_palette(distinct, w)
    salient = hsv_saturation(distinct) >= min_saturation
    if min_saturation > 0 and salient.any() and not salient.all():
        n_neutral = neutral_entries(k, float(w[~salient].sum() / w.sum()))
        groups = [(salient, k - n_neutral), (~salient, n_neutral)]
    else:
        groups = [(np.ones(len(distinct), bool), k)]
    parts = [_clustered(distinct[g], w[g], n, mode) for g, n in groups]
    return sorted_palette(
        np.concatenate([c for c, _ in parts]), np.concatenate([n for _, n in parts])
    )


def _clustered(
    colours: NDArray[np.uint8], w: NDArray[np.float64], k: int, mode: bool
) -> tuple[NDArray[np.uint8], NDArray[np.float64]]:
    """``colours`` weighted by ``w`` in ``k`` clusters (fewer colours: themselves): each
    cluster's colour and weight."""
    if len(colours) <= k:
        return colours, w
    res = kmeans(rgb_to_lab(colours).astype(np.float64), k, weights=w, rng=0, n_init=3)
    if mode:
        centres, _ = cluster_modes(colours, w, res.labels, len(res.centers))
    else:
        centres = np.clip(np.rint(lab_to_rgb(res.centers)), 0, 255).astype(np.uint8)
    return centres, np.bincount(res.labels, weights=w, minlength=len(centres))
