import numpy as np
import pytest

from neurodeploy.loihi.timing import arrival, drain, owners, reset_columns, reset_offset, split_stream


def test_arrival_reset_offset_and_drain():
    assert [arrival(l, False) for l in range(3)] == [1, 2, 3]
    assert [arrival(l, True) for l in range(3)] == [0, 1, 2]
    assert reset_offset(False) == 1 and reset_offset(True) == 0
    assert drain(3, False) == 3 and drain(3, True) == 2


def test_reset_columns_follow_netx_rule():
    # netx: 1-based time step t resets layer l when t % T == (r + 1 + l) % T
    steps, r, layer, length = 5, 1, 2, 23
    netx_rule = [(t % steps) == (r + 1 + layer) % steps for t in range(1, length + 1)]
    np.testing.assert_array_equal(reset_columns(arrival(layer, False), steps, length), netx_rule)


@pytest.mark.parametrize("first", [0, 1, 2, 3])
def test_every_column_owned_once_and_in_window(first):
    n, steps, extra = 4, 5, 3
    length = n * steps + extra
    sample, step = owners(first, n, steps, length)
    assert sample.min() == 0 and sample.max() <= n
    real = sample < n
    assert np.all(step[real] >= 0) and np.all(step[real] < steps + extra)
    pairs = set(zip(sample[real].tolist(), step[real].tolist()))
    assert len(pairs) == real.sum()
    # a sample starts owning columns of this layer when netx resets it
    for k in range(1, n):
        assert step[sample == k].min() == first
        assert np.flatnonzero(sample == k)[0] == k * steps + first


def test_split_keeps_owned_steps_and_drops_the_silent_sample():
    rng = np.random.default_rng(0)
    n, steps, extra, first = 3, 6, 2, 2
    stream = (rng.random((4, n * steps + extra)) < 0.5).astype(np.uint8)
    back = split_stream(stream, first, n, steps, extra)
    assert back.shape == (n, 4, steps + extra)
    sample, step = owners(first, n, steps, stream.shape[1])
    for column in range(stream.shape[1]):
        if sample[column] < n:
            np.testing.assert_array_equal(back[sample[column], :, step[column]], stream[:, column])
