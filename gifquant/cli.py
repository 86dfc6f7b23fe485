"""Command line: ``gifquant IN OUT -k K [--seeded|--random] ...``. The only module that prints."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Sequence

from . import __version__
from .colour import SPACES
from .errors import GifquantError
from .io.budget import limit_clip
from .io.streams import (
    DEFAULT_MAX_CLIP_PIXELS,
    DEFAULT_MAX_PIXELS,
    OUTPUT_FORMATS,
    check_paths,
    open_input,
    open_output,
    output_format,
)
from .kmeans import INITS, METRICS
from .pipeline import parse_panels, run
from .quantize import QuantizeOptions


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, like argparse but without usage
        raise GifquantError(message)


def _positive_int(lo: int, hi: int | None = None):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if v < lo or (hi is not None and v > hi):
            rng = f"{lo}..{hi}" if hi is not None else f">= {lo}"
            raise argparse.ArgumentTypeError(f"{v} is outside {rng}")
        return v

    return parse


def _nonneg_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not v >= 0:
        raise argparse.ArgumentTypeError(f"{text} must be >= 0")
    return v


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="gifquant",
        description="Re-encode an animated GIF (or image) with K colours per frame, seeding each "
        "frame's k-means from the previous one so the colours do not flicker.",
    )
    p.add_argument("input", help="input GIF or image, or - for stdin")
    p.add_argument("output", help="output file, or - for stdout (needs -f)")
    p.add_argument(
        "-k",
        "--colours",
        "--colors",
        dest="k",
        type=_positive_int(1, 256),
        default=16,
        help="palette entries per frame, 1..256 (default 16)",
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
        type=_nonneg_float,
        default=1e-3,
        help="stop when no centroid moves more than this (colour-space units)",
    )
    p.add_argument(
        "--seed",
        type=_positive_int(0),
        default=0,
        help="random seed: the same seed gives the same output (default 0)",
    )
    p.add_argument(
        "-f",
        "--format",
        dest="fmt",
        default=None,
        help=f"output format ({', '.join(OUTPUT_FORMATS)}); default from the extension",
    )
    p.add_argument(
        "--compare", metavar="PATH", help="also write a side-by-side comparison animation (GIF)"
    )
    p.add_argument(
        "--panels",
        default="random,seeded",
        help="comparison panels, comma-separated: random, seeded, original, k=N, "
        "metric=M, space=S (default random,seeded)",
    )
    p.add_argument(
        "--max-pixels",
        type=_positive_int(1),
        default=DEFAULT_MAX_PIXELS,
        help=f"refuse frames larger than this many pixels (default {DEFAULT_MAX_PIXELS})",
    )
    p.add_argument(
        "--max-clip-pixels",
        type=_positive_int(0),
        default=DEFAULT_MAX_CLIP_PIXELS,
        help="refuse clips that decode to more pixels than this in all, 0 for no limit "
        f"(default {DEFAULT_MAX_CLIP_PIXELS})",
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
        "--progress",
        action="store_true",
        help="show the progress bar even when stderr is not a terminal",
    )
    p.add_argument("--version", action="version", version=f"gifquant {__version__}")
    return p


class _Terminated(KeyboardInterrupt):
    """SIGTERM, taking the same clean-up path as Ctrl-C."""


def _sigterm(signum, frame):
    raise _Terminated


def _run(args: argparse.Namespace) -> int:
    options = QuantizeOptions(
        k=args.k,
        seeded=args.seeded,
        metric=args.metric,
        space=args.space,
        init=args.init,
        n_init=args.n_init,
        max_iter=args.max_iter,
        tol=args.tol,
        seed=args.seed,
    )
    fmt = output_format(args.output, args.fmt)
    _check_output(args.input, args.output, args)
    panels = None
    if args.compare:
        if args.compare == "-" or args.compare == args.output:
            raise GifquantError("--compare needs its own file path")
        output_format(args.compare, "gif" if args.compare.lower().endswith(".gif") else None)
        _check_output(args.input, args.compare, args)
        try:
            panels = parse_panels(args.panels, options)
        except ValueError as exc:
            raise GifquantError(f"--panels: {exc}") from None

    show_bar = not args.quiet and (args.progress or sys.stderr.isatty())
    with contextlib.ExitStack() as stack:
        reader = stack.enter_context(
            open_input(args.input, max_pixels=args.max_pixels, max_clip_pixels=args.max_clip_pixels)
        )
        info = reader.info
        sink = stack.enter_context(open_output(args.output, fmt, info))
        compare_sink = None
        if panels is not None:
            from .compare import GAP, label_height

            n = len(panels)
            compare_sink = stack.enter_context(
                open_output(
                    args.compare,
                    "gif",
                    info,
                    width=n * info.width + (n - 1) * GAP,
                    height=info.height + label_height(info.height),
                )
            )
        bar = None
        if show_bar:
            from tqdm import tqdm

            bar = stack.enter_context(
                tqdm(total=info.n_frames, unit="frame", file=sys.stderr, leave=False)
            )
        report = run(
            limit_clip(reader, name=args.input, max_clip_pixels=args.max_clip_pixels),
            sink,
            options,
            compare_sink=compare_sink,
            panels=panels,
            on_frame=(lambda i: bar.update(1)) if bar is not None else None,
            measure=not args.quiet,
        )
    if not args.quiet:
        fps = report.n_frames / report.seconds if report.seconds else 0.0
        print(
            f"gifquant: {report.n_frames} frames, k={args.k} "
            f"{'seeded' if args.seeded else 'random'}, mean dE {report.meter.mean_de:.2f}, "
            f"flicker {report.meter.flicker:.3f}, {report.seconds:.2f} s ({fps:.1f} fps)",
            file=sys.stderr,
        )
        for label, meter in report.panel_meters.items():
            print(
                f"  compare {label}: mean dE {meter.mean_de:.2f}, flicker {meter.flicker:.3f}",
                file=sys.stderr,
            )
    return 0


def _check_output(inp: str, out: str, args: argparse.Namespace) -> None:
    """Refuse a bad output path; for an existing one follow -y / -n, or ask like ffmpeg."""
    check_paths(inp, out, overwrite=True)  # the input, a missing or read-only folder
    if out == "-" or not os.path.lexists(out) or args.overwrite:
        return
    if args.no_overwrite:
        raise GifquantError(f"{out}: already exists; not overwriting (-n)")
    if inp == "-" or not sys.stdin.isatty():
        raise GifquantError(f"{out}: already exists (use -y to overwrite)")
    print(f"File '{out}' already exists. Overwrite? [y/N] ", end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise GifquantError(f"{out}: already exists; not overwriting")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 other failure, 2 usage or input
    error, 130 interrupted, 143 terminated)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except GifquantError as exc:
        print(f"gifquant: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except SystemExit as exc:  # --help, --version
        return int(exc.code or 0)
    old = signal.signal(signal.SIGTERM, _sigterm) if _main_thread() else None
    try:
        return _run(args)
    except GifquantError as exc:
        print(f"gifquant: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        print("gifquant: interrupted; no output written", file=sys.stderr)
        return 143 if isinstance(exc, _Terminated) else 130
    except BrokenPipeError:
        return 1
    except OSError as exc:  # disk full, output vanished mid-run: say so in one line
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"gifquant: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except MemoryError:
        print("gifquant: error: out of memory", file=sys.stderr)
        return 1
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def main_entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
