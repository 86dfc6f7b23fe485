"""The GIF encoder process: same bytes as encoding in-process, errors surface, nothing is left;
and the frames it encodes decode to what went in."""

from __future__ import annotations

import io
import os
import sys

import numpy as np
import pytest
from conftest import moving_clip, write_apng
from lzw_reference import pillow_decoded
from PIL import Image

from gifquant._cli import main
from gifquant._io.gif import encoder as gifenc
from gifquant._io.gif import lzw
from gifquant._io.gif.blocks import EXTENSION, GRAPHIC_CONTROL, blocks, read_header
from gifquant._io.gif.lzw import LzwWorker, WorkerError, lzw_worker
from gifquant._io.gif.write import encode_frame


def _frame(h: int, w: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    idx = (rng.integers(0, k, (h, w)) // 2 * 2 + (np.arange(w) // 9) % 2).astype(np.uint8)
    return idx, rng.integers(0, 256, (k, 3)).astype(np.uint8)


def test_worker_encodes_exactly_as_in_process():
    with LzwWorker() as worker:
        jobs = []
        for seed, (h, w, k, t) in enumerate([(7, 5, 4, None), (300, 200, 16, 15), (1, 1, 2, 0)]):
            idx, pal = _frame(h, w, k, seed)
            jobs.append((worker.encode(idx, pal, t), encode_frame(idx, pal, t)))
        # A view that is not contiguous is sent as its own copy.
        idx, pal = _frame(40, 60, 8, 9)
        jobs.append((worker.encode(idx[:, ::2], pal, None), encode_frame(idx[:, ::2], pal, None)))
        for fut, expected in jobs:
            assert fut.result(timeout=60) == expected


def test_worker_reports_a_bad_frame_and_keeps_going():
    with LzwWorker() as worker:
        idx, pal = _frame(4, 4, 4, 0)
        bad = worker.encode(idx, np.zeros((300, 3), np.uint8), None)  # more than 256 entries
        good = worker.encode(idx, pal, None)
        with pytest.raises(WorkerError, match="palette"):
            bad.result(timeout=60)
        assert good.result(timeout=60) == encode_frame(idx, pal, None)


def test_a_dead_worker_fails_the_frames_not_the_caller():
    worker = LzwWorker()
    worker._proc.kill()
    worker._proc.wait()
    idx, pal = _frame(8, 8, 4, 1)
    fut = worker.encode(idx, pal, None)
    with pytest.raises(WorkerError, match="encoder process stopped"):
        fut.result(timeout=60)
    worker.close()


def test_small_frames_get_no_worker():
    with lzw_worker(100, 100) as w:
        assert w is None


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_cli_output_is_the_same_with_and_without_the_worker(tmp_path, monkeypatch):
    frames = [np.kron(f, np.ones((12, 12, 1), np.uint8)) for f in moving_clip(4)]  # 480x672
    assert frames[0].shape[0] * frames[0].shape[1] >= lzw.WORKER_PIXELS
    src = write_apng(tmp_path / "big.png", frames)
    fds = len(os.listdir("/proc/self/fd"))
    with_worker, inline = tmp_path / "a.gif", tmp_path / "b.gif"
    assert main([str(src), str(with_worker), "-k", "8", "-q"]) == 0
    assert len(os.listdir("/proc/self/fd")) == fds  # the pipes to the worker are closed
    monkeypatch.setattr(lzw, "WORKER_PIXELS", 1 << 40)
    assert main([str(src), str(inline), "-k", "8", "-q"]) == 0
    assert with_worker.read_bytes() == inline.read_bytes()


def _pillows_table(idx: np.ndarray, pal: np.ndarray, transparent: int | None):
    """The colour table and transparent index Pillow's GIF saver writes for a frame (which
    wrote gifquant's frames before its own encoder)."""
    im = Image.frombuffer("P", idx.shape[::-1], idx.tobytes(), "raw", "P", 0, 1)
    im.putpalette(pal.tobytes(), "RGB")
    buf = io.BytesIO()
    params = {"optimize": False, "interlace": False}
    if transparent is not None:
        params["transparency"] = int(transparent)
    im.save(buf, "GIF", **params)
    buf.seek(0)
    table = read_header(buf)[1] or b""
    trans = image = None
    for block in blocks(buf):
        if block.kind == EXTENSION:
            if image is None and block.label == GRAPHIC_CONTROL and block.head[0] & 1:
                trans = block.head[3]
        elif image is None:
            image = block
    return image.table or table, trans


@pytest.mark.parametrize("k", [1, 2, 3, 16, 255, 256])
def test_a_frame_keeps_pillows_table_and_decodes_to_its_indices(k):
    # The colour table and transparent index are those Pillow's saver wrote (gifquant's
    # output changed only in its LZW streams); the indices come back as they went in.
    for seed, transparent in enumerate([None, 0, k - 1, None]):
        idx, pal = _frame(1 + 37 * seed, 3 + 101 * seed, k, seed % 2)
        idx = (idx.astype(np.int64) % k).astype(np.uint8)
        table, image, trans = gifenc.encode_image(
            idx.tobytes(), idx.shape[1], idx.shape[0], pal.tobytes(), transparent
        )
        assert (table, trans) == _pillows_table(idx, pal, transparent)
        assert np.array_equal(pillow_decoded(image, idx.shape[1], idx.shape[0]), idx)
