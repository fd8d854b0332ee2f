import numpy as np
import pytest

from neurodeploy.simulate.alignment import expected_stream, owners, split_stream, stream_length


@pytest.mark.parametrize("layer", [0, 1, 2])
def test_every_column_owned_once_and_in_window(layer):
    n, steps, layers = 4, 5, 3
    sample, step = owners(layer, n, steps, layers)
    assert len(sample) == stream_length(n, steps, layers) == 23
    assert sample.min() == 0 and sample.max() <= n
    real = sample < n
    assert np.all(step[real] >= 0) and np.all(step[real] < steps + layers)
    pairs = set(zip(sample[real].tolist(), step[real].tolist()))
    assert len(pairs) == real.sum()
    # a sample starts owning columns of this layer when netx resets it
    for k in range(1, n):
        assert step[sample == k].min() == layer + 1


def test_split_inverts_expected_on_owned_steps():
    rng = np.random.default_rng(0)
    n, steps, layers, layer = 3, 6, 2, 1
    spikes = (rng.random((n, 4, steps + layers)) < 0.5).astype(np.uint8)
    spikes[:, :, : layer + 1] = 0  # causal: layer 1 cannot spike before step 2
    stream = expected_stream(spikes, layer, steps, layers)
    back = split_stream(stream, layer, n, steps, layers)
    sample, step = owners(layer, n, steps, layers)
    real = sample < n
    np.testing.assert_array_equal(back[sample[real], :, step[real]], spikes[sample[real], :, step[real]])
    # the columns of the empty sample after the last reset expect silence
    assert stream[:, ~real].sum() == 0
