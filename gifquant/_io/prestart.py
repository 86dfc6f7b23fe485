"""Start a command-line run's helper processes while the interpreter is still importing.

The ``gifquant`` command spends ~0.2 s importing numpy and the rest before it opens its input,
with the second core idle. When it is asked to read a video file, that time goes to ffmpeg
instead: a background thread probes the file, starts the decoder (so the first frame is on its
way) and, for large frames going to a GIF, the LZW encoder process.

The command (``_command.run``) makes an ``EarlyStart`` and hands it down to the video reader
and the GIF writer (``convert(..., early=...)``): nothing here is a module global. Everything
started is a guess. The reader adopts the decoder only if it would have run the very same
command, and the writer adopts the encoder only if it wants one; what is not adopted is stopped
at exit. Stdlib only: this runs before numpy is imported.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import children
from .sniff import file_kind

if TYPE_CHECKING:
    import subprocess

# Frames at least this large are worth an encoder process (see ``gif/lzw.py``).
WORKER_PIXELS = 1 << 18
# The longest a run waits for the early start (a probe and two process starts) to finish.
_WAIT = 20.0


def spawn_worker() -> subprocess.Popen:
    """The LZW encoder process (``gif/encoder.py`` run by path: it loads the compiled LZW kernel
    and imports nothing else of gifquant, nor numpy)."""
    import subprocess  # here: a run that starts no child does not need it (see children.py)

    # -P: its folder does not go on sys.path, where a module could shadow another.
    here = os.path.dirname(os.path.abspath(__file__))
    return children.spawn(
        [
            sys.executable,
            *(["-P"] if sys.version_info >= (3, 11) else []),
            os.path.join(here, "gif", "encoder.py"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )


class EarlyStart:
    """The probe, decoder and encoder process started for one command line, to be taken by
    the reader and writer that would have started the same; ``stop`` ends what was not."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._probes: dict[str, tuple[object, str]] = {}
        self._decoders: dict[tuple[str, ...], object] = {}  # decoder command -> FfmpegProcess
        self._workers: list[subprocess.Popen] = []
        self._stopped = False

    @classmethod
    def begin(cls, argv: Sequence[str]) -> EarlyStart | None:
        """For a command line ``IN OUT [options]`` reading a video file, start the probe,
        decoder and encoder in a background thread (stopped at exit); None otherwise. Never
        raises: a guess that fails is simply not used."""
        if len(argv) < 2 or argv[0].startswith("-") or argv[0] == argv[1]:
            return None
        path, out = argv[0], argv[1]
        try:
            if not os.path.isfile(path) or os.path.getsize(path) == 0:
                return None
            with open(path, "rb") as f:
                if file_kind(f.read(16)) != "video":
                    return None
        except OSError:
            return None
        opts = {a.split("=")[0] for a in argv[2:] if a.startswith("-")}
        decode = not (opts & {"--ss"})
        encode = out.lower().endswith(".gif") and not (opts & {"-f", "--format", "--scale"})
        # Imported here, in the main thread: an import in the thread, broken by a signal, could
        # leave its module locked and the main thread waiting on it.
        from . import ffmpeg

        try:
            ffmpeg.ffmpeg_exe()
        except Exception:  # noqa: BLE001 - a guess: the reader reports it
            return None
        early = cls()
        early._thread = threading.Thread(
            target=early._start, args=(path, decode, encode), name="gifquant-prestart", daemon=True
        )
        early._thread.start()
        atexit.register(early.stop)
        return early

    def _start(self, path: str, decode: bool, encode: bool) -> None:
        import subprocess  # (imported in the main thread with ffmpeg, by ``begin``)

        from .ffmpeg import FfmpegProcess, decode_args, run_probe

        try:
            result = run_probe(path)
        except Exception:  # noqa: BLE001 - a guess: the reader probes again and reports
            return
        with self._lock:
            self._probes[path] = result
        pr = result[0]
        if pr is None or pr.width <= 0 or pr.height <= 0:
            return
        if decode and not self._stopped:
            args = decode_args(path, pr, pr.width, pr.height, 0.0)
            with contextlib.suppress(Exception):
                proc = FfmpegProcess(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
                with self._lock:
                    self._decoders[tuple(args)] = proc
        if encode and pr.width * pr.height >= WORKER_PIXELS and not self._stopped:
            with contextlib.suppress(OSError):
                worker = spawn_worker()
                with self._lock:
                    self._workers.append(worker)
        if self._stopped:  # the run ended while these were starting
            self._stop_all()

    def _wait(self, timeout: float = _WAIT) -> None:
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def take_probe(self, path: str) -> tuple[object, str] | None:
        """The probe of ``path`` started early, if any (waits for it to finish)."""
        self._wait()
        with self._lock:
            return self._probes.pop(path, None)

    def take_decoder(self, args: Sequence[str]) -> object | None:
        """The decoder started early with exactly the command ``args``, if any."""
        self._wait()
        with self._lock:
            return self._decoders.pop(tuple(args), None)

    def take_worker(self) -> subprocess.Popen | None:
        """An encoder process started early, if any is still running."""
        self._wait()
        with self._lock:
            while self._workers:
                worker = self._workers.pop()
                if worker.poll() is None:
                    return worker
        return None

    def stop(self) -> None:
        """Stop and reap whatever was started and not adopted (at exit)."""
        self._stopped = True
        self._wait(timeout=5)
        self._stop_all()

    def _stop_all(self) -> None:
        with self._lock:
            decoders, workers = list(self._decoders.values()), list(self._workers)
            self._decoders.clear()
            self._workers.clear()
            self._probes.clear()
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
