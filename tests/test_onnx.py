"""The one-step ONNX graph, run with ONNX Runtime step by step, against the golden model."""
from dataclasses import replace

import numpy as np
import onnx
import pytest
import torch

from neurodeploy.data.dataset import load_dataset
from neurodeploy.export.onnx_graph import STARTS_WITH_INPUT_KEY, OnnxExportError, build_onnx, export_onnx
from neurodeploy.export.onnx_run import iter_onnx, run_onnx
from neurodeploy.export.quantize import export_model
from neurodeploy.netx import ConvLayer, CubaNeuron, DenseLayer, Network, read_netx
from neurodeploy.recipe import ConvSettings, DataSettings, ModelSettings
from neurodeploy.loihi.arithmetic import STATE_LIMIT
from neurodeploy.simulate.golden import GoldenModel
from neurodeploy.simulate.stimulus import Stimulus
from neurodeploy.simulate.inputs import load_bias, load_events, random_spikes
from neurodeploy.train.model import build_model
from neurodeploy.train.trainer import fit
from netx_builders import FIXTURES, RANDOM_STEPS, conv_network, dense_network, random_network


def padded(spikes: np.ndarray, extra: int) -> np.ndarray:
    """spikes [B, n, T] followed by ``extra`` silent steps."""
    return np.concatenate([spikes, np.zeros((*spikes.shape[:2], extra), dtype=spikes.dtype)], axis=-1)


def assert_same_spikes(network, tmp_path, spikes, bias=None, steps=None, reset_interval=None):
    """Every layer's spikes at every step equal the golden model's; every layer spikes."""
    path = export_onnx(network, tmp_path / "net.onnx")
    ours = run_onnx(path, spikes, bias, steps, reset_interval)
    golden = GoldenModel(network).run(spikes, bias, steps=steps, reset_interval=reset_interval).spikes
    assert len(ours) == len(golden) == len(network.layers)
    for layer, (a, b) in enumerate(zip(ours, golden)):
        assert a.shape == b.shape
        np.testing.assert_array_equal(a, b, err_msg=f"layer {layer}")
        assert b.sum() > 0, f"layer {layer} never spikes: the comparison would prove little"
    return golden


def without_delays(network: Network) -> Network:
    return Network(tuple(replace(layer, delay=None) if isinstance(layer, DenseLayer) else layer
                         for layer in network.layers), input_shape=network.input_shape)


def test_dense_network_with_weight_exponents(tmp_path):
    network = dense_network(tmp_path / "d.net")
    spikes = padded(random_spikes(4, 30, 25, 0.4, seed=3), GoldenModel(network).drain_steps)
    assert_same_spikes(network, tmp_path, spikes)


def test_conv_stride_padding_dilation_groups_flatten_bias_input_layer(tmp_path):
    network = without_delays(conv_network(tmp_path / "c.net"))
    rng = np.random.default_rng(2)
    spikes = padded((rng.random((3, 98, 16)) < 0.3).astype(np.uint8), GoldenModel(network).drain_steps)
    assert_same_spikes(network, tmp_path, spikes, bias=rng.integers(0, 30, size=(3, 98)))


def test_stream_of_samples_with_netx_resets(tmp_path):
    """Three samples of 10 steps as one stream with resets every 10 steps, where bias-driven
    layers spike before their sample arrives and are reset when it does."""
    network = without_delays(conv_network(tmp_path / "c.net"))
    rng = np.random.default_rng(5)
    spikes = padded((rng.random((2, 98, 30)) < 0.3).astype(np.uint8), GoldenModel(network).drain_steps)
    bias = rng.integers(0, 30, size=(2, 98, spikes.shape[-1]))
    assert_same_spikes(network, tmp_path, spikes, bias=bias, reset_interval=10)


def test_tinynet_fixture_image_as_input_layer_bias(tmp_path):
    network = read_netx(FIXTURES / "tinynet" / "network.net")
    assert network.kinds == ["input", "conv", "conv"]
    bias = load_bias(FIXTURES / "tinynet" / "input_bias.npy", network.layers[0].lava_shape)
    assert_same_spikes(network, tmp_path, None, bias=bias, steps=20)


def test_oxford_fixture_events(tmp_path):
    network = read_netx(FIXTURES / "oxford" / "network.net")
    spikes = padded(load_events(FIXTURES / "oxford" / "input_events.npy", 200, 2000), 2)
    golden = assert_same_spikes(network, tmp_path, spikes)
    assert golden[-1][:, :, :2000].sum() == 9565  # Lava's and SLAYER's figure


def test_mnist_fixture(tmp_path):
    network = read_netx(FIXTURES / "mnist_mlp" / "network.net")
    assert_same_spikes(network, tmp_path, padded(random_spikes(3, 784, 30, 0.1, seed=1), 3))


@pytest.mark.slow
def test_trained_pruned_conv_model(tmp_path):
    data = load_dataset(DataSettings(steps=8), seed=0)
    torch.manual_seed(0)
    settings = ModelSettings(conv=(ConvSettings(channels=4, kernel=3, stride=2, padding=1),), hidden=(16,))
    model = build_model((1, 8, 8), 10, settings)
    fit(model, data.x_train, data.y_train, epochs=1, batch_size=64, lr=0.01, seed=0)
    with torch.no_grad():  # prune half of every layer's weights by magnitude
        for block in model.neuron_blocks:
            weight = block.synapse.weight
            weight.mul_(weight.abs() >= weight.abs().flatten().median())
    export_model(model, tmp_path / "pruned.net", input_shape=(1, 8, 8))
    network = read_netx(tmp_path / "pruned.net", input_shape=(1, 8, 8))
    assert network.kinds == ["conv", "dense", "dense"]
    assert all(np.mean(layer.weight == 0) >= 0.45 for layer in network.layers)
    spikes = padded(network.to_lava_order(data.x_test[:20]), GoldenModel(network).drain_steps)
    assert_same_spikes(network, tmp_path, spikes)


def assert_same_state(network, path, spikes):
    """u and v after every step equal the golden model's; returns the golden run."""
    golden = GoldenModel(network).run(spikes, record_state=True)
    steps = list(iter_onnx(export_onnx(network, path), spikes))
    for name, expected in golden.state[0].items():
        np.testing.assert_array_equal(np.stack([s[f"{name}_0_out"] for s in steps], axis=-1), expected, err_msg=name)
    return golden


def test_state_equals_golden_through_24_bit_wrap_clip_and_rounding(tmp_path):
    """u wraps at 24 bits (all-positive and all-negative rows), v saturates, and slow decays
    round negative values toward zero."""
    rng = np.random.default_rng(7)
    fan_in = 400
    weight = np.stack([np.full(fan_in, 254), np.full(fan_in, -256), rng.integers(-60, 60, fan_in) * 2,
                       np.where(np.arange(fan_in) < 100, -256, 0)])
    network = Network((DenseLayer(weight, CubaNeuron(v_th_mant=1 << 17, i_decay=7, v_decay=3)),))
    spikes = (rng.random((2, fan_in, 12)) < 0.9).astype(np.uint8)
    spikes[0] = 1
    golden = assert_same_state(network, tmp_path / "wrap.onnx", spikes)
    u, v = golden.state[0]["u"], golden.state[0]["v"]
    assert u[0, 0].min() < 0 < u[0, 1].max(), "u of the all-positive and all-negative rows must wrap"
    assert v.max() == STATE_LIMIT - 1 and v.min() == -(STATE_LIMIT - 1), "v must saturate both ways"


def test_state_equals_golden_when_the_int32_input_shift_overflows(tmp_path):
    """Fan-in 140000 of 8-bit weights: a_in << 6 passes 2^31 and wraps as Lava's int32 does."""
    fan_in = 140_000
    weight = np.stack([np.full(fan_in, 254), np.full(fan_in, -256)])
    network = Network((DenseLayer(weight, CubaNeuron(v_th_mant=1 << 17, i_decay=4096, v_decay=3)),))
    spikes = np.ones((1, fan_in, 4), dtype=np.uint8)
    spikes[0, ::3, 2] = 0
    assert (254 * fan_in) << 6 >= 1 << 31
    golden = assert_same_state(network, tmp_path / "wide.onnx", spikes)
    assert np.abs(golden.state[0]["v"]).max() > 0


def test_state_equals_golden_when_the_conv_accumulator_wraps(tmp_path):
    """Conv sums past 2^23 wrap modulo 2^24, as Lava's conv accumulator does."""
    weight = np.stack([np.full((200, 13, 13), 254), np.full((200, 13, 13), -256)])
    layer = ConvLayer(weight, CubaNeuron(v_th_mant=1 << 17, i_decay=4096, v_decay=0), shape=(2, 1, 1))
    network = Network((layer,))
    spikes = np.ones((1, 200 * 13 * 13, 3), dtype=np.uint8)
    assert 254 * spikes.shape[1] >= STATE_LIMIT
    golden = assert_same_state(network, tmp_path / "conv.onnx", spikes)
    assert golden.state[0]["u"][0, 0, 1] < 0 < golden.state[0]["u"][0, 1, 1], "both sums wrap"


def test_graph_interface_names_doc_and_metadata(tmp_path):
    network = without_delays(conv_network(tmp_path / "c.net"))
    path = export_onnx(network, tmp_path / "out" / "c.onnx")
    assert sorted(p.name for p in path.parent.iterdir()) == ["c.onnx"], "no temporary file left"
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    inputs = [i.name for i in model.graph.input]
    outputs = [o.name for o in model.graph.output]
    states = ["u_0", "v_0"] + [f"{s}_{l}" for l in range(1, 5) for s in ("pre", "u", "v")]
    assert inputs == ["spikes_in", "bias_in"] + [f"{s}_in" for s in states]
    assert outputs == [f"spikes_{l}" for l in range(5)] + [f"{s}_out" for s in states]
    dims = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input}
    assert dims["spikes_in"] == ["batch", 98] and dims["pre_1_in"] == ["batch", 98] and dims["v_4_in"] == ["batch", 5]
    for name in inputs + outputs:
        assert name in model.graph.doc_string
    assert {p.key: p.value for p in model.metadata_props}[STARTS_WITH_INPUT_KEY] == "1"


def test_axonal_delays_are_refused_naming_the_layer(tmp_path):
    with pytest.raises(OnnxExportError, match=r"c.net: layer/4: axonal delays \(key 'delay', up to 3 steps\) are not supported"):
        build_onnx(conv_network(tmp_path / "c.net"))
    with pytest.raises(OnnxExportError, match=r"d.net: layer/0: axonal delays"):
        export_onnx(dense_network(tmp_path / "d.net", delays=True), tmp_path / "d.onnx")
    assert not (tmp_path / "d.onnx").exists()


def test_conv_beyond_exact_float32_is_refused():
    layer = ConvLayer(np.full((1, 300, 15, 15), -256), CubaNeuron(v_th_mant=10, i_decay=0, v_decay=0), shape=(1, 1, 1))
    with pytest.raises(OnnxExportError, match=r"^network: layer/0: a sum of \|weights\| \(17280000\) reaches 16777216"):
        build_onnx(Network((layer,)))


def test_runner_rejects_bad_input(tmp_path):
    path = export_onnx(dense_network(tmp_path / "d.net"), tmp_path / "d.onnx")
    with pytest.raises(ValueError, match="input has 29 neurons"):
        run_onnx(path, np.zeros((1, 29, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="needs a network that starts with an input layer"):
        run_onnx(path, None, bias=np.zeros((1, 30)), steps=3)


@pytest.mark.parametrize("seed", range(12))
def test_random_networks_of_every_kind_state_included(tmp_path, seed):
    """The property test's networks (``netx_builders.random_network``: sigma-delta, Sigma,
    resonate-and-fire, recurrent, conv, graded messages), delays removed (refused above):
    every message and every state variable after every step of a stream of the samples
    (with netx's resets) equals the golden model's."""
    network, inputs = random_network(seed, tmp_path)
    network = Network(tuple(replace(layer, delay=None) if getattr(layer, "delay", None) is not None else layer
                            for layer in network.layers), input_shape=network.input_shape)
    path = export_onnx(network, tmp_path / "random.onnx")
    stimulus = Stimulus(inputs, None, RANDOM_STEPS)
    golden = GoldenModel(network).run_stream(stimulus, record_state=True)
    stream = stimulus.stream_spikes(GoldenModel(network).drain_steps)[None]
    steps = list(iter_onnx(path, stream, reset_interval=RANDOM_STEPS))
    for layer, state in enumerate(golden.state):
        np.testing.assert_array_equal(np.stack([s[f"spikes_{layer}"] for s in steps], axis=-1), golden.spikes[layer],
                                      err_msg=f"layer {layer} messages")
        assert np.count_nonzero(golden.spikes[layer]) > 0
        for name, values in state.items():
            np.testing.assert_array_equal(np.stack([s[f"{name}_{layer}_out"] for s in steps], axis=-1), values,
                                          err_msg=f"layer {layer} {name}")
