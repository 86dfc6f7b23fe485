from __future__ import annotations

import numpy as np
import pytest

from gifquant._core.colour import from_space, rgb_to_lab, to_space


def test_lab_reference_values():
    lab = rgb_to_lab(np.array([[255, 255, 255], [0, 0, 0], [255, 0, 0]], np.uint8))
    np.testing.assert_allclose(lab[0], [100, 0, 0], atol=0.05)
    np.testing.assert_allclose(lab[1], [0, 0, 0], atol=0.05)
    np.testing.assert_allclose(lab[2], [53.24, 80.09, 67.20], atol=0.05)


@pytest.mark.parametrize("space", ["rgb", "lab", "oklab"])
def test_round_trip_is_exact_on_uint8(space):
    rgb = np.random.default_rng(0).integers(0, 256, (5000, 3)).astype(np.uint8)
    np.testing.assert_array_equal(from_space(to_space(rgb, space), space), rgb)


def test_oklab_white_is_100():
    np.testing.assert_allclose(
        to_space(np.array([[255, 255, 255]], np.uint8), "oklab"), [[100, 0, 0]], atol=0.01
    )
