"""``convert``: a file, as the command converts it; with ``max_size``, through the size search.

The size search (``_sizing.fit_size``) runs ``_library.one_pass`` once for each setting it
probes and once more for the output, so it sits between this and the one pass.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ._errors import SettingError
from ._io.budget import DEFAULT_MAX_PIXELS
from ._io.prestart import EarlyStart
from ._io.streams import check_input
from ._library import ConvertReport, _load_palettes, _path, one_pass
from ._sizing import fit_size


def convert(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    format: str | None = None,
    overwrite: bool = False,
    ss: float = 0.0,
    t: float | None = None,
    frames: int | None = None,
    fps: float | None = None,
    scale: str | tuple[int, int] | None = None,
    compare: str | os.PathLike | None = None,
    panels: str | None = None,
    merge_duplicates: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_clip_pixels: int | None = None,
    stats: bool = False,
    records: bool = False,
    on_progress: Callable[[int, int | None], None] | None = None,
    on_frame: Callable[[int], None] | None = None,
    on_note: Callable[[str], None] | None = None,
    early: EarlyStart | None = None,
    loop: int | None = None,
    matte: str | tuple[int, int, int] | None = None,
    lossy: int | None = None,
    max_size: int | str | None = None,
    threads: bool | None = None,
    palette_from=None,
    transfer=None,
    **options,
) -> ConvertReport:
    """Re-encode ``src`` (a GIF, image or video file, or ``"-"`` for stdin) into ``dst``.

    Parameters
    ----------
    src, dst : paths; ``dst`` ``"-"`` is stdout (needs ``format``)
    format : ``gif``, ``mp4``, ``webm``, ``y4m`` or ``png``; default from ``dst``'s extension
    overwrite : replace an existing ``dst`` (and ``compare``); else an existing one is an error
    ss, t, frames, fps, scale : start and length in seconds, at most this many frames, a
        constant frame rate, a ``"W:H"`` size (-1 keeps the aspect ratio), as ffmpeg means them
    compare, panels : also write a side-by-side comparison (``panels`` as the CLI's
        ``--panels``, default ``"random,seeded"``)
    merge_duplicates : fold a frame that changes nothing into the previous frame's delay
    max_pixels, max_clip_pixels : pixel budgets per frame and per clip (None: the default for
        GIFs and images, no limit for video)
    stats : measure dE, flicker, incoherence and colours on screen (costs about as much as
        quantizing)
    records : also keep a record per frame (``ConvertReport.frame_records``; implies stats)
    on_progress : called with (frames done, frames in all) after each frame is quantized;
        the total is None when the input does not say (a pipe, some videos)
    on_frame : called with each frame's index once it is quantized
    on_note : called with a note as soon as it is known (a GIF predicted to be very large, from
        its first frames); every note is also in the report
    early : what the command started while importing (``_io.prestart.EarlyStart``), for the
        reader and writer to take
    loop : times a GIF or APNG repeats: 0 forever, -1 play once, N plays N + 1 times
        (ffmpeg's ``-loop``); None keeps the input's (forever for video)
    matte : the colour (a name, ``"#rrggbb"`` or (r, g, b)) transparent and semi-transparent
        pixels are composited over; default white. mp4, webm and y4m composite every pixel;
        GIF and PNG keep pixels with alpha under ``alpha_threshold`` (default 128) transparent
    lossy : GIF only: gifsicle's ``--lossy`` level (0 or None = off, up to 200); needs gifsicle
        (``pip install 'gifquant[lossy]'``)
    max_size : GIF only: bytes (or ``"10M"``: K, M, G are powers of 1024) the output must not
        exceed; the settings (k, lossy, scale, fps) are searched on a probe of the clip (see
        ``report.chosen``); k, lossy, scale and fps given are the most it may use
    palette_from : quantize to a fixed palette instead of clustering: a ``.gpl``, ``.json`` or
        ``.hex`` palette file, an image or clip (its palette of ``k`` colours), a ``Palette``,
        or (n, 3) sRGB colours; the output shows only those colours
    transfer : show the clip in another clip's colours (the same kinds of source as
        ``palette_from``; an image's or clip's palette has ``transfer_colours`` colours, default
        8): each frame's palette, in ``transfer_colours`` clusters, goes to that palette's colours
        matched on lightness and share, each entry keeping its offset from its cluster
    threads : read ahead and write behind in threads (True), or work one frame at a time
        (False, as a batch worker does: its cores are busy with other files); None: threads
        unless the frames are large. The output is the same bytes either way
    **options : the quantizer's settings, ``QuantizeOptions``' fields (``k``, ``seeded``,
        ``metric``, ``space``, ``dither``, ...), among them the colour picking:
        ``enhance`` (0..4, saturation scaled before clustering as PIL's
        ``ImageEnhance.Color``; 1 unchanged), ``min_saturation`` (0..1, less saturated
        colours are left out of the fit) and ``representative`` (``"mean"`` or ``"mode"``)

    Returns
    -------
    ConvertReport

    Raises
    ------
    FileNotFoundError : ``src`` does not exist
    ValueError : a bad setting, an unreadable or broken input, an output that cannot be written
        (``gifquant.GifquantError``, a ValueError, carries the message the CLI prints)
    TypeError : a setting of the wrong type
    """
    src, dst = _path(src, "src"), _path(dst, "dst")
    compare = None if compare is None else _path(compare, "compare")
    check_input(src)  # first: a missing input is the mistake to name
    if "delta" in options and not isinstance(options["delta"], bool):
        raise TypeError("delta must be True or False")
    if "palette" in options and palette_from is not None:
        raise TypeError("give palette_from or palette, not both")
    if transfer is not None and (palette_from is not None or "palette" in options):
        raise SettingError("a fixed palette ({palette_from}) and {transfer} cannot be combined")
    if max_size is not None:
        # Read once for the search's runs: the transfer target goes on as a Palette.
        transfer = _load_palettes(options, palette_from, transfer)
        return fit_size(
            src,
            dst,
            max_size,
            format=format,
            overwrite=overwrite,
            ss=ss,
            t=t,
            frames=frames,
            fps=fps,
            scale=scale,
            compare=compare,
            panels=panels,
            merge_duplicates=merge_duplicates,
            max_pixels=max_pixels,
            max_clip_pixels=max_clip_pixels,
            stats=stats,
            on_progress=on_progress,
            on_frame=on_frame,
            loop=loop,
            matte=matte,
            lossy=lossy,
            transfer=transfer,
            **options,
        )
    return one_pass(
        src,
        dst,
        format=format,
        overwrite=overwrite,
        ss=ss,
        t=t,
        frames=frames,
        fps=fps,
        scale=scale,
        compare=compare,
        panels=panels,
        merge_duplicates=merge_duplicates,
        max_pixels=max_pixels,
        max_clip_pixels=max_clip_pixels,
        stats=stats,
        records=records,
        on_progress=on_progress,
        on_frame=on_frame,
        on_note=on_note,
        early=early,
        loop=loop,
        matte=matte,
        lossy=lossy,
        threads=threads,
        palette_from=palette_from,
        transfer=transfer,
        **options,
    )
