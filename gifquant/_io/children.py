"""The child processes a run started (ffmpeg, the LZW encoder, gifsicle), so that none
outlives it.

Each owner stops its own child on every exit path; ``kill_all`` is the backstop for a run that
was interrupted while an owner was stuck (a thread blocked on a pipe is given up on, not
joined forever), and runs when the command ends.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
import weakref

_lock = threading.Lock()
_running: weakref.WeakSet[subprocess.Popen] = weakref.WeakSet()


def track(proc: subprocess.Popen) -> subprocess.Popen:
    """Remember ``proc`` until it ends; returns it."""
    with _lock:
        _running.add(proc)
    return proc


def kill_all() -> None:
    """Kill and reap every tracked child still running."""
    with _lock:
        procs = list(_running)
        _running.clear()
    for proc in procs:
        with contextlib.suppress(Exception):
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=5)
