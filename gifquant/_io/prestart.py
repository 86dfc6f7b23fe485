"""Start a command-line run's helper processes while the interpreter is still importing.

The ``gifquant`` command spends ~0.2 s importing numpy and the rest before it opens its input,
with the second core idle. When it is asked to read a video file, that time goes to ffmpeg
instead: a background thread probes the file, starts the decoder (so the first frame is on its
way) and, for large frames going to a GIF, the LZW encoder process.

Everything started here is a guess. The video reader adopts the decoder only if it would have
run the very same command, and the GIF writer adopts the encoder only if it wants one; what is
not adopted is stopped at exit. Stdlib only: this runs before numpy is imported.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Sequence

from . import children
from .sniff import file_kind

# Frames at least this large are worth an encoder process (see ``lzw.py``).
WORKER_PIXELS = 1 << 18

_lock = threading.Lock()
_thread: threading.Thread | None = None
_probes: dict[str, tuple[object, str]] = {}
_decoders: dict[tuple[str, ...], object] = {}  # decoder command -> FfmpegProcess
_workers: list[subprocess.Popen] = []
_stopped = False


def begin(argv: Sequence[str]) -> None:
    """Look at the command line (``IN OUT [options]``) and, for a video file, start the
    probe, decoder and encoder in a background thread. Never raises: a guess that fails is
    simply not used."""
    global _thread, _stopped
    if len(argv) < 2 or argv[0].startswith("-") or argv[0] == argv[1]:
        return
    path, out = argv[0], argv[1]
    try:
        if not os.path.isfile(path) or os.path.getsize(path) == 0:
            return
        with open(path, "rb") as f:
            if file_kind(f.read(16)) != "video":
                return
    except OSError:
        return
    opts = {a.split("=")[0] for a in argv[2:] if a.startswith("-")}
    decode = not (opts & {"--ss"})
    encode = out.lower().endswith(".gif") and not (opts & {"-f", "--format", "--scale"})
    # Imported here, in the main thread: an import in the thread, broken by a signal, could
    # leave its module locked and the main thread waiting on it.
    from . import ffmpeg

    try:
        ffmpeg.ffmpeg_exe()
    except Exception:  # noqa: BLE001 - a guess: the reader reports it
        return
    _stopped = False
    _thread = threading.Thread(
        target=_start, args=(path, decode, encode), name="gifquant-prestart", daemon=True
    )
    _thread.start()
    atexit.register(stop)


def _start(path: str, decode: bool, encode: bool) -> None:
    from .ffmpeg import FfmpegProcess, decode_args, run_probe  # imported by begin()

    try:
        result = run_probe(path)
    except Exception:  # noqa: BLE001 - a guess: the reader probes again and reports
        return
    with _lock:
        _probes[path] = result
    pr = result[0]
    if pr is None or pr.width <= 0 or pr.height <= 0:
        return
    if decode and not _stopped:
        args = decode_args(path, pr, pr.width, pr.height, 0.0)
        with contextlib.suppress(Exception):
            proc = FfmpegProcess(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
            with _lock:
                _decoders[tuple(args)] = proc
    if encode and pr.width * pr.height >= WORKER_PIXELS and not _stopped:
        with contextlib.suppress(OSError):
            worker = spawn_worker()
            with _lock:
                _workers.append(worker)
    if _stopped:  # the run ended while these were starting
        _stop_all()


def spawn_worker() -> subprocess.Popen:
    """The LZW encoder process (``gifenc.py`` run by path: it imports Pillow only)."""
    # -P: its folder does not go on sys.path, where a module could shadow another.
    here = os.path.dirname(os.path.abspath(__file__))
    return children.track(
        subprocess.Popen(
            [
                sys.executable,
                *(["-P"] if sys.version_info >= (3, 11) else []),
                os.path.join(here, "gifenc.py"),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
    )


# The longest a run waits for the early start (a probe and two process starts) to finish.
_WAIT = 20.0


def _wait(timeout: float = _WAIT) -> None:
    if _thread is not None and _thread is not threading.current_thread():
        _thread.join(timeout)


def take_probe(path: str) -> tuple[object, str] | None:
    """The probe of ``path`` started early, if any (waits for it to finish)."""
    _wait()
    with _lock:
        return _probes.pop(path, None)


def take_decoder(args: Sequence[str]) -> object | None:
    """The decoder started early with exactly the command ``args``, if any."""
    _wait()
    with _lock:
        return _decoders.pop(tuple(args), None)


def take_worker() -> subprocess.Popen | None:
    """An encoder process started early, if any is still running."""
    _wait()
    with _lock:
        while _workers:
            worker = _workers.pop()
            if worker.poll() is None:
                return worker
    return None


def stop() -> None:
    """Stop and reap whatever was started and not adopted (at exit)."""
    global _stopped
    _stopped = True
    _wait(timeout=5)
    _stop_all()


def _stop_all() -> None:
    with _lock:
        decoders, workers = list(_decoders.values()), list(_workers)
        _decoders.clear()
        _workers.clear()
        _probes.clear()
    for proc in decoders:
        with contextlib.suppress(Exception):
            proc.close()
    for worker in workers:
        with contextlib.suppress(Exception):
            worker.kill()
            worker.wait(timeout=5)
        for pipe in (worker.stdin, worker.stdout):
            with contextlib.suppress(Exception):
                pipe.close()
