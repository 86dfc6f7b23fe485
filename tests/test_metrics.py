"""Incoherence and colours on screen (QualityMeter.observe) on tiny frames worked out by hand."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gifquant._core.colour import delta_e, pack_rgb, rgb_to_lab
from gifquant._core.metrics import JND_DE, QualityMeter

JUDGE = Path(__file__).resolve().parents[2] / "shared" / "tools" / "judge.py"

# Source colours, and the outputs they get.
A, B, C = (200, 40, 40), (30, 90, 180), (20, 160, 60)
P, Q, R = (200, 40, 40), (30, 90, 180), (20, 160, 60)
P_FAR = (180, 40, 40)  # well over 1 JND from P
P_NEAR = (201, 40, 40)  # under 1 JND from P


def de(a, b) -> float:
    return float(delta_e(rgb_to_lab(np.array(a, np.uint8)), rgb_to_lab(np.array(b, np.uint8))))


def packed(rows) -> np.ndarray:
    """(h, w) uint32 words of a frame given as rows of RGB tuples."""
    rgb = np.array(rows, np.uint8)
    return pack_rgb(rgb).reshape(rgb.shape[:2])


def meter_of(*frames, masks=None) -> QualityMeter:
    """A meter that observed (source rows, output rows) frames in order."""
    m = QualityMeter()
    for i, (src, out) in enumerate(frames):
        m.observe(packed(src), packed(out), None if masks is None else masks[i])
    return m


def test_the_example_colours_are_on_either_side_of_one_jnd():
    assert de(P, P_FAR) > 2 * JND_DE
    assert de(P, P_NEAR) < JND_DE / 2


def test_a_plain_mapping_scores_zero():
    lut = {A: P, B: Q, C: R}
    f1 = [[A, A, B], [B, C, C]]
    f2 = [[A, B, B], [B, C, A]]  # some pixels change, some do not
    m = meter_of(*[(f, [[lut[c] for c in row] for row in f]) for f in (f1, f2, f1)])
    assert m.frame_incoherence == [0.0, 0.0]
    assert m.incoherence == 0.0


def test_a_static_pixel_holding_a_far_colour_counts():
    src = [[A, A, A], [B, B, B]]
    m = meter_of((src, [[P, P, P], [Q, Q, Q]]), (src, [[P, P, P_FAR], [Q, Q, Q]]))
    # 6 static pixels; the A pixel showing P_FAR is off the majority P of A.
    assert m.frame_incoherence == [pytest.approx(1 / 6)]
    assert m.incoherence == pytest.approx(1 / 6)


def test_a_static_pixel_holding_a_near_colour_does_not_count():
    src = [[A, A, A], [B, B, B]]
    m = meter_of((src, [[P, P, P], [Q, Q, Q]]), (src, [[P, P, P_NEAR], [Q, Q, Q]]))
    assert m.frame_incoherence == [0.0]


def test_a_pixel_whose_source_changed_is_not_counted():
    m = meter_of(
        ([[A, A, B], [B, B, B]], [[P, P, Q], [Q, Q, Q]]),
        ([[A, A, A], [B, B, B]], [[P, P, P_FAR], [Q, Q, Q]]),  # the odd pixel was B before
    )
    assert m.frame_incoherence == [0.0]  # 5 static pixels, all at their majority


def test_the_majority_counts_the_pixels_that_moved_too():
    # Only one A pixel is static; the two A pixels that just appeared make P the majority of A.
    m = meter_of(
        ([[A, B, B], [B, B, B]], [[P_FAR, Q, Q], [Q, Q, Q]]),
        ([[A, A, A], [B, B, B]], [[P_FAR, P, P], [Q, Q, Q]]),
    )
    assert m.frame_incoherence == [pytest.approx(1 / 4)]


def test_a_tied_majority_goes_to_the_lower_output_word_as_in_the_judge():
    # A shows P and P_FAR once each: P_FAR (0xB42828) < P (0xC82828) is the majority.
    src = [[A, A, B], [B, B, B]]
    m = meter_of((src, [[P, P, Q], [Q, Q, Q]]), (src, [[P, P_FAR, Q], [Q, Q, Q]]))
    assert m.frame_incoherence == [pytest.approx(1 / 6)]


def test_a_first_frame_has_no_incoherence():
    m = meter_of(([[A, B]], [[P_FAR, P]]))
    assert m.frame_incoherence == [] and m.incoherence == 0.0
    assert m.colours_max == 2


def test_colours_max_is_the_most_distinct_outputs_of_any_frame():
    src = [[A, A, A], [B, B, B]]
    m = meter_of(
        (src, [[P, P, P], [Q, Q, Q]]),
        (src, [[P, P_NEAR, P_FAR], [Q, Q, Q]]),
        (src, [[P, P, P], [P, P, P]]),
    )
    assert m.frame_colours == [2, 4, 1]
    assert m.colours_max == 4


def test_only_masked_pixels_count():
    src = [[A, A, A], [B, B, B]]
    hide_stale = np.array([[True, True, False], [True, True, True]])
    m = meter_of(
        (src, [[P, P, P], [Q, Q, Q]]),
        (src, [[P, P, P_FAR], [Q, Q, Q]]),
        masks=[None, hide_stale],
    )
    assert m.frame_incoherence == [0.0]
    assert m.frame_colours == [2, 2]  # P_FAR is not on screen where it does not count


def test_a_pixel_not_counted_in_the_previous_frame_is_not_static():
    src = [[A, A, A], [B, B, B]]
    hidden_before = np.array([[True, True, False], [True, True, True]])
    m = meter_of(
        (src, [[P, P, P], [Q, Q, Q]]),
        (src, [[P, P, P_FAR], [Q, Q, Q]]),
        masks=[hidden_before, None],
    )
    assert m.frame_incoherence == [0.0]  # 5 static pixels, none stale


def test_update_on_rgb_observes_too():
    src = np.array([[A, A, A], [B, B, B]], np.uint8)
    m = QualityMeter()
    m.update(src, np.array([[P, P, P], [Q, Q, Q]], np.uint8))
    m.update(src, np.array([[P, P, P_FAR], [Q, Q, Q]], np.uint8))
    assert m.frame_incoherence == [pytest.approx(1 / 6)]
    assert m.colours_max == 3


@settings(max_examples=50, deadline=None)
@given(
    arrays(np.uint8, (3, 4, 5)),
    arrays(np.uint8, (8, 3)),
    st.integers(0, 2**32 - 1),
)
def test_any_per_frame_palette_mapping_scores_zero(labels, lut, seed):
    # Eight distinct source colours; each frame maps them through its own palette.
    rng = np.random.default_rng(seed)
    source_words = rng.choice(1 << 24, 8, replace=False).astype(np.uint32)
    m = QualityMeter()
    for frame in labels % 8:
        out = np.roll(lut, int(rng.integers(8)), axis=0)[frame]
        m.observe(source_words[frame], pack_rgb(out).reshape(4, 5))
    assert m.incoherence == 0.0
    assert m.colours_max <= 8


def load_judge():
    if not JUDGE.exists():
        pytest.skip("../shared/tools/judge.py not present")
    pytest.importorskip("cv2")
    spec = importlib.util.spec_from_file_location("gifquant_judge", JUDGE)
    judge = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(judge)
    except ImportError as e:
        pytest.skip(f"judge.py does not import: {e}")
    return judge


@pytest.mark.parametrize("seed", range(20))
def test_agrees_with_the_judge_on_random_frames(seed):
    judge = load_judge()
    rng = np.random.default_rng(seed)
    h, w = rng.integers(2, 9, size=2)
    sources = rng.integers(0, 256, (int(rng.integers(1, 6)), 3)).astype(np.uint8)
    outputs = rng.integers(0, 256, (int(rng.integers(1, 6)), 3)).astype(np.uint8)
    # Outputs either far apart or within a few RGB steps of each other (clear JND decisions
    # in either Lab: cv2's float Lab differs from ours by far less than the margins here).
    if seed % 2:
        outputs[1:] = np.clip(outputs[0] + rng.integers(-1, 2, outputs[1:].shape), 0, 255)
    lab = rgb_to_lab(outputs)
    d = np.linalg.norm(lab[:, None] - lab[None], axis=-1)
    assert not ((d > JND_DE - 0.2) & (d < JND_DE + 0.2)).any()
    m = QualityMeter()
    shares, colours, prev = [], [], None
    for _ in range(6):
        src = sources[rng.integers(0, len(sources), (h, w))]
        if prev is not None:
            keep = rng.random((h, w)) < 0.7
            src[keep] = prev[keep]
        out = outputs[rng.integers(0, len(outputs), (h, w))]
        m.observe(pack_rgb(src).reshape(h, w), pack_rgb(out).reshape(h, w))
        share, n = judge.incoherence(src, out, prev)
        if share is not None:
            shares.append(share)
        colours.append(n)
        prev = src
    assert m.incoherence == pytest.approx(float(np.mean(shares)) if shares else 0.0, abs=1e-12)
    assert m.colours_max == max(colours)
