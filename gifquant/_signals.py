"""Stop a command-line run cleanly on SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2.

The first signal raises ``Interrupted`` in the main thread, which unwinds the run through its
clean-up (temporary files removed, child processes stopped). It is a ``SystemExit`` with code
128 + the signal's number, so ``except Exception`` does not catch it, and one that reaches the
top (a signal while the command is still importing) ends the process with that code, quietly.
Later signals are only noted: a second exception raised inside that clean-up would break it
halfway (a lock released twice, a ``.part`` file left behind).

A signal can land in C code that swallows the exception (an import, a numpy call); the run also
calls ``check()`` between frames, which raises for a signal noted but not yet acted on. Inside
an import the handler only notes the signal: raised there, it can be swallowed by the import
system and leave a module half-imported.
Stdlib only: the command installs these handlers before it imports numpy.
"""

from __future__ import annotations

import signal
import threading

NAMES = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")
HANDLED: tuple[int, ...] = tuple(getattr(signal, n) for n in NAMES if hasattr(signal, n))

_received: int | None = None
_finished = False  # the output is in place: a signal no longer stops anything


class Interrupted(SystemExit):
    """A handled signal arrived; ``signum`` says which, ``code`` is 128 + ``signum``."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum

    @property
    def message(self) -> str:
        return f"interrupted ({signal.Signals(self.signum).name}); no output written"


def _note(signum: int) -> bool:
    """Note ``signum``; False if an earlier signal is already being acted on."""
    global _received
    if _received is not None:
        return False
    _received = signum
    return True


def _handler(signum: int, frame) -> None:
    if _finished:
        return  # the run is over; its exit code stands
    if _note(signum) and not _importing(frame):
        raise Interrupted(signum)
    # else already stopping (let the clean-up finish), or inside an import: an exception
    # raised there can be swallowed by the import system's own clean-up and leave a module
    # half-imported (another thread importing it then waits forever); ``check()``, called
    # between frames, raises it instead


def _importing(frame) -> bool:
    """Whether ``frame`` (the interrupted one) is inside Python's import machinery."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def install() -> dict[int, object] | None:
    """Route the handled signals to ``Interrupted`` (main thread only); returns the previous
    handlers for ``restore``, or None when this is not the main thread."""
    global _finished
    if threading.current_thread() is not threading.main_thread():
        return None
    _finished = False
    old = {}
    for signum in HANDLED:
        try:
            old[signum] = signal.signal(signum, _handler)
        except (OSError, ValueError):  # pragma: no cover - not settable here
            pass
    return old


def restore(old: dict[int, object] | None) -> None:
    """Put back the handlers ``install`` replaced."""
    for signum, handler in (old or {}).items():
        signal.signal(signum, handler)


def finish() -> None:
    """The output is in place: from now on a handled signal is ignored (until ``install``)."""
    global _finished
    _finished = True


def ignore() -> None:
    """Ignore the handled signals from now on (the run is over; main thread only)."""
    if threading.current_thread() is threading.main_thread():
        for signum in HANDLED:
            signal.signal(signum, signal.SIG_IGN)


def reset() -> None:
    """Forget a signal received by an earlier run in this process."""
    global _received
    _received = None


def received() -> int | None:
    """The first handled signal received since ``reset``, if any."""
    return _received


def check() -> None:
    """Raise ``Interrupted`` for a signal whose exception was lost on the way."""
    if _received is not None:
        raise Interrupted(_received)
