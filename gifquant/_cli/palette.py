"""``gifquant palette IN ...``: a clip's palette as text and pictures (part of the CLI).

gifquant palette in.gif -k 6 --swatch swatch.png --timeline timeline.png --format json
gifquant palette photo.jpg -k 5 --replaced replaced.png --plot3d pixels.html
gifquant palette film.mp4 -k 6 --min-saturation 0.3 --representative mode --swatch swatch.png
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Sequence

from .. import _signals as signals
from .._core.options import DEFAULT_K
from .._errors import GifquantError
from .._io.atomic import atomic_path, committed_together, is_special, output_file
from .._io.streams import check_input, output_format, same_file
from .._pictures.draw import labelled_rows
from .._pictures.palette import palette
from .._run.convert import convert
from .args import check_output, colour_settings
from .options import command_parser


def build_parser() -> argparse.ArgumentParser:
    k = dict(default=DEFAULT_K, help=f"colours per frame and overall, 1..256 (default {DEFAULT_K})")
    return command_parser("palette", k=k, frames=dict(help="at most N frames (1..10^9)"))


def run(argv: Sequence[str]) -> int:
    """Parse ``argv`` (after ``palette``), write what was asked; returns the exit code.

    The palette's text (json, gpl, hex) is written when asked for (``-o``, ``--format``), to
    stdout without ``-o``; when nothing at all is asked for, the overall palette as hex lines
    with their shares goes to stdout. The summary line on stderr is a note (``-q``)."""
    args = build_parser().parse_args(list(argv))
    if args.input == "-":
        raise GifquantError("gifquant palette reads a file, not stdin (it may read it twice)")
    check_input(args.input)
    size = size_value(args.swatch_size)
    text_to = _text_destination(args)
    _check_outputs(args, text_to)

    settings = {"space": args.space, "metric": args.metric, **colour_settings(args)}
    stretch = dict(ss=args.ss, t=args.t, max_frames=args.frames)
    main = palette(args.input, args.k, seeded=args.seeded, **settings, **stretch)
    if args.plot3d and (main.samples is None or not len(main.samples)):
        raise GifquantError(f"{args.input}: no opaque pixels to plot (--plot3d)")
    # Every output is put in place together, or none is (a signal or an error on the way).
    # A stream or device cannot be taken back: what goes there is written last.
    late: list[tuple[str, bytes]] = []
    with committed_together(commit=False) as commit:
        if text_to is not None:
            fmt = args.fmt or _text_format(args.output)
            asked = args.output is not None or args.fmt is not None
            _write(text_to, (main.text(fmt) if asked else _shares(main)).encode(), late)
        if args.swatch:
            _write(args.swatch, _png(main.swatch(*size)), late)
        if args.timeline:
            _write(args.timeline, _png(_timeline(args, main, settings, stretch)), late)
        if args.plot3d:
            with atomic_path(args.plot3d) as tmp:
                main.plot3d(tmp, kind=os.path.splitext(args.plot3d)[1])
        if args.replaced:
            stretch["frames"] = stretch.pop("max_frames")
            picked = dict(k=args.k, seeded=args.seeded, **settings, **stretch)
            convert(args.input, args.replaced, overwrite=True, **picked)
        _write_late(late)
        signals.finish()  # every output is written: what is left is renaming them
        commit()
    if not args.quiet:
        print(
            f"gifquant palette: {len(main.frames)} frames, k={args.k}, overall "
            + " ".join(main.overall.hex),
            file=sys.stderr,
        )
    return 0


def _text_destination(args: argparse.Namespace) -> str | None:
    """Where the palette's text goes: ``-o``'s path, stdout when ``--format`` asks for it or
    nothing else is asked for, else nowhere."""
    if args.output is not None:
        return args.output
    pictures = (args.swatch, args.timeline, args.replaced, args.plot3d)
    if args.fmt is not None or all(p is None for p in pictures):
        return "-"
    return None


def _check_outputs(args: argparse.Namespace, text_to: str | None) -> None:
    if args.plot3d and not args.plot3d.lower().endswith((".html", ".htm", ".png")):
        raise GifquantError(f"--plot3d {args.plot3d}: name it .html (interactive) or .png")
    if args.replaced == "-":
        raise GifquantError("--replaced -: stdout has no format to go by; name a file")
    _check_collisions(args, text_to)
    for path in (args.output, args.swatch, args.timeline, args.plot3d):
        if path is not None and path != "-":
            check_output(args.input, path, "file", args)
    if args.replaced:
        check_output(args.input, args.replaced, output_format(args.replaced, None), args)


def _shares(report) -> str:
    """The overall palette, a ``#rrggbb share`` line a colour, most common first."""
    return "".join(f"{r['colour']} {r['share']:.4f}\n" for r in report.overall.records())


def _timeline(args: argparse.Namespace, main, settings: dict, stretch: dict):
    """The timeline picture: the palette's, or with ``--modes`` a labelled row a mode."""
    if not args.modes:
        return main.timeline(args.timeline_px)
    mode = "seeded" if args.seeded else "random"
    rows = []
    for each in dict.fromkeys(args.modes):  # each once, in order
        r = main
        if each != mode:
            r = palette(args.input, args.k, seeded=each == "seeded", **settings, **stretch)
        rows.append((f"{each}, k={args.k}, {len(r.frames)} frames", r.timeline(args.timeline_px)))
    return rows[0][1] if len(rows) == 1 else labelled_rows(rows)


def _write_late(late: list[tuple[str, bytes]]) -> None:
    for path, data in late:
        if path == "-":
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        else:
            with open(path, "wb") as f:
                f.write(data)


def _text_format(path: str | None) -> str:
    ext = os.path.splitext(path or "")[1].lower()
    return {".gpl": "gpl", ".hex": "hex", ".txt": "hex"}.get(ext, "json")


def size_value(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise GifquantError(f"--swatch-size {text!r}: give WxH, e.g. 600x80") from None
    if not (1 <= w <= 16384 and 1 <= h <= 16384):
        raise GifquantError(f"--swatch-size {text!r}: each side is 1..16384")
    return w, h


def _check_collisions(args: argparse.Namespace, text_to: str | None) -> None:
    """Refuse two outputs that are one file, and more than one output to stdout (the palette's
    text goes there without ``-o`` when it is written)."""
    named = [
        ("-o", text_to),
        ("--swatch", args.swatch),
        ("--timeline", args.timeline),
        ("--replaced", args.replaced),
        ("--plot3d", args.plot3d),
    ]
    named = [(option, path) for option, path in named if path is not None]
    for i, (a, path_a) in enumerate(named):
        for b, path_b in named[i + 1 :]:
            if not same_file(path_a, path_b):
                continue
            if a == "-o" and args.output is None:
                raise GifquantError(
                    f"{b} {path_b}: the palette text goes to stdout (no -o); give -o FILE"
                )
            if "-" in (path_a, path_b):
                raise GifquantError(
                    f"{a} {path_a} and {b} {path_b}: both go to stdout; at most one output may"
                )
            raise GifquantError(f"{a} {path_a} and {b} {path_b}: the same file; name each its own")


def _png(picture) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    return buffer.getvalue()


def _write(path: str, data: bytes, late: list[tuple[str, bytes]]) -> None:
    """Write ``data`` to the file ``path`` (put in place with the others), or keep it in
    ``late`` for stdout (``-``) or a device or FIFO, written after every file."""
    if path == "-" or is_special(path):
        late.append((path, data))
        return
    with output_file(path) as f:
        f.write(data)
