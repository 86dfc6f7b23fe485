"""The main command, ``gifquant IN OUT``: its options (shared with ``batch``), its run and
what it prints."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Sequence

from .. import _signals as signals
from .._errors import GifquantError
from .._io.atomic import committed_together, output_file
from .._io.prestart import EarlyStart
from .._io.streams import check_input, output_format, same_file
from .._run.convert import convert_file
from .._run.once import Progress
from .._run.settings import Settings
from .args import check_output, say
from .options import command_parser


def build_parser() -> argparse.ArgumentParser:
    return command_parser("main")


def _after_frame(bar) -> Callable[[int], None]:
    def step(i: int) -> None:
        if bar is not None:
            bar.update(1)
        signals.check()  # a signal whose exception was lost in C code

    return step


class _FrameBar:
    """The bar of frames on stderr, drawn from the library's reports (``on_progress``); made at
    the first, when the number of frames is known, and the bar it ``follows`` closed then."""

    def __init__(self, desc: str | None = None, *, follows: _FrameBar | None = None) -> None:
        self._bar = None  # a tqdm bar
        self._desc = desc
        self._follows = follows

    def __call__(self, done: int, total: int | None) -> None:
        if self._bar is None:
            if self._follows is not None:
                self._follows.close()
            # tqdm is imported here: with its package metadata look-up it costs more start-up
            # than any other import but numpy's, and a run without a bar never needs it.
            from tqdm import tqdm

            self._bar = tqdm(
                total=total, desc=self._desc, unit="frame", file=sys.stderr, leave=False
            )
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
    bar = reading = None
    if show_bar(args):
        # Another clip read for its palette has its own bar, before the frames' bar.
        other = args.transfer or args.palette_from
        reading = _FrameBar(f"reading {os.path.basename(other)}") if other else None
        bar = _FrameBar(follows=reading)
    # The output, the comparison and the report are put in place together, or none of them.
    with committed_together(commit=False) as commit:
        try:
            # on_frame: a signal whose exception was lost in C code
            told = Progress(
                on_progress=bar,
                on_frame=lambda i: signals.check(),
                on_note=note_now,
                on_palette_progress=reading,
            )
            report = convert_file(args.input, args.output, settings, told, early)
        finally:
            for shown in (reading, bar):
                if shown is not None:
                    shown.close()
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
