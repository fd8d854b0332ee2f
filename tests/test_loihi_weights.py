"""``loihi.weights`` (our own code; the golden model imports no Lava) against netx's
``optimize_weight_bits`` and Lava's ``weightutils`` on random and edge-case matrices."""
from __future__ import annotations

import numpy as np
import pytest

from neurodeploy.lavacompat import netx, weightutils
from neurodeploy.loihi.weights import (
    AllZeroWeightsError, SignMode, clip_weights, held_weights, lava_sign_mode, optimize_weight_bits,
    truncate_weights,
)


def _random_matrices() -> list[np.ndarray]:
    """Mixed, all-positive and all-negative matrices at every scale, even and odd, with and
    without zeros, and values beyond [-256, 254]."""
    rng = np.random.default_rng(0)
    matrices = []
    for scale in (1, 2, 3, 7, 20, 60, 127, 128, 200, 254, 256, 255, 300):
        for step in (1, 2, 4, 8):
            base = rng.integers(-scale, scale + 1, size=(6, 9)) // step * step
            sparse = np.where(rng.random((6, 9)) < 0.5, base, 0)
            matrices += [base, np.abs(base), -np.abs(base), sparse, np.abs(sparse), -np.abs(sparse)]
    return [m for m in matrices if np.any(m)]


EDGE_CASES = [
    np.array([[1]]), np.array([[-1]]), np.array([[254]]), np.array([[-256]]), np.array([[255]]),
    np.array([[-255]]), np.array([[256, 3]]), np.array([[-257, -3]]), np.array([[0, -2], [0, 0]]),
    np.array([[0, 2], [0, 0]]), np.array([[127, -128]]), np.array([[128, -1]]), np.array([[-400, 300]]),
    np.array([[2, -4, 6], [8, 0, -10]]), np.array([[64, -64]]), np.array([[1, 0], [0, 1]]),
]
MATRICES = _random_matrices() + EDGE_CASES


@pytest.mark.filterwarnings("ignore")
def test_optimisation_equals_netx() -> None:
    assert len(MATRICES) > 300
    for weight in MATRICES:
        ours = optimize_weight_bits(weight)
        theirs = netx.utils.optimize_weight_bits(weight.copy())
        np.testing.assert_array_equal(ours.weight, theirs[0], err_msg=str(weight))
        assert (ours.bits, ours.exponent, int(ours.sign_mode)) == (theirs[1], theirs[2], theirs[3].value), weight


def test_held_weights_equal_lavas_clipping_and_truncation() -> None:
    for weight in MATRICES:
        _check_held(weight)


def _check_held(weight: np.ndarray) -> None:
    optimized = optimize_weight_bits(weight)
    mode = weightutils.determine_sign_mode(optimized.weight)
    assert int(lava_sign_mode(optimized.weight)) == mode.value
    clipped = weightutils.clip_weights(optimized.weight, mode, 8)
    np.testing.assert_array_equal(clip_weights(optimized.weight, SignMode(mode.value)), clipped)
    np.testing.assert_array_equal(truncate_weights(clipped, SignMode(mode.value), optimized.bits),
                                  weightutils.truncate_weights(clipped, mode, optimized.bits))
    np.testing.assert_array_equal(held_weights(optimized.weight, optimized.bits),
                                  weightutils.truncate_weights(clipped, mode, optimized.bits))


def test_an_all_zero_matrix_is_refused_as_netx_fails_on_it() -> None:
    with pytest.raises((OverflowError, ValueError)):
        netx.utils.optimize_weight_bits(np.zeros((2, 2), dtype=int))
    with pytest.raises(AllZeroWeightsError):
        optimize_weight_bits(np.zeros((2, 2), dtype=int))
