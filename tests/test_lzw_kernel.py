"""The compiled LZW encoder against its pure-Python reference (``lzw_reference.py``): the same
bytes on any indices, and Pillow decodes them to the indices that went in."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lzw_reference import encode_reference, pillow_decoded

from gifquant._kernels import lzw_encode


def _check(idx: np.ndarray) -> None:
    h, w = idx.shape
    for lookahead in (0, 1, 2):
        for clear in ("heuristic", "race", "eager"):
            got = lzw_encode(idx.tobytes(), lookahead, clear)
            assert got == encode_reference(idx.tobytes(), lookahead=lookahead, clear=clear)
            assert np.array_equal(pillow_decoded(got, w, h), idx)


@st.composite
def frames(draw) -> np.ndarray:
    h = draw(st.integers(1, 40))
    w = draw(st.integers(1, 60))
    k = draw(st.sampled_from([1, 2, 3, 4, 16, 17, 256]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["noise", "runs", "stripes"]))
    if kind == "noise":
        idx = rng.integers(0, k, (h, w))
    elif kind == "runs":  # long runs of few values, as in flat areas and delta frames
        idx = np.repeat(rng.integers(0, k, h * w // 7 + 1), 7)[: h * w].reshape(h, w)
    else:
        idx = (np.arange(w)[None, :] // rng.integers(1, 5) + np.arange(h)[:, None]) % k
    return idx.astype(np.uint8)


@settings(max_examples=150, deadline=None)
@given(frames())
def test_kernel_writes_the_references_bytes(idx):
    _check(idx)


@pytest.mark.parametrize(
    "idx",
    [
        np.zeros((1, 1), np.uint8),
        np.full((1, 1), 255, np.uint8),
        np.full((97, 131), 3, np.uint8),  # one value: runs longer than any string
        np.arange(256, dtype=np.uint8).reshape(16, 16),
        np.array([[0, 1], [1, 0]], np.uint8),
    ],
    ids=["one-pixel", "one-pixel-255", "one-value", "256-colours", "two-colours"],
)
def test_edge_frames(idx):
    _check(idx)


@pytest.mark.parametrize("k", [2, 16, 256])
def test_the_table_fills_and_clears(k):
    # Enough codes to fill the 4096-entry table several times: the deferred clear and the
    # table's reset take their turns, noise (clears pay) and smooth rows (a full table pays).
    rng = np.random.default_rng(k)
    noise = rng.integers(0, k, (150, 200))
    smooth = (np.arange(200)[None, :] // 3 + rng.integers(0, 2, (150, 1))) % k
    _check(np.concatenate([noise, smooth, noise[:40]]).astype(np.uint8))


def test_minimum_code_size_follows_the_largest_index():
    assert lzw_encode(np.zeros(10, np.uint8))[0] == 2  # GIF's least
    assert lzw_encode(np.array([0, 4], np.uint8))[0] == 3
    assert lzw_encode(np.array([255], np.uint8))[0] == 8


def test_empty_and_bad_arguments():
    assert lzw_encode(b"") == encode_reference(b"")
    with pytest.raises(ValueError, match="lookahead"):
        lzw_encode(b"\x00", 9)
    with pytest.raises(ValueError, match="clear"):
        lzw_encode(b"\x00", 0, "never")


@st.composite
def large_frames(draw) -> np.ndarray:
    # Large enough to fill the table a few times: the deferred clear's decisions.
    h = draw(st.integers(60, 200))
    w = draw(st.integers(100, 300))
    k = draw(st.sampled_from([2, 16, 256]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    noise = draw(st.integers(0, 8))  # 1 in 2^noise pixels a random value, over smooth rows
    idx = (np.arange(w)[None, :] // rng.integers(1, 9) + np.arange(h)[:, None] // 3) % k
    wild = rng.integers(0, 1 << noise, (h, w)) == 0
    idx[wild] = rng.integers(0, k, int(wild.sum()))
    return idx.astype(np.uint8)


@settings(max_examples=12, deadline=None)
@given(large_frames())
def test_kernel_writes_the_references_bytes_on_large_frames(idx):
    _check(idx)
