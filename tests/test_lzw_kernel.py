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


# A delta frame's choice: at pixels whose bit is set the encoder may write the transparent
# index instead of the pixel's own (both show what is on screen), whichever makes its match
# longer; a decoder must get back one of the two at those pixels, the own index elsewhere.


def _check_choice(idx: np.ndarray, either: np.ndarray, t: int) -> list[bytes]:
    h, w = idx.shape
    bits = np.packbits(either.reshape(-1), bitorder="little").tobytes()
    out = []
    for lookahead in (0, 1, 2):
        for clear in ("heuristic", "race", "eager"):
            got = lzw_encode(idx.tobytes(), lookahead, clear, bits, t)
            want = encode_reference(
                idx.tobytes(), lookahead=lookahead, clear=clear, choice=bits, transparent=t
            )
            assert got == want
            shown = pillow_decoded(got, w, h)
            assert np.all((shown == idx) | (either & (shown == t)))
            out.append(got)
    return out


@st.composite
def choice_frames(draw) -> tuple[np.ndarray, np.ndarray, int]:
    idx = draw(frames())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    k = int(idx.max()) + 1
    transparent = draw(st.sampled_from([0, k - 1, min(k, 255), 255]))
    share = draw(st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]))
    either = rng.random(idx.shape) < share
    if draw(st.booleans()):  # in blocks, as a still background around what moved
        either = np.repeat(either[:, : (idx.shape[1] + 4) // 5], 5, axis=1)[:, : idx.shape[1]]
    # Pixels that must be transparent (they hold no index the frame draws).
    idx = np.where(either & (rng.random(idx.shape) < 0.3), transparent, idx).astype(np.uint8)
    return idx, either, transparent


@settings(max_examples=150, deadline=None)
@given(choice_frames())
def test_kernel_writes_the_references_bytes_with_a_choice(frame):
    _check_choice(*frame)


@settings(max_examples=10, deadline=None)
@given(large_frames(), st.integers(0, 2**32 - 1))
def test_kernel_writes_the_references_bytes_with_a_choice_on_large_frames(idx, seed):
    rng = np.random.default_rng(seed)
    either = rng.random(idx.shape) < 0.7  # mostly still: long matches, full tables
    _check_choice(idx, either, int(idx.max()) + 1 if idx.max() < 255 else 0)


@pytest.mark.parametrize(
    ("idx", "either", "transparent"),
    [
        (np.full((1, 1), 3, np.uint8), np.ones((1, 1), bool), 7),  # one pixel, either
        (np.full((1, 1), 7, np.uint8), np.ones((1, 1), bool), 7),  # one pixel, transparent
        (np.full((23, 41), 15, np.uint8), np.ones((23, 41), bool), 15),  # all transparent
        (np.full((23, 41), 2, np.uint8), np.ones((23, 41), bool), 15),  # all either
        ((np.arange(97 * 3) % 5).astype(np.uint8).reshape(97, 3), np.ones((97, 3), bool), 5),
        (np.arange(256, dtype=np.uint8).reshape(16, 16), np.eye(16, dtype=bool), 255),
    ],
    ids=["one-pixel", "one-transparent", "all-transparent", "all-either", "tall", "256"],
)
def test_choice_edge_frames(idx, either, transparent):
    _check_choice(idx, either, transparent)


def test_a_choice_only_ever_lengthens_matches_in_a_still_area():
    # A still background (own index 1, or transparent 3) around a moving square of 2s: each
    # pixel's choice lets the codes run through both; smaller than either all-transparent
    # or all-own.
    idx = np.ones((60, 80), np.uint8)
    idx[20:40, 30:50] = 2
    either = idx == 1
    bits = np.packbits(either.reshape(-1), bitorder="little").tobytes()
    chosen = lzw_encode(idx.tobytes(), 0, "heuristic", bits, 3)
    holed = lzw_encode(np.where(either, 3, idx).astype(np.uint8).tobytes(), 0, "heuristic")
    assert len(chosen) <= len(holed)
    assert len(chosen) <= len(lzw_encode(idx.tobytes(), 0, "heuristic"))


def test_no_pixel_that_may_be_either_is_no_choice():
    # Bits set only where the pixel is the transparent index already, or none: the bytes of
    # the encoding without a choice (today's code path), whatever the transparent index.
    rng = np.random.default_rng(3)
    idx = rng.integers(0, 6, (30, 50)).astype(np.uint8)
    for clear in ("heuristic", "race"):
        plain = lzw_encode(idx.tobytes(), 1, clear)
        none = bytes((30 * 50 + 7) // 8)
        assert lzw_encode(idx.tobytes(), 1, clear, none, 200) == plain
        at_5 = np.packbits(idx.reshape(-1) == 5, bitorder="little").tobytes()
        assert lzw_encode(idx.tobytes(), 1, clear, at_5, 5) == plain


def test_the_transparent_index_sets_the_minimum_code_size_with_a_choice():
    bits = b"\x01"
    assert lzw_encode(np.zeros(3, np.uint8), 0, "heuristic", bits, 4)[0] == 3
    assert lzw_encode(np.zeros(3, np.uint8), 0, "heuristic", bits, 255)[0] == 8


def test_bad_choice_arguments():
    with pytest.raises(ValueError, match="choice needs 2 bytes"):
        lzw_encode(bytes(9), 0, "heuristic", b"\x00", 1)
    with pytest.raises(ValueError, match="transparent index"):
        lzw_encode(bytes(9), 0, "heuristic", b"\x00\x00", -1)


# The kernel keeps its direct tables (minimum code size up to 6) from one call to the next:
# whatever a call left in them, the next call's bytes are those of a fresh table.


@settings(max_examples=40, deadline=None)
@given(choice_frames(), choice_frames(), st.sampled_from(["heuristic", "race", "eager"]))
def test_a_frame_encodes_the_same_after_any_other(before, after, clear):
    idx, either, t = after
    bits = np.packbits(either.reshape(-1), bitorder="little").tobytes()
    first = [lzw_encode(idx.tobytes(), la, "race", bits, t) for la in (0, 1)]
    b_idx, b_either, b_t = before
    b_bits = np.packbits(b_either.reshape(-1), bitorder="little").tobytes()
    for la in (0, 1, 2):
        lzw_encode(b_idx.tobytes(), la, clear, b_bits, b_t)
        lzw_encode(b_idx.tobytes(), la, clear)
    assert [lzw_encode(idx.tobytes(), la, "race", bits, t) for la in (0, 1)] == first


def test_frames_encoded_in_threads_at_once_are_each_the_references():
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(5)
    frames = [rng.integers(0, k, (120, 160)).astype(np.uint8) for k in (4, 17, 33, 64) * 3]
    want = [encode_reference(f.tobytes(), lookahead=1, clear="race") for f in frames]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda f: lzw_encode(f.tobytes(), 1, "race"), frames))
    assert got == want


def test_a_full_table_leaves_nothing_behind():
    # Tables filled and raced (the trial taking over) at each direct size, then a small frame
    # of the same size: its bytes are the reference's.
    rng = np.random.default_rng(9)
    small = rng.integers(0, 3, (7, 9)).astype(np.uint8)
    for k in (3, 9, 17, 40, 64):
        big = rng.integers(0, k, (200, 240)).astype(np.uint8)
        for clear in ("race", "eager", "heuristic"):
            lzw_encode(big.tobytes(), 1, clear)
            small_k = (small + k - 3).astype(np.uint8)
            got = lzw_encode(small_k.tobytes(), 1, "race")
            assert got == encode_reference(small_k.tobytes(), lookahead=1, clear="race")
