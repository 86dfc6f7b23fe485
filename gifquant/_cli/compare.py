"""``gifquant compare IN OUT ...``: a grid of settings side by side (part of the CLI).

gifquant compare in.gif grid.gif -k 2 4 10 --modes random seeded
gifquant compare in.gif grid.mp4 -k 4 --metric euclidean manhattan
gifquant compare in.gif grid.gif -k 6 --representative mean mode --min-saturation 0.3
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .._core.colour import SPACES
from .._core.kmeans import METRICS
from .._core.representative import REPRESENTATIVES
from .._errors import GifquantError
from .._io.streams import output_format
from .._pictures.grid import compare
from .args import MAX_ENHANCE, MAX_FRAMES, Parser, check_output, number, positive_int, strength


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="gifquant compare",
        allow_abbrev=False,
        description="An animated grid: the source and every product of k values (columns) "
        "and modes, metrics, colour spaces and representatives (rows), each panel labelled with "
        "its setting and its measured dE, flicker (fl) and colours on screen (c).",
    )
    p.add_argument("input", help="GIF, image or video")
    p.add_argument("output", help="the grid: .gif, .mp4, .webm, .y4m, .png")
    p.add_argument(
        "-k",
        "--colours",
        "--colors",
        dest="k",
        type=positive_int(1, 256),
        nargs="+",
        default=[4],
        help="k values, one column each (default 4)",
    )
    p.add_argument(
        "--modes",
        nargs="+",
        choices=("random", "seeded"),
        default=["random", "seeded"],
        help="rows (default: random seeded)",
    )
    p.add_argument(
        "--metric",
        nargs="+",
        choices=METRICS,
        default=["euclidean"],
        help="rows: euclidean, manhattan or both",
    )
    p.add_argument(
        "--space",
        nargs="+",
        choices=SPACES,
        default=["lab"],
        help="rows: colour spaces of the clustering",
    )
    p.add_argument(
        "--representative",
        nargs="+",
        choices=REPRESENTATIVES,
        default=["mean"],
        help="rows: an entry's colour is its cluster's mean, mode (its most common colour) or both",
    )
    p.add_argument(
        "--denoise",
        nargs="+",
        type=strength(8),
        default=[1.0],
        metavar="auto|off|S",
        help="rows: source denoising strengths, e.g. --denoise auto off (default auto)",
    )
    p.add_argument(
        "--deband",
        nargs="+",
        type=strength(4),
        default=[1.0],
        metavar="auto|off|S",
        help="rows: de-banding strengths, e.g. --deband auto off (default auto)",
    )
    p.add_argument(
        "--enhance",
        type=number(0, MAX_ENHANCE),
        default=1.0,
        metavar="F",
        help=f"every panel: saturation factor before clustering, 0..{MAX_ENHANCE:g} (default 1)",
    )
    p.add_argument(
        "--min-saturation",
        type=number(0, 1),
        default=0.0,
        metavar="S",
        help="every panel: leave colours of HSV saturation below S out of the fit (default 0)",
    )
    p.add_argument(
        "--panel-width",
        type=int,
        default=None,
        metavar="W",
        help="scale a wider source down to W pixels a panel (default 320)",
    )
    p.add_argument(
        "--no-source", dest="source", action="store_false", help="leave the source panel out"
    )
    p.add_argument(
        "--frames",
        type=positive_int(1, MAX_FRAMES),
        default=None,
        metavar="N",
        help="at most N frames (1..10^9)",
    )
    p.add_argument("-f", "--format", dest="fmt", default=None, help="output format")
    ow = p.add_mutually_exclusive_group()
    ow.add_argument("-y", "--overwrite", action="store_true", help="overwrite the output")
    ow.add_argument("-n", "--no-overwrite", action="store_true", help="never overwrite")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    return p


def run(argv: Sequence[str], on_frame) -> int:
    """Parse ``argv`` (after ``compare``), write the grid; returns the exit code."""
    args = build_parser().parse_args(list(argv))
    if args.input == "-":
        raise GifquantError("gifquant compare reads a file, not stdin (it reads the clip twice)")
    check_output(args.input, args.output, output_format(args.output, args.fmt), args)
    report = compare(
        args.input,
        args.output,
        k=args.k,
        modes=args.modes,
        metrics=args.metric,
        spaces=args.space,
        representatives=args.representative,
        denoise=args.denoise,
        deband=args.deband,
        enhance=args.enhance,
        min_saturation=args.min_saturation,
        source=args.source,
        panel_width=args.panel_width,
        format=args.fmt,
        overwrite=True,  # asked above
        frames=args.frames,
        on_frame=on_frame,
    )
    if not args.quiet:
        print(
            f"gifquant compare: {report.frames} frames, {len(report.panels)} panels, "
            f"{report.seconds:.2f} s",
            file=sys.stderr,
        )
        for label, s in report.panels.items():
            print(
                f"  {label}: mean dE {s.dE:.2f}, flicker {s.flicker:.3f}, incoherence "
                f"{s.incoherence:.4f}, colours on screen {s.colours_on_screen}",
                file=sys.stderr,
            )
    return 0
