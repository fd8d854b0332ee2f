"""NIR export: written, read back with nir.read, every node and parameter checked
against the NetX records, and the graph's dynamics run against the golden model."""
import dataclasses
from pathlib import Path

import nir
import numpy as np
import pytest
import torch

from neurodeploy.data.dataset import load_dataset
from neurodeploy.export.nir_graph import DT, NirExportError, export_nir
from neurodeploy.export.quantize import export_model
from neurodeploy.netx import (
    ConvLayer, CubaNeuron, DenseLayer, InputLayer, Network, RecurrentDenseLayer, ResonateFireNeuron, SigmaDeltaNeuron,
    read_netx, write_netx,
)
from neurodeploy.recipe import ModelSettings, load_recipe
from neurodeploy.simulate.golden import GoldenModel
from neurodeploy.simulate.inputs import load_events
from neurodeploy.train.model import build_model
from neurodeploy.train.trainer import evaluate, fit
from netx_builders import FIXTURES, conv_network, dense_network, slayer_conv_net


def chain(graph: nir.NIRGraph) -> list[str]:
    """The node names of a sequential graph in edge order, from ``input`` to ``output``
    (nir.read returns the nodes sorted by name)."""
    following = dict(graph.edges)
    assert len(following) == len(graph.edges) == len(graph.nodes) - 1
    names = ["input"]
    while names[-1] in following:
        names.append(following[names[-1]])
    assert names[-1] == "output" and sorted(names) == sorted(graph.nodes)
    return names


def check_graph(network: Network, path: Path) -> nir.NIRGraph:
    """Export ``network``, read it back and check every node against its NetX layer."""
    assert export_nir(network, path) == path
    graph = nir.read(path)
    assert graph.metadata["dt"] == DT == 1e-4 and graph.metadata["time_unit"] == "s"
    chain(graph)
    expected_in = tuple(reversed(network.input_shape))  # NetX order
    np.testing.assert_array_equal(graph.nodes["input"].output_type["output"], expected_in)
    shape = tuple(expected_in)
    for index, layer in enumerate(network.layers):
        group = network.group_of(index)
        if isinstance(layer, DenseLayer) and layer.flatten_input:
            flatten = graph.nodes[f"layer{group}_flatten"]
            assert isinstance(flatten, nir.Flatten) and flatten.start_dim == 0
            np.testing.assert_array_equal(flatten.output_type["output"], [np.prod(shape)])
            shape = (int(np.prod(shape)),)
        bias = np.zeros(1)
        gain = 1.0
        if isinstance(layer, InputLayer):
            assert f"layer{group}_linear" not in graph.nodes and f"layer{group}_conv" not in graph.nodes
            gain = 1 / 64
        elif isinstance(layer, DenseLayer):
            linear = graph.nodes[f"layer{group}_linear"]
            assert isinstance(linear, nir.Linear)
            np.testing.assert_array_equal(linear.weight * 64, layer.weight)  # exact: w / 64 in float64
            shape = (layer.weight.shape[0],)
            bias = np.zeros(shape) if layer.bias is None else layer.bias
        else:
            conv = graph.nodes[f"layer{group}_conv"]
            assert isinstance(conv, nir.Conv2d)
            dense = torch.nn.functional.conv2d(  # the groups = 1 weight computes the grouped conv
                probe := torch.randn(1, shape[0], *shape[1:], dtype=torch.float64), torch.from_numpy(conv.weight * 64),
                stride=layer.stride, padding=layer.padding, dilation=layer.dilation)
            grouped = torch.nn.functional.conv2d(
                probe, torch.from_numpy(layer.weight.astype(np.float64)),
                stride=layer.stride, padding=layer.padding, dilation=layer.dilation, groups=layer.groups)
            torch.testing.assert_close(dense, grouped, rtol=1e-12, atol=1e-9)
            assert np.count_nonzero(conv.weight) == np.count_nonzero(layer.weight)
            np.testing.assert_array_equal(conv.input_shape, shape[1:])
            for key in ("stride", "padding", "dilation"):
                np.testing.assert_array_equal(getattr(conv, key), getattr(layer, key))
            assert conv.groups == 1 and not conv.bias.any()
            np.testing.assert_array_equal(conv.output_type["output"], layer.shape)
            shape = layer.shape
            # per neuron, Lava's (W, H, C) order, to NIR's (C, H, W)
            bias = np.zeros(1) if layer.bias is None else layer.bias.reshape(layer.lava_shape).transpose()
        lif = graph.nodes[f"layer{group}_lif"]
        assert isinstance(lif, nir.CubaLIF)
        neuron = layer.neuron
        expected = {
            "tau_syn": DT * 4096 / neuron.i_decay, "tau_mem": DT * 4096 / neuron.v_decay,
            "r": 4096 / neuron.v_decay, "w_in": gain * 4096 / neuron.i_decay,
            "v_threshold": neuron.v_th_mant / 64, "v_reset": 0.0,
            "v_leak": bias / 64 * 4096 / neuron.v_decay,
        }
        for key, value in expected.items():
            actual = getattr(lif, key)
            assert actual.shape == tuple(shape), key
            np.testing.assert_allclose(actual, np.broadcast_to(value, shape), rtol=1e-12, err_msg=key)
    np.testing.assert_array_equal(graph.nodes["output"].input_type["input"], shape)
    flattens = sum(1 for layer in network.layers if getattr(layer, "flatten_input", False))
    synapses = sum(1 for layer in network.layers if not isinstance(layer, InputLayer))
    assert len(graph.nodes) == 2 + len(network.layers) + synapses + flattens
    return graph


def run_nir(graph: nir.NIRGraph, spikes: np.ndarray) -> list[np.ndarray]:
    """Forward-Euler run (the graph's dt, current first) of a sequential NIR graph, with one
    step of delay on the input of every weight node as Loihi has. spikes: [n_in, S]
    (NIR order). Returns every CubaLIF's spikes [n, S] (flattened)."""
    steps, dt = spikes.shape[1], graph.metadata["dt"]
    signal = [torch.from_numpy(spikes[:, t].astype(np.float64)) for t in range(steps)]
    recorded = []
    for node in (graph.nodes[name] for name in chain(graph)):
        if isinstance(node, (nir.Linear, nir.Conv2d)):
            delayed = [torch.zeros_like(signal[0])] + signal[:-1]
            if isinstance(node, nir.Linear):
                signal = [torch.from_numpy(node.weight) @ s for s in delayed]
            else:
                weight = torch.from_numpy(node.weight)
                signal = [torch.nn.functional.conv2d(
                    s.reshape(1, -1, *node.input_shape), weight, stride=tuple(node.stride),
                    padding=tuple(node.padding), dilation=tuple(node.dilation), groups=int(node.groups))[0]
                    for s in delayed]
        elif isinstance(node, nir.Flatten):
            signal = [s.reshape(-1) for s in signal]
        elif isinstance(node, nir.CubaLIF):
            p = {k: torch.from_numpy(getattr(node, k)).reshape(-1)
                 for k in ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in")}
            current = torch.zeros_like(p["r"])
            voltage = torch.zeros_like(p["r"])
            out = []
            for s in signal:
                current = current + dt / p["tau_syn"] * (-current + p["w_in"] * s.reshape(-1))
                voltage = voltage + dt / p["tau_mem"] * (p["v_leak"] - voltage + p["r"] * current)
                spike = voltage > p["v_threshold"]
                voltage = torch.where(spike, p["v_reset"], voltage)
                out.append(spike.double())
            signal = out
            recorded.append(torch.stack(out, dim=-1).numpy())
    return recorded


def golden_spikes(network: Network, spikes: np.ndarray) -> list[np.ndarray]:
    """The golden model's spikes [n, S] per layer, in NIR's (C, H, W) order."""
    run = GoldenModel(network).run(network.to_lava_order(spikes[None]))
    return [
        s[0] if len(layer.lava_shape) == 1 else
        s[0].reshape(*layer.lava_shape, -1).transpose(2, 1, 0, 3).reshape(s.shape[1], -1)
        for s, layer in zip(run.spikes, network.layers)
    ]


def test_dense_network(tmp_path):
    check_graph(dense_network(tmp_path / "d.net"), tmp_path / "d.nir")


def test_conv_network_without_delays_and_error_for_delays(tmp_path):
    network = conv_network(tmp_path / "c.net")
    with pytest.raises(NirExportError, match=r"c\.net: layer/4: axonal delays"):
        export_nir(network, tmp_path / "c.nir")
    assert not (tmp_path / "c.nir").exists()
    layers = tuple(dataclasses.replace(layer, delay=None) if isinstance(layer, DenseLayer) else layer
                   for layer in network.layers)
    graph = check_graph(Network(layers, network.input_shape, network.path), tmp_path / "c.nir")
    kinds = [type(graph.nodes[name]).__name__ for name in chain(graph)]
    assert kinds == ["Input", "CubaLIF", "Conv2d", "CubaLIF", "Conv2d", "CubaLIF", "Flatten",
                     "Linear", "CubaLIF", "Linear", "CubaLIF", "Output"]
    weight = graph.nodes["layer2_conv"].weight  # groups = 2 written as a block-diagonal weight
    assert weight.shape == (6, 4, 3, 3) and not weight[:3, 2:].any() and not weight[3:, :2].any()


def test_zero_decay_names_the_layer(tmp_path):
    path = tmp_path / "z.net"
    write_netx(path, [DenseLayer(np.ones((3, 4), dtype=np.int64), CubaNeuron(10, 1024, 512)),
                      DenseLayer(np.ones((2, 3), dtype=np.int64), CubaNeuron(10, 0, 512))])
    with pytest.raises(NirExportError, match=r"layer/1: neuron i_decay = 0"):
        export_nir(read_netx(path), tmp_path / "z.nir")


def test_oxford_fixture(tmp_path):
    check_graph(read_netx(FIXTURES / "oxford" / "network.net"), tmp_path / "oxford.nir")


def test_trained_project_models(tmp_path):
    """The digits MLP trained briefly, and the project's conv model, through NetX to NIR."""
    recipe = load_recipe(Path(__file__).resolve().parents[1] / "models" / "digits_mlp.yaml")
    data = load_dataset(recipe.data, 0)
    torch.manual_seed(0)
    model = build_model(64, 10, ModelSettings(hidden=(32,), neuron=recipe.model.neuron))
    fit(model, data.x_train[:400], data.y_train[:400], epochs=2, batch_size=32, lr=0.003, seed=0)
    assert evaluate(model, data.x_test, data.y_test) > 0.3
    export_model(model, tmp_path / "mlp.net")
    check_graph(read_netx(tmp_path / "mlp.net"), tmp_path / "mlp.nir")

    conv = slayer_conv_net()
    conv(torch.zeros(1, 1, 8, 8, 2))
    export_model(conv, tmp_path / "conv.net", input_shape=(1, 8, 8))
    check_graph(read_netx(tmp_path / "conv.net"), tmp_path / "conv.nir")


def test_dynamics_equal_golden_where_nothing_rounds(tmp_path):
    """Full decays (no state carried, so no rounding): the NIR graph, run by its own
    equations with Loihi's one-step delay per layer, spikes exactly as Loihi does.
    This pins the units: weights and thresholds both / 64, bias into v."""
    rng = np.random.default_rng(1)
    memoryless = CubaNeuron(v_th_mant=20, i_decay=4096, v_decay=4096)
    layers = [
        ConvLayer(rng.integers(-40, 41, size=(3, 2, 3, 3)) * 2, memoryless, shape=(3, 5, 5), padding=(1, 1)),
        DenseLayer(rng.integers(-30, 31, size=(10, 75)) * 2, memoryless, bias=rng.integers(-4, 8, size=10),
                   flatten_input=True),
    ]
    write_netx(tmp_path / "m.net", layers)
    network = read_netx(tmp_path / "m.net", input_shape=(2, 5, 5))
    export_nir(network, tmp_path / "m.nir")
    spikes = (rng.random((50, 40)) < 0.4).astype(np.uint8)
    ours, golden = run_nir(nir.read(tmp_path / "m.nir"), spikes), golden_spikes(network, spikes)
    for layer, (a, b) in enumerate(zip(ours, golden)):
        assert b.sum() > 20 and (b == 0).sum() > 20, layer
        np.testing.assert_array_equal(a, b[:, : a.shape[1]], err_msg=f"layer {layer}")


def test_dynamics_close_to_golden_on_oxford(tmp_path):
    """Leaky neurons: the NIR graph loses only the rounding of the fixed-point decays
    (measured: 9517 output spikes against Loihi's 9565, 87.5% of spikes shared)."""
    network = read_netx(FIXTURES / "oxford" / "network.net")
    export_nir(network, tmp_path / "oxford.nir")
    spikes = load_events(FIXTURES / "oxford" / "input_events.npy", 200, 2000)[0]
    ours = run_nir(nir.read(tmp_path / "oxford.nir"), spikes)[-1]
    golden = golden_spikes(network, spikes)[-1][:, :2000]
    assert golden.sum() == 9565
    assert abs(ours.sum() - golden.sum()) < 0.02 * golden.sum()
    assert (ours * golden).sum() / np.maximum(ours, golden).sum() > 0.85


def test_recurrent_layer_is_a_linear_loop_on_its_neurons(tmp_path):
    rng = np.random.default_rng(4)
    neuron = CubaNeuron(v_th_mant=30, i_decay=1024, v_decay=512)
    recurrent = RecurrentDenseLayer(rng.integers(-40, 60, size=(6, 10)), neuron,
                                    weight_rec=rng.integers(-40, 40, size=(6, 6)))
    path = tmp_path / "rec.net"
    write_netx(path, [DenseLayer(rng.integers(-40, 60, size=(10, 8)), neuron), recurrent])
    export_nir(read_netx(path), tmp_path / "rec.nir")
    graph = nir.read(tmp_path / "rec.nir")
    loop = graph.nodes["layer1_recurrent"]
    assert isinstance(loop, nir.Linear)
    np.testing.assert_array_equal(loop.weight * 64, recurrent.weight_rec)
    assert ("layer1_lif", "layer1_recurrent") in graph.edges and ("layer1_recurrent", "layer1_lif") in graph.edges
    assert ("layer1_linear", "layer1_lif") in graph.edges and ("layer1_lif", "output") in graph.edges


@pytest.mark.parametrize("layer, message", [
    (DenseLayer(np.full((4, 3), 6), SigmaDeltaNeuron("sigma_delta", 2)), "NIR has no node for SDNN neurons"),
    (DenseLayer(np.full((4, 3), 6), ResonateFireNeuron("RF", "RF_PHASE", 500, 3800, 10),
                weight_imag=np.full((4, 3), 2)), "NIR has no node for complex (resonate-and-fire) weights"),
])
def test_kinds_nir_cannot_express_are_refused_naming_the_layer(tmp_path, layer, message):
    path = tmp_path / "k.net"
    write_netx(path, [DenseLayer(np.full((3, 5), 8), CubaNeuron(v_th_mant=30, i_decay=1024, v_decay=512)), layer])
    with pytest.raises(NirExportError) as err:
        export_nir(read_netx(path), tmp_path / "k.nir")
    assert str(err.value) == f"{path}: layer/1: {message}"
    assert not (tmp_path / "k.nir").exists()
