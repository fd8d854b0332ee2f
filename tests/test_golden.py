"""The golden model against Lava fixed_pt, every spike of every layer at every step."""
import numpy as np
import pytest

from netx_builders import FIXTURES, conv_network, dense_network
from neurodeploy.compare.equivalence import compare_recordings
from neurodeploy.loihi.weights import optimize_weight_bits
from neurodeploy.netx import DenseLayer, read_netx, write_netx
from neurodeploy.netx.neurons.cuba import CubaNeuron
from neurodeploy.simulate.golden import GoldenModel
from neurodeploy.simulate.harness import run_lava
from neurodeploy.simulate.inputs import load_bias, load_events, random_spikes
from neurodeploy.simulate.stimulus import Stimulus
from neurodeploy.loihi.timing import arrival, drain, owners, split_stream


def golden_stream(network, stimulus):
    return {i: s[0] for i, s in enumerate(GoldenModel(network).run_stream(stimulus).spikes)}


def assert_equal_to_lava(network, stimulus, sparse=False):
    golden = golden_stream(network, stimulus)
    lava = run_lava(network, stimulus, sparse=sparse).spikes
    result = compare_recordings(golden, lava)
    assert set(lava) == set(range(len(network.layers)))
    assert result.equivalent, f"mismatches {result.mismatches}, first {result.first}"
    assert all(s.sum() > 0 for s in lava.values()), "every layer should spike for the test to mean something"
    return golden


# --------------------------------------------------------------- fixed point, by hand


def test_cuba_step_by_hand():
    """trunc toward zero, strict threshold, reset of v only, 24-bit wrap of u, saturation of v."""
    neuron = CubaNeuron(v_th_mant=100, i_decay=1024, v_decay=2048)
    u = np.array([[-7, 7, 0, 0, (1 << 23) - 10, 0]], dtype=np.int64)
    v = np.array([[-5, 5, 6399, 0, 0, (1 << 23) - 1]], dtype=np.int64)
    a_in = np.array([[0, 0, 0, 100, 1, 0]], dtype=np.int64)
    spikes = neuron.step([u, v], a_in, None)
    # u: -7 * 3072 / 4096 = -5.25 -> -5 (toward zero); 7 -> 5; a_in 100 -> 6400;
    # (2^23 - 10) * 0.75 + 64 stays in range
    assert u.tolist() == [[-5, 5, 0, 6400, ((1 << 23) - 10) * 3 // 4 + 64, 0]]
    # v: -5 * 2048 / 4096 = -2.5 -> -2, then + u = -7; 5 -> 2 + 5 = 7; 6399 -> 3199 (no spike);
    # 0 + 6400 = 6400 == threshold: no spike (strictly greater); saturation at 2^23 - 1
    assert spikes.tolist() == [[False, False, False, False, True, True]]
    assert v.tolist() == [[-7, 7, 3199, 6400, 0, 0]]
    assert u[0, 4] != 0, "a spike resets v only"


def test_u_wraps_like_lava():
    neuron = CubaNeuron(v_th_mant=1 << 24, i_decay=0, v_decay=4096)
    u = np.array([[(1 << 23) - 64]], dtype=np.int64)
    v = np.zeros((1, 1), dtype=np.int64)
    neuron.step([u, v], np.array([[2]]), None)  # + 128 -> 2^23 + 64 -> wraps to -2^23 + 64
    assert u[0, 0] == -(1 << 23) + 64


def test_dense_weights_follow_netx_rescaling():
    """Small odd weights: netx shifts them left and stores a negative exponent; the
    accumulated sum shifted back equals the plain sum."""
    weight = np.array([[3, -5], [7, 0]])
    effective = optimize_weight_bits(weight)
    assert effective.exponent < 0
    np.testing.assert_array_equal(effective.weight >> -effective.exponent, weight)
    full = optimize_weight_bits(np.array([[254, -256]]))
    assert full.exponent == 0 and full.weight.tolist() == [[254, -256]]


# ------------------------------------------------------------------ the reference fixtures


@pytest.mark.slow
@pytest.mark.lava
def test_oxford_fixture_9565_output_spikes_and_equal_to_lava():
    network = read_netx(FIXTURES / "oxford" / "network.net")
    spikes = load_events(FIXTURES / "oxford" / "input_events.npy", 200, 2000)
    alone = GoldenModel(network).run(spikes)
    assert alone.spikes[-1].sum() == 9565  # the figure Lava and SLAYER give over 2000 steps
    golden = assert_equal_to_lava(network, Stimulus(spikes, None, 2000))
    assert golden[1][:, :2000].sum() == 9565


@pytest.mark.lava
def test_tinynet_fixture_equal_to_lava_and_to_lava_dl_reference():
    network = read_netx(FIXTURES / "tinynet" / "network.net")
    assert network.kinds == ["input", "conv", "conv"]
    bias = load_bias(FIXTURES / "tinynet" / "input_bias.npy", network.layers[0].lava_shape)
    assert_equal_to_lava(network, Stimulus(None, bias, 17))
    # lava-dl's own test: output steps 2..16 against output.npy[0].transpose(2, 1, 0, 3)[..., 1:]
    run = GoldenModel(network).run(None, bias=bias, steps=20)
    output = run.spikes[-1][0].reshape(*network.layers[-1].lava_shape, 20)
    reference = np.load(FIXTURES / "tinynet" / "output.npy")[0].transpose(2, 1, 0, 3)[..., 1:]
    assert reference.sum() > 0
    np.testing.assert_array_equal(output[..., 2:17], reference)


@pytest.mark.lava
@pytest.mark.parametrize("sparse", [False, True])
def test_mnist_fixture_on_random_spikes_dense_and_sparse_synapses(sparse):
    network = read_netx(FIXTURES / "mnist_mlp" / "network.net")
    spikes = random_spikes(3, 784, 40, 0.1, seed=1)
    assert_equal_to_lava(network, Stimulus(spikes, None, 40), sparse=sparse)


# ------------------------------------------------------ every option, on networks written here


@pytest.mark.lava
def test_conv_stride_padding_dilation_groups_flatten_bias_delay(tmp_path):
    network = conv_network(tmp_path / "conv.net")
    rng = np.random.default_rng(2)
    spikes = (rng.random((3, 98, 12)) < 0.3).astype(np.uint8)
    bias = rng.integers(0, 30, size=(3, 98))
    assert_equal_to_lava(network, Stimulus(spikes, bias, 12))


@pytest.mark.lava
@pytest.mark.parametrize("sparse", [False, True])
def test_dense_with_delays_and_weight_exponent(tmp_path, sparse):
    network = dense_network(tmp_path / "d.net", delays=True)
    assert optimize_weight_bits(network.layers[0].weight).exponent < 0 > optimize_weight_bits(network.layers[1].weight).exponent
    spikes = random_spikes(4, 30, 15, 0.4, seed=3)
    assert_equal_to_lava(network, Stimulus(spikes, None, 15), sparse=sparse)


def test_stream_equals_samples_alone_on_owned_columns():
    """The timing module's claim: without delays, each layer's window in a stream with
    netx's resets equals a run of that sample alone."""
    network = read_netx(FIXTURES / "mnist_mlp" / "network.net")
    stimulus = Stimulus(random_spikes(5, 784, 20, 0.15, seed=4), None, 20)
    extra = drain(3, False)
    alone = GoldenModel(network).run_samples(stimulus)
    stream = golden_stream(network, stimulus)
    for layer in range(3):
        first = arrival(layer, False)
        sample, step = owners(first, 5, 20, stream[layer].shape[1])
        real = sample < 5
        np.testing.assert_array_equal(
            stream[layer][:, real], alone.spikes[layer][sample[real], :, step[real]].T
        )
        assert split_stream(stream[layer], first, 5, 20, extra).sum() > 0


def test_state_is_recorded_on_request():
    network = read_netx(FIXTURES / "oxford" / "network.net")
    spikes = random_spikes(2, 200, 30, 0.2, seed=5)
    run = GoldenModel(network).run(spikes, record_state=True)
    threshold = network.layers[0].neuron.v_th_mant << 6
    v = run.state[0]["v"]
    assert set(run.state[0]) == {"u", "v"}
    assert v.shape == run.spikes[0].shape == (2, 256, 30)
    assert np.all(v[run.spikes[0] == 1] == 0), "v is 0 after a spike"
    assert np.all(v <= threshold)
    assert GoldenModel(network).run(spikes).state is None


@pytest.mark.lava
def test_weights_beyond_the_netx_range_run_as_lava_runs_them(tmp_path):
    """A mixed-sign matrix beyond [-256, 254] is clipped by netx; 255 in an all-positive
    one is kept; an all-positive one beyond 255 is scaled to nothing (only the bias drives
    that layer). The file is read with warnings and runs as Lava runs it."""
    rng = np.random.default_rng(8)
    neuron = CubaNeuron(v_th_mant=60, i_decay=1024, v_decay=512)
    mixed = rng.integers(-400, 300, size=(12, 20))
    positive = np.where(rng.random((10, 12)) < 0.5, 255, rng.integers(0, 40, size=(10, 12)))
    lost = rng.integers(0, 300, size=(6, 10))
    lost[0, 0] = 300
    path = tmp_path / "wide.net"
    write_netx(path, [DenseLayer(mixed, neuron), DenseLayer(positive, neuron),
                      DenseLayer(lost, neuron, bias=np.full(6, 40))])
    network = read_netx(path)
    assert [w.split(": ")[-1] for w in network.warnings] == [
        "netx clips them into the range", "netx and Lava keep them",
        "netx's weight scaling then turns every weight of this matrix into 0"]
    spikes = random_spikes(3, 20, 25, 0.5, seed=9)
    assert_equal_to_lava(network, Stimulus(spikes, None, 25))
