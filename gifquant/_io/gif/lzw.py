"""GIF frame encoding (Pillow's LZW) in a worker process, beside the quantizer.

Pillow's encoder holds the GIL, so in a thread it would stall the quantizer; a process runs it
on the other core. The parent sends frames through a pipe and gets the encoded blocks back in
order (the protocol and the worker's loop are in ``encoder.py``); a small thread in the parent
does the blocking pipe I/O.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from ..prestart import WORKER_PIXELS, EarlyStart, spawn_worker
from .encoder import REPLY, REQUEST, read_exact

if TYPE_CHECKING:
    from concurrent.futures import Future

# Frames at least this large are worth a worker process (its start costs ~0.1 s of CPU).
_STOP = object()


class WorkerError(RuntimeError):
    """The worker process failed or went away."""


# How long a failing run waits for the worker's thread before giving up on it.
_GIVE_UP = 10.0


class LzwWorker:
    """Encodes frames in a child process; ``encode`` returns a Future of
    ``encode_frame``'s result. Use as a context manager: leaving it normally waits for the
    frames sent, leaving it on an error stops the worker at once."""

    def __init__(self, early: EarlyStart | None = None) -> None:
        # Run by path, so the worker imports Pillow only: not numpy, not the gifquant package.
        # The command line may have started one while it was importing (``early``).
        self._proc = (early.take_worker() if early is not None else None) or spawn_worker()
        self._jobs: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._serve, name="gifquant-lzw", daemon=True)
        self._thread.start()

    def encode(
        self,
        indices: np.ndarray,
        palette: np.ndarray,
        transparent: int | None,
        choice: np.ndarray | None = None,
    ) -> Future:
        """Queue one frame; the Future gives (colour table, image data, transparent index)
        (``choice``: ``leave_unchanged``'s)."""
        # Imported here, not at the top: concurrent.futures is 1 ms of a small GIF's start-up,
        # and frames this large are the only ones that need it.
        from concurrent.futures import Future

        fut: Future = Future()
        job = (fut, np.ascontiguousarray(indices, np.uint8), palette, transparent, choice)
        self._jobs.put(job)
        return fut

    def _serve(self) -> None:
        p = self._proc
        failed: BaseException | None = None
        while True:
            job = self._jobs.get()
            if job is _STOP:
                break
            fut, *frame = job
            if failed is not None:
                fut.set_exception(failed)
                continue
            try:
                fut.set_result(self._round_trip(*frame))
            except (OSError, EOFError, ValueError) as exc:
                failed = WorkerError(f"the GIF encoder process stopped ({exc or 'no reply'})")
                fut.set_exception(failed)
            except WorkerError as exc:
                fut.set_exception(exc)
        with contextlib.suppress(OSError):
            p.stdin.close()

    def _round_trip(
        self,
        indices: np.ndarray,
        palette: np.ndarray,
        transparent: int | None,
        choice: np.ndarray | None,
    ):
        p = self._proc
        h, w = indices.shape
        pal = np.ascontiguousarray(palette, np.uint8)
        t = -1 if transparent is None else int(transparent)
        p.stdin.write(REQUEST.pack(w, h, len(pal), t, choice is not None))
        p.stdin.write(indices.data)
        p.stdin.write(pal.data)
        if choice is not None:
            p.stdin.write(np.ascontiguousarray(choice, np.uint8).data)
        p.stdin.flush()
        n_table, n_image, trans = REPLY.unpack(read_exact(p.stdout, REPLY.size))
        if n_table < 0:
            raise WorkerError(read_exact(p.stdout, n_image).decode("utf-8", "replace"))
        table = read_exact(p.stdout, n_table)
        image = read_exact(p.stdout, n_image)
        return table, image, None if trans < 0 else trans

    def close(self, *, wait: bool = True) -> None:
        """Stop the worker: after the queued frames (``wait``) or at once."""
        if not wait:
            self._proc.kill()
        self._jobs.put(_STOP)
        self._thread.join(None if wait else _GIVE_UP)
        import subprocess  # (imported when the worker was started)

        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - a wedged worker
            self._proc.kill()
            self._proc.wait()
        self._proc.stdout.close()

    def __enter__(self) -> LzwWorker:
        return self

    def __exit__(self, exc_type, *exc: object) -> None:
        self.close(wait=exc_type is None)


@contextlib.contextmanager
def lzw_worker(
    width: int, height: int, early: EarlyStart | None = None
) -> Iterator[LzwWorker | None]:
    """A worker for ``GifWriter(encoder=...)`` when frames are large enough to repay it, else
    None (the writer then encodes in the calling thread)."""
    if width * height < WORKER_PIXELS:
        yield None
        return
    try:
        worker = LzwWorker(early)
    except OSError:  # no process to be had: encode in this one
        yield None
        return
    with worker:
        yield worker
