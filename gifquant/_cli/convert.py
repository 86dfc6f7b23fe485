"""The main command, ``gifquant IN OUT``: its options (shared with ``batch``), its run and
what it prints."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence

from .. import _signals as signals
from .._core.colour import SPACES
from .._core.dither import DITHERS
from .._core.kmeans import INITS, METRICS
from .._errors import GifquantError
from .._io.atomic import committed_together, output_file
from .._io.prestart import EarlyStart
from .._io.streams import (
    DEFAULT_MAX_CLIP_PIXELS,
    DEFAULT_MAX_PIXELS,
    OUTPUT_FORMATS,
    check_input,
    output_format,
    same_file,
)
from .._run.convert import convert_file
from .._run.settings import LOOP_MAX, LOSSY_MAX, MAX_SPEED, Settings
from .._version import __version__
from .args import (
    MAX_BUDGET,
    MAX_DE,
    MAX_DITHER,
    MAX_FRAMES,
    MAX_SEED,
    Parser,
    add_colour_options,
    check_output,
    colour_value,
    number,
    positive_int,
    rate,
    say,
    scale_value,
    scene_threshold,
    size_value,
    strength,
    time_value,
)


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
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
        type=positive_int(1, 256),
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
        type=positive_int(1, 100),
        default=3,
        help="restarts of an initialisation, the lowest inertia wins (default 3)",
    )
    p.add_argument(
        "--max-iter",
        type=positive_int(1, 10000),
        default=50,
        help="Lloyd iterations per frame at most (default 50)",
    )
    p.add_argument(
        "--tol",
        type=number(0, MAX_DE),
        default=1e-3,
        help="stop when no centroid moves more than this (colour-space units, 0..100)",
    )
    p.add_argument(
        "--seed",
        type=positive_int(0, MAX_SEED),
        default=0,
        help="random seed: the same seed gives the same output (default 0)",
    )
    p.add_argument(
        "--palette-hysteresis",
        type=number(0, MAX_DE),
        default=3.0,
        metavar="DE",
        help="a palette entry's colour changes only once its centroid moved more than "
        "this (CIE76 dE, 0..100), or its cluster's spread if that is less (0 = off; default 3.0)",
    )
    p.add_argument(
        "--palette-memory",
        type=number(0, 1, below_hi=True),
        default=0.95,
        metavar="M",
        help="mini-batch k-means: how much of each centre's pixel mass carries over to the "
        "next frame (0..0.999), so the palette follows a change over about 1/(1-M) frames; "
        "0 = a full k-means on every frame, seeded from the last (default 0.95)",
    )
    p.add_argument(
        "--scene-threshold",
        type=scene_threshold,
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
        type=number(0, MAX_DITHER),
        default=1.0,
        help=f"dither amplitude 0..{MAX_DITHER:g}, 1.0 = one palette step (default 1.0)",
    )
    p.add_argument(
        "--denoise",
        type=strength(8),
        default=1.0,
        metavar="auto|off|S",
        help="hold camera noise in the source still before quantizing (fewer bytes, no "
        "shimmer on still surfaces): auto (default) measures each clip's noise and leaves a "
        "clip with none untouched; off; or a strength S, 0..8, that scales the thresholds "
        "(1 = auto's, 2 = twice the measured noise)",
    )
    p.add_argument(
        "--deband",
        type=strength(4),
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
        type=positive_int(1, 256),
        default=8,
        help="colours of the --transfer palette taken from an image or clip, and clusters "
        "the clip is matched in, 1..256 (default 8)",
    )
    p.add_argument(
        "-f",
        "--format",
        dest="format",
        default=None,
        help=f"output format ({', '.join(OUTPUT_FORMATS)}); default from the extension",
    )
    tl = p.add_argument_group("cutting and resampling (ffmpeg's meanings)")
    tl.add_argument(
        "--ss", type=time_value(False), default=0.0, metavar="T", help="start at T seconds"
    )
    tl.add_argument("--t", type=time_value(True), default=None, metavar="T", help="keep T seconds")
    tl.add_argument(
        "--frames",
        type=positive_int(1, MAX_FRAMES),
        default=None,
        metavar="N",
        help="write at most N frames (1..10^9)",
    )
    tl.add_argument(
        "--speed",
        type=number(0.01, MAX_SPEED),
        default=1.0,
        metavar="F",
        help="play F times as fast, 0.01..100 (0.5: half speed): every frame is kept and shown "
        "1/F as long; --ss and --t are the source's times, --fps the output's rate",
    )
    tl.add_argument(
        "--fps",
        type=rate,
        default=None,
        metavar="F",
        help="resample to F frames per second, 0.01..100 (frames dropped or repeated, timing kept)",
    )
    tl.add_argument(
        "--scale",
        type=scale_value,
        default=None,
        metavar="W:H",
        help="resize; -1 for one side keeps the aspect ratio (e.g. 480:-1)",
    )
    out = p.add_argument_group("loop, matte, lossy compression, size target")
    out.add_argument(
        "--loop",
        type=positive_int(-1, LOOP_MAX),
        default=None,
        metavar="N",
        help="GIF/APNG loop count: 0 forever, -1 play once, N plays N+1 times (ffmpeg's "
        "-loop); default: the input GIF's, forever for video",
    )
    out.add_argument(
        "--matte",
        type=colour_value,
        default=None,
        metavar="COLOUR",
        help="composite transparent and semi-transparent pixels over this colour (a name or "
        "#rrggbb; default white); mp4, webm and y4m always are, GIF and PNG keep pixels under "
        "--alpha-threshold transparent",
    )
    out.add_argument(
        "--alpha-threshold",
        type=positive_int(0, 255),
        default=128,
        metavar="A",
        help="pixels with alpha below A (0..255) are transparent in GIF and PNG output "
        "(default 128, as ffmpeg's paletteuse)",
    )
    out.add_argument(
        "--lossy",
        type=positive_int(0, LOSSY_MAX),
        default=None,
        metavar="N",
        help=f"GIF: gifsicle's lossy LZW compression, 0..{LOSSY_MAX} (20-80 typical: "
        "smaller files, some grain); needs pip install 'gifquant[lossy]'",
    )
    out.add_argument(
        "--max-size",
        type=size_value,
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
        type=positive_int(1, MAX_BUDGET),
        default=DEFAULT_MAX_PIXELS,
        help=f"refuse frames larger than this many pixels (default {DEFAULT_MAX_PIXELS})",
    )
    p.add_argument(
        "--max-clip-pixels",
        type=positive_int(0, MAX_BUDGET),
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


def _after_frame(bar) -> Callable[[int], None]:
    def step(i: int) -> None:
        if bar is not None:
            bar.update(1)
        signals.check()  # a signal whose exception was lost in C code

    return step


class _FrameBar:
    """The bar of frames on stderr, drawn from the library's reports (``on_progress``); made at
    the first, when the number of frames is known."""

    def __init__(self) -> None:
        self._bar = None  # a tqdm bar

    def __call__(self, done: int, total: int | None) -> None:
        if self._bar is None:
            # tqdm is imported here: with its package metadata look-up it costs more start-up
            # than any other import but numpy's, and a run without a bar never needs it.
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="frame", file=sys.stderr, leave=False)
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def show_bar(args: argparse.Namespace) -> bool:
    return not args.quiet and sys.stderr is not None and (args.progress or sys.stderr.isatty())


def run(args: argparse.Namespace, early: EarlyStart | None = None) -> int:
    check_input(args.input)  # first: a missing input is the mistake to name
    fmt = output_format(args.output, args.format)
    check_output(args.input, args.output, fmt, args)
    if args.report is not None:
        if args.report == "-" or same_file(args.report, args.output):
            raise GifquantError("--report needs its own file path, not the output's")
        if args.compare and same_file(args.report, args.compare):
            raise GifquantError("--report needs its own file path, not --compare's")
        check_output(args.input, args.report, "file", args)
    if args.compare and not same_file(args.compare, args.output) and args.compare != "-":
        check_output(
            args.input, args.compare, output_format(args.compare, None, option="compare"), args
        )
    if args.max_size is not None and args.output == "-":
        raise GifquantError(
            "--max-size needs an output file: it checks the size before anything is written"
        )
    said: list[str] = []

    def note_now(note: str) -> None:  # a note known while the run goes on (a large GIF)
        said.append(note)
        if not args.quiet:
            say(f"note: {note}")

    settings = Settings.from_arguments(args, overwrite=True, records=args.report is not None)
    bar = _FrameBar() if show_bar(args) else None
    # The output, the comparison and the report are put in place together, or none of them.
    with committed_together(commit=False) as commit:
        try:
            report = convert_file(
                args.input,
                args.output,
                settings,
                early=early,
                on_progress=bar,
                on_frame=lambda i: signals.check(),  # a signal whose exception was lost in C
                on_note=note_now,
            )
        finally:
            if bar is not None:
                bar.close()
        if args.report is not None:
            with output_file(args.report) as f:
                f.write(report.to_json().encode())
        signals.finish()  # every output is written: what is left is renaming them and printing
        commit()
    if not args.quiet:
        for note in report.notes:
            if note not in said:  # a note said during the run is not said again
                say(f"note: {note}")
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
    say(f"{report.frames} frames, k={k} {mode}, {quality}{report.seconds:.2f} s ({fps:.1f} fps)")
    if report.cuts and not args.quiet:
        shown = ", ".join(str(c) for c in report.cuts[:20])
        more = f" (+{len(report.cuts) - 20} more)" if len(report.cuts) > 20 else ""
        say(f"{len(report.cuts)} scene cuts at frames {shown}{more}", prefix="  ")
    for label, st in report.panels.items():
        say(
            f"compare {label}: mean dE {st.dE:.2f}, dE p99 {st.dE_p99:.2f}, "
            f"flicker {st.flicker:.3f}, incoherence {st.incoherence:.4f}, "
            f"ghosts {st.ghosts:.4f}, banding {st.banding:.4f}, "
            f"colours on screen {st.colours_on_screen}",
            prefix="  ",
        )
    return 0


def glue_negative_scale(argv: Sequence[str]) -> list[str]:
    """``--scale -1:240`` as ffmpeg users write it: argparse would take -1:240 for an option."""
    out = [str(a) for a in argv]
    for i in range(len(out) - 1):
        if out[i] == "--scale" and re.match(r"-\d+[:x]", out[i + 1]):
            out[i : i + 2] = [f"--scale={out[i + 1]}"]
            break
    return out
