"""Palettes read from files, for ``--palette-from`` and ``--transfer``.

A ``.gpl`` (GIMP), ``.json`` or ``.hex``/``.txt`` (``#rrggbb`` lines) file is read as the
palette it holds, in the forms ``gifquant palette`` writes; any other file is an image or clip,
whose overall palette of ``k`` colours is extracted (``gifquant.palette``).
"""

from __future__ import annotations

import json
import math
import os
import re

import numpy as np

from .._core.options import _palette_tuple
from .._errors import GifquantError, Setting, SettingError
from .._io.streams import check_input
from .model import Palette
from .palette import palette

# A palette file's text is read whole: 256 colours with names fit many times over in this.
_MAX_TEXT = 1 << 20
TEXT_SUFFIXES = (".gpl", ".json", ".hex", ".txt")
_HEX = re.compile(r"#?([0-9a-fA-F]{6})\b")
_ANOTHER_HEX = re.compile(r"[\s,;]#?[0-9a-fA-F]{6}\b")  # after a line's colour
_GPL_LINE = re.compile(r"\s*(\d+)\s+(\d+)\s+(\d+)\b(.*)")
_PERCENT = re.compile(r"(\d+(?:\.\d*)?)%")


def load_palette(source, k: int, *, option: str, on_progress=None, **options) -> Palette:
    """The palette ``source`` names: a ``Palette``, (n, 3) colours, a palette file, or an image
    or clip (its overall palette of ``k`` colours; ``on_progress(done, total)`` is told of each
    frame read, and ``options`` go to ``gifquant.palette``).

    Shares unknown (hex lines, bare colours) are equal. A colour listed twice is one entry.
    Raises GifquantError (``option`` names the setting) for a file it cannot use.
    """
    if isinstance(source, Palette):
        return _unique(source.colours, source.shares)
    if not isinstance(source, (str, os.PathLike)):
        try:
            colours = np.asarray(_palette_tuple(source), np.uint8)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{option}: {exc}") from None
        return _unique(colours, None)
    path = os.fspath(source)
    if path == "-":
        raise SettingError("{option} reads a file, not stdin ('-')", option=Setting(option))
    try:
        check_input(path)
    except GifquantError as exc:  # InputNotFoundError stays a FileNotFoundError too
        raise type(exc).naming("{option}: {exc}", option=Setting(option), exc=exc) from None
    if os.path.splitext(path)[1].lower() in TEXT_SUFFIXES:
        try:
            # utf-8-sig: a byte order mark, as Windows editors write, is not a colour.
            with open(path, encoding="utf-8-sig") as f:
                text = f.read(_MAX_TEXT + 1)
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingError(
                "{option} {path}: cannot read it ({exc})",
                option=Setting(option),
                path=path,
                exc=exc,
            ) from None
        if len(text) > _MAX_TEXT:
            raise SettingError(
                "{option} {path}: over {mb} MB; not a palette of 256 colours",
                option=Setting(option),
                path=path,
                mb=_MAX_TEXT >> 20,
            )
        try:
            return _parse(text, path)
        except GifquantError as exc:
            raise SettingError("{option} {exc}", option=Setting(option), exc=exc) from None

    try:
        overall = palette(path, k=k, samples=0, on_progress=on_progress, **options).overall
    except GifquantError as exc:
        raise type(exc).naming(
            "{option}: {exc}", exc.exit_code, option=Setting(option), exc=exc
        ) from None
    if not len(overall.colours):
        raise SettingError(
            "{option}: {path}: every pixel is transparent; no colours to take",
            option=Setting(option),
            path=path,
        )
    return overall


def _parse(text: str, path: str) -> Palette:
    """A palette file's colours and shares (text as ``gifquant palette`` writes it); errors
    start with ``path``."""
    where = path
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        colours, shares = _from_json(text, where)
    elif stripped.startswith("GIMP Palette"):
        colours, shares = _from_gpl(text, where)
    else:
        colours, shares = _from_hex(text, where)
    if not colours:
        raise GifquantError(f"{where}: holds no colours")
    weights = None if any(s is None for s in shares) else np.asarray(shares, np.float64)
    found = _unique(np.asarray(colours, np.uint8), weights)  # a colour listed twice is one
    if len(found.colours) > 256:
        n = len(found.colours)
        raise GifquantError(f"{where}: {n} colours; a palette holds at most 256")
    return found


def _from_hex(text: str, where: str) -> tuple[list, list]:
    colours = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith((";", "//")):
            continue
        m = _HEX.match(line)
        if m is None:
            raise GifquantError(f"{where}: line {n}: not a #rrggbb colour: {line[:40]!r}")
        if _ANOTHER_HEX.search(line, m.end()):  # "#aa0000, #00bb00": not one and a name
            raise GifquantError(f"{where}: line {n}: more than one colour; give one a line")
        colours.append(_rgb(m.group(1)))
    return colours, [None] * len(colours)


def _from_gpl(text: str, where: str) -> tuple[list, list]:
    colours, shares = [], []
    for n, line in enumerate(text.splitlines()[1:], 2):
        if not line.strip() or line.lstrip().startswith("#") or re.match(r"\w+:", line):
            continue
        m = _GPL_LINE.match(line)
        if m is None:
            raise GifquantError(f"{where}: line {n}: not an 'R G B name' line: {line[:40]!r}")
        rgb = [int(v) for v in m.groups()[:3]]
        if max(rgb) > 255:
            raise GifquantError(f"{where}: line {n}: a colour value over 255")
        colours.append(rgb)
        share = _PERCENT.search(m.group(4))
        if share and (share := _share(float(share.group(1)) / 100)) is None:
            raise GifquantError(f"{where}: line {n}: a share too large")
        shares.append(share)
    return colours, shares


def _from_json(text: str, where: str) -> tuple[list, list]:
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: lists nested thousands deep
        raise GifquantError(f"{where}: not valid JSON ({exc})") from None
    entries = doc.get("overall") if isinstance(doc, dict) else doc
    if not isinstance(entries, list):
        raise GifquantError(f"{where}: expected a list of colours or an 'overall' list")
    colours, shares = [], []
    for n, e in enumerate(entries):
        share = None
        if isinstance(e, dict):
            e, share = e.get("colour", e.get("color")), e.get("share")
        if isinstance(e, str) and _HEX.fullmatch(e.strip()):
            rgb = _rgb(e.strip().lstrip("#"))
        elif (
            isinstance(e, list)
            and len(e) == 3
            and all(type(v) is int and 0 <= v <= 255 for v in e)  # not True or False
        ):
            rgb = e
        else:
            raise GifquantError(f"{where}: entry {n}: not a '#rrggbb' colour or [r, g, b]")
        if share is not None and (share := _share(share)) is None:
            raise GifquantError(f"{where}: entry {n}: share must be a finite number >= 0")
        colours.append(rgb)
        shares.append(share)
    return colours, shares


def _share(value) -> float | None:
    """A share as a finite float >= 0; None for anything else (a bool, a string, NaN,
    infinity, an integer too large for a float)."""
    if type(value) not in (int, float):
        return None
    try:
        value = float(value)
    except OverflowError:
        return None
    return value if 0 <= value < math.inf else None


def _rgb(hex6: str) -> list[int]:
    return [int(hex6[i : i + 2], 16) for i in (0, 2, 4)]


def _unique(colours: np.ndarray, shares: np.ndarray | None) -> Palette:
    """One entry per colour, in first-seen order; shares summed (equal when unknown)."""
    colours = np.asarray(colours, np.uint8).reshape(-1, 3)
    if shares is None or not shares.max(initial=0) > 0:
        shares = np.ones(len(colours))
    shares = shares / shares.max()  # relative: huge ones must not add up to infinity
    first, inverse = np.unique(colours, axis=0, return_index=True, return_inverse=True)[1:]
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    summed = np.bincount(rank[inverse.ravel()], weights=shares, minlength=len(first))
    return Palette(colours[np.sort(first)], summed / summed.sum())
