"""The command's first steps, taken before numpy and the rest are imported.

Signals are handled from here on (see ``signals.py``): one that arrives while the command is
still importing ends it with 128 + its number, and the line saying so is printed at exit.
Then, for a video input, ffmpeg is started early (see ``io/prestart.py``). Stdlib only.
"""

from __future__ import annotations

import atexit
import sys
from collections.abc import Sequence

from . import signals
from .io import children, prestart


def begin(argv: Sequence[str]) -> None:
    """Install the signal handlers and start the early helpers for ``argv``."""
    signals.install()
    atexit.register(_report)
    atexit.register(children.kill_all)
    prestart.begin(argv)


def _report() -> None:
    """At exit: the line for a signal that ended the command before ``main`` could say so
    (``main`` reports its own and forgets the signal)."""
    signum = signals.received()
    if signum is not None:
        print(f"gifquant: {signals.Interrupted(signum).message}", file=sys.stderr)


def run() -> None:
    """The console script (and ``python -m gifquant``): take the first steps, then import the
    command line and run it, exiting with its code."""
    begin(sys.argv[1:])
    try:
        from .cli import main
    except BaseException:
        # A signal that broke an import can surface as an ImportError (numpy re-raises it
        # with a page of advice); it is the signal that ended the run.
        signum = signals.received()
        if signum is not None:
            raise SystemExit(128 + signum) from None
        raise
    sys.exit(main())
