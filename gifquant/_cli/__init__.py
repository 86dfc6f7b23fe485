"""The command line: ``main`` dispatches to the main command (``convert.py``) or a subcommand
(``batch.py``, ``compare.py``, ``palette.py``) and says every failure in one line. The
command line is the only code that prints or draws a progress bar."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Sequence

from .. import _signals as signals
from .._errors import GifquantError
from .._io import children
from .._io.prestart import EarlyStart
from . import convert, options
from .args import message, say


def _until_help(run: Callable[[], int]) -> int:
    """``run()``, or the exit code of the --help or --version it printed (a signal's
    ``Interrupted``, a SystemExit too, goes on up)."""
    try:
        return run()
    except SystemExit as exc:
        if isinstance(exc, signals.Interrupted):
            raise
        return int(exc.code or 0)


# The subcommands' modules are imported when they run: the main command does not pay for them.
def _batch_main(argv: Sequence[str], early: EarlyStart | None = None) -> int:
    from . import batch

    return _until_help(
        lambda: batch.run(batch.build_batch_parser().parse_args(convert.glue_negative_scale(argv)))
    )


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
    if argv and _unknown_command(argv[0]):
        import difflib  # here: only a mistyped command needs it

        close = difflib.get_close_matches(argv[0], list(SUBCOMMANDS), n=1, cutoff=0.6)
        guess = f"did you mean {close[0]}? " if close else ""
        listed = ", ".join(f"{name} ({what})" for name, (_, what) in options.SUBCOMMANDS.items())
        raise GifquantError(f"{argv[0]}: no such file or command ({guess}commands: {listed})")
    return _until_help(
        lambda: convert.run(
            convert.build_parser().parse_args(convert.glue_negative_scale(argv)), early
        )
    )


def _unknown_command(word: str) -> bool:
    """Whether the first argument reads as a command mistyped: a bare word (no extension, no
    folder) that is not a file."""
    plain = not word.startswith("-") and word.replace("-", "").replace("_", "").isalpha()
    return plain and not os.path.lexists(word)


def _palette_main(argv: Sequence[str], early: EarlyStart | None = None) -> int:
    from . import palette

    return _until_help(lambda: palette.run(argv))


def _compare_main(argv: Sequence[str], early: EarlyStart | None = None) -> int:
    from . import compare

    return _until_help(lambda: compare.run(argv, lambda i: signals.check()))


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
            say("interrupted; no output written")
            return 130
        say(interrupted.message)
        return interrupted.code
    if isinstance(exc, GifquantError):
        say(f"error: {message(exc)}")
        return exc.exit_code
    if isinstance(exc, BrokenPipeError):  # the reader of our stdout went away: stop quietly
        _silence_stdout()
        return 1
    if isinstance(exc, OSError):  # disk full, output vanished mid-run: say so in one line
        where = f"{exc.filename}: " if exc.filename else ""
        say(f"error: {where}{exc.strerror or exc}")
        return 1
    if isinstance(exc, MemoryError):
        say("error: out of memory")
        return 1
    if isinstance(exc, SystemExit):
        raise exc
    say(f"internal error: {type(exc).__name__}: {exc}")  # a bug: still one line
    return 1


def _silence_stdout() -> None:
    """Point fd 1 at /dev/null so the interpreter's final flush does not fail again."""

    with contextlib.suppress(OSError, ValueError):
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, sys.stdout.fileno())
        os.close(fd)
