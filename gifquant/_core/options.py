"""The temporal quantizer's settings, ``QuantizeOptions``, each checked when made. Pure Python.

A frozen, hashable value: a comparison panel in several cells is worked once, and a batch
hands it to its workers as it is. Palettes it holds are tuples of (r, g, b) tuples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .colour import SPACES, Space
from .dither import DITHERS
from .kmeans import INITS, METRICS, Init, Metric
from .representative import REPRESENTATIVES

# Palette entries when none are asked for: every command's and function's default, so that a
# palette or a comparison shows what a conversion would use.
DEFAULT_K = 16


@dataclass(frozen=True)
class QuantizeOptions:
    """Settings of the temporal quantizer (see the CLI for what each means to a user).

    palette_hysteresis : an entry's colour follows its centroid only once the centroid moved
        more than this many dE, or its cluster's spread (RMS dE) if that is less (0: always)
    palette_memory : the share of each centre's pixel mass that carries over to the next frame
        in the mini-batch k-means step (0..1); 0: every frame gets a full k-means of its own,
        seeded from the last frame's centres
    scene_threshold : total-variation distance (0..1) between consecutive frames' colour
        histograms above which a frame is a scene cut and is initialised afresh; None: never
    delta : mark what changed, so that a GIF frame holds only that (False: full frames); with
        it (or a transparent frame), k = 256 gives 255 colours, leaving one index for
        transparency
    enhance : saturation factor applied to every colour before clustering, as PIL's
        ``ImageEnhance.Color`` (0..4; 1 unchanged, 0 grey); the output shows the enhanced colours
    min_saturation : colours whose HSV saturation is below this (0..1) are left out of the fit,
        so the palette holds the salient colours; they keep a few entries of their own and are
        mapped to the nearest of those alone, without dithering (a salient colour to its
        nearest entry of any kind); a frame with no colour this saturated is fitted on all)
    representative : an entry's colour is its cluster's ``mean`` or its ``mode`` (the most
        common colour, taken in the frame where the entry was last set)
    palette : a fixed palette, (n, 3) sRGB colours 0..255 (1 <= n <= 256), used instead of
        clustering (paletteuse with a palette of one's own); ``k`` is then its length, and
        dithering and delta frames apply as usual. Held as a tuple of (r, g, b) tuples.
    denoise : how strongly camera noise in the source is held still before quantizing
        (``denoise``): ``"auto"`` (1.0: the noise each clip measures), ``"off"`` (0.0), or a
        strength 0..8 scaling the thresholds; a clip that measures no noise is not touched
    deband : how strongly smooth gradients are kept free of bands (palette entries put where
        errors show, and a fine screen-fixed dither between close entries of a smooth area
        only): ``"auto"`` (1.0), ``"off"`` (0.0), or a strength 0..4
    transfer, transfer_shares, transfer_colours : another clip's palette (as ``palette``) and
        its colours' shares of the pixels (None: equal): each frame's palette is shown moved
        onto it (``transfer.PaletteMap``, matched in ``transfer_colours`` clusters)
    """

    k: int = DEFAULT_K
    seeded: bool = True
    metric: Metric = "euclidean"
    space: Space = "lab"
    init: Init = "kmeans++"
    n_init: int = 3
    max_iter: int = 50
    tol: float = 1e-3
    seed: int = 0
    fit_bits: int = 5
    refine_iter: int = 1
    alpha_threshold: int = 128
    palette_hysteresis: float = 3.0
    palette_memory: float = 0.95
    scene_threshold: float | None = 0.5
    delta: bool = True
    dither: str = "none"
    dither_strength: float = 1.0
    enhance: float = 1.0
    min_saturation: float = 0.0
    representative: str = "mean"
    palette: tuple[tuple[int, int, int], ...] | None = None
    transfer: tuple[tuple[int, int, int], ...] | None = None
    transfer_shares: tuple[float, ...] | None = None
    transfer_colours: int = 8
    denoise: float = 1.0
    deband: float = 1.0

    def __post_init__(self) -> None:
        for name in ("denoise", "deband"):
            object.__setattr__(self, name, _strength(getattr(self, name), name))
        if self.palette is not None:
            fixed = _palette_tuple(self.palette)
            object.__setattr__(self, "palette", fixed)
            object.__setattr__(self, "k", len(fixed))
        _check_int(self, "transfer_colours", 1, 256)
        if self.transfer is not None:
            if self.palette is not None:
                raise ValueError("a fixed palette and a transfer cannot be combined")
            target = _palette_tuple(self.transfer, "transfer")
            object.__setattr__(self, "transfer", target)
            if self.transfer_shares is not None:
                shares = _shares_tuple(self.transfer_shares, len(target))
                object.__setattr__(self, "transfer_shares", shares)
        elif self.transfer_shares is not None:
            raise ValueError("transfer_shares needs transfer")
        for name, choices in (("metric", METRICS), ("space", SPACES), ("init", INITS)):
            _check_choice(self, name, choices)
        _check_choice(self, "dither", DITHERS)
        _check_choice(self, "representative", REPRESENTATIVES)
        for name, hi in (("k", 256), ("n_init", 100), ("max_iter", 10000), ("fit_bits", 8)):
            _check_int(self, name, 1, hi)
        _check_int(self, "seed", 0, 2**32 - 1)
        _check_int(self, "refine_iter", 0, 100)
        _check_int(self, "alpha_threshold", 0, 255)
        for name, hi in (
            ("tol", 100),
            ("palette_hysteresis", 100),
            ("dither_strength", 8),
            ("enhance", 4),
            ("min_saturation", 1),
            ("denoise", 8),
            ("deband", 4),
        ):
            _check_number(self, name, hi)
        _check_number(self, "palette_memory", 1, below=True)
        if self.scene_threshold is not None:
            _check_number(self, "scene_threshold", 1)


def _strength(value, name: str) -> float:
    """``"auto"`` (1.0), ``"off"`` (0.0) or a number, as a float (checked with the others)."""
    if isinstance(value, str):
        word = value.strip().lower()
        if word in STRENGTH_WORDS:
            return STRENGTH_WORDS[word]
        try:
            return float(word)
        except ValueError:
            raise ValueError(f"{name} must be auto, off or a number, not {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{name} must be auto, off or a number, not {type(value).__name__}")
    return float(value)


STRENGTH_WORDS = {"auto": 1.0, "on": 1.0, "off": 0.0, "none": 0.0}


def _palette_tuple(palette, name: str = "palette") -> tuple[tuple[int, int, int], ...]:
    """Colours as a tuple of (r, g, b) int tuples, checked: 1..256 colours, 0..255."""
    try:
        arr = np.asarray(palette)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.dtype == object or arr.ndim != 2 or arr.shape[1:] != (3,):
        raise TypeError(f"{name} must be (n, 3) sRGB colours")
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"{name} must hold numbers, not {arr.dtype}")
    if not 1 <= len(arr) <= 256:
        raise ValueError(f"{name} must have 1 to 256 colours, not {len(arr)}")
    whole = np.isfinite(arr).all() and (arr == np.round(arr)).all()
    if not (whole and arr.min() >= 0 and arr.max() <= 255):
        raise ValueError(f"{name} colours must be whole numbers from 0 to 255")
    return tuple(tuple(int(v) for v in row) for row in arr.tolist())


def _shares_tuple(shares, n: int) -> tuple[float, ...]:
    """One finite share >= 0 per colour, not all 0."""
    try:
        arr = np.asarray(shares, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError("transfer_shares must be numbers") from None
    if arr.shape != (n,):
        raise ValueError(f"transfer_shares must hold one share per colour ({n})")
    if not (np.isfinite(arr).all() and (arr >= 0).all() and arr.sum() > 0):
        raise ValueError("transfer_shares must be finite numbers >= 0, not all 0")
    return tuple(float(v) for v in arr)


def _check_choice(options: QuantizeOptions, name: str, choices: tuple[str, ...]) -> None:
    if getattr(options, name) not in choices:
        value = getattr(options, name)
        raise ValueError(f"{name} must be one of {', '.join(choices)}, not {value!r}")


def _check_int(options: QuantizeOptions, name: str, lo: int, hi: int) -> None:
    v = getattr(options, name)
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{name} must be a whole number, not {type(v).__name__}")
    if not lo <= v <= hi:
        raise ValueError(f"{name} must be between {lo} and {hi}, not {v}")


def _check_number(options: QuantizeOptions, name: str, hi: float, *, below: bool = False) -> None:
    """A finite number from 0 to ``hi`` (``below``: less than ``hi``)."""
    v = getattr(options, name)
    if isinstance(v, bool) or not isinstance(v, (int, float, np.number)):
        raise TypeError(f"{name} must be a number, not {type(v).__name__}")
    if not (0 <= v < hi if below else 0 <= v <= hi):  # NaN fails too
        rng = f"at least 0 and less than {hi:g}" if below else f"between 0 and {hi:g}"
        raise ValueError(f"{name} must be {rng}, not {v}")
