"""The command's first steps, taken before numpy and the rest are imported.

Signals are handled from the first thing ``run`` does (see ``_signals.py``): one that arrives
while the command is still importing ends it with 128 + its number, and the line saying so is
printed at exit. Then, for a video input, ffmpeg is started early (see ``_io/prestart.py``).
Once the run is over, later signals are ignored: the output is in place, and the exit code is
the run's. Stdlib only; this module imports nothing else until the handlers are in place.
"""

from __future__ import annotations

import sys

from . import _signals as signals


def run() -> None:
    """The console script (and ``python -m gifquant``): take the first steps, then import the
    command line and run it, exiting with its code."""
    signals.install()
    try:
        code = _run()
    finally:
        # Done, or leaving on a signal: a later one changes nothing, and must not kill the
        # interpreter's exit (which puts back the default action of Python-level handlers).
        signals.ignore()
    sys.exit(code)


def _run() -> int:
    import atexit

    from ._io import children, prestart

    atexit.register(_report)
    atexit.register(children.kill_all, final=True)
    argv = sys.argv[1:]
    # A subcommand (``gifquant batch ...``) is a bare word: it has no one input to start on.
    early = None if argv[:1] and argv[0].isalpha() else prestart.EarlyStart.begin(argv)
    if argv[:1] == ["batch"]:
        _start_forkserver(argv[1:])
    else:
        _one_blas_thread()
    try:
        from ._cli import main
    except BaseException:
        # A signal that broke an import can surface as an ImportError (numpy re-raises it
        # with a page of advice); it is the signal that ended the run.
        signum = signals.received()
        if signum is not None:
            raise SystemExit(128 + signum) from None
        raise
    from ._io.image import own_process

    own_process()  # this process is gifquant's: GIFs may be decoded as palette indices
    return main(early=early)


def _one_blas_thread() -> None:
    """Before numpy is imported: its BLAS (OpenBLAS) in one thread, unless the user says
    otherwise. A run's matrix products are small (k centres by a frame's colours); threaded,
    OpenBLAS's helper threads spin on the cores the run's own stages and ffmpeg need (720p
    cockatoo k=16: 2% of the run's CPU in ``blas_thread_server``). The products are the same."""
    import os

    if not any(v in os.environ for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")):
        os.environ["OPENBLAS_NUM_THREADS"] = "1"


def _start_forkserver(argv: list[str]) -> None:
    """For ``gifquant batch`` on a local pool or ``--dask local``: start the server its
    workers fork from now, so that it imports gifquant (and distributed) while this process
    imports the command line (about 0.2 s sooner at work). It ignores Ctrl-C at the terminal,
    as the workers must (the batch stops them)."""
    dask = [a.split("=", 1)[1] for a in argv if a.startswith("--dask=")]
    dask += [b for a, b in zip(argv, argv[1:], strict=False) if a == "--dask"]
    if dask and dask[-1] != "local":
        return  # a remote cluster: no local worker
    import multiprocessing
    import multiprocessing.forkserver
    import signal

    try:
        ctx = multiprocessing.get_context("forkserver")
    except ValueError:  # no forkserver (Windows)
        return
    ctx.set_forkserver_preload(
        ["distributed", "gifquant._run.batch"] if dask else ["gifquant._run.batch"]
    )
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        multiprocessing.forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, old)


def _report() -> None:
    """At exit: the line for a signal that ended the command before ``main`` could say so
    (``main`` reports its own and forgets the signal)."""
    signum = signals.received()
    if signum is not None:
        print(f"gifquant: {signals.Interrupted(signum).message}", file=sys.stderr or sys.stdout)
