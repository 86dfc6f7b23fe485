"""``--max-size``: the settings that keep the most quality under a size target, and the
measuring of a finished GIF (for ``--lossy``, whose grain appears after the quantizer).

The search runs short probes of the clip's start (``PROBE_FRAMES`` frames at the full rate, the
same stretch of time at a lower one) and predicts the whole clip's size from each: the probe's
first frame once, its later frames' mean size for every later frame. Each probe is judged as a
viewer sees it (``seen_score``: decoded, enlarged to the full size, matched by time with the
source's frames), so settings of different sizes and rates compare. Tiers of size and rate are
searched from the full ones down while the best score improves. The winner is written to a
temporary file beside the output and renamed into place only when it is under the target; over
it, the prediction's error is learnt and the search runs again.
"""

from __future__ import annotations

import dataclasses
import io
import os
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageSequence

from .._core.frames import Frame
from .._core.metrics import QualityMeter
from .._errors import GifquantError, SettingError
from .._io.atomic import (
    atomic_path,
    committed_together,
    is_special,
    scratch_folder,
    written_at,
)
from .._io.gif.blocks import IMAGE, Truncated, blocks, read_header
from .._io.gif.gifsicle import find_gifsicle
from .._io.matte import apply_matte
from .._io.resize import resize_rgba
from .._io.streams import open_input, output_format
from .._io.timeline import apply_timeline
from .once import ConvertReport, Progress, SizeChoice, _check_output, one_pass
from .settings import Settings

K_LADDER = (256, 128, 64, 32, 16, 8, 4)
LOSSY_LADDER = (0, 20, 40, 80)
# (share of the width and height, frame-rate cap), tried in order while nothing fits.
TIERS = ((1.0, None), (1.0, 15.0), (0.75, 15.0), (0.5, 12.0), (0.35, 10.0), (0.25, 8.0))
# Dimensions under this share of the full ones only when nothing larger fits: dE at the full size
# favours blur over banding, and would pick 112x84 of a 320x240 clip at 300K.
FLOOR_SHARE = 0.5
PROBE_FRAMES = 12
FLICKER_WEIGHT = 2.0
MARGIN = 0.97  # aim a little under the target: the prediction is an estimate
FINAL_ATTEMPTS = 4  # full runs that may come out over the target


def human(n: float) -> str:
    """``n`` bytes as K, M or G with powers of 1024, as ``--max-size`` reads them."""
    for unit, size in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return f"{int(n)} B"


def frame_ends(data: bytes) -> list[int]:
    """Byte offsets where each image of a GIF ends (after its last LZW sub-block); the images
    complete before a cut, for a GIF cut short."""
    f = io.BytesIO(data)
    ends: list[int] = []
    try:
        read_header(f)
        for block in blocks(f):
            if block.kind == IMAGE:
                ends.append(block)
    except Truncated:
        pass
    return [b.end for b in ends if b.end is not None]


def predict_size(data: bytes, frames: int, total: int | None) -> int:
    """The size of a GIF of ``total`` frames from one of its first ``frames`` (``data``)."""
    if total is None or total <= frames or frames < 2:
        return len(data) if total is None or frames >= total else len(data) * total // frames
    ends = frame_ends(data)
    first = ends[0] if ends else len(data) // frames
    return int(first + (len(data) - first) * (total - 1) / (frames - 1))


@dataclass(frozen=True)
class _Probe:
    k: int
    lossy: int
    scale: tuple[int, int] | None
    fps: float | None
    width: int
    height: int
    predicted: int
    score: float


class _Over(Exception):
    def __init__(self, size: int) -> None:
        self.size = size


def fit_size(
    src: str,
    dst: str,
    settings: Settings,
    progress: Progress | None = None,
) -> ConvertReport:
    """Convert ``src`` into ``dst`` under ``settings.size`` (see the module's docstring),
    the other files' palettes already read (``read_palettes``); returns the final run's
    ConvertReport with ``chosen`` set. Raises GifquantError (exit 2) with the smallest size
    found when no setting fits."""
    write = settings.write
    fmt = output_format(dst, write.format)
    if fmt != "gif":
        raise SettingError("{max_size} is for GIF output (this output is {fmt})", fmt=fmt)
    if dst == "-" or is_special(dst):
        raise SettingError(
            "{max_size} needs an output file: it checks the size before anything is written"
        )
    if src == "-" or not os.path.isfile(src):
        raise SettingError("{max_size} needs an input file: it reads the clip more than once")
    _check_output(src, dst, fmt, write.overwrite)
    if write.compare is not None:
        compare_fmt = output_format(write.compare, None, option="compare")
        _check_output(src, write.compare, compare_fmt, write.overwrite)
    with scratch_folder("gifquant-size-") as folder:
        search = _Search(src, settings, folder)
        # The final run tells of its frames; its notes come back in its report.
        told = Progress() if progress is None else dataclasses.replace(progress, on_note=None)
        return search.run(dst, told)


class _Search:
    """The size search over one clip: its tiers of size and rate, the frames every probe is
    judged against, the probes made (each once), and the final runs."""

    def __init__(self, src: str, settings: Settings, folder: str) -> None:
        self.src, self.settings, self.folder = src, settings, folder
        self.target = settings.size.size
        k_max = settings.size.max_k
        fixed = settings.quantize.palette
        if fixed is not None:  # a fixed palette has its own k: lossy, size and rate are searched
            k_max = len(fixed)
        lossy = settings.size.max_lossy
        if lossy is None:
            self.levels = LOSSY_LADDER if find_gifsicle() else (0,)
        else:
            self.levels = tuple(sorted({lv for lv in LOSSY_LADDER if lv <= lossy} | {lossy}))
        ks = {k for k in K_LADDER if k <= k_max and fixed is None} | {k_max}
        self.ks = sorted(ks, reverse=True)
        self.tiers, self.shares, self.base, fps0 = self._tiers()
        frames = settings.read.frames
        self.probe_frames = PROBE_FRAMES if frames is None else min(frames, PROBE_FRAMES)
        self.known = all(x[4] is not None for x in self.tiers)
        # What every probe is judged against: the first frames at the full size and rate, as
        # the quantizer would get them (the matte applied).
        self.reference = self._reference() if self.known else None
        self.base_rate = self.tiers[0][1] or fps0
        self.cache: dict[tuple, _Probe] = {}
        self.tried: list[_Probe] = []
        self.smallest: _Probe | None = None
        self.n_probes = 0

    def _tiers(self):
        """Each tier's size, rate and frame count, from the input's header (no frame
        decoded); with the shares of the full size, the clip's timeline and its rate."""
        read = self.settings.read
        base = read.timeline
        tiers, shares = [], []
        with open_input(self.src, max_pixels=read.max_pixels, start=read.ss) as reader:
            base = dataclasses.replace(base, ss=max(0.0, read.ss - reader.seeked))
            info0, _ = apply_timeline(iter(()), reader.info, base)
            for share, cap in TIERS:
                # A rate given is kept; else the tiers cap the source's.
                rate = info0.fps
                rate = cap if read.fps is None and cap and rate and rate > cap else read.fps
                w = max(1, round(info0.width * share))
                h = max(1, round(info0.height * share))
                sc = base.scale if share == 1.0 else (w, h)
                info, _ = apply_timeline(
                    iter(()), reader.info, dataclasses.replace(base, fps=rate, scale=sc)
                )
                tier = (sc, rate, info.width, info.height)
                if tier not in [x[:4] for x in tiers]:
                    tiers.append((*tier, info.n_frames))
                    shares.append(share)
        return tiers, shares, base, info0.fps

    def _reference(self) -> list[Frame]:
        read, settings = self.settings.read, self.settings
        threshold = settings.quantize.alpha_threshold
        with open_input(self.src, max_pixels=read.max_pixels, start=read.ss) as reader:
            first = dataclasses.replace(
                self.base, ss=max(0.0, read.ss - reader.seeked), frames=self.probe_frames
            )
            matted = apply_matte(reader, settings.write.matte, threshold)
            _, clip = apply_timeline(matted, reader.info, first)
            return list(clip)

    def _run(self, path: str, progress: Progress | None = None, **changes) -> ConvertReport:
        """One pass of the clip into ``path`` with these settings changed (no size target,
        no records unless ``changes`` ask, the output overwritten, GIF)."""
        fixed = dict(overwrite=True, format="gif", records=False, threads=None)
        settings = dataclasses.replace(self.settings, size=None).replace(**{**fixed, **changes})
        return one_pass(self.src, path, settings, progress)

    def probe(self, k: int, lv: int, tier) -> _Probe:
        if (k, lv, tier) in self.cache:
            return self.cache[k, lv, tier]
        sc, rate, w, h, total = tier
        n = self.settings.read.frames
        if self.known:  # the same stretch of time as the reference
            n = self.probe_frames
            if rate and self.base_rate:
                n = max(2, round(self.probe_frames * rate / self.base_rate))
        path = os.path.join(self.folder, f"probe{self.n_probes}.gif")
        self.n_probes += 1
        with committed_together(alone=True):  # in place now, to be read back
            rep = self._run(
                path,
                frames=n,
                fps=rate,
                scale=sc,
                k=k,
                lossy=lv,
                stats=self.reference is None,
                compare=None,
                panels=None,
            )
        with open(path, "rb") as f:
            data = f.read()
        predicted = predict_size(data, rep.frames, total)
        if self.reference is not None:
            score = seen_score(self.reference, path)
        else:
            score = rep.dE + FLICKER_WEIGHT * rep.flicker
        p = _Probe(k, lv, sc, rate, w, h, predicted, score)
        if self.smallest is None or p.predicted < self.smallest.predicted:
            self.smallest = p
        self.cache[k, lv, tier] = p
        return p

    def search(self, tier, goal: float) -> list[_Probe]:
        """For each k (largest first), the least lossy level predicted under ``goal``."""
        ks, levels = self.ks, self.levels
        if self.probe(ks[-1], levels[-1], tier).predicted > goal:
            return []  # not even the smallest setting: nothing in this tier fits
        fits = []
        for k in ks:
            if self.probe(k, levels[-1], tier).predicted > goal:
                continue
            found = next(p for lv in levels if (p := self.probe(k, lv, tier)).predicted <= goal)
            fits.append(found)
            if found.lossy == levels[0]:
                break  # a smaller k without lossy only loses more
        return fits

    def best_under(self, goal: float) -> _Probe | None:
        """The best-scored setting predicted under ``goal``, tier by tier from the full
        size down, stopping at the first tier whose best is worse than the last one's."""
        best = None
        for i, tier in enumerate(self.tiers):
            if best is not None and self.shares[i] < FLOOR_SHARE:
                break  # below half size only when nothing larger fits
            fits = self.search(tier, goal)
            if not fits:
                continue
            cand = min(fits, key=lambda p: p.score)
            if best is not None and cand.score >= best.score:
                break
            best = cand
        return best

    def run(self, dst: str, progress: Progress) -> ConvertReport:
        """The best setting under the target, written to ``dst``; the prediction's error,
        learnt from a final run that came out over the target, narrows the next search."""
        target, write = self.target, self.settings.write
        factor = 1.0  # actual size over predicted
        for _ in range(FINAL_ATTEMPTS):
            cand = self.best_under(target * MARGIN / factor)
            if cand is None:
                break
            try:
                # An attempt over the size leaves nothing (its comparison included).
                with committed_together(), atomic_path(dst) as out:
                    rep = self._run(
                        out,
                        progress,
                        fps=cand.fps,
                        scale=cand.scale,
                        k=cand.k,
                        lossy=cand.lossy,
                        stats=write.stats,
                        records=write.records,
                        compare=write.compare,
                        panels=write.panels,
                    )
                    if rep.bytes > target:
                        raise _Over(rep.bytes)
            except _Over as over:
                factor = max(factor, over.size / cand.predicted * 1.02)
                self.tried.append(dataclasses.replace(cand, predicted=over.size))
                continue
            n = self.n_probes
            chosen = SizeChoice(
                cand.k, cand.lossy, cand.width, cand.height, cand.fps, cand.predicted, n
            )
            note = (
                f"--max-size {human(target)}: chose {_describe(cand)} "
                f"({human(rep.bytes)}; {n} settings probed)"
            )
            return dataclasses.replace(
                rep, bytes=os.path.getsize(written_at(dst)), chosen=chosen, notes=(*rep.notes, note)
            )
        raise self._failure()

    def _failure(self) -> GifquantError:
        tried, smallest, target = self.tried, self.smallest, self.target
        best = min(tried + ([smallest] if smallest else []), key=lambda p: p.predicted)
        if tried and smallest is not None and smallest.predicted <= target:
            return SettingError(
                "{max_size} {target}: every setting tried came out over it (the closest, "
                "{closest}, made {made}); try a larger size",
                target=human(target),
                closest=_describe(tried[-1]),
                made=human(tried[-1].predicted),
            )
        return SettingError(
            "{max_size} {target} cannot be met: the smallest output found is about {size} ({what})",
            target=human(target),
            size=human(best.predicted),
            what=_describe(best),
        )


def seen_score(reference: list[Frame], path: str) -> float:
    """dE + FLICKER_WEIGHT x flicker of the GIF at ``path`` as a viewer sees it against
    ``reference`` (the source's frames at the full size and rate): each reference frame is
    matched with the GIF frame on screen at its middle, enlarged to the reference's size."""
    shown, ends, clock = [], [], 0.0
    with Image.open(path) as im:
        for fr in ImageSequence.Iterator(im):
            shown.append(np.asarray(fr.convert("RGBA")))
            clock += fr.info.get("duration", 0) / 1000
            ends.append(clock)
    meter = QualityMeter()
    clock, j = 0.0, 0
    h, w = reference[0].rgba.shape[:2]
    for ref in reference:
        middle = clock + ref.duration / 2
        clock += ref.duration
        while j < len(shown) - 1 and ends[j] <= middle:
            j += 1
        out = resize_rgba(shown[j], w, h)
        meter.update(ref.rgba[..., :3], out[..., :3], ref.rgba[..., 3] >= 128)
    return meter.mean_de + FLICKER_WEIGHT * meter.flicker


def _describe(p: _Probe) -> str:
    parts = [f"k={p.k}", f"lossy {p.lossy}" if p.lossy else "no lossy", f"{p.width}x{p.height}"]
    if p.fps is not None:
        parts.append(f"{p.fps:g} fps")
    return ", ".join(parts)
