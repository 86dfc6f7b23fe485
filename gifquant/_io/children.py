"""The child processes a run started (ffmpeg, the LZW encoder, gifsicle), so that none
outlives it.

Each owner stops its own child on every exit path; ``kill_all`` is the backstop for a run that
was interrupted while an owner was stuck (a thread blocked on a pipe is given up on, not
joined forever), and runs when the command ends.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import subprocess

_lock = threading.Lock()
_running: weakref.WeakSet[subprocess.Popen] = weakref.WeakSet()


_closed = False  # the command is ending: no child may start any more


def spawn(args: list[str], **kwargs) -> subprocess.Popen:
    """``subprocess.Popen(args, **kwargs)``, remembered until it ends. Started and remembered
    under one lock, so ``kill_all`` never misses a child another thread is starting; raises
    OSError once the command is ending."""
    import subprocess  # here: 3 ms of start-up that a run starting no child does not need

    with _lock:
        if _closed:
            raise OSError("the command is ending")
        proc = subprocess.Popen(args, **kwargs)
        _running.add(proc)
    return proc


def kill_all(*, final: bool = False) -> None:
    """Kill and reap every tracked child still running (``final``: and start no more, as the
    command ends)."""
    global _closed
    with _lock:
        _closed = _closed or final
        procs = list(_running)
        _running.clear()
    for proc in procs:
        with contextlib.suppress(Exception):
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=5)
