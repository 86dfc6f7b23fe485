"""What a conversion is told, in one frozen value made once and passed down whole.

``Settings`` is a small tree: what to read (``ReadSettings``), how to quantize
(``QuantizeOptions``), what to write (``WriteSettings``) and the size target (``SizeTarget``),
plus the other files whose palettes are used (``palette_from``, ``transfer``: read later, by
the run, after every check here has passed). Every default and every check of a setting is
here or in ``QuantizeOptions``; the command line builds one from its arguments
(``from_arguments``), the library from keywords (``from_keywords``), and the stages read the
branch they need. Checks that need the output's format (``lossy`` is for GIF) are the run's.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from typing import Any

from .._core.options import QuantizeOptions
from .._errors import Setting, SettingError
from .._io.budget import DEFAULT_MAX_PIXELS
from .._io.matte import WHITE, parse_colour
from .._io.resize import parse_scale
from .._io.streams import OutputOptions
from .._io.timeline import TimelineOptions

LOOP_MAX = 65535  # the NETSCAPE extension's 16 bits
LOSSY_MAX = 200
MAX_SPEED = 100.0
SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
MAX_TARGET = 1 << 40
# The most palette entries the size search tries when k is not given.
SEARCH_K = 256


@dataclass(frozen=True)
class ReadSettings(TimelineOptions):
    """What to read of the input: the timeline's stretch, rate, size and speed (``ss``, ``t``,
    ``frames``, ``fps``, ``scale``, ``speed``: see ``TimelineOptions``; ``scale`` may be given
    as ``"W:H"``), and the pixel budgets per frame and per clip (``max_pixels``,
    ``max_clip_pixels``; None: the default for GIFs and images, no limit for video; 0: no
    limit)."""

    max_pixels: int = DEFAULT_MAX_PIXELS
    max_clip_pixels: int | None = None

    def __post_init__(self) -> None:
        if self.scale is not None:
            object.__setattr__(self, "scale", _scale(self.scale))
        if isinstance(self.speed, bool) or not isinstance(self.speed, (int, float)):
            raise TypeError(f"speed must be a number, not {type(self.speed).__name__}")
        if not 0.01 <= self.speed <= MAX_SPEED:  # NaN fails too
            raise SettingError(
                "{speed} {value} is outside 0.01..{hi}", value=self.speed, hi=MAX_SPEED
            )

    @property
    def timeline(self) -> TimelineOptions:
        """The timeline's part (this value is one: ``apply_timeline`` takes it as it is)."""
        return self


@dataclass(frozen=True)
class WriteSettings:
    """What to write, and what to measure while writing.

    format : ``gif``, ``mp4``, ``webm``, ``y4m`` or ``png`` (None: from the output's extension);
    overwrite : replace an existing output (default, as ``imageio.imwrite`` and ``PIL``'s
    ``save`` do; the input is never overwritten); loop : GIF/APNG plays (0 forever, -1 once,
    N: N + 1 times; None: the input's); matte : the (r, g, b) transparent pixels are
    composited over; lossy : gifsicle's lossy level (0: off); merge_duplicates : fold an
    unchanged frame into the last one's delay; compare, panels : a side-by-side comparison and
    its panels; stats : measure the output; records : keep a record per frame (implies stats);
    threads : read ahead and write behind in threads (None: unless the frames are large)
    """

    format: str | None = None
    overwrite: bool = True
    loop: int | None = None
    matte: tuple[int, int, int] = WHITE
    lossy: int = 0
    merge_duplicates: bool = False
    compare: str | None = None
    panels: str | None = None
    stats: bool = False
    records: bool = False
    threads: bool | None = None

    def __post_init__(self) -> None:
        if self.compare is not None:
            if not isinstance(self.compare, (str, os.PathLike)):
                raise TypeError(
                    "compare must be a path (str or os.PathLike), not "
                    f"{type(self.compare).__name__}"
                )
            object.__setattr__(self, "compare", os.fspath(self.compare))
        object.__setattr__(self, "matte", parse_colour(self.matte))
        _check_int("loop", self.loop, -1, LOOP_MAX, optional=True)
        _check_int("lossy", self.lossy, 0, LOSSY_MAX)
        if self.panels is not None and self.compare is None:
            raise SettingError("{panels} needs {compare} PATH (the file the panels go to)")

    @property
    def output(self) -> OutputOptions:
        """What the output's writer is told (``open_output``'s options)."""
        return OutputOptions(self.matte, self.lossy, self.merge_duplicates)


@dataclass(frozen=True)
class SizeTarget:
    """The size search's goal: ``size`` bytes at most, with at most ``max_k`` entries and the
    lossy level ``max_lossy`` (None: the levels gifsicle allows)."""

    size: int
    max_k: int = SEARCH_K
    max_lossy: int | None = None


@dataclass(frozen=True)
class Settings:
    """Everything ``convert`` is told (see ``from_keywords`` for the keywords).

    read, quantize, write, size : the branches (``size`` None: no size target);
    palette_from, transfer : another file's palette to quantize to, or to move the colours onto
    (a path, a ``Palette`` or (n, 3) colours), read by the run into ``quantize``
    """

    read: ReadSettings = field(default_factory=ReadSettings)
    quantize: QuantizeOptions = field(default_factory=QuantizeOptions)
    write: WriteSettings = field(default_factory=WriteSettings)
    size: SizeTarget | None = None
    palette_from: Any = None
    transfer: Any = None

    @classmethod
    def from_keywords(cls, **keywords) -> Settings:
        """Settings from ``convert``'s keywords: the fields of ``ReadSettings``,
        ``WriteSettings`` and ``QuantizeOptions`` by name, ``max_size`` (bytes, or ``"10M"``),
        ``palette_from`` and ``transfer``; ``scale`` may be ``"W:H"`` and ``matte`` a name or
        ``"#rrggbb"``. Raises TypeError for an unknown keyword or a value of the wrong type,
        ValueError (``GifquantError``) for a bad value."""
        return cls().replace(**keywords)

    @classmethod
    def from_arguments(cls, args, **keywords) -> Settings:
        """Settings from parsed command-line arguments: every argument named as a keyword of
        ``from_keywords`` (None, an option not given, is the default), then ``keywords``."""
        given = {name: getattr(args, name) for name in KEYWORDS if hasattr(args, name)}
        return cls.from_keywords(**{**given, **keywords})

    def replace(self, **keywords) -> Settings:
        """These settings with some changed, by ``from_keywords``' keywords."""
        _check_types(keywords, self)
        branches, top = _route(keywords)
        if "max_size" in keywords:
            top["size"] = _size_target(keywords, self)
        elif self.size is not None and ("k" in keywords or "lossy" in keywords):
            top["size"] = _size_target({"max_size": self.size.size, **keywords}, self)
        for name, changes in branches.items():
            if changes:
                top[name] = dataclasses.replace(getattr(self, name), **changes)
        out = dataclasses.replace(self, **top)
        if out.transfer is not None and (
            out.palette_from is not None or out.quantize.palette is not None
        ):
            raise SettingError("a fixed palette ({palette_from}) and {transfer} cannot be combined")
        return out

    def keywords(self) -> dict[str, Any]:
        """The settings as ``from_keywords``' keywords, each with its value (resolved: k 16,
        matte (255, 255, 255), ...), in a fixed order: read, quantize, write, size target,
        palettes."""
        out: dict[str, Any] = {}
        for branch in (self.read, self.quantize, self.write):
            out.update((f.name, getattr(branch, f.name)) for f in dataclasses.fields(branch))
        out["max_size"] = None if self.size is None else self.size.size
        out["palette_from"], out["transfer"] = self.palette_from, self.transfer
        return out


_READ = tuple(f.name for f in dataclasses.fields(ReadSettings))
_WRITE = tuple(f.name for f in dataclasses.fields(WriteSettings))
_QUANTIZE = tuple(f.name for f in dataclasses.fields(QuantizeOptions))
KEYWORDS = (*_READ, *_QUANTIZE, *_WRITE, "max_size", "palette_from", "transfer")
_NONE_IS_DEFAULT = (
    ("quantize", "k", QuantizeOptions.k),
    ("write", "lossy", WriteSettings.lossy),
    ("write", "matte", WriteSettings.matte),
    ("read", "max_pixels", ReadSettings.max_pixels),
)


def _route(keywords: dict) -> tuple[dict[str, dict], dict[str, Any]]:
    """``replace``'s keywords sorted: the changes to each branch (read, write, quantize), and
    the palettes' to the settings themselves (``max_size`` is neither: ``_size_target``)."""
    branches: dict[str, dict] = {"read": {}, "write": {}, "quantize": {}}
    top: dict[str, Any] = {}
    for name, value in keywords.items():
        if name in _READ:
            branches["read"][name] = value
        elif name in _WRITE:
            branches["write"][name] = value
        elif name in ("palette_from", "transfer"):  # before QuantizeOptions' own transfer
            top[name] = value
        elif name in _QUANTIZE:
            branches["quantize"][name] = value
        elif name != "max_size":
            raise TypeError(f"unexpected setting {name!r}")
    # None given for these means their default (as an unset command-line option).
    for branch, name, default in _NONE_IS_DEFAULT:
        if name in keywords and keywords[name] is None:
            branches[branch][name] = default
    return branches, top


def _check_types(keywords: dict, current: Settings) -> None:
    """The checks that come before any value's: the ones a program gets wrong by type."""
    if "delta" in keywords and not isinstance(keywords["delta"], bool):
        raise TypeError("delta must be True or False")
    if keywords.get("palette") is not None and (
        keywords.get("palette_from") is not None or current.palette_from is not None
    ):
        raise TypeError("give palette_from or palette, not both")


def _size_target(keywords: dict, current: Settings) -> SizeTarget | None:
    if keywords["max_size"] is None:
        return None
    size = parse_size(keywords["max_size"])
    k = keywords.get("k", current.size.max_k if current.size else None)
    lossy = keywords.get("lossy", current.size.max_lossy if current.size else None)
    return SizeTarget(size, SEARCH_K if k is None else k, lossy)


def _check_int(name: str, value, lo: int, hi: int, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        what = "an int or None" if optional else "an int"
        raise TypeError(f"{name} must be {what}, not {type(value).__name__}")
    if not lo <= value <= hi:
        raise SettingError(
            "{name} {value} is outside {lo}..{hi}", name=Setting(name), value=value, lo=lo, hi=hi
        )


def _scale(value: str | tuple[int, int]) -> tuple[int, int]:
    if isinstance(value, str):
        try:
            return parse_scale(value)
        except ValueError as exc:
            raise SettingError("{scale}: {exc}", exc=exc) from None
    return parse_scale(f"{value[0]}:{value[1]}")


def parse_size(value: int | str) -> int:
    """Bytes from an int or ``"10M"``, ``"512K"``, ``"1.5G"``, ``"2000000"`` (K, M, G are
    powers of 1024; a trailing ``B`` or ``iB`` is allowed)."""
    if isinstance(value, bool):
        raise TypeError("max_size must be bytes (int) or a size such as '10M'")
    if isinstance(value, int):
        n = value
    elif isinstance(value, str):
        m = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([kmgKMG]?)(?:i?[bB])?\s*", value)
        if not m:
            raise SettingError(
                "{max_size}: {value!r} is not a size (bytes, or a number with K, M or G)",
                value=value,
            )
        n = int(float(m.group(1)) * SIZE_UNITS[m.group(2).upper()])
    else:
        raise TypeError(f"max_size must be an int or a str, not {type(value).__name__}")
    if not 1 <= n <= MAX_TARGET:
        raise SettingError("{max_size} {value} is outside 1 byte..1024G", value=value)
    return n
