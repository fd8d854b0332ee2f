import numpy as np
import pytest

from neurodeploy.data.digits import load_digits_split
from neurodeploy.data.encoding import encode, latency_encode, rate_encode


def test_rate_code_is_deterministic_per_seed():
    x = np.random.default_rng(0).random((5, 7)).astype(np.float32)
    a = rate_encode(x, 20, seed=3)
    assert a.shape == (5, 7, 20) and a.dtype == np.float32
    assert set(np.unique(a)) <= {0.0, 1.0}
    np.testing.assert_array_equal(a, rate_encode(x, 20, seed=3))
    assert not np.array_equal(a, rate_encode(x, 20, seed=4))


def test_rate_code_matches_probability():
    x = np.array([[0.0, 0.25, 1.0]], dtype=np.float32)
    spikes = rate_encode(np.repeat(x, 2000, axis=0), 10, seed=0, max_rate=0.8)
    rates = spikes.mean(axis=(0, 2))
    np.testing.assert_allclose(rates, [0.0, 0.2, 0.8], atol=0.01)


def test_latency_code_one_spike_at_expected_step():
    x = np.array([[0.0, 1.0, 0.5, 0.1]], dtype=np.float32)
    spikes = latency_encode(x, 11, seed=0)
    assert spikes[0, 0].sum() == 0
    for i, t in [(1, 0), (2, 5), (3, 9)]:
        assert spikes[0, i].sum() == 1 and spikes[0, i, t] == 1


def test_unknown_encoding_names_the_known_ones():
    with pytest.raises(ValueError, match="rate, latency"):
        encode("poisson", np.zeros((1, 1), np.float32), 4, 0)


def test_digits_split_is_fixed_and_stratified():
    a, b = load_digits_split(0.2, 0), load_digits_split(0.2, 0)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert len(a.y_train) + len(a.y_test) == 1797
    assert len(a.y_test) == 360
    counts = np.bincount(a.y_test, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37
    assert 0.0 <= a.x_train.min() and a.x_train.max() <= 1.0
