"""Command line: ``gifquant IN OUT -k K [--seeded|--random] ...``. The only module that prints."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import sys
from collections.abc import Callable, Sequence

from . import __version__
from . import _signals as signals
from ._colour import SPACES
from ._dither import DITHERS
from ._errors import GifquantError
from ._io import children
from ._io.atomic import check_writable, committed_together, is_special, output_file
from ._io.prestart import EarlyStart
from ._io.streams import (
    DEFAULT_MAX_CLIP_PIXELS,
    DEFAULT_MAX_PIXELS,
    OUTPUT_FORMATS,
    check_input,
    check_paths,
    output_format,
    same_file,
)
from ._kmeans import INITS, METRICS
from ._library import LOOP_MAX, LOSSY_MAX, ConvertReport, convert
from ._matte import parse_colour
from ._options import STRENGTH_WORDS
from ._representative import REPRESENTATIVES
from ._resize import parse_scale
from ._sizing import parse_size


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, like argparse but without usage
        raise GifquantError(message)


# Ranges of the numeric options (also in --help and the README).
MAX_DE = 100.0  # CIE76 dE thresholds
MAX_DITHER = 8.0
MAX_FPS = 100  # a GIF delay is whole centiseconds
MAX_FRAMES = 10**9
MAX_SEED = 2**32 - 1
MAX_BUDGET = 10**12  # pixels
MAX_ENHANCE = 4.0


def _positive_int(lo: int, hi: int | None = None):
    def parse(text: str) -> int:
        rng = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number in {rng}") from None
        if v < lo or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"{v} is outside {rng}")
        return v

    return parse


def _number(lo: float, hi: float, *, below_hi: bool = False):
    """A finite number in lo..hi (or lo <= x < hi with ``below_hi``)."""

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not (lo <= v < hi if below_hi else lo <= v <= hi):  # NaN and inf fail too
            rng = f"at least {lo:g} and less than {hi:g}" if below_hi else f"{lo:g}..{hi:g}"
            raise argparse.ArgumentTypeError(f"{text} is outside {rng}")
        return v

    return parse


def _strength(hi: float):
    """``auto``, ``off`` or a strength 0..hi, as a float (``auto`` 1.0, ``off`` 0.0)."""
    number = _number(0, hi)

    def parse(text: str) -> float:
        word = text.strip().lower()
        if word in STRENGTH_WORDS:
            return STRENGTH_WORDS[word]
        try:
            return number(text)
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not auto, off or a strength 0..{hi:g}"
            ) from None

    return parse


def _scene_threshold(text: str) -> float | None:
    if text.lower() in ("off", "none"):
        return None
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number or 'off'") from None
    if not 0 < v <= 1:
        raise argparse.ArgumentTypeError(f"{text} is outside (0, 1]")
    return v


def _time(positive: bool):
    """Seconds in ffmpeg's syntax: ``[[HH:]MM:]SS[.frac]`` or a number with s/ms/us."""

    def parse(text: str) -> float:
        t = text.strip()
        try:
            if ":" in t:
                parts = t.split(":")
                if len(parts) > 3 or any(p == "" for p in parts):
                    raise ValueError
                v = 0.0
                for p in parts:
                    v = v * 60 + float(p)
            else:
                unit = 1.0
                for suffix, mul in (("ms", 1e-3), ("us", 1e-6), ("s", 1.0)):
                    if t.endswith(suffix):
                        t, unit = t[: -len(suffix)], mul
                        break
                v = float(t) * unit
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a time (seconds, or [HH:]MM:SS[.frac])"
            ) from None
        if not (v >= 0 and v < 1e9) or (positive and v == 0):
            rng = "0 < T < 1e+09" if positive else "0..1e+09"
            raise argparse.ArgumentTypeError(f"{text} is outside {rng} seconds")
        return v

    return parse


def _rate(text: str) -> float:
    """A frame rate: a number or a fraction like 30000/1001."""
    try:
        if "/" in text:
            num, den = text.split("/")
            v = float(num) / float(den)
        else:
            v = float(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a frame rate (e.g. 12 or 30000/1001)"
        ) from None
    if not 0.01 <= v <= MAX_FPS:
        raise argparse.ArgumentTypeError(f"{text} is outside 0.01..{MAX_FPS} frames per second")
    return v


def _scale(text: str) -> tuple[int, int]:
    try:
        return parse_scale(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _colour(text: str) -> tuple[int, int, int]:
    try:
        return parse_colour(text)
    except GifquantError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--matte: ")) from None


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except GifquantError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--max-size: ")) from None


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="gifquant",
        allow_abbrev=False,
        description="Re-encode an animated GIF, image or video with K colours per frame, seeding "
        "each frame's k-means from the previous one so the colours do not flicker.",
    )
    p.add_argument("input", help="input GIF, image or video, or - for stdin (y4m or GIF)")
    p.add_argument("output", help="output file, or - for stdout (needs -f)")
    add_file_options(p, compare=True)
    p.add_argument(
        "--report",
        metavar="FILE.json",
        help="also write a record per frame (dE, flicker, incoherence, colours on screen, "
        "palette with shares, drift, scene cut, bytes) and a summary as JSON",
    )
    p.add_argument("--version", action="version", version=f"gifquant {__version__}")
    return p


def add_file_options(p: argparse.ArgumentParser, *, compare: bool) -> None:
    """The options that say how a file is converted (and -f, -y/-n, -q, --stats, --progress),
    for the main command and for ``batch``, which applies them to each file; ``compare``
    adds ``--compare`` and ``--panels`` (one output path: the main command's only)."""
    p.add_argument(
        "-k",
        "--colours",
        "--colors",
        dest="k",
        type=_positive_int(1, 256),
        default=None,
        help="palette entries per frame, 1..256 (default 16; with --max-size, the most "
        "the search may use, else 256)",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--seeded",
        dest="seeded",
        action="store_true",
        default=True,
        help="start each frame from the previous frame's centroids (default)",
    )
    mode.add_argument(
        "--random",
        dest="seeded",
        action="store_false",
        help="re-initialise every frame: the flickering baseline",
    )
    p.add_argument(
        "--metric",
        choices=METRICS,
        default="euclidean",
        help="euclidean: k-means; manhattan: L1 k-medians (default euclidean)",
    )
    p.add_argument(
        "--space",
        choices=SPACES,
        default="lab",
        help="colour space the clustering runs in (default lab)",
    )
    p.add_argument(
        "--init",
        choices=INITS,
        default="kmeans++",
        help="initialisation of the first frame (and of every frame with --random)",
    )
    p.add_argument(
        "--n-init",
        type=_positive_int(1, 100),
        default=3,
        help="restarts of an initialisation, the lowest inertia wins (default 3)",
    )
    p.add_argument(
        "--max-iter",
        type=_positive_int(1, 10000),
        default=50,
        help="Lloyd iterations per frame at most (default 50)",
    )
    p.add_argument(
        "--tol",
        type=_number(0, MAX_DE),
        default=1e-3,
        help="stop when no centroid moves more than this (colour-space units, 0..100)",
    )
    p.add_argument(
        "--seed",
        type=_positive_int(0, MAX_SEED),
        default=0,
        help="random seed: the same seed gives the same output (default 0)",
    )
    p.add_argument(
        "--palette-hysteresis",
        type=_number(0, MAX_DE),
        default=3.0,
        metavar="DE",
        help="a palette entry's colour changes only once its centroid moved more than "
        "this (CIE76 dE, 0..100), or its cluster's spread if that is less (0 = off; default 3.0)",
    )
    p.add_argument(
        "--palette-memory",
        type=_number(0, 1, below_hi=True),
        default=0.95,
        metavar="M",
        help="mini-batch k-means: how much of each centre's pixel mass carries over to the "
        "next frame (0..0.999), so the palette follows a change over about 1/(1-M) frames; "
        "0 = a full k-means on every frame, seeded from the last (default 0.95)",
    )
    p.add_argument(
        "--scene-threshold",
        type=_scene_threshold,
        default=0.5,
        metavar="T",
        help="colour-histogram distance (0..1) that counts as a scene cut and "
        "re-initialises the palette; 'off' to never (default 0.5)",
    )
    p.add_argument(
        "--no-delta",
        dest="delta",
        action="store_false",
        help="write every GIF frame in full (default: only what changed, the rest "
        "transparent; full frames also mean at most K colours on screen)",
    )
    p.add_argument(
        "--merge-duplicates",
        action="store_true",
        help="fold a frame that changes nothing into the previous frame's delay "
        "(the frame count drops)",
    )
    p.add_argument(
        "--dither",
        choices=DITHERS,
        default="none",
        help="none (default), bayer or blue-noise (ordered, fixed in screen space), "
        "floyd-steinberg (error diffusion on changed pixels only)",
    )
    p.add_argument(
        "--dither-strength",
        type=_number(0, MAX_DITHER),
        default=1.0,
        help=f"dither amplitude 0..{MAX_DITHER:g}, 1.0 = one palette step (default 1.0)",
    )
    p.add_argument(
        "--denoise",
        type=_strength(8),
        default=1.0,
        metavar="auto|off|S",
        help="hold camera noise in the source still before quantizing (fewer bytes, no "
        "shimmer on still surfaces): auto (default) measures each clip's noise and leaves a "
        "clip with none untouched; off; or a strength S, 0..8, that scales the thresholds "
        "(1 = auto's, 2 = twice the measured noise)",
    )
    p.add_argument(
        "--deband",
        type=_strength(4),
        default=1.0,
        metavar="auto|off|S",
        help="keep smooth gradients free of bands: palette entries weighted to where errors "
        "show, and a fine still dither between close entries of smooth areas only; auto "
        "(default), off, or a strength S, 0..4",
    )
    add_colour_options(p)
    colours = p.add_argument_group("palettes of other files")
    other = colours.add_mutually_exclusive_group()
    other.add_argument(
        "--palette-from",
        metavar="FILE",
        default=None,
        help="quantize to a fixed palette instead of clustering: a .gpl, .json or .hex palette "
        "file (as 'gifquant palette' writes them), or an image or clip (its palette of -k "
        "colours); the output shows only those colours",
    )
    other.add_argument(
        "--transfer",
        metavar="FILE",
        default=None,
        help="move the colours onto another image's or clip's palette (or a palette file's) "
        "before quantizing: clusters matched on lightness and share, shading kept",
    )
    colours.add_argument(
        "--transfer-colours",
        metavar="N",
        type=_positive_int(1, 256),
        default=8,
        help="colours of the --transfer palette taken from an image or clip, and clusters "
        "the clip is matched in, 1..256 (default 8)",
    )
    p.add_argument(
        "-f",
        "--format",
        dest="fmt",
        default=None,
        help=f"output format ({', '.join(OUTPUT_FORMATS)}); default from the extension",
    )
    tl = p.add_argument_group("cutting and resampling (ffmpeg's meanings)")
    tl.add_argument("--ss", type=_time(False), default=0.0, metavar="T", help="start at T seconds")
    tl.add_argument("--t", type=_time(True), default=None, metavar="T", help="keep T seconds")
    tl.add_argument(
        "--frames",
        type=_positive_int(1, MAX_FRAMES),
        default=None,
        metavar="N",
        help="write at most N frames (1..10^9)",
    )
    tl.add_argument(
        "--fps",
        type=_rate,
        default=None,
        metavar="F",
        help="resample to F frames per second, 0.01..100 (frames dropped or repeated, timing kept)",
    )
    tl.add_argument(
        "--scale",
        type=_scale,
        default=None,
        metavar="W:H",
        help="resize; -1 for one side keeps the aspect ratio (e.g. 480:-1)",
    )
    out = p.add_argument_group("loop, matte, lossy compression, size target")
    out.add_argument(
        "--loop",
        type=_positive_int(-1, LOOP_MAX),
        default=None,
        metavar="N",
        help="GIF/APNG loop count: 0 forever, -1 play once, N plays N+1 times (ffmpeg's "
        "-loop); default: the input GIF's, forever for video",
    )
    out.add_argument(
        "--matte",
        type=_colour,
        default=None,
        metavar="COLOUR",
        help="composite transparent and semi-transparent pixels over this colour (a name or "
        "#rrggbb; default white); mp4, webm and y4m always are, GIF and PNG keep pixels under "
        "--alpha-threshold transparent",
    )
    out.add_argument(
        "--alpha-threshold",
        type=_positive_int(0, 255),
        default=128,
        metavar="A",
        help="pixels with alpha below A (0..255) are transparent in GIF and PNG output "
        "(default 128, as ffmpeg's paletteuse)",
    )
    out.add_argument(
        "--lossy",
        type=_positive_int(0, LOSSY_MAX),
        default=None,
        metavar="N",
        help=f"GIF: gifsicle's lossy LZW compression, 0..{LOSSY_MAX} (20-80 typical: "
        "smaller files, some grain); needs pip install 'gifquant[lossy]'",
    )
    out.add_argument(
        "--max-size",
        type=_size,
        default=None,
        metavar="SIZE",
        help="GIF: keep the output under SIZE bytes (K, M, G = powers of 1024, e.g. 10M), "
        "searching k, lossy, scale and fps on a probe of the clip",
    )
    if compare:
        p.add_argument(
            "--compare",
            metavar="PATH",
            help="also write a side-by-side comparison animation, in the format its extension "
            "names (.gif, .mp4, .webm, .y4m, .png)",
        )
        p.add_argument(
            "--panels",
            default=None,
            help="comparison panels, comma-separated: random, seeded, original, k=N, "
            "metric=M, space=S (default random,seeded)",
        )
    p.add_argument(
        "--max-pixels",
        type=_positive_int(1, MAX_BUDGET),
        default=DEFAULT_MAX_PIXELS,
        help=f"refuse frames larger than this many pixels (default {DEFAULT_MAX_PIXELS})",
    )
    p.add_argument(
        "--max-clip-pixels",
        type=_positive_int(0, MAX_BUDGET),
        default=None,
        help="refuse clips that decode to more pixels than this in all, 0 for no limit "
        f"(default {DEFAULT_MAX_CLIP_PIXELS} for GIFs and images, where a few bytes can claim "
        "that many; no limit for video, whose length is its own)",
    )
    ow = p.add_mutually_exclusive_group()
    ow.add_argument("-y", "--overwrite", action="store_true", help="overwrite existing outputs")
    ow.add_argument(
        "-n",
        "--no-overwrite",
        action="store_true",
        help="never overwrite an existing output, and do not ask (without -y or -n gifquant "
        "asks when stdin is a terminal and refuses otherwise)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    p.add_argument(
        "--stats",
        action="store_true",
        help="measure the output against the source and print its mean dE and flicker (and "
        "each comparison panel's); costs about as much CPU as the quantizing",
    )
    p.add_argument(
        "--progress",
        action="store_true",
        help="show the progress bar even when stderr is not a terminal",
    )


def add_colour_options(p: argparse.ArgumentParser) -> None:
    """--enhance, --min-saturation and --representative: how the colours are picked (the main
    command, batch and palette)."""
    g = p.add_argument_group("colour picking")
    g.add_argument(
        "--enhance",
        type=_number(0, MAX_ENHANCE),
        default=1.0,
        metavar="F",
        help="scale each colour's saturation around its grey level before clustering, as "
        f"PIL's ImageEnhance.Color: 0 grey, 1 unchanged (default), up to {MAX_ENHANCE:g}; "
        "the output shows the enhanced colours",
    )
    g.add_argument(
        "--min-saturation",
        type=_number(0, 1),
        default=0.0,
        metavar="S",
        help="leave colours of HSV saturation below S (0..1) out of the fit, so the palette "
        "holds the salient colours; every pixel is still drawn with its nearest entry "
        "(default 0: fit every colour)",
    )
    g.add_argument(
        "--representative",
        choices=REPRESENTATIVES,
        default="mean",
        help="an entry's colour: its cluster's mean (default) or mode, its most common colour "
        "(a colour the frame holds)",
    )


def colour_settings(args: argparse.Namespace) -> dict:
    """The options of ``add_colour_options`` as ``QuantizeOptions`` fields."""
    return dict(
        enhance=args.enhance,
        min_saturation=args.min_saturation,
        representative=args.representative,
    )


def _after_frame(bar) -> Callable[[int], None]:
    def step(i: int) -> None:
        if bar is not None:
            bar.update(1)
        signals.check()  # a signal whose exception was lost in C code

    return step


def _run(args: argparse.Namespace, early: EarlyStart | None = None) -> int:
    check_input(args.input)  # first: a missing input is the mistake to name
    fmt = output_format(args.output, args.fmt)
    _check_output(args.input, args.output, fmt, args)
    if args.report is not None:
        if args.report == "-" or same_file(args.report, args.output):
            raise GifquantError("--report needs its own file path, not the output's")
        if args.compare and same_file(args.report, args.compare):
            raise GifquantError("--report needs its own file path, not --compare's")
        _check_output(args.input, args.report, "file", args)
    if args.compare and not same_file(args.compare, args.output) and args.compare != "-":
        _check_output(
            args.input, args.compare, output_format(args.compare, None, option="--compare"), args
        )
    if args.max_size is not None and args.output == "-":
        raise GifquantError(
            "--max-size needs an output file: it checks the size before anything is written"
        )
    said: list[str] = []

    def note_now(note: str) -> None:  # a note known while the run goes on (a large GIF)
        said.append(note)
        if not args.quiet:
            _say(f"note: {note}")

    # The output, the comparison and the report are put in place together, or none of them.
    with committed_together(commit=False) as commit:
        report = _convert(args, early, note_now)
        if args.report is not None:
            with output_file(args.report) as f:
                f.write(report.to_json().encode())
        signals.finish()  # every output is written: what is left is renaming them and printing
        commit()
    if not args.quiet:
        for note in report.notes:
            if note not in said:  # a note said during the run is not said again
                _say(f"note: {note}")
    if args.quiet and not args.stats:
        return 0
    # -q silences progress and notes, not what was asked for (--stats).
    fps = report.frames / report.seconds if report.seconds else 0.0
    quality = (
        f"mean dE {report.dE:.2f}, dE p99 {report.dE_p99:.2f}, flicker {report.flicker:.3f}, "
        f"incoherence {report.incoherence:.4f}, ghosts {report.ghosts:.4f}, "
        f"banding {report.banding:.4f}, colours on screen {report.colours_on_screen}, "
        if args.stats
        else ""
    )
    k = report.chosen.k if report.chosen is not None else report.settings.get("k", args.k)
    mode = "fixed palette" if args.palette_from else "seeded" if args.seeded else "random"
    _say(f"{report.frames} frames, k={k} {mode}, {quality}{report.seconds:.2f} s ({fps:.1f} fps)")
    if report.cuts and not args.quiet:
        shown = ", ".join(str(c) for c in report.cuts[:20])
        more = f" (+{len(report.cuts) - 20} more)" if len(report.cuts) > 20 else ""
        _say(f"{len(report.cuts)} scene cuts at frames {shown}{more}", prefix="  ")
    for label, st in report.panels.items():
        _say(
            f"compare {label}: mean dE {st.dE:.2f}, dE p99 {st.dE_p99:.2f}, "
            f"flicker {st.flicker:.3f}, incoherence {st.incoherence:.4f}, "
            f"ghosts {st.ghosts:.4f}, banding {st.banding:.4f}, "
            f"colours on screen {st.colours_on_screen}",
            prefix="  ",
        )
    return 0


def _convert(args: argparse.Namespace, early: EarlyStart | None, on_note) -> ConvertReport:
    """The main command's ``convert`` call."""
    return convert(
        args.input,
        args.output,
        early=early,
        format=args.fmt,
        overwrite=True,  # asked above
        compare=args.compare,
        panels=args.panels,
        records=args.report is not None,
        progress=not args.quiet
        and sys.stderr is not None
        and (args.progress or sys.stderr.isatty()),
        on_frame=lambda i: signals.check(),  # a signal whose exception was lost in C code
        on_note=on_note,
        **file_settings(args),
    )


def file_settings(args: argparse.Namespace) -> dict:
    """``convert``'s per-file settings from the parsed options (main command and batch)."""
    return dict(
        ss=args.ss,
        t=args.t,
        frames=args.frames,
        fps=args.fps,
        scale=args.scale,
        merge_duplicates=args.merge_duplicates,
        max_pixels=args.max_pixels,
        max_clip_pixels=args.max_clip_pixels,
        stats=args.stats,
        loop=args.loop,
        matte=args.matte,
        lossy=args.lossy,
        max_size=args.max_size,
        alpha_threshold=args.alpha_threshold,
        # With --max-size, -k is the most the search may use; without it, the default 16.
        **({} if args.max_size is not None and args.k is None else {"k": args.k or 16}),
        seeded=args.seeded,
        metric=args.metric,
        space=args.space,
        init=args.init,
        n_init=args.n_init,
        max_iter=args.max_iter,
        tol=args.tol,
        seed=args.seed,
        palette_hysteresis=args.palette_hysteresis,
        palette_memory=args.palette_memory,
        scene_threshold=args.scene_threshold,
        delta=args.delta,
        dither=args.dither,
        dither_strength=args.dither_strength,
        denoise=args.denoise,
        deband=args.deband,
        **colour_settings(args),
        palette_from=args.palette_from,
        transfer=args.transfer,
        transfer_colours=args.transfer_colours,
    )


def _glue_negative_scale(argv: Sequence[str]) -> list[str]:
    """``--scale -1:240`` as ffmpeg users write it: argparse would take -1:240 for an option."""
    out = [str(a) for a in argv]
    for i in range(len(out) - 1):
        if out[i] == "--scale" and re.match(r"-\d+[:x]", out[i + 1]):
            out[i : i + 2] = [f"--scale={out[i + 1]}"]
            break
    return out


def _check_output(inp: str, out: str, fmt: str, args: argparse.Namespace) -> None:
    """Refuse a bad output path; for an existing one follow -y / -n, or ask like ffmpeg."""
    check_paths(inp, out, fmt)  # the input, a folder, a missing or read-only folder
    _may_replace(out, args, stdin_free=inp != "-")


def _may_replace(out: str, args: argparse.Namespace, *, stdin_free: bool) -> None:
    """For an existing output follow -y / -n, or ask like ffmpeg when stdin is a terminal
    (and not an input: ``stdin_free``)."""
    if out == "-" or not os.path.lexists(out) or args.overwrite:
        return
    if args.no_overwrite:  # as ffmpeg's -n: a device or FIFO that exists is refused too
        raise GifquantError(f"{out}: already exists; not overwriting (-n)")
    if is_special(out):
        return  # written into, not replaced: nothing to ask
    if not stdin_free or sys.stdin is None or not sys.stdin.isatty() or sys.stderr is None:
        raise GifquantError(f"{out}: already exists (use -y to overwrite)")
    _say(f"File '{out}' already exists. Overwrite? [y/N] ", prefix="", end="")
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise GifquantError(f"{out}: already exists; not overwriting")


# --------------------------------------------------------------------------------------------
# gifquant batch


def build_batch_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="gifquant batch",
        allow_abbrev=False,
        description="Re-encode many files with the main command's options, in worker processes "
        "or on a Dask cluster; outputs mirror the input tree under --out-dir, and those that "
        "exist are skipped (unless -y), so a stopped batch resumes.",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="a glob (quoted; ** recursive), a folder (walked recursively), a list file "
        "(.txt, one path a line; - reads the list from stdin) or a file",
    )
    p.add_argument("--out-dir", required=True, metavar="DIR", help="the folder the outputs go to")
    p.add_argument(
        "--jobs",
        "-j",
        type=_positive_int(1, 4096),
        default=None,
        metavar="N",
        help=f"worker processes (default: the cores, {os.cpu_count()})",
    )
    p.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="run on a Dask cluster: its scheduler's address (tcp://host:8786), or 'local' "
        "for a LocalCluster of --jobs processes (needs gifquant[dask])",
    )
    p.add_argument(
        "--summary",
        metavar="FILE.json",
        help="write the totals and a record per file (settings, figures, error) as JSON "
        "(- for stdout)",
    )
    add_file_options(p, compare=False)
    p.add_argument("--version", action="version", version=f"gifquant {__version__}")
    return p


def _until_help(run: Callable[[], int]) -> int:
    """``run()``, or the exit code of the --help or --version it printed (a signal's
    ``Interrupted``, a SystemExit too, goes on up)."""
    try:
        return run()
    except SystemExit as exc:
        if isinstance(exc, signals.Interrupted):
            raise
        return int(exc.code or 0)


def _batch_main(argv: Sequence[str], early: EarlyStart | None = None) -> int:
    return _until_help(
        lambda: _run_batch(build_batch_parser().parse_args(_glue_negative_scale(argv)))
    )


def _check_summary(args: argparse.Namespace) -> None:
    """Refuse a --summary path that would replace a folder, an input or an output; an
    existing file is replaced as an output is (-y, or asked on a terminal)."""
    from ._batch import plan
    from ._io.streams import inside

    path = args.summary
    if path is None or path == "-":  # "-": stdout
        return
    if os.path.isdir(path):
        raise GifquantError(f"--summary {path}: is a directory")
    if inside(path, args.out_dir):
        raise GifquantError(f"--summary {path}: it must not be inside --out-dir")
    if not os.path.isdir(os.path.dirname(path) or "."):
        raise GifquantError(f"--summary {path}: no such folder")
    if not is_special(path):
        check_writable(path)  # now, not once every file is done
    if "-" not in args.inputs:  # a list on stdin is read once, by the batch
        for job in plan(args.inputs, args.out_dir, args.fmt):
            if same_file(job.src, path):
                raise GifquantError(f"--summary {path}: is an input of the batch")
    _may_replace(path, args, stdin_free="-" not in args.inputs)


def _run_batch(args: argparse.Namespace) -> int:
    from ._batch import batch

    show_bar = not args.quiet and sys.stderr is not None and (args.progress or sys.stderr.isatty())
    _check_summary(args)  # said now, not once every file is done
    with contextlib.ExitStack() as stack:
        bar = None
        frames = 0

        def on_start(n: int) -> None:
            nonlocal bar
            if show_bar:
                from tqdm import tqdm

                bar = stack.enter_context(
                    tqdm(total=n, unit="file", file=sys.stderr, dynamic_ncols=True)
                )

        def on_record(r) -> None:
            nonlocal frames
            if r.status == "failed":
                where = "" if r.error.startswith(r.src) else f"{r.src}: "
                line = f"gifquant: error: {where}{r.error}"
                if bar is not None:
                    bar.write(line, file=sys.stderr)
                else:
                    _say(line, prefix="")
            if bar is not None:
                frames += r.frames or 0
                bar.set_postfix_str(f"{frames} frames", refresh=False)
                bar.update(1)
            signals.check()

        try:
            report = batch(
                args.inputs,
                args.out_dir,
                format=args.fmt,
                overwrite=args.overwrite,
                jobs=args.jobs,
                client=args.dask,
                on_start=on_start,
                on_record=on_record,
                **file_settings(args),
            )
        except signals.Interrupted as exc:
            if bar is not None:
                bar.close()
            signals.reset()
            _say(
                f"interrupted ({signal.Signals(exc.signum).name}); the files in progress were "
                "not written, those done are in place: the same command resumes"
            )
            return exc.code
    if args.summary == "-":
        import json

        sys.stdout.write(json.dumps(report.as_dict(), indent=1) + "\n")
        sys.stdout.flush()
    elif args.summary:
        _write_json(args.summary, report.as_dict())
    if not args.quiet:
        _say(
            f"batch: {report.done} done, {report.skipped} skipped, {report.failed} failed; "
            f"{_mb(report.bytes_in)} in, {_mb(report.bytes_out)} out; "
            f"{report.seconds:.2f} s ({report.files_per_second:.1f} files/s)"
        )
    return 0 if report.ok else 1


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


def _write_json(path: str, data: dict) -> None:
    import json

    from ._io.atomic import output_file

    with output_file(path) as f:
        f.write((json.dumps(data, indent=1) + "\n").encode())


SUBCOMMANDS: dict[str, Callable[..., int]] = {}  # filled below: batch, palette, compare


def main(argv: Sequence[str] | None = None, *, early: EarlyStart | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 other failure, 2 usage or input
    error, 128 + N after signal N: 130 SIGINT, 143 SIGTERM, 129 SIGHUP, 131 SIGQUIT)."""
    old = signals.install()
    try:
        signals.check()  # one that arrived while the command was importing
        return _main(argv, early)
    except BaseException as exc:  # noqa: BLE001 - every way out is one line and an exit code
        children.kill_all()  # a child whose owner was given up on
        return _failed(exc)
    finally:
        signals.restore(old)


def _main(argv: Sequence[str] | None, early: EarlyStart | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:  # a file of that name is reached as ./batch
        return SUBCOMMANDS[argv[0]](argv[1:], early)
    return _until_help(lambda: _run(build_parser().parse_args(_glue_negative_scale(argv)), early))


def _palette_main(argv: Sequence[str], early: EarlyStart | None = None) -> int:
    from . import _cli_palette

    return _until_help(lambda: _cli_palette.run(argv))


def _compare_main(argv: Sequence[str], early: EarlyStart | None = None) -> int:
    from . import _cli_compare

    return _until_help(lambda: _cli_compare.run(argv, lambda i: signals.check()))


# Subcommands, when they come first: gifquant palette IN ..., gifquant compare IN OUT ...
SUBCOMMANDS.update(batch=_batch_main, palette=_palette_main, compare=_compare_main)


def _failed(exc: BaseException) -> int:
    """Say why the run failed, in one line on stderr, and give its exit code."""
    signum = signals.received()
    if signum is not None or isinstance(exc, KeyboardInterrupt):
        # Interrupted, or failing because of it (a child process got the same Ctrl-C).
        interrupted = exc if isinstance(exc, signals.Interrupted) else None
        if interrupted is None and signum is not None:
            interrupted = signals.Interrupted(signum)
        signals.reset()
        if interrupted is None:  # Ctrl-C with no handler of ours (not the main thread)
            _say("interrupted; no output written")
            return 130
        _say(interrupted.message)
        return interrupted.code
    if isinstance(exc, GifquantError):
        _say(f"error: {exc}")
        return exc.exit_code
    if isinstance(exc, BrokenPipeError):  # the reader of our stdout went away: stop quietly
        _silence_stdout()
        return 1
    if isinstance(exc, OSError):  # disk full, output vanished mid-run: say so in one line
        where = f"{exc.filename}: " if exc.filename else ""
        _say(f"error: {where}{exc.strerror or exc}")
        return 1
    if isinstance(exc, MemoryError):
        _say("error: out of memory")
        return 1
    if isinstance(exc, SystemExit):
        raise exc
    _say(f"internal error: {type(exc).__name__}: {exc}")  # a bug: still one line
    return 1


def _say(text: str, *, prefix: str = "gifquant: ", end: str = "\n") -> None:
    """One line on stderr (nothing when stderr is closed)."""
    if sys.stderr is not None:
        with contextlib.suppress(Exception):
            print(f"{prefix}{text}", file=sys.stderr, end=end, flush=True)


def _silence_stdout() -> None:
    """Point fd 1 at /dev/null so the interpreter's final flush does not fail again."""
    import os

    with contextlib.suppress(OSError, ValueError):
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, sys.stdout.fileno())
        os.close(fd)
