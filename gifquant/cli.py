"""Command line: ``gifquant IN OUT -k K [--seeded|--random] ...``. The only module that prints."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Sequence

from . import __version__
from .colour import SPACES
from .dither import DITHERS
from .errors import GifquantError
from .io.budget import limit_clip
from .io.image import ImageReader
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
from .pipeline import SERIAL_PIXELS, parse_panels, run
from .quantize import QuantizeOptions
from .resize import parse_scale
from .timeline import TimelineOptions, apply_timeline


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


def _fraction(text: str) -> float:
    value = _nonneg_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"must be at least 0 and less than 1, not {text!r}")
    return value


def _nonneg_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not v >= 0:
        raise argparse.ArgumentTypeError(f"{text} must be >= 0")
    return v


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
            raise argparse.ArgumentTypeError(f"{text} must be {'> 0' if positive else '>= 0'}")
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
    if not 0.01 <= v <= 1000:
        raise argparse.ArgumentTypeError(f"{text} is outside 0.01..1000 frames per second")
    return v


def _scale(text: str) -> tuple[int, int]:
    try:
        return parse_scale(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _return_freed_memory() -> None:
    """Have glibc's malloc map blocks of 4 MiB and more on their own, so that freeing one hands
    it back to the system. By default the threshold climbs to 32 MiB after the first large free,
    and a large frame's many chunk-sized temporaries then stay resident (~60 MB at 16 M pixels).
    Elsewhere (not glibc) nothing is done."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        libc.mallopt(-3, 4 << 20)  # M_MMAP_THRESHOLD; a fixed value also stops the climbing
    except (OSError, AttributeError):
        pass


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="gifquant",
        description="Re-encode an animated GIF, image or video with K colours per frame, seeding "
        "each frame's k-means from the previous one so the colours do not flicker.",
    )
    p.add_argument("input", help="input GIF, image or video, or - for stdin (y4m or GIF)")
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
        "--palette-hysteresis",
        type=_nonneg_float,
        default=3.0,
        metavar="DE",
        help="a palette entry's colour changes only once its centroid moved more than "
        "this (CIE76 dE), or its cluster's spread if that is less (0 = off; default 3.0)",
    )
    p.add_argument(
        "--palette-memory",
        type=_fraction,
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
        type=_nonneg_float,
        default=1.0,
        help="dither amplitude, 1.0 = one palette step (default 1.0)",
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
        "--frames", type=_positive_int(1), default=None, metavar="N", help="write at most N frames"
    )
    tl.add_argument(
        "--fps",
        type=_rate,
        default=None,
        metavar="F",
        help="resample to F frames per second (frames dropped or repeated, timing kept)",
    )
    tl.add_argument(
        "--scale",
        type=_scale,
        default=None,
        metavar="W:H",
        help="resize; -1 for one side keeps the aspect ratio (e.g. 480:-1)",
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
    p.add_argument("--version", action="version", version=f"gifquant {__version__}")
    return p


class _Terminated(KeyboardInterrupt):
    """SIGTERM, taking the same clean-up path as Ctrl-C."""


# Set by the SIGTERM handler. The exception it raises can be lost when the signal lands inside
# C code that swallows errors (e.g. a numpy submodule being imported), so every frame also
# checks the flag.
_terminated = threading.Event()


def _sigterm(signum, frame):
    _terminated.set()
    raise _Terminated


def _after_frame(bar) -> Callable[[int], None]:
    def step(i: int) -> None:
        if bar is not None:
            bar.update(1)
        if _terminated.is_set():
            raise _Terminated

    return step


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
        palette_hysteresis=args.palette_hysteresis,
        palette_memory=args.palette_memory,
        scene_threshold=args.scene_threshold,
        delta=args.delta,
        dither=args.dither,
        dither_strength=args.dither_strength,
    )
    fmt = output_format(args.output, args.fmt)
    # Only GIF output draws what changed over what is on screen (the comparison is a GIF).
    panel_options = options
    options = dataclasses.replace(options, delta=args.delta and fmt == "gif")
    _check_output(args.input, args.output, args)
    panels = None
    if args.compare:
        if args.compare == "-" or args.compare == args.output:
            raise GifquantError("--compare needs its own file path")
        output_format(args.compare, "gif" if args.compare.lower().endswith(".gif") else None)
        _check_output(args.input, args.compare, args)
        try:
            panels = parse_panels(args.panels, panel_options)
        except ValueError as exc:
            raise GifquantError(f"--panels: {exc}") from None

    show_bar = not args.quiet and (args.progress or sys.stderr.isatty())
    timeline = TimelineOptions(
        ss=args.ss, t=args.t, frames=args.frames, fps=args.fps, scale=args.scale
    )
    with contextlib.ExitStack() as stack:
        reader = stack.enter_context(
            open_input(
                args.input,
                max_pixels=args.max_pixels,
                max_clip_pixels=_clip_budget(args, image=True),
                start=args.ss,
            )
        )
        timeline = dataclasses.replace(timeline, ss=max(0.0, timeline.ss - reader.seeked))
        budget = _clip_budget(args, image=isinstance(reader, ImageReader))
        decoded = limit_clip(reader, name=args.input, max_clip_pixels=budget)
        info, frames = apply_timeline(decoded, reader.info, timeline)
        if info.width * info.height > args.max_pixels:
            raise GifquantError(
                f"--scale: {info.width}x{info.height} is over the limit of {args.max_pixels} "
                "pixels per frame (--max-pixels)"
            )
        if fmt == "gif" and info.fps and info.fps > 50 and not args.quiet:
            print(
                f"gifquant: note: {info.fps:g} fps needs GIF delays under 2 cs, which browsers "
                "slow down to 10 cs; --fps 25 plays at the right speed",
                file=sys.stderr,
            )
        sink = stack.enter_context(
            open_output(args.output, fmt, info, merge_duplicates=args.merge_duplicates)
        )
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
        large = info.width * info.height >= SERIAL_PIXELS
        if large:
            _return_freed_memory()
        report = run(
            frames,
            sink,
            options,
            compare_sink=compare_sink,
            panels=panels,
            on_frame=_after_frame(bar),
            measure=args.stats and not args.quiet,
            threads=not large,
        )
        if report.n_frames == 0:  # raised inside the block, so no output file is left
            raise GifquantError(
                f"{args.input}: no frames in the requested range (--ss {args.ss:g}"
                + (f" --t {args.t:g})" if args.t is not None else ")")
            )
    if not args.quiet:
        fps = report.n_frames / report.seconds if report.seconds else 0.0
        quality = (
            f"mean dE {report.meter.mean_de:.2f}, flicker {report.meter.flicker:.3f}, "
            f"incoherence {report.meter.incoherence:.4f}, "
            f"colours on screen {report.meter.colours_max}, "
            if args.stats
            else ""
        )
        print(
            f"gifquant: {report.n_frames} frames, k={args.k} "
            f"{'seeded' if args.seeded else 'random'}, {quality}"
            f"{report.seconds:.2f} s ({fps:.1f} fps)",
            file=sys.stderr,
        )
        if report.cuts:
            shown = ", ".join(str(c) for c in report.cuts[:20])
            more = f" (+{len(report.cuts) - 20} more)" if len(report.cuts) > 20 else ""
            print(f"  {len(report.cuts)} scene cuts at frames {shown}{more}", file=sys.stderr)
        for label, meter in report.panel_meters.items() if args.stats else ():
            print(
                f"  compare {label}: mean dE {meter.mean_de:.2f}, flicker {meter.flicker:.3f}, "
                f"incoherence {meter.incoherence:.4f}, colours on screen {meter.colours_max}",
                file=sys.stderr,
            )
    return 0


def _glue_negative_scale(argv: Sequence[str]) -> list[str]:
    """``--scale -1:240`` as ffmpeg users write it: argparse would take -1:240 for an option."""
    out = [str(a) for a in argv]
    for i in range(len(out) - 1):
        if out[i] == "--scale" and re.match(r"-\d+[:x]", out[i + 1]):
            out[i : i + 2] = [f"--scale={out[i + 1]}"]
            break
    return out


def _clip_budget(args: argparse.Namespace, *, image: bool) -> int:
    """--max-clip-pixels as given, else the default for images (GIF bombs) and none for video."""
    if args.max_clip_pixels is not None:
        return args.max_clip_pixels
    return DEFAULT_MAX_CLIP_PIXELS if image else 0


def _check_output(inp: str, out: str, args: argparse.Namespace) -> None:
    """Refuse a bad output path; for an existing one follow -y / -n, or ask like ffmpeg."""
    check_paths(inp, out)  # the input, a folder, a missing or read-only folder
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
        args = parser.parse_args(_glue_negative_scale(sys.argv[1:] if argv is None else argv))
    except GifquantError as exc:
        print(f"gifquant: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except SystemExit as exc:  # --help, --version
        return int(exc.code or 0)
    _terminated.clear()
    old = signal.signal(signal.SIGTERM, _sigterm) if _main_thread() else None
    try:
        return _run(args)
    except GifquantError as exc:
        print(f"gifquant: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        print("gifquant: interrupted; no output written", file=sys.stderr)
        return 143 if isinstance(exc, _Terminated) else 130
    except BrokenPipeError:  # the reader of our stdout went away: stop quietly
        _silence_stdout()
        return 1
    except OSError as exc:  # disk full, output vanished mid-run: say so in one line
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"gifquant: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except MemoryError:
        print("gifquant: error: out of memory", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: still one line, never a traceback
        print(f"gifquant: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)


def _silence_stdout() -> None:
    """Point fd 1 at /dev/null so the interpreter's final flush does not fail again."""
    import os

    with contextlib.suppress(OSError, ValueError):
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, sys.stdout.fileno())
        os.close(fd)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def main_entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
