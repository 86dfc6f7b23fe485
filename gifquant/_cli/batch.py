"""``gifquant batch``: many files, its bar of files, a line per failure and the summary."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys

from .. import _signals as signals
from .._errors import GifquantError
from .._io.atomic import check_writable, is_special, output_file
from .._io.streams import inside, same_file
from .._run.batch import batch, plan
from .._run.settings import Settings
from .args import may_replace, message, say
from .convert import show_bar
from .options import command_parser


def build_batch_parser() -> argparse.ArgumentParser:
    return command_parser("batch")


def _check_summary(args: argparse.Namespace) -> None:
    """Refuse a --summary path that would replace a folder, an input or an output; an
    existing file is replaced as an output is (-y, or asked on a terminal)."""
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
        for job in plan(args.inputs, args.out_dir, args.format):
            if same_file(job.src, path):
                raise GifquantError(f"--summary {path}: is an input of the batch")
    may_replace(path, args, stdin_free="-" not in args.inputs)


def run(args: argparse.Namespace) -> int:
    draw = show_bar(args)
    _check_summary(args)  # said now, not once every file is done
    with contextlib.ExitStack() as stack:
        bar = None
        frames = 0

        def on_start(n: int) -> None:
            nonlocal bar
            if draw:
                from tqdm import tqdm  # here: a costly import, needed only for a bar

                bar = stack.enter_context(
                    tqdm(total=n, unit="file", file=sys.stderr, dynamic_ncols=True)
                )

        def on_record(r) -> None:
            nonlocal frames
            if r.status == "failed":
                error = r.error if r.failure is None else message(r.failure)
                where = "" if error.startswith(r.src) else f"{r.src}: "
                line = f"gifquant: error: {where}{error}"
                if bar is not None:
                    bar.write(line, file=sys.stderr)
                else:
                    say(line, prefix="")
            if bar is not None:
                frames += r.frames or 0
                bar.set_postfix_str(f"{frames} frames", refresh=False)
                bar.update(1)
            signals.check()

        try:
            report = batch(
                args.inputs,
                args.out_dir,
                Settings.from_arguments(args, format=None, overwrite=False),
                format=args.format,
                overwrite=args.overwrite,
                jobs=args.jobs,
                client=args.dask,
                on_start=on_start,
                on_record=on_record,
            )
        except signals.Interrupted as exc:
            if bar is not None:
                bar.close()
            signals.reset()
            say(
                f"interrupted ({signal.Signals(exc.signum).name}); the files in progress were "
                "not written, those done are in place: the same command resumes"
            )
            return exc.code
    if args.summary:
        summary = report.as_dict()
        for record, r in zip(summary["records"], report.records, strict=True):
            if r.failure is not None:  # as the line said on stderr: settings named by flags
                record["error"] = message(r.failure)
        if args.summary == "-":
            sys.stdout.write(json.dumps(summary, indent=1) + "\n")
            sys.stdout.flush()
        else:
            _write_json(args.summary, summary)
    if not args.quiet:
        say(
            f"batch: {report.done} done, {report.skipped} skipped, {report.failed} failed; "
            f"{_mb(report.bytes_in)} in, {_mb(report.bytes_out)} out; "
            f"{report.seconds:.2f} s ({report.files_per_second:.1f} files/s)"
        )
    return 0 if report.ok else 1


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


def _write_json(path: str, data: dict) -> None:
    with output_file(path) as f:
        f.write((json.dumps(data, indent=1) + "\n").encode())
