"""GIF frame encoding (Pillow's LZW) in a worker process, beside the quantizer.

Pillow's encoder holds the GIL, so in a thread it would stall the quantizer; a process runs it
on the other core. The parent sends frames through a pipe and gets the encoded blocks back in
order; a small thread in the parent does the blocking pipe I/O. Run as
``python -m gifquant.io.lzw`` it is the worker.

Request: ``<IIHh`` (width, height, palette entries, transparent index or -1), the indices
(height * width bytes), the palette (entries * 3 bytes). Reply: ``<iIh`` (colour table length,
or -1 for an error, image data length, transparent index or -1), then the bytes.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import BinaryIO

import numpy as np

_REQUEST = struct.Struct("<IIHh")
_REPLY = struct.Struct("<iIh")
# Frames at least this large are worth a worker process (its start costs ~0.2 s of CPU).
WORKER_PIXELS = 1 << 18
_STOP = object()


class WorkerError(RuntimeError):
    """The worker process failed or went away."""


def _read_exact(f: BinaryIO, n: int) -> bytes:
    data = f.read(n)
    if data is None or len(data) != n:
        raise EOFError
    return data


class LzwWorker:
    """Encodes frames in a child process; ``encode`` returns a Future of
    ``encode_frame``'s result. Use as a context manager: leaving it normally waits for the
    frames sent, leaving it on an error stops the worker at once."""

    def __init__(self) -> None:
        root = str(Path(__file__).resolve().parent.parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "gifquant.io.lzw"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self._jobs: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._serve, name="gifquant-lzw", daemon=True)
        self._thread.start()

    def encode(self, indices: np.ndarray, palette: np.ndarray, transparent: int | None) -> Future:
        """Queue one frame; the Future gives (colour table, image data, transparent index)."""
        fut: Future = Future()
        self._jobs.put((fut, np.ascontiguousarray(indices, np.uint8), palette, transparent))
        return fut

    def _serve(self) -> None:
        p = self._proc
        failed: BaseException | None = None
        while True:
            job = self._jobs.get()
            if job is _STOP:
                break
            fut, indices, palette, transparent = job
            if failed is not None:
                fut.set_exception(failed)
                continue
            try:
                fut.set_result(self._round_trip(indices, palette, transparent))
            except (OSError, EOFError, ValueError) as exc:
                failed = WorkerError(f"the GIF encoder process stopped ({exc or 'no reply'})")
                fut.set_exception(failed)
            except WorkerError as exc:
                fut.set_exception(exc)
        with contextlib.suppress(OSError):
            p.stdin.close()

    def _round_trip(self, indices: np.ndarray, palette: np.ndarray, transparent: int | None):
        p = self._proc
        h, w = indices.shape
        pal = np.ascontiguousarray(palette, np.uint8)
        t = -1 if transparent is None else int(transparent)
        p.stdin.write(_REQUEST.pack(w, h, len(pal), t))
        p.stdin.write(indices.data)
        p.stdin.write(pal.data)
        p.stdin.flush()
        n_table, n_image, trans = _REPLY.unpack(_read_exact(p.stdout, _REPLY.size))
        if n_table < 0:
            raise WorkerError(_read_exact(p.stdout, n_image).decode("utf-8", "replace"))
        table = _read_exact(p.stdout, n_table)
        image = _read_exact(p.stdout, n_image)
        return table, image, None if trans < 0 else trans

    def close(self, *, wait: bool = True) -> None:
        """Stop the worker: after the queued frames (``wait``) or at once."""
        if not wait:
            self._proc.kill()
        self._jobs.put(_STOP)
        self._thread.join()
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
def lzw_worker(width: int, height: int) -> Iterator[LzwWorker | None]:
    """A worker for ``GifWriter(encoder=...)`` when frames are large enough to repay it, else
    None (the writer then encodes in the calling thread)."""
    if width * height < WORKER_PIXELS:
        yield None
        return
    try:
        worker = LzwWorker()
    except OSError:  # no process to be had: encode in this one
        yield None
        return
    with worker:
        yield worker


def _serve_requests(inp: BinaryIO, out: BinaryIO) -> None:
    from .gif import encode_frame

    while True:
        head = inp.read(_REQUEST.size)
        if not head:
            return
        if len(head) != _REQUEST.size:
            raise EOFError
        w, h, n, t = _REQUEST.unpack(head)
        indices = np.frombuffer(_read_exact(inp, w * h), np.uint8).reshape(h, w)
        palette = np.frombuffer(_read_exact(inp, 3 * n), np.uint8).reshape(n, 3)
        try:
            table, image, trans = encode_frame(indices, palette, None if t < 0 else t)
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
            msg = f"{type(exc).__name__}: {exc}".encode()
            out.write(_REPLY.pack(-1, len(msg), -1) + msg)
        else:
            out.write(_REPLY.pack(len(table), len(image), -1 if trans is None else trans))
            out.write(table)
            out.write(image)
        out.flush()


if __name__ == "__main__":
    # Ctrl-C reaches the whole process group: the parent handles it and stops this worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(EOFError, BrokenPipeError):
        _serve_requests(sys.stdin.buffer, sys.stdout.buffer)
