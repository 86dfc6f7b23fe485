"""``convert``: a file, as the command converts it; with a size target, through the search.

The size search (``size.fit_size``) runs ``once.one_pass`` once for each setting it
probes and once more for the output, so it sits between this and the one pass.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable

from .._io.prestart import EarlyStart
from .._io.streams import check_input
from .once import ConvertReport, Progress, one_pass, read_palettes
from .settings import Settings


def convert(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    settings: Settings | None = None,
    *,
    on_progress: Callable[[int, int | None], None] | None = None,
    on_frame: Callable[[int], None] | None = None,
    on_note: Callable[[str], None] | None = None,
    on_palette_progress: Callable[[int, int | None], None] | None = None,
    **keywords,
) -> ConvertReport:
    """Re-encode ``src`` (a GIF, image or video file, or ``"-"`` for stdin) into ``dst``.

    Parameters
    ----------
    src, dst : paths; ``dst`` ``"-"`` is stdout (needs ``format``)
    settings : a ``Settings`` (``Settings.from_keywords(...)``), to which ``keywords`` apply;
        default: the keywords alone
    on_progress : called with (frames done, frames in all) after each frame is quantized;
        the total is None when the input does not say (a pipe, some videos)
    on_frame : called with each frame's index once it is quantized
    on_note : called with a note as soon as it is known (a GIF predicted to be very large, from
        its first frames); every note is also in the report
    on_palette_progress : called with (frames read, frames in all) while an image or clip
        given as ``palette_from`` or ``transfer`` is read for its palette (before the first
        frame of ``src``); the total as ``on_progress``'s
    **keywords : the settings, each with its default:

        - what to read: ``ss``, ``t``, ``frames``, ``fps``, ``scale`` (start and length in
          seconds, at most this many frames, a constant frame rate, a ``"W:H"`` size with -1
          keeping the aspect ratio, as ffmpeg means them); ``max_pixels``,
          ``max_clip_pixels`` (pixel budgets per frame and per clip; None: the default for
          GIFs and images, no limit for video)
        - how to quantize: ``QuantizeOptions``' fields (``k``, ``seeded``, ``metric``,
          ``space``, ``dither``, ``enhance``, ``min_saturation``, ``representative``, ...);
          ``palette_from``: quantize to a fixed palette instead of clustering (a ``.gpl``,
          ``.json`` or ``.hex`` palette file, an image or clip (its palette of ``k``
          colours), a ``Palette``, or (n, 3) sRGB colours); ``transfer``: show the clip in
          another clip's colours (the same kinds of source; an image's or clip's palette has
          ``transfer_colours`` colours, default 8), each entry keeping its offset from its
          cluster
        - what to write: ``format`` (``gif``, ``mp4``, ``webm``, ``y4m`` or ``png``; default
          from ``dst``'s extension); ``overwrite`` (default True: replace an existing
          ``dst`` and ``compare``, as ``imageio.imwrite`` does; False: an existing one is an
          error; the input itself is never overwritten); ``loop`` (0 forever, -1 play once,
          N plays N + 1 times; None keeps the input's, forever for video); ``matte`` (the
          colour, a name, ``"#rrggbb"`` or (r, g, b), transparent pixels are composited over;
          default white: mp4, webm and y4m composite every pixel, GIF and PNG keep pixels
          with alpha under ``alpha_threshold`` transparent); ``lossy`` (GIF only: gifsicle's
          lossy level, 0 = off, up to 200; needs ``pip install 'gifquant[lossy]'``);
          ``merge_duplicates`` (fold a frame that changes nothing into the previous frame's
          delay); ``compare``, ``panels`` (also write a side-by-side comparison; ``panels``
          as the CLI's ``--panels``, default ``"random,seeded"``); ``stats`` (measure dE,
          flicker, incoherence and colours on screen: about as much work as quantizing);
          ``records`` (also a record per frame, ``ConvertReport.frame_records``; implies
          stats); ``threads`` (read ahead and write behind in threads, or one frame at a time
          with False; None: threads unless the frames are large; the bytes are the same)
        - the size target: ``max_size`` (GIF only: bytes, or ``"10M"`` with K, M, G powers
          of 1024): the settings (k, lossy, scale, fps) are searched on a probe of the clip
          (see ``report.chosen``); k and lossy given are the most it may use

    Returns
    -------
    ConvertReport

    Raises
    ------
    FileNotFoundError : ``src`` does not exist
    ValueError : a bad setting, an unreadable or broken input, an output that cannot be written
        (``gifquant.GifquantError``, a ValueError, carries the message; it names settings by
        their keywords)
    TypeError : an unknown setting, or a setting of the wrong type
    """
    src, dst = _path(src, "src"), _path(dst, "dst")
    check_input(src)  # first: a missing input is the mistake to name
    settings = (settings or Settings()).replace(**keywords)
    told = Progress(on_progress, on_frame, on_note, on_palette_progress)
    return convert_file(src, dst, settings, told, None)


def convert_file(
    src: str, dst: str, settings: Settings, progress: Progress, early: EarlyStart | None
) -> ConvertReport:
    """``convert`` once its settings are made and ``src`` checked: the size search, or one
    pass (what the command line calls; ``early`` is what the command started while
    importing, for the reader and writer to take)."""
    if settings.size is not None:
        from .size import fit_size  # here: 1.4 ms of start-up a run without a target skips

        started = time.perf_counter()
        # Read once for the search's runs: the transfer target goes on as a Palette.
        settings = read_palettes(settings, progress.on_palette_progress)
        report = fit_size(src, dst, settings, progress)
        # The whole search's wall time, not its last pass's.
        return dataclasses.replace(report, seconds=time.perf_counter() - started)
    return one_pass(src, dst, settings, progress, early=early)


def _path(value, name: str) -> str:
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    raise TypeError(f"{name} must be a path (str or os.PathLike), not {type(value).__name__}")
