"""Our NIR files in the libraries users load them with (snnTorch 1.0's import_from_nir,
Norse 1.1's from_nir), and NIR graphs read back into NetX (``neurodeploy import``)."""
import json
from pathlib import Path

import nir
import numpy as np
import pytest
import torch

from neurodeploy.cli import main
from neurodeploy.data.dataset import load_dataset
from neurodeploy.export.formats import convert_file
from neurodeploy.loihi.timing import arrival, drain
from neurodeploy.netx import CubaNeuron, DenseLayer, Network, RecurrentDenseLayer, read_netx, write_netx
from neurodeploy.pipeline import run_stage
from neurodeploy.recipe import load_recipe, recipe_from_dict
from neurodeploy.simulate.golden import GoldenModel
from neurodeploy.train.model import classify
from netx_builders import conv_network

MODELS = Path(__file__).resolve().parents[1] / "models"


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """The default recipe's digits MLP (64 -> 256 -> 10), trained and pruned with fewer
    epochs: a run folder with dense.net and pruned.net, and the recipe's test set."""
    out = tmp_path_factory.mktemp("digits")
    raw = load_recipe(MODELS / "digits_mlp.yaml").to_dict()
    raw["train"]["epochs"], raw["prune"]["finetune_epochs"] = 4, 3
    recipe = recipe_from_dict(raw)
    for stage in ("train", "prune", "export"):
        run_stage(stage, out, recipe if stage == "train" else None)
    return out, load_dataset(recipe.data, recipe.seed)


def run_library(model: torch.nn.Module, x: np.ndarray, nodes: list[str], stateful: bool) -> list[np.ndarray]:
    """Step ``model`` (an imported NIR graph) through x [N, n, S]; each node's spikes [N, n, S].
    stateful: Norse's (output, state) = model(x, state); else snnTorch's hidden state."""
    modules = dict(model.named_modules())
    recorded: dict[str, list[torch.Tensor]] = {name: [] for name in nodes}
    for name in nodes:
        modules[name].register_forward_hook(lambda _m, _i, out, name=name: recorded[name].append(
            (out[0] if isinstance(out, tuple) else out).detach().clone()))
    inputs, state = torch.from_numpy(x.astype(np.float32)), None
    with torch.no_grad():
        for step in range(x.shape[-1]):
            if stateful:
                _, state = model(inputs[..., step], state)
            else:
                model(inputs[..., step])
    return [torch.stack(recorded[name], dim=-1).numpy() for name in nodes]


@pytest.mark.slow
@pytest.mark.parametrize("library", ["snntorch", "norse"])
def test_libraries_run_our_digits_networks_as_the_golden_model_does(digits, tmp_path, library):
    """On the whole test set (360 samples of 16 steps), for the dense and the pruned
    network: the predicted class agrees with the golden model's on >= 99% of samples and
    spikes per layer are within 2% (measured: docs/nir.md)."""
    out, data = digits
    samples, inputs, steps = data.x_test.shape
    for variant in ("dense", "pruned"):
        network = read_netx(out / f"{variant}.net")
        columns = steps + drain(len(network.layers), network.starts_with_input)
        x = np.concatenate([data.x_test, np.zeros((samples, inputs, columns - steps), np.float32)], axis=-1)
        golden = GoldenModel(network).run(network.to_lava_order(x.astype(np.uint8))).spikes
        path = convert_file(out / f"{variant}.net", "nir", tmp_path / f"{variant}.nir")
        graph = nir.read(path)
        if library == "snntorch":
            from snntorch.import_nir import import_from_nir
            from snntorch.utils import reset

            model = import_from_nir(graph)  # no dt to give: snnTorch's step is 1e-4 s, the graph's dt
            reset(model)
        else:
            from norse.torch import from_nir

            model = from_nir(graph, dt=graph.metadata["dt"])
        nodes = [f"layer{index}_lif" for index in range(len(network.layers))]
        ours = run_library(model, x, nodes, stateful=library == "norse")
        for index, (theirs, gold) in enumerate(zip(ours, golden)):
            shift = arrival(index, network.starts_with_input)  # Loihi delays each layer one step; NIR does not
            aligned = np.zeros_like(gold)
            aligned[..., shift:] = theirs[..., : columns - shift]
            theirs_total, gold_total = int(aligned.sum()), int(gold.sum())
            assert gold_total > 1000
            assert abs(theirs_total - gold_total) <= 0.02 * gold_total, (variant, index, theirs_total, gold_total)
            print(f"{library} {variant} layer {index}: spikes {theirs_total} against the golden model's {gold_total}")
        agreement = (classify(aligned, steps) == classify(golden[-1], steps)).mean()
        print(f"{library} {variant}: class agreement {agreement:.4f}")
        assert agreement >= 0.99, (variant, agreement)


def import_cli(graph: Path, out: Path, *options: str, capsys) -> tuple[int, str, str]:
    """``neurodeploy import GRAPH --out OUT OPTIONS``: (exit code, stdout, stderr)."""
    code = main(["import", str(graph), "--out", str(out), *options])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.slow
def test_import_of_our_digits_export_agrees_with_the_float_graph(digits, tmp_path, capsys):
    """NetX -> NIR -> NetX: the quantized network spikes as Norse runs the float graph
    on the test set, layer by layer (measured in docs/nir.md)."""
    out, data = digits
    convert_file(out / "pruned.net", "nir", tmp_path / "pruned.nir")
    np.save(tmp_path / "test.npy", data.x_test.astype(np.uint8))
    code, printed, _ = import_cli(tmp_path / "pruned.nir", tmp_path / "back.net", "--spikes",
                                  str(tmp_path / "test.npy"), "--json", str(tmp_path / "r.json"), capsys=capsys)
    assert code == 0, printed
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["dt"] == 1e-4 and result["samples"] == len(data.x_test) and result["steps"] == 16
    for layer in result["layers"]:
        assert layer["agreement"] > 0.98 and layer["spikes_fixed"] > 1000, layer
        assert abs(layer["spikes_float"] - layer["spikes_fixed"]) <= 0.02 * layer["spikes_fixed"], layer
    assert result["class_agreement"] >= 0.98
    back, original = read_netx(tmp_path / "back.net"), read_netx(out / "pruned.net")
    for ours, theirs in zip(back.layers, original.layers):
        assert np.array_equal(ours.weight == 0, theirs.weight == 0)  # pruning survives the round trip
        assert (ours.neuron.i_decay, ours.neuron.v_decay) == (theirs.neuron.i_decay, theirs.neuron.v_decay)
        assert np.abs(ours.weight).max() == 254  # the largest scale that fits 8 bits
    assert "layer/1 dense: nodes layer1_linear -> layer1_lif" in printed


def test_import_of_a_conv_network(tmp_path, capsys):
    """Conv (strided, dilated, grouped, bias), flatten and dense layers come back as the
    same kinds and geometry, and spike as the float graph does."""
    network = conv_network(tmp_path / "conv.net")
    layers = [DenseLayer(layer.weight, layer.neuron, layer.bias, flatten_input=True)
              if getattr(layer, "delay", None) is not None else layer for layer in network.layers[1:]]
    write_netx(tmp_path / "nodelay.net", layers)
    convert_file(tmp_path / "nodelay.net", "nir", tmp_path / "conv.nir", (2, 7, 7))
    code, printed, err = import_cli(tmp_path / "conv.nir", tmp_path / "back.net", "--random-rate", "0.3",
                                    "--json", str(tmp_path / "r.json"), capsys=capsys)
    assert code == 0, err
    back = read_netx(tmp_path / "back.net", input_shape=(2, 7, 7))
    assert back.kinds == ["conv", "conv", "dense", "dense"]
    for ours, theirs in zip(back.layers, layers):
        if ours.netx_type == "conv":
            assert (ours.shape, ours.stride, ours.padding, ours.dilation) == (
                theirs.shape, theirs.stride, theirs.padding, theirs.dilation)
            assert ours.bias is None if theirs.bias is None else np.all(np.sign(ours.bias) == np.sign(theirs.bias))
    result = json.loads((tmp_path / "r.json").read_text())
    assert all(layer["agreement"] > 0.95 for layer in result["layers"]), result["layers"]
    assert sum(layer["spikes_fixed"] for layer in result["layers"]) > 100


@pytest.mark.parametrize("kind", ["Leaky", "Synaptic"])
def test_import_of_a_network_made_in_snntorch(tmp_path, capsys, kind):
    """snnTorch's own export (nn.Linear with bias, Leaky = NIR LIF or Synaptic = CubaLIF,
    r = tau / 1e-4, no dt written): imported with --dt 1e-4; Norse's LIF ignores r, which
    the comparison folds into the weights."""
    import snntorch
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(0)

    def neurons(n: int) -> torch.nn.Module:
        beta = torch.full((n,), 0.9)
        if kind == "Leaky":
            return snntorch.Leaky(beta=beta, threshold=torch.ones(n), init_hidden=True, reset_mechanism="zero")
        return snntorch.Synaptic(alpha=torch.full((n,), 0.8), beta=beta, threshold=torch.ones(n),
                                 init_hidden=True, reset_mechanism="zero")

    net = torch.nn.Sequential(torch.nn.Linear(64, 32), neurons(32), torch.nn.Linear(32, 10), neurons(10))
    with torch.no_grad():
        for module in net:
            if isinstance(module, torch.nn.Linear):
                module.weight *= 3
    nir.write(tmp_path / "snn.nir", export_to_nir(net, torch.zeros(64)))
    code, _, err = import_cli(tmp_path / "snn.nir", tmp_path / "snn.net", capsys=capsys)
    assert code == 2 and "states no dt" in err and "--dt" in err and not (tmp_path / "snn.net").exists()
    code, printed, _ = import_cli(tmp_path / "snn.nir", tmp_path / "snn.net", "--dt", "1e-4", "--json",
                                  str(tmp_path / "r.json"), capsys=capsys)
    assert code == 0
    network = read_netx(tmp_path / "snn.net")
    assert network.layers[0].neuron.v_decay == 410  # 4096 (1 - beta)
    assert network.layers[0].neuron.i_decay == (4096 if kind == "Leaky" else 819)
    assert network.layers[0].bias is not None  # nn.Linear's bias
    result = json.loads((tmp_path / "r.json").read_text())
    assert all(layer["spikes_fixed"] > 100 for layer in result["layers"])
    # LIF: exact up to rounding; Synaptic: its current bias carried as a voltage bias (a note)
    floor = 0.99 if kind == "Leaky" else 0.95
    assert all(layer["agreement"] > floor for layer in result["layers"]), result["layers"]
    assert ("a bias that feeds the synaptic current" in printed) == (kind == "Synaptic")


def _graph(tmp_path: Path, layers: list) -> Path:
    """Our NIR export of ``layers`` (written as NetX first)."""
    write_netx(tmp_path / "g.net", layers)
    return convert_file(tmp_path / "g.net", "nir", tmp_path / "g.nir")


def test_import_refusals_name_the_node_and_write_nothing(tmp_path, capsys):
    rng = np.random.default_rng(0)
    neuron = CubaNeuron(v_th_mant=30, i_decay=1024, v_decay=512)
    dense = DenseLayer(rng.integers(-20, 20, size=(6, 5)) * 2, neuron)
    recurrent = RecurrentDenseLayer(rng.integers(-20, 20, size=(6, 5)) * 2, neuron,
                                    weight_rec=rng.integers(-20, 20, size=(6, 6)) * 2)
    code, _, err = import_cli(_graph(tmp_path, [recurrent]), tmp_path / "rec.net", capsys=capsys)
    assert code == 0 and read_netx(tmp_path / "rec.net").kinds == ["dense_rec"], err  # our loop comes back
    graph = nir.read(_graph(tmp_path, [dense]))
    bad = {
        "v_reset": ("layer0_lif", lambda node: setattr(node, "v_reset", np.ones_like(node.v_reset)), "v_reset"),
        "tau": ("layer0_lif", lambda node: setattr(node, "tau_mem", node.tau_mem * np.linspace(1, 2, 6)),
                "tau_mem differs between neurons of one layer"),
        "dt": ("layer0_lif", lambda node: setattr(node, "tau_syn", node.tau_syn / 10), "dt / tau_syn"),
    }
    for name, (node, change, expected) in bad.items():
        changed = nir.read(tmp_path / "g.nir")
        change(changed.nodes[node])
        nir.write(tmp_path / f"{name}.nir", changed)
        code, _, err = import_cli(tmp_path / f"{name}.nir", tmp_path / "x.net", capsys=capsys)
        assert code == 2 and f"node '{node}': {expected}" in err, (name, err)
    skipped = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([6])), "lif": graph.nodes["layer0_lif"],
                                  "output": graph.nodes["output"]},
                           edges=[("input", "lif"), ("lif", "output")], metadata={"dt": 1e-4})
    nir.write(tmp_path / "noweight.nir", skipped)
    code, _, err = import_cli(tmp_path / "noweight.nir", tmp_path / "x.net", capsys=capsys)
    assert code == 2 and "node 'lif' (CubaLIF) has no Linear, Affine, Conv1d or Conv2d before it" in err, err
    np.save(tmp_path / "wrong.npy", np.zeros((2, 7, 4), np.uint8))  # 7 inputs for a graph of 5
    code, _, err = import_cli(tmp_path / "g.nir", tmp_path / "x.net", "--spikes", str(tmp_path / "wrong.npy"),
                              capsys=capsys)
    assert code == 2 and "wrong.npy" in err and "7 neurons" in err, err
    (tmp_path / "text.nir").write_text("not a graph")
    code, _, err = import_cli(tmp_path / "text.nir", tmp_path / "x.net", capsys=capsys)
    assert code == 2 and "text.nir: not a NIR graph" in err
    assert not (tmp_path / "x.net").exists()
    assert isinstance(read_netx(tmp_path / "g.net"), Network)


def test_an_agreement_over_a_silent_layer_says_it_compares_nothing(tmp_path, capsys):
    """Both sides silent gives an agreement of 1.0 over zeros: the command says so."""
    rng = np.random.default_rng(1)
    quiet = DenseLayer(rng.integers(-20, 20, size=(6, 5)) * 2, CubaNeuron(v_th_mant=100000, i_decay=1024, v_decay=512))
    code, printed, _ = import_cli(_graph(tmp_path, [quiet]), tmp_path / "q.net", "--json", str(tmp_path / "q.json"),
                                  capsys=capsys)
    assert code == 0
    (layer,) = json.loads((tmp_path / "q.json").read_text())["layers"]
    assert layer["spikes_float"] == layer["spikes_fixed"] == 0 and layer["agreement"] == 1.0
    assert "note: float and fixed: layer 0 never spiked on the 16 sample(s): every figure of that layer compares " \
           "or counts nothing" in printed
