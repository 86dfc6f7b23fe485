"""``gifquant compare IN OUT ...``: a grid of settings side by side (part of the CLI).

gifquant compare in.gif grid.gif -k 2 4 10 --modes random seeded
gifquant compare in.gif grid.mp4 -k 4 --metric euclidean manhattan
gifquant compare in.gif grid.gif -k 6 --representative mean mode --min-saturation 0.3
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence

from .._core.options import DEFAULT_K
from .._errors import GifquantError
from .._io.streams import output_format
from .._pictures.grid import compare
from .args import MAX_ENHANCE, check_output
from .options import command_parser, option_keywords

# The settings a grid's rows vary, several values each (after ``--modes``), by the keyword
# ``compare`` takes them as.
ROWS = {
    "metric": ("metrics", "euclidean, manhattan or both"),
    "space": ("spaces", "colour spaces of the clustering"),
    "representative": (
        "representatives",
        "an entry's colour is its cluster's mean, mode (its most common colour) or both",
    ),
    "denoise": ("denoise", "source denoising strengths, e.g. --denoise auto off (default auto)"),
    "deband": ("deband", "de-banding strengths, e.g. --deband auto off (default auto)"),
}
# What the command line itself does with; every other argument is a keyword of ``compare``.
_OWN = ("input", "output", "overwrite", "no_overwrite", "quiet")


def build_parser() -> argparse.ArgumentParser:
    changes = {
        name: dict(
            dest=dest, nargs="+", default=[option_keywords(name)["default"]], help=f"rows: {text}"
        )
        for name, (dest, text) in ROWS.items()
    }
    changes["k"] = dict(
        nargs="+", default=[DEFAULT_K], help=f"k values, one column each (default {DEFAULT_K})"
    )
    changes["modes"] = dict(default=["random", "seeded"], help="rows (default: random seeded)")
    changes["frames"] = dict(help="at most N frames (1..10^9)")
    changes["format"] = dict(help="output format")
    every = "every panel: "
    changes["enhance"] = dict(
        help=f"{every}saturation factor before clustering, 0..{MAX_ENHANCE:g} (default 1)"
    )
    changes["min_saturation"] = dict(
        help=f"{every}leave colours of HSV saturation below S out of the fit (default 0)"
    )
    return command_parser("compare", **changes)


def _parse(argv: list[str]) -> argparse.Namespace:
    """The arguments, OUT also taken where it follows a list (``IN -k 2 4 10 OUT``: a list
    option would take it for one of its values)."""
    parser = build_parser()
    try:
        return parser.parse_args(argv)
    except GifquantError as exc:
        if argv[0].startswith("-"):
            raise
        # The words after IN that are no number, the last first: OUT moved after IN.
        for i in reversed(range(2, len(argv))):
            if argv[i].startswith("-") or argv[i].replace(".", "").isdigit():
                continue
            with contextlib.suppress(GifquantError):
                return parser.parse_args([argv[0], argv[i], *argv[1:i], *argv[i + 1 :]])
        raise exc from None


def run(argv: Sequence[str], on_frame) -> int:
    """Parse ``argv`` (after ``compare``), write the grid; returns the exit code."""
    args = _parse(list(argv))
    if args.input == "-":
        raise GifquantError("gifquant compare reads a file, not stdin (it reads the clip twice)")
    check_output(args.input, args.output, output_format(args.output, args.format), args)
    keywords = {name: value for name, value in vars(args).items() if name not in _OWN}
    # overwrite: asked above
    report = compare(args.input, args.output, overwrite=True, on_frame=on_frame, **keywords)
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
