"""The GIF encoder process: same bytes as encoding in-process, errors surface, nothing is left;
and the frames it encodes decode to what went in (delta frames: to what each frame shows)."""

from __future__ import annotations

import io
import os
import sys

import numpy as np
import pytest
from conftest import moving_clip, write_apng
from hypothesis import given, settings
from hypothesis import strategies as st
from lzw_reference import pillow_decoded
from PIL import Image, ImageSequence

from gifquant._cli import main
from gifquant._core.frames import QuantizedFrame
from gifquant._io.gif import encoder as gifenc
from gifquant._io.gif import lzw, write
from gifquant._io.gif.blocks import EXTENSION, GRAPHIC_CONTROL, blocks, read_header
from gifquant._io.gif.lzw import LzwWorker, WorkerError, lzw_worker
from gifquant._io.gif.write import GifWriter, encode_frame, leave_unchanged
from gifquant._io.image import ImageReader


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


# Delta frames: the encoder may write an unchanged pixel as its own index or as the
# transparent one; what a viewer sees after each frame must be that frame, as before.


@st.composite
def delta_clips(draw) -> list[QuantizedFrame]:
    h = draw(st.sampled_from([1, 2, 7, 33]))
    w = draw(st.sampled_from([1, 3, 40, 61]))
    k = draw(st.sampled_from([2, 4, 15, 16, 17, 256]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    palette = rng.integers(0, 256, (k, 3)).astype(np.uint8)
    if draw(st.booleans()):
        palette[k // 2] = palette[0]  # two entries of one colour
    idx = np.repeat(rng.integers(0, k, h * w // 4 + 1), 4)[: h * w].reshape(h, w)
    clip = [QuantizedFrame(idx.astype(np.uint8), palette, None, 0.1)]
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["box", "noise", "still", "all"]))
        new = clip[-1].indices.copy()
        if kind == "box":  # something moves over a still background
            y, x = rng.integers(0, h), rng.integers(0, w)
            new[y : y + rng.integers(1, 9), x : x + rng.integers(1, 13)] = rng.integers(0, k)
        elif kind == "noise":  # camera noise: scattered changes
            spots = rng.random((h, w)) < rng.choice([0.05, 0.4, 0.9])
            new[spots] = rng.integers(0, k, int(spots.sum()))
        elif kind == "all":
            new = rng.integers(0, k, (h, w)).astype(np.uint8)
        if draw(st.booleans()):  # each frame its own palette: the same colours, renumbered
            order = rng.permutation(k)
            palette, new = palette[order], np.argsort(order)[new]
        last = clip[-1]
        changed = (last.palette[last.indices] != palette[new]).any(-1)
        clip.append(QuantizedFrame(new.astype(np.uint8), palette, None, 0.1, changed=changed))
    return clip


def _written(clip: list[QuantizedFrame]) -> bytes:
    buf = io.BytesIO()
    writer = GifWriter(buf, clip[0].indices.shape[1], clip[0].indices.shape[0])
    for frame in clip:
        writer.write(frame)
    writer.close()
    return buf.getvalue()


def _composites(gif: bytes, tmp_path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """What Pillow and gifquant's reader show after each frame, RGBA."""
    with Image.open(io.BytesIO(gif)) as im:
        pil = [np.asarray(f.convert("RGBA")).copy() for f in ImageSequence.Iterator(im)]
    path = tmp_path / "clip.gif"
    path.write_bytes(gif)
    with ImageReader(str(path), name="clip.gif", max_pixels=1 << 24) as reader:
        own = [np.asarray(f.rgba).copy() for f in reader]
    return pil, own


def _without_choice(indices, changed, palette):
    """``leave_unchanged`` as before the encoder chose: every unchanged pixel transparent."""
    out, palette, transparent, choice = leave_unchanged(indices, changed, palette)
    if choice is not None:
        either = np.unpackbits(choice, bitorder="little")[: out.size].reshape(out.shape)
        out = np.where(either.astype(bool), np.uint8(transparent), out)
    return out, palette, transparent, None


@settings(max_examples=60, deadline=None)
@given(delta_clips())
def test_delta_frames_show_each_frame_whatever_the_encoder_chose(tmp_path_factory, clip):
    tmp_path = tmp_path_factory.mktemp("choice")
    gif = _written(clip)
    want = [np.dstack([f.rgb, np.full(f.indices.shape, 255, np.uint8)]) for f in clip]
    for shown in _composites(gif, tmp_path):
        assert len(shown) == len(want)
        for a, b in zip(shown, want, strict=True):
            np.testing.assert_array_equal(a, b)
    with pytest.MonkeyPatch.context() as mp:  # as written before the choice: the same frames
        mp.setattr(write, "leave_unchanged", _without_choice)
        before = _written(clip)
    for a, b in zip(_composites(before, tmp_path), _composites(gif, tmp_path), strict=True):
        assert all(map(np.array_equal, a, b))


def test_a_still_background_costs_less_with_the_choice(tmp_path):
    # A patch of the picture moves over the rest, which stands still: unchanged pixels written
    # as their own index let codes run on through the patch's edges.
    rng = np.random.default_rng(4)
    base = np.repeat(rng.integers(0, 7, 60 * 80 // 6 + 1), 6)[: 60 * 80].reshape(60, 80)
    palette = rng.integers(0, 256, (7, 3)).astype(np.uint8)  # (room for a transparent index)
    clip = [QuantizedFrame(base.astype(np.uint8), palette, None, 0.1)]
    for i in range(6):
        new = clip[-1].indices.copy()
        new[10 + i : 30 + i, 10 + 3 * i : 40 + 3 * i] = base[:20, :30]
        changed = new != clip[-1].indices
        clip.append(QuantizedFrame(new, palette, None, 0.1, changed=changed))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(write, "leave_unchanged", _without_choice)
        before = _written(clip)
    assert len(_written(clip)) < len(before)


def test_the_worker_encodes_a_choice_exactly_as_in_process():
    rng = np.random.default_rng(6)
    idx, pal = _frame(300, 200, 15, 2)
    choice = np.packbits(rng.random(300 * 200) < 0.6, bitorder="little")
    with LzwWorker() as worker:
        fut = worker.encode(idx, pal, 15, choice)
        plain = worker.encode(idx, pal, 15)
        assert fut.result(timeout=60) == encode_frame(idx, pal, 15, choice)
        assert plain.result(timeout=60) == encode_frame(idx, pal, 15)
    with pytest.raises(ValueError, match="transparent index"):
        encode_frame(idx, pal, None, choice)
