"""The compiled kernels against their numpy references, bit for bit: random frames, odd shapes,
one pixel, all-transparent, strided views, and one frame holding all 2^24 colours."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gifquant import _kernels as kernels
from gifquant._core import deband, denoise, distinct, frames, temporal
from gifquant._core.colour import pack_rgb
from gifquant._core.frames import Frame, IndexedPixels, QuantizedFrame, indexed_rgba_reference
from gifquant._io import video
from gifquant._io.gif import write

shapes = st.tuples(st.integers(1, 37), st.integers(1, 41))
seeds = st.integers(0, 2**32 - 1)


def _frame(seed: int, shape: tuple[int, int], levels: int, alpha: str) -> np.ndarray:
    """A (h, w, 4) frame of ``levels`` levels a channel (256: any colour) with runs of equal
    pixels, its alpha all 255, all 0, or random (0, 255 and values between)."""
    rng = np.random.default_rng(seed)
    h, w = shape
    step = 255 // max(1, levels - 1)
    rgba = (rng.integers(0, levels, size=(h, w, 4)) * step).astype(np.uint8)
    runs = rng.random((h, w)) < 0.4  # a pixel repeating its left neighbour
    for x in range(1, w):
        rgba[runs[:, x], x] = rgba[runs[:, x], x - 1]
    if alpha == "opaque":
        rgba[..., 3] = 255
    elif alpha == "transparent":
        rgba[..., 3] = 0
    return rgba


def _assert_same_distinct(got: distinct.DistinctColours, want: distinct.DistinctColours) -> None:
    for a, b in zip(
        (got.colours, got.counts, got.inverse, got.opaque),
        (want.colours, want.counts, want.inverse, want.opaque),
        strict=True,
    ):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


@settings(max_examples=80, deadline=None)
@given(
    seeds,
    shapes,
    st.sampled_from([1, 2, 5, 256]),
    st.sampled_from(["opaque", "transparent", "random"]),
    st.sampled_from([0, 1, 128, 255]),
    st.booleans(),
)
def test_distinct_colours_kernel_equals_reference(seed, shape, levels, alpha, threshold, opaque):
    rgba = _frame(seed, shape, levels, alpha)
    if opaque:
        rgba[..., 3] = 255
    indexer = distinct.ColourIndexer()
    for _ in range(2):  # the state is left clear for the next frame
        got = indexer.distinct(rgba, threshold, opaque=opaque)
        _assert_same_distinct(got, distinct.distinct_reference(rgba, threshold, opaque=opaque))


# The pixels' pass of the distinct colours both ways: portable, and with the POPCNT
# instruction where this CPU and build have it.
POPCOUNTS = [False, True] if kernels._distinct.HARDWARE_POPCOUNT else [False]


@pytest.mark.parametrize("hardware", POPCOUNTS)
@settings(max_examples=40, deadline=None)
@given(seeds, shapes, st.sampled_from([2, 256]), st.sampled_from([0, 128]))
def test_distinct_colours_either_popcount_equals_reference(hardware, seed, shape, levels, thr):
    rgba = _frame(seed, shape, levels, "random")
    state = kernels.distinct_state(hardware)
    px = rgba.reshape(-1, 4)
    mask = np.empty(len(px), np.uint8)
    for _ in range(2):  # the state is left clear for the next frame
        colours, counts, inverse = kernels.distinct_rgba(px, thr, mask, state)
        _assert_same_distinct(
            distinct.DistinctColours(colours, counts, inverse, mask.reshape(shape).view(bool)),
            distinct.distinct_reference(rgba, thr),
        )


@pytest.mark.parametrize("hardware", POPCOUNTS)
@pytest.mark.parametrize("n", [0, 1, 5000, 200_000])
def test_index_either_popcount_equals_reference(hardware, n):
    # 200,000 pixels of nearly as many colours: over 65,536, so the int32 inverse.
    key = np.random.default_rng(n).integers(0, 1 << 24, n).astype(np.uint32)
    got = kernels.distinct_keys(key, kernels.distinct_state(hardware))
    for a, b in zip(got, distinct.index_reference(key), strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


@settings(max_examples=40, deadline=None)
@given(seeds, st.integers(0, 3000), st.sampled_from([3, 300, 1 << 24]))
def test_index_of_packed_colours_equals_reference(seed, n, span):
    key = np.random.default_rng(seed).integers(0, span, n).astype(np.uint32)
    got = distinct.ColourIndexer().index(key)
    for a, b in zip(got, distinct.index_reference(key), strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_packed_colour_over_24_bits_is_refused_and_leaves_the_state_clear():
    indexer = distinct.ColourIndexer()
    with pytest.raises(ValueError):
        indexer.index(np.array([5, 1 << 24], np.uint32))
    colours, counts, _ = indexer.index(np.array([7, 7], np.uint32))
    assert len(colours) == 1 and counts.tolist() == [2]


@settings(max_examples=60, deadline=None)
@given(seeds, shapes, st.integers(1, 256), st.booleans())
def test_indexed_rgba_kernel_equals_reference(seed, shape, n_used, strided):
    # A GIF frame's indices expanded through its table (alpha 0 at a transparent index), on
    # a crop of a larger frame too.
    rng = np.random.default_rng(seed)
    h, w = shape
    table = rng.integers(0, 256, (256, 4), dtype=np.uint8)
    table[:, 3] = np.where(rng.random(256) < 0.1, 0, 255)
    indices = rng.integers(0, n_used, (h + 3, w + 2), dtype=np.uint8)
    indices = indices[1 : h + 1, 2:] if strided else np.ascontiguousarray(indices[:h, :w])
    px = IndexedPixels(indices, table)
    got = px.rgba()
    assert got.dtype == np.uint8 and got.shape == (h, w, 4)
    np.testing.assert_array_equal(got, indexed_rgba_reference(px))


def test_frame_of_all_2_24_colours():
    keys = np.random.default_rng(0).permutation(1 << 24).astype(np.uint32)
    rgba = np.empty((4096, 4096, 4), np.uint8)
    rgba[..., 0] = (keys >> 16).reshape(4096, 4096)
    rgba[..., 1] = (keys >> 8).reshape(4096, 4096)
    rgba[..., 2] = keys.reshape(4096, 4096)
    rgba[..., 3] = 255
    got = distinct.distinct_colours(rgba)
    # np.unique of every colour once: each in sorted order, counted once, the pixel's own key.
    assert got.colours.shape == (1 << 24, 3) and got.inverse.dtype == np.int32
    np.testing.assert_array_equal(pack_rgb(got.colours), np.arange(1 << 24, dtype=np.uint32))
    assert (got.counts == 1).all()
    np.testing.assert_array_equal(got.inverse, keys)


@settings(max_examples=60, deadline=None)
@given(seeds, shapes, st.integers(1, 256), st.sampled_from([0, 128]), st.booleans())
def test_indexed_colours_kernel_equals_reference(seed, shape, n_used, threshold, clear):
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, n_used, size=shape).astype(np.uint8)
    table = rng.integers(0, 4, size=(256, 4)).astype(np.uint8) * 85  # repeated colours
    table[:, 3] = np.where(rng.random(256) < (0.9 if clear else 0.2), 255, 0)
    px = IndexedPixels(indices, table)
    got = distinct.indexed_colours(px, threshold)
    _assert_same_distinct(got, distinct.indexed_reference(px, threshold))


@settings(max_examples=80, deadline=None)
@given(
    seeds,
    shapes,
    st.sampled_from([np.uint8, np.uint16, np.uint32]),
    st.sampled_from([np.uint8, np.uint16, np.int32, np.int64, np.intp]),
    st.sampled_from(["1d", "2d", "strided"]),
)
def test_gather_kernel_equals_reference(seed, shape, table_dtype, index_dtype, layout):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 300 if index_dtype != np.uint8 else 256))
    table = rng.integers(0, np.iinfo(table_dtype).max, m, dtype=np.uint64).astype(table_dtype)
    index = rng.integers(0, m, size=(shape[0], 2 * shape[1])).astype(index_dtype)
    index = {"1d": index.reshape(-1), "2d": index, "strided": index[:, ::2]}[layout]
    got = distinct.gather(table, index)
    want = distinct.gather_reference(table, index)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def _indices_and_changes(seed, shape, share):
    """A palette image with runs (h, w) uint8 and a mask of changed pixels, both views into
    larger arrays (as the writer's crops are)."""
    rng = np.random.default_rng(seed)
    h, w = shape
    big = rng.integers(0, int(rng.integers(1, 40)), size=(h + 2, w + 3)).astype(np.uint8)
    runs = rng.random(big.shape) < 0.6
    for x in range(1, big.shape[1]):
        big[runs[:, x], x] = big[runs[:, x], x - 1]
    changed = rng.random(big.shape) < share
    return big[1 : h + 1, 2 : w + 2], changed[1 : h + 1, 2 : w + 2]


@settings(max_examples=100, deadline=None)
@given(seeds, shapes, st.sampled_from([0.0, 0.01, 0.1, 0.25, 0.5, 1.0]))
def test_writer_delta_kernels_equal_references(seed, shape, share):
    indices, changed = _indices_and_changes(seed, shape, share)
    palette = np.random.default_rng(seed).integers(0, 256, size=(40, 3)).astype(np.uint8)
    for got, want in [
        (write.crop_changed(indices, changed), write.crop_changed_reference(indices, changed)),
        (
            write.leave_unchanged(indices, changed, palette),
            write.leave_unchanged_reference(indices, changed, palette),
        ),
    ]:
        for a, b in zip(got, want, strict=True):
            if isinstance(b, np.ndarray):
                assert a.dtype == b.dtype
                np.testing.assert_array_equal(a, b)
            else:
                assert a == b
    for minlength in (0, 7, 64):
        np.testing.assert_array_equal(
            write.count_indices(indices, minlength),
            write.count_indices_reference(indices, minlength),
        )


def test_writer_delta_with_every_index_drawn_is_written_whole():
    indices = np.arange(256, dtype=np.uint8).reshape(16, 16)
    changed = np.ones((16, 16), bool)  # under the whole-rectangle share, but all 256 drawn
    palette = np.zeros((256, 3), np.uint8)
    for f in (write.leave_unchanged, write.leave_unchanged_reference):
        out, _, transparent, choice = f(indices, changed, palette)
        assert transparent is None and choice is None and out is indices


def test_gif_writer_bytes_equal_with_the_reference_functions(monkeypatch):
    rng = np.random.default_rng(5)
    frames = []
    base = rng.integers(0, 12, size=(31, 45)).astype(np.uint8)
    for i in range(8):
        idx = base.copy()
        idx[5 + i : 12 + i, 3 * i : 3 * i + 9] = (i + 3) % 12
        changed = idx != base if i else None
        base = idx
        palette = rng.integers(0, 256, size=(12, 3)).astype(np.uint8)
        frames.append(QuantizedFrame(idx, palette, None, 0.05, changed=changed))

    def written() -> bytes:
        buf = io.BytesIO()
        w = write.GifWriter(buf, 45, 31)
        for fr in frames:
            w.write(fr)
        w.close()
        return buf.getvalue()

    fast = written()
    for name in ("crop_changed", "leave_unchanged", "count_indices"):
        monkeypatch.setattr(write, name, getattr(write, f"{name}_reference"))
    monkeypatch.setattr(write, "gather", distinct.gather_reference)
    assert written() == fast


@settings(max_examples=80, deadline=None)
@given(seeds, st.integers(1, 3000), st.integers(1, 6000), st.integers(1, 256), st.floats(0, 1))
def test_peer_slots_kernel_equals_reference(seed, n, n_colours, n_slots, share):
    from gifquant._core.temporal import peer_slots_reference
    from gifquant._kernels import peer_slots

    rng = np.random.default_rng(seed)
    palette = rng.integers(0, 1 << 24, n_colours).astype(np.uint32)
    keys = palette[rng.integers(0, n_colours, n)]
    slots = rng.integers(0, n_slots, n).astype(np.uint8)
    idx = np.flatnonzero(rng.random(n) < share)  # none, some or every pixel
    want = peer_slots_reference(keys, slots, idx)
    for tally_max in (1 << 20, 0):  # the modes tallied at once, and bucketed colour by colour
        got = peer_slots(keys, slots, idx, tally_max)
        assert got.dtype == np.uint8 and np.array_equal(got, want)


def test_peer_slots_refuses_an_index_outside_the_frame():
    from gifquant._kernels import peer_slots

    keys, slots = np.zeros(4, np.uint32), np.zeros(4, np.uint8)
    with pytest.raises(IndexError):
        peer_slots(keys, slots, np.array([1, 4]))
    with pytest.raises(ValueError):
        peer_slots(keys, slots[:3], np.array([1]))


# --- painting (``_core.temporal``) -----------------------------------------------------------


paint_shapes = st.sampled_from([(0, 0), (1, 1), (1, 7), (13, 11), (37, 41)])  # (0, 0): no opaque


def _assert_same_slots(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == want.dtype == np.uint8
    np.testing.assert_array_equal(got, want)


def _painted(seed: int, n: int, k: int):
    """Slots of ``n`` pixels (n may be 0: an all-transparent frame), the last frame's (the same
    on about half), each pixel's colour and ``k`` entries in CIELAB, the colours about a dE
    from their last entry (the sticky rule's borderline)."""
    rng = np.random.default_rng(seed)
    display_lab = (rng.random((k, 3)) * [100, 200, 200] - [0, 100, 100]).astype(np.float32)
    m = int(rng.integers(1, 300))
    near = rng.integers(0, k, m)
    colours_lab = (display_lab[near] + rng.normal(0, 0.7, (m, 3))).astype(np.float32)
    inverse = rng.integers(0, m, n)
    last = near[inverse].astype(np.uint8)
    slots = np.where(rng.random(n) < 0.5, last, rng.integers(0, k, n)).astype(np.uint8)
    return slots, last, inverse, colours_lab, display_lab


@settings(max_examples=100, deadline=None)
@given(
    seeds,
    paint_shapes,
    st.integers(1, 256),
    st.sampled_from([np.uint16, np.int32, np.int64]),
)
def test_sticky_kernel_equals_reference(seed, shape, k, index_dtype):
    slots, last, inverse, colours_lab, display_lab = _painted(seed, shape[0] * shape[1], k)
    args = (slots, last, inverse.astype(index_dtype), colours_lab, display_lab)
    _assert_same_slots(temporal._sticky(*args), temporal.sticky_reference(*args))


@settings(max_examples=100, deadline=None)
@given(
    seeds,
    paint_shapes,
    st.integers(1, 256),
    st.sampled_from([0.0, 0.5, 1.0]),
)
def test_kept_pattern_kernel_equals_reference(seed, shape, k, share_moved):
    """Entries about a de-banding step apart (the rule's borderline), some moved since the
    last frame, pixels whose colour did or did not change, smooth or not."""
    rng = np.random.default_rng(seed)
    n = shape[0] * shape[1]
    display_lab = np.cumsum(rng.normal(0, 3, (k, 3)), axis=0).astype(np.float32)
    packed = rng.integers(0, 1 << 24, k).astype(np.uint32)
    last_packed = np.where(rng.random(k) < share_moved, packed + 1, packed).astype(np.uint32)
    last = rng.integers(0, k, n).astype(np.uint8)
    step = rng.integers(-2, 3, n)
    slots = np.clip(last.astype(int) + step, 0, k - 1).astype(np.uint8)
    last_fed = rng.integers(0, 4, n).astype(np.uint32)
    fed = np.where(rng.random(n) < 0.7, last_fed, last_fed + 1).astype(np.uint32)
    smooth = rng.random(n) < 0.6
    shown = temporal._Shown(last, last_packed, None, None, shape, last_fed)
    args = (slots, fed, smooth, display_lab, packed)
    _assert_same_slots(shown.kept_pattern(*args), temporal.kept_pattern_reference(shown, *args))


# --- de-banding (``_core.deband``) ---------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(
    seeds,
    st.sampled_from([(1, 1), (11, 40), (12, 12), (13, 17), (37, 41), (64, 90)]),
    st.sampled_from([0.0, 0.5, 2.0]),
    st.sampled_from(["opaque", "transparent"]),
)
def test_smooth_mask_kernel_equals_reference(seed, shape, noise, alpha):
    """Gradients of random slopes with a little noise: gradients near the smoothness
    threshold, detail near its limit, edges of the small frame, frames too small to judge."""
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    slope = rng.choice([-1, 1], (2, 3)) * 10 ** rng.uniform(-1.3, -0.2, (2, 3))  # levels a pixel
    rgb = 128 + slope[0] * yy[..., None] + slope[1] * xx[..., None]
    rgb = rgb + rng.normal(0, noise, (h, w, 3))
    rgba = np.full((h, w, 4), 255 if alpha == "opaque" else 0, np.uint8)
    rgba[..., :3] = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
    got, want = deband.smooth_mask(rgba), deband.smooth_mask_reference(rgba)
    assert got.dtype == want.dtype == np.bool_ and got.shape == want.shape == (h, w)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("shape", [(5, 9), (12, 16), (37, 41)])
def test_smooth_pixels_measured_late_from_the_small_copy_are_the_mask(shape):
    # A threaded run keeps only a frame's 4x smaller copy until painting asks for the mask.
    rng = np.random.default_rng(sum(shape))
    h, w = shape
    rgba = np.full((h, w, 4), 255, np.uint8)
    rgba[..., :3] = (np.arange(w)[None, :, None] * 3 + rng.integers(0, 2, (h, w, 3))).astype(
        np.uint8
    )
    opaque = rng.random((h, w)) < 0.7
    want = deband.smooth_mask_reference(rgba)
    for lazy, small in [(False, False), (True, False), (True, True), (False, True)]:
        got = deband.SmoothPixels(Frame(rgba, 0.1), opaque, lazy=lazy, small=small)
        assert not got.asked
        np.testing.assert_array_equal(got.mask(), want[opaque])
        assert got.asked


@settings(max_examples=80, deadline=None)
@given(seeds, st.integers(0, 40), st.sampled_from([1.0, 10.0, 60.0]), st.booleans())
def test_entries_apart_kernel_equals_reference(seed, k, spread, on_margin):
    """Palettes in CIELAB whose entries are close or far, with a pair exactly at the step,
    just inside or just outside its margin."""
    rng = np.random.default_rng(seed)
    lab = rng.uniform(0, spread, (k, 3))
    if on_margin and k >= 2:
        i, j = rng.choice(k, 2, replace=False)
        direction = rng.normal(size=3)
        factor = 1 + rng.choice([-1e-6, 0, 0.4e-6, 1e-6, 2e-6])
        lab[j] = lab[i] + direction / np.linalg.norm(direction) * deband.STEP_MAX * factor
    assert deband.entries_apart(lab) == deband.entries_apart_reference(lab)
    assert deband.entries_apart(lab.astype(np.float32)) == deband.entries_apart_reference(
        lab.astype(np.float32)
    )


# --- the denoiser's still pixels (``_core.denoise``, ``Frame.still``) -----------------------------


@settings(max_examples=80, deadline=None)
@given(seeds, shapes, st.sampled_from([0.0, 0.01, 0.5, 1.0]))
def test_still_pixels_kernel_equals_reference(seed, shape, share):
    rng = np.random.default_rng(seed)
    h, w = shape
    mask = rng.random(h * w) < share
    bits = np.packbits(mask)
    got_idx, want_idx = kernels.set_bits(bits), frames.still_indices_reference(bits)
    assert got_idx.dtype == want_idx.dtype == np.intp
    np.testing.assert_array_equal(got_idx, want_idx)


@settings(max_examples=80, deadline=None)
@given(
    seeds,
    st.tuples(st.integers(1, 40), st.integers(1, 70)),
    st.sampled_from([0.0, 0.002, 0.05, 1.0]),
    st.sampled_from([1, 3, 256]),
)
def test_indexed_noise_kernel_equals_reference(seed, shape, share, spread):
    """Three GIF frames of one table: runs of indices alike in all three (passed over 8 at a
    time), a ``share`` changed to any index, on tables whose neighbouring entries are a level or
    two apart (blips) or anything (motion), widths over and under the 8 and the block."""
    rng = np.random.default_rng(seed)
    h, w = shape
    table = np.full((256, 4), 255, np.uint8)
    steps = rng.integers(0, 3, (256, 3)) if spread == 3 else rng.integers(0, spread, (256, 3))
    table[:, :3] = np.cumsum(steps, 0) % 256 if spread < 256 else rng.integers(0, 256, (256, 3))
    base = rng.integers(0, 256, (h, w), dtype=np.uint8)
    px = []
    for _ in range(3):
        indices = base.copy()
        changed = rng.random((h, w)) < share
        indices[changed] = rng.integers(0, 256, int(changed.sum()), dtype=np.uint8)
        px.append(IndexedPixels(indices, table))
    got = kernels.indexed_noise_sums(
        *(p.indices for p in px), table, denoise.BLOCK, denoise.CAP, denoise.SMALL
    )
    want = denoise.indexed_noise_reference(*px)
    for a, b in zip(got[:3], want[:3], strict=True):
        np.testing.assert_array_equal(a, b)
    assert got[3] == want[3]


# The denoiser's step both ways: the portable loop, and four pixels at a time with AVX2 where
# this CPU and build have it.
VECTORS = [False, True] if kernels._denoise.VECTOR_STEP else [False]


@pytest.mark.parametrize("vector", VECTORS)
@settings(max_examples=60, deadline=None)
@given(
    seeds,
    st.tuples(st.integers(1, 37), st.integers(1, 41)),
    st.integers(1, denoise.LOOKAHEAD),
    st.sampled_from([0.3, 1.0, 4.0]),
)
def test_denoise_step_either_path_equals_reference(vector, seed, shape, n_frames, noise):
    """Any state (new pixels, counts at the memory, running means near and far from the
    frames), blocks of every kind (sigma 0: moving; smooth or not), widths over and under a
    block and not a multiple of four, and a window shortened by the clip's end."""
    rng = np.random.default_rng(seed)
    h, w = shape
    base = rng.integers(0, 256, (h, w, 4))
    window = [
        np.clip(base + rng.normal(0, noise * (1 + 8 * (rng.random() < 0.3)), base.shape), 0, 255)
        .round()
        .astype(np.uint8)
        for _ in range(n_frames)
    ]
    mean = np.clip(base[..., :3] + rng.normal(0, 3 * noise, (h, w, 3)), 0, 255).astype(np.float32)
    count = rng.choice([0, 1, 2, 5, denoise.MEMORY - 1, denoise.MEMORY], (h, w)).astype(np.uint8)
    shown = np.clip(base + rng.integers(-4, 5, base.shape), 0, 255).astype(np.uint8)
    bh, bw = -(-h // denoise.BLOCK), -(-w // denoise.BLOCK)
    blocks = (rng.choice([0.0, 0.4, 1.0, 2.7, 6.0], (bh, bw)) * noise).astype(np.float32)
    tight = (rng.random((bh, bw)) < 0.5).astype(np.uint8)
    got = (mean.copy(), count.copy(), shown.copy())
    want = (mean.copy(), count.copy(), shown.copy())
    held = kernels.denoise_step(
        window, blocks, tight, denoise.BLOCK, *got, denoise.PERSIST, denoise.SHOWN_MIN,
        denoise.SHOWN_MAX, denoise.TIGHT, denoise.MEMORY, vector=vector,
    )  # fmt: skip
    sigma = np.repeat(np.repeat(blocks.astype(np.float64), denoise.BLOCK, 0), denoise.BLOCK, 1)
    big_tight = np.repeat(np.repeat(tight.astype(bool), denoise.BLOCK, 0), denoise.BLOCK, 1)
    assert held == denoise.step_reference(window, sigma[:h, :w], big_tight[:h, :w], want)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=30, deadline=None)
@given(seeds, st.tuples(st.integers(0, 37), st.integers(0, 41)))
def test_planes_rgba_kernel_equals_reference(seed, shape):
    gbr = np.random.default_rng(seed).integers(0, 256, (3, *shape), dtype=np.uint8)
    out = np.zeros((*shape, 4), np.uint8)
    kernels.planes_rgba(gbr, out)
    np.testing.assert_array_equal(out, video.planes_rgba_reference(gbr))


@pytest.mark.parametrize("vector", VECTORS)
@settings(max_examples=40, deadline=None)
@given(seeds, st.tuples(st.integers(1, 37), st.integers(1, 41)), st.sampled_from([0, 2, 9, 40]))
def test_block_noise_either_path_equals_reference(vector, seed, shape, spread):
    """Still pixels, blips small and large, moving ones, and widths over and under a block and
    not a multiple of eight (the AVX2 loop takes eight RGBA pixels at a time)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (*shape, 4))
    f = [
        np.clip(base + rng.integers(-spread, spread + 1, base.shape), 0, 255).astype(np.uint8)
        for _ in range(3)
    ]
    got = kernels.block_noise_sums(*f, denoise.BLOCK, denoise.CAP, denoise.SMALL, vector=vector)
    want = denoise.block_noise_reference(*f)
    for a, b in zip(got[:3], want[:3], strict=True):
        np.testing.assert_array_equal(a, b)
    assert got[3] == want[3]
