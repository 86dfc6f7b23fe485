"""The clustering engine: hand-worked toy cases and properties that hold for any data and seed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gifquant._core.kmeans import kmeans, weighted_medians

LINE = np.array([[0, 0, 0], [2, 0, 0], [10, 0, 0], [12, 0, 0]], float)


def test_two_clusters_by_hand():
    res = kmeans(LINE, 2, init=np.array([[0, 0, 0], [10, 0, 0]], float))
    np.testing.assert_allclose(res.centers, [[1, 0, 0], [11, 0, 0]])
    assert res.labels.tolist() == [0, 0, 1, 1]
    assert res.inertia == pytest.approx(4.0)  # four points, each 1 away: 4 * 1^2


def test_weights_pull_the_mean():
    res = kmeans(
        LINE, 2, weights=np.array([1, 3, 1, 1.0]), init=np.array([[0, 0, 0], [10, 0, 0]], float)
    )
    np.testing.assert_allclose(res.centers, [[1.5, 0, 0], [11, 0, 0]])
    assert res.inertia == pytest.approx(1 * 1.5**2 + 3 * 0.5**2 + 1 + 1)


def test_manhattan_is_k_medians_not_k_means():
    x = np.array([[0, 0, 0], [1, 0, 0], [10, 0, 0]], float)
    l1 = kmeans(x, 1, metric="manhattan", init=np.zeros((1, 3)))
    l2 = kmeans(x, 1, metric="euclidean", init=np.zeros((1, 3)))
    np.testing.assert_allclose(l1.centers, [[1, 0, 0]])  # the median
    np.testing.assert_allclose(l2.centers, [[11 / 3, 0, 0]])  # the mean
    assert l1.inertia == pytest.approx(1 + 0 + 9)  # sum of L1 distances


def test_weighted_median_by_hand():
    x = np.array([[0, 5, 1], [1, 4, 2], [10, 3, 3]], float)
    med, present = weighted_medians(x, np.array([1, 1, 5.0]), np.zeros(3, np.int64), 1)
    np.testing.assert_allclose(med, [[10, 3, 3]])  # the heavy point outweighs the other two
    med, _ = weighted_medians(x, np.array([2, 1, 1.0]), np.zeros(3, np.int64), 1)
    # Per channel: sorted (0,1,10), (3,4,5), (1,2,3) with cumulative weights reaching half (2)
    # at 0, at 4 (3 and 4 weigh 1 each) and at 1.
    np.testing.assert_allclose(med, [[0, 4, 1]])
    assert present.all()


def test_manhattan_assignment_uses_l1():
    # (3,3,0) is 6 from the origin in L1 but 4.24 in L2; (5,0,0) is 5 in both.
    x = np.array([[0, 0, 0]], float)
    c = np.array([[3, 3, 0], [5, 0, 0]], float)
    l1 = kmeans(x, 2, metric="manhattan", init=c, max_iter=1)
    l2 = kmeans(x, 2, metric="euclidean", init=c, max_iter=1)
    assert l1.labels[0] == 1 and l2.labels[0] == 0


def test_empty_cluster_is_reseeded_not_nan():
    res = kmeans(LINE, 3, init=np.array([[0, 0, 0], [10, 0, 0], [1000, 1000, 1000]], float))
    assert np.isfinite(res.centers).all()
    assert len(np.unique(res.labels)) == 3
    assert res.inertia < 4.0


def test_fewer_distinct_colours_than_k():
    x = np.array([[1, 2, 3], [1, 2, 3], [4, 5, 6]], float)
    res = kmeans(x, 8)
    assert len(res.centers) == 2 and res.inertia == 0


@pytest.mark.parametrize("init", ["kmeans++", "random", "farthest"])
def test_inits_are_deterministic_with_a_seed(init):
    x = np.random.default_rng(1).normal(size=(300, 3)) * 40
    a = kmeans(x, 5, init=init, n_init=2, rng=7)
    b = kmeans(x, 5, init=init, n_init=2, rng=7)
    np.testing.assert_array_equal(a.centers, b.centers)


def test_more_restarts_never_worse():
    x = np.random.default_rng(2).normal(size=(400, 3)) * 30
    one = kmeans(x, 6, n_init=1, rng=3).inertia
    many = kmeans(x, 6, n_init=8, rng=3).inertia
    assert many <= one


# Colours on the 8-bit grid, as the quantizer's are: points a millionth apart would make the
# nearest centre a matter of rounding (a tie), and "converged centres stay put" a coin toss.
points = arrays(
    np.float64,
    st.tuples(st.integers(2, 60), st.just(3)),
    elements=st.integers(0, 255).map(float),
)


@settings(max_examples=60, deadline=None)
@given(
    x=points,
    k=st.integers(1, 8),
    seed=st.integers(0, 2**16),
    metric=st.sampled_from(["euclidean", "manhattan"]),
)
def test_properties(x, k, seed, metric):
    w = np.random.default_rng(seed).integers(1, 20, len(x)).astype(float)
    res = kmeans(x, k, weights=w, metric=metric, rng=seed, max_iter=30, tol=0)
    assert res.labels.max() < len(res.centers) <= k
    hist = np.array(res.inertia_history)
    assert (np.diff(hist) <= 1e-6 * max(1.0, hist[0])).all(), "inertia rose within the frame"
    # A seeded run started from converged centres stays put.
    if res.n_iter < 30:
        again = kmeans(x, k, weights=w, metric=metric, init=res.centers, max_iter=5, tol=0)
        np.testing.assert_allclose(again.centers, res.centers, atol=1e-9)
        assert again.inertia == pytest.approx(res.inertia, rel=1e-9, abs=1e-9)


def test_an_init_array_must_hold_k_centres():
    x = np.random.default_rng(0).normal(size=(50, 3))
    with pytest.raises(ValueError, match=r"\(3, 3\)"):
        kmeans(x, 3, init=x[:5])
    with pytest.raises(ValueError, match="finite"):
        kmeans(x, 2, init=np.array([[0, 0, np.nan], [1, 1, 1]]))
