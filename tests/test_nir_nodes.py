"""``neurodeploy import`` of the NIR node types other frameworks write: the NIR paper's two
benchmark graphs as published, graphs written by Sinabs, snnTorch and Rockpool's own
exporters, and graphs written with nir for the node types no installed exporter writes
(LI, CubaLI and I readouts, Threshold, Scale, Delay, Conv1d, AvgPool2d). Each is
imported, compared with the float graph, and (marked lava) verified bit-exact in Lava."""
import json
import warnings
from pathlib import Path

import nir
import numpy as np
import pytest
import torch

from neurodeploy.cli import main
from neurodeploy.export.nir_params import NirImportError
from neurodeploy.export.nir_synapse import fold
from neurodeploy.limits import Limits
from neurodeploy.netx import read_netx

GRAPHS = Path(__file__).resolve().parent / "nir_graphs"


def import_cli(graph: Path, out: Path, *options: str, capsys) -> tuple[int, str, str, dict]:
    """``neurodeploy import GRAPH --out OUT --json J OPTIONS``: (exit code, stdout, stderr, the JSON)."""
    code = main(["import", str(graph), "--out", str(out), "--json", str(out.with_suffix(".json")), *options])
    captured = capsys.readouterr()
    result = json.loads(out.with_suffix(".json").read_text()) if code == 0 else {}
    return code, captured.out, captured.err, result


def floats(shape, seed: int, scale: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, scale, shape)


# The NIR paper's benchmarks, as published (tests/nir_graphs/README.md). Floors: the measured
# agreement per layer (random spikes, rate 0.2, 16 x 32 steps), rounded down.
PUBLISHED = {
    "cnn_sinabs.nir": ((), ["conv", "conv", "conv", "dense", "dense"], [0.98, 0.93, 0.90, 0.96, 0.94], "Norse"),
    "braille_noDelay_noBias_subtract.nir": (("--dt", "1e-4"), ["dense_rec", "dense"], [0.99, 0.98], "reference"),
    "braille_noDelay_bias_zero.nir": (("--dt", "1e-4"), ["dense_rec", "dense"], [0.99, 0.67], "reference"),
}
# Each layer's (largest scale that fits, scale the search chose), measured (docs/nir.md).
SCALES = {
    "cnn_sinabs.nir": [(141, 141), (253, 253), (406, 203), (214, 214), (391, 195)],
    "braille_noDelay_noBias_subtract.nir": [(68, 68), (139, 139)],
    "braille_noDelay_bias_zero.nir": [(18, 9), (36, 36)],
}


def check_scale_search(result: dict, printed: str) -> list[tuple[int, int]]:
    """Each layer's search in the JSON: the largest scale and its halvings tried, largest
    first; the chosen one the closest (a tie keeps the larger), and its figure the one the
    comparison reports for the layer; one printed line per layer. Returns (largest, chosen)."""
    for choice, layer in zip(result["scales"], result["layers"], strict=True):
        scales, figures = zip(*choice["tried"])
        assert scales == tuple(dict.fromkeys(choice["largest"] >> k for k in range(4))), choice
        best = (figures.index(max(figures)) if not choice["readout"] else figures.index(min(figures)))
        assert choice["scale"] == scales[best] and choice["node"] == layer["node"], choice
        assert figures[best] == (layer["error"] if choice["readout"] else layer["agreement"]), (choice, layer)
        assert f"{choice['node']}: scale {choice['scale']} (largest {choice['largest']})" in printed
    return [(choice["largest"], choice["scale"]) for choice in result["scales"]]


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_the_nir_papers_benchmark_graphs_import(tmp_path, capsys, name):
    """The N-MNIST CNN (Sinabs: IF, SumPool2d folded into the next conv and dense layers,
    no dt needed) and the Braille network (snnTorch: CubaLIF with a recurrent Affine, as
    dense_rec) import and stay within their measured distance of the float graph."""
    options, kinds, floors, engine = PUBLISHED[name]
    code, printed, err, result = import_cli(GRAPHS / name, tmp_path / "net.net", *options, capsys=capsys)
    assert code == 0, err
    network = read_netx(tmp_path / "net.net", input_shape=(2, 34, 34) if "cnn" in name else None)
    assert network.kinds == kinds
    assert result["engine"] == engine
    for layer, floor in zip(result["layers"], floors):
        assert layer["agreement"] >= floor and layer["spikes_fixed"] > 0, (name, layer)
    assert check_scale_search(result, printed) == SCALES[name]
    assert [layer.neuron.v_th_mant for layer in network.layers] == [chosen for _, chosen in SCALES[name]]
    if "cnn" in name:
        pooled = network.layers[2]  # SumPool2d(2) then Conv2d(3x3, padding 1): a 6x6 conv of stride 2, padding 2
        assert (pooled.weight.shape[2:], pooled.stride, pooled.padding) == ((6, 6), (2, 2), (2, 2))
        assert network.layers[3].weight.shape == (256, 512)  # SumPool2d(2), Flatten, Affine(128): 512 inputs
        assert all(layer.neuron.v_decay == 0 and layer.neuron.i_decay == 4096 for layer in network.layers)
        assert "dt = none needed" in printed
    else:
        assert network.layers[0].weight_rec.shape == (network.layers[0].size,) * 2
        assert "loop lif1.w_rec" in printed


def test_the_published_subgraph_variant_imports_as_the_flat_one_with_a_note(tmp_path, capsys):
    """Its inner edges name 'lif' where the node is 'lif1' (nir 1.0.8 refuses the file);
    the one name on no node and the one node on no edge are taken for each other, said
    in a note, and the network is the flat variant's: the same layers, weights and figures."""
    code, printed, err, result = import_cli(GRAPHS / "braille_noDelay_bias_zero_subgraph.nir", tmp_path / "sub.net",
                                            "--dt", "1e-4", capsys=capsys)
    assert code == 0, err
    assert "the edges of lif1 name 'lif', which it does not have; its one node on no edge, 'lif1'" in printed
    code, _, err, flat = import_cli(GRAPHS / "braille_noDelay_bias_zero.nir", tmp_path / "flat.net", "--dt", "1e-4",
                                    capsys=capsys)
    assert code == 0, err
    nested, plain = read_netx(tmp_path / "sub.net"), read_netx(tmp_path / "flat.net")
    assert nested.kinds == plain.kinds == ["dense_rec", "dense"]
    for a, b in zip(nested.layers, plain.layers):
        assert np.array_equal(a.weight, b.weight) and a.neuron == b.neuron
    assert np.array_equal(nested.layers[0].weight_rec, plain.layers[0].weight_rec)
    assert [layer["agreement"] for layer in result["layers"]] == [layer["agreement"] for layer in flat["layers"]]


@pytest.mark.parametrize("pool, kernel, stride, padding, conv_padding, size", [
    (nir.SumPool2d, 2, 2, 0, 1, 8), (nir.AvgPool2d, 2, 2, 0, 1, 8), (nir.SumPool2d, 3, 2, 1, 1, 9),
    (nir.SumPool2d, 2, 2, 0, 0, 13), (nir.AvgPool2d, 3, 3, 0, 2, 9)])
def test_a_pool_folds_into_the_conv_after_it_exactly(pool, kernel, stride, padding, conv_padding, size):
    """The folded conv on the map before the pool equals the conv of the pooled map, in float64."""
    weight = floats((4, 3, 3, 3), 0)
    nodes = {"pool": pool(kernel_size=np.array([kernel] * 2), stride=np.array([stride] * 2),
                          padding=np.array([padding] * 2)),
             "conv": nir.Conv2d(input_shape=None, weight=weight, stride=1, padding=conv_padding, dilation=2, groups=1,
                                bias=np.zeros(4))}
    synapse = fold(("pool", "conv"), nodes, (3, size, size), None, "g")
    x = torch.from_numpy(floats((2, 3, size, size), 1))
    pooled = torch.nn.functional.avg_pool2d(x, kernel, stride, padding, count_include_pad=True)
    pooled = pooled * kernel * kernel if pool is nir.SumPool2d else pooled
    expected = torch.nn.functional.conv2d(pooled, torch.from_numpy(weight), padding=conv_padding, dilation=2)
    stride_, padding_, dilation_, _ = synapse.conv
    got = torch.nn.functional.conv2d(x, torch.from_numpy(synapse.weight), stride=stride_, padding=padding_,
                                     dilation=dilation_)
    assert got.shape == expected.shape and torch.allclose(got, expected, atol=1e-12)


def test_a_pool_into_a_dense_layer_is_w_times_p_and_an_inexact_fold_is_refused():
    weight = floats((5, 3 * 2 * 2), 2)
    nodes = {"pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
             "flat": nir.Flatten(input_type=None, start_dim=0), "fc": nir.Linear(weight=weight)}
    synapse = fold(("pool", "flat", "fc"), nodes, (3, 5, 5), None, "g")
    x = floats((3, 5, 5), 3)
    pooled = x[:, :4, :4].reshape(3, 2, 2, 2, 2).sum(axis=(2, 4))  # row 4 and column 4 are dropped by the pool
    assert np.allclose(synapse.weight @ x.reshape(-1), weight @ pooled.reshape(-1), atol=1e-12)
    assert synapse.flatten and synapse.weight.shape == (5, 75)
    conv = {"pool": nodes["pool"], "conv": nir.Conv2d(input_shape=None, weight=floats((2, 3, 3, 3), 4), stride=1,
                                                      padding=1, dilation=1, groups=1, bias=np.zeros(2))}
    with pytest.raises(NirImportError, match="node 'pool'.*not imported"):
        fold(("pool", "conv"), conv, (3, 5, 5), None, "g")  # the pool drops row 4, the conv pads there


def graph(nodes: dict, metadata: dict | None = None) -> nir.NIRGraph:
    """A chain of ``nodes`` (in order) from an Input to an Output."""
    names = list(nodes)
    return nir.NIRGraph(nodes=nodes, edges=list(zip(names, names[1:])), metadata=metadata or {}, type_check=False)


def _written(path: Path, made: nir.NIRGraph) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nir.write(path, made)
    return path


def kinds_graph(kind: str) -> tuple[nir.NIRGraph, tuple[str, ...]]:
    """Graphs written with nir for node types no installed exporter writes; (graph, options)."""
    n_in, hidden, out = 24, 16, 6
    w1, w2 = floats((hidden, n_in), 5, 0.6), floats((out, hidden), 6, 0.5)
    one = np.ones
    lif = nir.LIF(tau=one(hidden) * 5e-3, r=one(hidden) * 5.0, v_leak=np.zeros(hidden), v_threshold=one(hidden) * 0.8)
    readouts = {
        "LI": nir.LI(tau=one(out) * 4e-3, r=one(out) * 4.0, v_leak=np.zeros(out)),
        "CubaLI": nir.CubaLI(tau_syn=one(out) * 2e-3, tau_mem=one(out) * 4e-3, r=one(out) * 4.0,
                             v_leak=np.zeros(out), w_in=one(out) * 2.0),
        "I": nir.I(r=one(out) * 0.5),
    }
    if kind in readouts:
        return graph({"input": nir.Input(input_type=np.array([n_in])), "fc1": nir.Affine(w1, floats(hidden, 7, 0.05)),
                      "lif": lif, "fc2": nir.Linear(w2), "readout": readouts[kind],
                      "output": nir.Output(output_type=np.array([out]))}, {"dt": 1e-3}), ()
    if kind == "Threshold, Scale, Delay":
        return graph({"input": nir.Input(input_type=np.array([n_in])), "fc1": nir.Linear(w1),
                      "scale": nir.Scale(scale=np.linspace(0.5, 1.5, hidden)), "delay": nir.Delay(delay=one(hidden) * 3e-3),
                      "lif": lif, "delay2": nir.Delay(delay=np.arange(hidden) * 1e-3), "fc2": nir.Linear(w2),
                      "threshold": nir.Threshold(threshold=one(out) * 0.3),
                      "output": nir.Output(output_type=np.array([out]))}, {"dt": 1e-3}), ()
    if kind == "Conv1d, AvgPool2d, IF":
        conv1 = nir.Conv1d(input_shape=12, weight=floats((4, 1, 3), 8, 0.8), stride=2, padding=1, dilation=1, groups=2,
                           bias=floats(4, 9, 0.05))
        conv2 = nir.Conv2d(input_shape=(6, 6), weight=floats((6, 2, 3, 3), 10, 0.6), stride=1, padding=1, dilation=1,
                           groups=2, bias=np.zeros(6))
        if_ = nir.IF(r=one((4, 6)), v_threshold=one((4, 6)))
        return graph({"input": nir.Input(input_type=np.array([2, 12])), "conv1": conv1, "if1": if_,
                      "to2d": nir.Flatten(input_type=np.array([4, 6]), start_dim=0), "fc": nir.Affine(floats((36 * 4, 24), 11, 0.5),
                                                                                         np.zeros(144)),
                      "if2": nir.IF(r=one(144), v_threshold=one(144)),
                      "output": nir.Output(output_type=np.array([144]))}), ()
    raise ValueError(kind)


KINDS = {  # kind: (NetX kinds, floor of each layer's agreement, ceiling of a readout's error)
    "LI": (["dense", "dense"], [0.99, 0.0], 0.1),
    "CubaLI": (["dense", "dense"], [0.99, 0.0], 0.1),
    "I": (["dense", "dense"], [0.99, 0.0], 0.1),
    "Threshold, Scale, Delay": (["dense", "dense"], [0.99, 0.97], None),
    "Conv1d, AvgPool2d, IF": (["conv", "dense"], [0.97, 0.95], None),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_node_types_written_with_nir_import(tmp_path, capsys, kind):
    made, options = kinds_graph(kind)
    code, printed, err, result = import_cli(_written(tmp_path / "g.nir", made), tmp_path / "net.net", *options,
                                            capsys=capsys)
    assert code == 0, err
    network = read_netx(tmp_path / "net.net", input_shape=(2, 1, 12) if "Conv1d" in kind else None)
    kinds, floors, ceiling = KINDS[kind]
    assert network.kinds == kinds and result["engine"] == "reference"
    for layer, floor in zip(result["layers"], floors):
        assert layer["agreement"] >= floor, (kind, layer)
    check_scale_search(result, printed)
    if ceiling is not None:  # a readout: its voltage, within the stated distance of the float graph's
        readout = result["layers"][-1]
        assert readout["readout"] and readout["error"] <= ceiling, readout
        assert network.layers[-1].neuron.v_th_mant == 1 << 17 and "readout, scale" in printed
        assert result["layers"][0]["spikes_fixed"] > 100
    if "Delay" in kind:  # 3 steps before every neuron of layer 0, 0 .. 15 after each (layer 1's columns)
        assert np.array_equal(network.layers[0].delay, np.full((16, 24), 3))
        assert np.array_equal(network.layers[1].delay, np.tile(np.arange(16), (6, 1)))
        assert network.layers[1].neuron.v_decay == 4096  # Threshold: no state kept


def test_an_integrator_followed_by_threshold_and_a_recurrent_conv_are_refused(tmp_path, capsys):
    """NIR's Integrator then Threshold never resets; Loihi resets at each spike."""
    made = graph({"input": nir.Input(input_type=np.array([4])), "fc": nir.Linear(floats((3, 4), 0)),
                  "i": nir.I(r=np.ones(3)), "th": nir.Threshold(threshold=np.ones(3)),
                  "output": nir.Output(output_type=np.array([3]))})
    code, _, err, _ = import_cli(_written(tmp_path / "g.nir", made), tmp_path / "x.net", capsys=capsys)
    assert code == 2 and "node 'th'" in err and len(err.strip().splitlines()) == 1, err
    assert "do not reset when it fires, while a Loihi neuron resets at its spike" in err


def sinabs_graph(tmp_path: Path) -> Path:
    """Sinabs 3.1's own export of a CNN (strided conv with bias, IF, conv, IF, SumPool2d,
    Flatten, Linear, IF), input (2, 16, 16), written with nir."""
    sinabs = pytest.importorskip("sinabs")
    import sinabs.layers as sl

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(2, 8, 3, stride=2, padding=1), sl.IAFSqueeze(batch_size=1),
        torch.nn.Conv2d(8, 8, 3, padding=1), sl.IAFSqueeze(batch_size=1), sl.SumPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(8 * 4 * 4, 10), sl.IAFSqueeze(batch_size=1))
    with torch.no_grad():
        for module in model:
            if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
                module.weight *= 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exported = sinabs.to_nir(model, torch.zeros(1, 2, 16, 16))
        exported.infer_types()  # sinabs leaves conv and pool shapes None, which nir.write cannot store
        # (nir 1.0.8's type inference ignores a conv's groups, so a grouped conv is tested written with nir)
    return _written(tmp_path / "s.nir", exported)


def test_sinabs_export_of_a_cnn_with_if_sumpool_strided_convs_and_biases(tmp_path, capsys):
    code, printed, err, result = import_cli(sinabs_graph(tmp_path), tmp_path / "s.net", capsys=capsys)
    assert code == 0, err
    network = read_netx(tmp_path / "s.net", input_shape=(2, 16, 16))
    assert network.kinds == ["conv", "conv", "dense"] and network.layers[0].stride == (2, 2)
    assert network.layers[0].bias is not None  # nn.Conv2d's bias, exact for an IF (no current filter)
    assert all(layer["agreement"] >= 0.95 and layer["spikes_fixed"] > 10 for layer in result["layers"]), result
    assert result["engine"] == "Norse"


def rsynaptic_graphs(tmp_path: Path) -> tuple[Path, Path]:
    """snnTorch 1.0's export of Linear(20, 12), RSynaptic, Linear(12, 4), Synaptic: (flat as
    it writes it, the loop nested as a subgraph)."""
    import snntorch
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Linear(20, 12),
                              snntorch.RSynaptic(alpha=torch.full((12,), 0.7), beta=torch.full((12,), 0.9),
                                                 threshold=torch.ones(12), linear_features=12, init_hidden=True,
                                                 reset_mechanism="zero"),
                              torch.nn.Linear(12, 4),
                              snntorch.Synaptic(alpha=torch.full((4,), 0.7), beta=torch.full((4,), 0.9),
                                                threshold=torch.ones(4), init_hidden=True, reset_mechanism="zero"))
    with torch.no_grad():
        net[0].weight *= 4
        net[2].weight *= 4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exported = export_to_nir(net, torch.zeros(20))
    flat_path = _written(tmp_path / "r.nir", exported)
    flat_graph = nir.read(flat_path)
    loop = next((pre, post) for pre, post in flat_graph.edges if (post, pre) in flat_graph.edges
                and isinstance(flat_graph.nodes[pre], nir.CubaLIF))
    lif, w_rec = loop
    group = lif.split(".")[0]
    size = flat_graph.nodes[lif].v_threshold.shape
    inner = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array(size)), "lif": flat_graph.nodes[lif],
                                "w_rec": flat_graph.nodes[w_rec], "output": nir.Output(output_type=np.array(size))},
                         edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")])
    rename = {lif: group, w_rec: group}  # the loop as one subgraph node, as the NIR paper's Braille variant
    nodes = {name: node for name, node in flat_graph.nodes.items() if name not in rename} | {group: inner}
    edges = [(rename.get(pre, pre), rename.get(post, post)) for pre, post in flat_graph.edges if (pre, post) != loop
             and (post, pre) != loop]
    nested = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    return flat_path, _written(tmp_path / "nested.nir", nested)


def test_snntorch_export_of_a_recurrent_synaptic_layer_as_a_subgraph(tmp_path, capsys):
    """snnTorch 1.0's RSynaptic (a CubaLIF with a recurrent Linear), flat as its export writes
    it and with the loop nested as a subgraph (the NIR paper's Braille subgraph form; snnTorch's
    own rewrite to that form writes a subgraph Input that nir 1.0.8 cannot read back)."""
    figures = []
    for path in rsynaptic_graphs(tmp_path):
        code, printed, err, result = import_cli(path, tmp_path / "r.net", "--dt", "1e-4", capsys=capsys)
        assert code == 0, err
        network = read_netx(tmp_path / "r.net")
        assert network.kinds == ["dense_rec", "dense"] and np.any(network.layers[0].weight_rec)
        for layer, floor in zip(result["layers"], (0.96, 0.92)):  # measured 0.970 and 0.928
            assert layer["agreement"] >= floor and layer["spikes_fixed"] > 100, layer
        figures.append([(layer["spikes_fixed"], layer["agreement"]) for layer in result["layers"]])
    assert figures[0] == figures[1]  # the same network, flat or nested


def rockpool_graph(tmp_path: Path) -> Path:
    """Rockpool 3.1's export of LinearTorch(12, 20), LIFTorch, LinearTorch(20, 5), LIFTorch
    (weights x 5)."""
    pytest.importorskip("rockpool")
    from rockpool.nn.combinators import Sequential
    from rockpool.nn.modules import LinearTorch, LIFTorch
    from rockpool.nn.modules.torch.nir import to_nir

    torch.manual_seed(0)
    net = Sequential(LinearTorch((12, 20)), LIFTorch(20, tau_mem=0.02, tau_syn=0.01, dt=1e-3), LinearTorch((20, 5)),
                     LIFTorch(5, tau_mem=0.02, tau_syn=0.01, dt=1e-3))
    with torch.no_grad():  # its default weights leave layer 1 silent on random inputs
        net[0].weight *= 5
        net[2].weight *= 5
    return _written(tmp_path / "p.nir", to_nir(net))


def test_rockpool_export_with_its_unit_dimensions(tmp_path, capsys):
    """Rockpool 3.1 writes Input [1, n] and Output [1, 1, n]; its LIFTorch is a CubaLIF."""
    code, _, err, result = import_cli(rockpool_graph(tmp_path), tmp_path / "p.net", "--dt", "1e-3", capsys=capsys)
    assert code == 0, err
    assert read_netx(tmp_path / "p.net").kinds == ["dense", "dense"]
    for layer, floor in zip(result["layers"], (0.99, 0.97)):  # measured 0.9954, 0.9805
        assert layer["agreement"] >= floor and layer["spikes_fixed"] > 100, layer


NORSE_DT = 1e-3  # the step the Norse models run with (Norse's default)
NORSE_IMPORT_DT = NORSE_DT ** 2  # Norse 1.1's exporter writes tau = dt / tau_mem_inv (dt times the model's tau)


def norse_graph(tmp_path: Path, kind: str) -> Path:
    """Norse 1.1's own export (``norse.torch.to_nir``) of a small network, written with nir:
    ``dense``: Linear(12, 10), LIFBoxCell, Linear(10, 3), LIBoxCell (a readout); ``conv``:
    Conv2d(2, 4, 3, stride 2, padding 1), LIFBoxCell, Conv2d(4, 3, 3), IAFCell on (2, 8, 8).

    What Norse 1.1's exporter cannot do, and how the models are written around it: it
    writes its parameters as given, and nir 1.0.8 cannot store a 0-d tensor (h5py: "Scalar
    datasets don't support chunk/filter options"), so every neuron parameter is given per
    neuron; it leaves a conv's input_shape None, which nir cannot store ("One of data, shape
    or dtype must be specified"): ``infer_types`` fills it, as for Sinabs; it exports no
    ``torch.nn.Flatten`` (the node is None, which nir cannot write), so a conv cannot feed
    a dense layer. And it writes each LIF's and LI's tau as dt / tau_mem_inv, dt times the
    model's time constant 1 / tau_mem_inv in seconds (Norse's own importer reads
    tau_mem_inv = 1 / tau): the graph is the model it was exported from when read with a
    step of dt^2 (``NORSE_IMPORT_DT``), k = dt^2 / (dt / tau_mem_inv) = dt tau_mem_inv."""
    import norse.torch as norse

    def lif(shape: tuple[int, ...]) -> torch.nn.Module:
        return norse.LIFBoxCell(norse.LIFBoxParameters(tau_mem_inv=torch.full(shape, 200.0),
                                                       v_th=torch.full(shape, 0.3), v_leak=torch.zeros(shape)))

    torch.manual_seed(0)
    if kind == "dense":
        modules, sample = [torch.nn.Linear(12, 10), lif((10,)), torch.nn.Linear(10, 3),
                           norse.LIBoxCell(norse.LIBoxParameters(tau_mem_inv=torch.full((3,), 100.0),
                                                                 v_leak=torch.zeros(3)))], (12,)
    else:
        modules, sample = [torch.nn.Conv2d(2, 4, 3, stride=2, padding=1), lif((4, 4, 4)), torch.nn.Conv2d(4, 3, 3),
                           norse.IAFCell(norse.IAFParameters(v_th=torch.full((3, 2, 2), 0.5),
                                                             v_reset=torch.zeros(3, 2, 2)))], (2, 8, 8)
    with torch.no_grad():
        for module in modules:
            if isinstance(module, (torch.nn.Linear, torch.nn.Conv2d)):
                module.weight *= 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exported = norse.to_nir(norse.SequentialState(*modules), torch.zeros(*sample), dt=NORSE_DT)
        exported.infer_types()
    return _written(tmp_path / f"norse_{kind}.nir", exported)


@pytest.mark.parametrize("kind, types, kinds, floors", [
    ("dense", ["Affine", "LIF", "Affine", "LI"], ["dense", "dense"], [0.99]),
    ("conv", ["Conv2d", "LIF", "Conv2d", "IF"], ["conv", "conv"], [0.99, 0.97])])
def test_norse_export_imports(tmp_path, capsys, kind, types, kinds, floors):
    """Norse 1.1's exporter's graph (norse_graph's docstring: what it cannot do, and its tau
    read with dt^2) imports, within its measured distance of the float graph (measured:
    dense 1.0000 and a readout error of 0.044; conv 0.9992, 0.9897)."""
    path = norse_graph(tmp_path, kind)
    graph_ = nir.read(path)
    assert [type(graph_.nodes[name]).__name__ for name in ("0", "1", "2", "3")] == types
    code, _, err, result = import_cli(path, tmp_path / "n.net", "--dt", str(NORSE_IMPORT_DT), capsys=capsys)
    assert code == 0, err
    network = read_netx(tmp_path / "n.net", input_shape=(2, 8, 8) if kind == "conv" else None)
    assert network.kinds == kinds and network.layers[0].neuron.v_decay == 819  # dt tau_mem_inv = 0.2
    for layer, floor in zip(result["layers"], floors):
        assert layer["agreement"] >= floor and layer["spikes_fixed"] > 100, layer
    if kind == "dense":
        assert result["layers"][1]["readout"] and result["layers"][1]["error"] <= 0.06, result["layers"][1]


def exporter_graph(tmp_path: Path, name: str) -> tuple[Path, tuple[str, ...], tuple[int, ...] | None]:
    """(graph file, import options, NetX input shape for verify) of each exporter's graph."""
    if name in PUBLISHED or name == "braille_noDelay_bias_zero_subgraph.nir":
        return GRAPHS / name, ("--dt", "1e-4") if "braille" in name else (), (2, 34, 34) if "cnn" in name else None
    if name == "sinabs":
        return sinabs_graph(tmp_path), (), (2, 16, 16)
    if name.startswith("snntorch"):
        return rsynaptic_graphs(tmp_path)[name.endswith("nested")], ("--dt", "1e-4"), None
    if name == "rockpool":
        return rockpool_graph(tmp_path), ("--dt", "1e-3"), None
    kind = name.split()[-1]
    return norse_graph(tmp_path, kind), ("--dt", str(NORSE_IMPORT_DT)), (2, 8, 8) if kind == "conv" else None


# graph: (input rate, layers silent by design): a readout's threshold (2^17) is never reached
EXPORTERS = {"cnn_sinabs.nir": (0.2, ()), "sinabs": (0.2, ()), "snntorch RSynaptic": (0.2, ()),
             "snntorch RSynaptic nested": (0.2, ()), "rockpool": (0.2, ()),
             "braille_noDelay_noBias_subtract.nir": (0.2, ()), "braille_noDelay_bias_zero.nir": (0.2, ()),
             "braille_noDelay_bias_zero_subgraph.nir": (0.2, ()), "norse dense": (0.2, (1,)), "norse conv": (0.2, ())}


@pytest.mark.slow
@pytest.mark.lava
@pytest.mark.parametrize("name", list(EXPORTERS))
def test_every_exporters_graph_is_bit_exact_in_lava(tmp_path, capsys, name):
    """Each graph an exporter wrote (the published ones as published), imported with its
    scales chosen, runs in Lava exactly as in the golden model, every spiking layer sending
    spikes (a readout never does: its voltage is what is read)."""
    from neurodeploy.api import verify

    path, options, shape = exporter_graph(tmp_path, name)
    rate, silent = EXPORTERS[name]
    out = tmp_path / "net.net"
    code, _, err, _ = import_cli(path, out, *options, "--samples", "2", "--steps", "8", capsys=capsys)
    assert code == 0, err
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = verify(out, random_rate=rate, steps=12, samples=2, input_shape=shape)
    assert result.equivalent and result.compared_entries > 0, (name, result.to_dict())
    assert result.silent_layers == silent, (name, result.to_dict()["silent_layers"])


@pytest.mark.slow
@pytest.mark.lava
def test_imported_networks_are_bit_exact_in_lava(tmp_path, capsys):
    """Every kind of imported layer (IF conv with a folded pool, dense_rec, readouts, delays,
    Threshold, Conv1d) runs in Lava exactly as in the golden model."""
    from neurodeploy.api import verify

    cases = [(GRAPHS / "braille_noDelay_noBias_subtract.nir", ("--dt", "1e-4"), None)]
    for kind in ("LI", "Threshold, Scale, Delay", "Conv1d, AvgPool2d, IF"):
        made, options = kinds_graph(kind)
        cases.append((_written(tmp_path / f"{len(cases)}.nir", made), options, (2, 1, 12) if "Conv1d" in kind else None))
    for index, (path, options, shape) in enumerate(cases):
        out = tmp_path / f"{index}.net"
        code, _, err, _ = import_cli(path, out, *options, "--samples", "2", "--steps", "8", capsys=capsys)
        assert code == 0, err
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = verify(out, random_rate=0.2, steps=20, samples=2, input_shape=shape)
        assert result.equivalent and result.compared_entries > 0, (path, result.to_dict())


@pytest.mark.slow
@pytest.mark.lava
@pytest.mark.parametrize("case", ["norse dense", "LI"])
def test_a_readouts_voltage_is_lavas_at_every_step(tmp_path, capsys, case):
    """A readout sends no message, so verify compares nothing of it; its voltage, what is
    read out, is compared here: the golden model's v against the v Lava's Monitor reads
    after every step, for every neuron of the readout, over a stream of two samples."""
    from neurodeploy.simulate.golden import GoldenModel
    from neurodeploy.simulate.harness import run_lava
    from neurodeploy.simulate.inputs import random_spikes
    from neurodeploy.simulate.stimulus import Stimulus

    if case == "LI":
        made, options = kinds_graph("LI")
        path = _written(tmp_path / "li.nir", made)
    else:
        path, options, _ = exporter_graph(tmp_path, case)
    out = tmp_path / "readout.net"
    code, _, err, result = import_cli(path, out, *options, "--samples", "2", "--steps", "8", capsys=capsys)
    assert code == 0, err
    network = read_netx(out)
    readouts = [index for index, layer in enumerate(result["layers"]) if layer["readout"]]
    assert readouts, result["layers"]
    steps = 12
    stimulus = Stimulus(random_spikes(2, int(np.prod(network.input_shape)), steps, 0.2, 0, Limits()), None, steps)
    golden = GoldenModel(network).run_stream(stimulus, record_state=True)
    lava = run_lava(network, stimulus, voltages=readouts)
    for index in readouts:
        ours = golden.state[index]["v"][0].astype(np.int64)
        assert np.count_nonzero(ours) > ours.size // 4, "a readout whose voltage is mostly zero compares little"
        np.testing.assert_array_equal(lava.voltages[index], ours, err_msg=f"{case}: readout layer {index}")
