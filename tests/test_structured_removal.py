"""Structured pruning's removed units: taken out of the exported network, every other
message unchanged, and SLAYER's recordings mapped onto what stays.

Each network is built by hand with units that get no input (zero incoming weights and
bias) but send into the next layer through nonzero weights, so that removing their
synapses is what is tested. The reduced network's golden model must equal the full
one's on the neurons that stay, every layer at every step.
"""
from pathlib import Path

import numpy as np
import pytest
import torch

from netx_builders import conv_network, weights
from neurodeploy.compare.stage import _sparsity, slayer_equivalence
from neurodeploy.compare.synops import saving_shares, synops_terms
from neurodeploy.export.quantize import export_stage
from neurodeploy.export.removal import remove_units, removed_by_layer, split_removed
from neurodeploy.netx import (
    ConvLayer, CubaNeuron, DenseLayer, InputLayer, NetxError, Network, RecurrentDenseLayer, SigmaDeltaNeuron,
    read_netx, write_netx,
)
from neurodeploy.recipe import load_recipe
from neurodeploy.simulate.golden import GoldenModel
from neurodeploy.simulate.stimulus import Stimulus
from neurodeploy.train.checkpoint import CheckpointError, save_checkpoint
from neurodeploy.train.model import build_model

STEPS = 16
SAMPLES = 4
TINY = Path(__file__).parent / "recipes" / "tiny.yaml"
NEURON = CubaNeuron(v_th_mant=30, i_decay=1024, v_decay=512)


def silenced(weight: np.ndarray, units: list[int]) -> np.ndarray:
    """``weight`` with the rows (incoming weights) of ``units`` zero."""
    weight = weight.copy()
    weight[units] = 0
    return weight


def by_hand(messages: np.ndarray, lava_shape: tuple[int, ...], units: list[int]) -> np.ndarray:
    """[N, n, S] in Lava order without the neurons of ``units`` (channels, the last Lava axis)."""
    count, _, steps = messages.shape
    split = messages.reshape(count, *lava_shape, steps)
    return np.delete(split, units, axis=-2).reshape(count, -1, steps)


def spikes(size: int, seed: int = 1) -> np.ndarray:
    return (np.random.default_rng(seed).random((SAMPLES, size, STEPS)) < 0.4).astype(np.uint8)


def dense_layers() -> tuple[list, dict[str, list[int]]]:
    """dense 20 -> 12 -> 10 -> 4; neurons 1, 5, 7 of layer 0 and 0, 9 of layer 1 removed."""
    rng = np.random.default_rng(0)
    layers = [
        DenseLayer(silenced(weights(rng, (12, 20)), [1, 5, 7]), NEURON),
        DenseLayer(silenced(weights(rng, (10, 12)), [0, 9]), NEURON, bias=np.array([0, 2, 1, 0, 3, 0, 1, 2, 0, 0])),
        DenseLayer(weights(rng, (4, 10), scale=60), NEURON),
    ]
    return layers, {"0": [1, 5, 7], "1": [0, 9]}


def conv_layers(flatten: bool) -> tuple[list, dict[str, list[int]]]:
    """conv 2x6x6 -> 4x6x6 -> 5x3x3 (stride 2, a bias per channel) -> dense 8 (after a
    flatten, or reading Lava's order) -> dense 3; channel 1, channels 0 and 3, neurons 2
    and 6 removed."""
    rng = np.random.default_rng(2)
    layers = [
        ConvLayer(silenced(weights(rng, (4, 2, 3, 3)), [1]), NEURON, shape=(4, 6, 6), padding=(1, 1)),
        ConvLayer(silenced(weights(rng, (5, 4, 3, 3)), [0, 3]), NEURON, shape=(5, 3, 3), stride=(2, 2),
                  padding=(1, 1), bias=np.array([0, 4, 2, 0, 1])),
        DenseLayer(silenced(weights(rng, (8, 45), density=0.5), [2, 6]), NEURON, flatten_input=flatten),
        DenseLayer(weights(rng, (3, 8), scale=60), NEURON),
    ]
    return layers, {"0": [1], "1": [0, 3], "2": [2, 6]}


def recurrent_layers() -> tuple[list, dict[str, list[int]]]:
    """dense 16 -> 10 -> dense_rec 8 -> dense 3; neuron 4 of layer 0 and neurons 2, 5 of
    the recurrent layer (rows of weight and weight_rec zero, their columns of weight_rec not)."""
    rng = np.random.default_rng(3)
    recurrent = weights(rng, (8, 8), scale=30)
    recurrent[:, [2, 5]] = 20  # what the removed neurons would send back
    recurrent[[2, 5]] = 0
    layers = [
        DenseLayer(silenced(weights(rng, (10, 16)), [4]), NEURON),
        RecurrentDenseLayer(silenced(weights(rng, (8, 10)), [2, 5]), NEURON, weight_rec=recurrent),
        DenseLayer(weights(rng, (3, 8), scale=60), NEURON),
    ]
    return layers, {"0": [4], "1": [2, 5]}


def sdnn_layers() -> tuple[list, dict[str, list[int]]]:
    """input 12 (delta) -> sigma-delta 10 -> sigma 3: the input layer has no synapse, so
    key "0" is network layer 1."""
    rng = np.random.default_rng(4)
    layers = [
        InputLayer((12,), SigmaDeltaNeuron("delta", v_th_mant=2)),
        DenseLayer(silenced(weights(rng, (10, 12)), [3, 8]), SigmaDeltaNeuron("sigma_delta", v_th_mant=4)),
        DenseLayer(weights(rng, (3, 10)), SigmaDeltaNeuron("sigma")),
    ]
    return layers, {"0": [3, 8]}


def sdnn_inputs() -> np.ndarray:
    return np.random.default_rng(5).integers(-20, 100, size=(SAMPLES, 12, STEPS))


CASES = {
    "dense": (dense_layers, None, lambda: spikes(20)),
    "conv_flatten_dense": (lambda: conv_layers(True), (2, 6, 6), lambda: spikes(72)),
    "conv_dense_lava_order": (lambda: conv_layers(False), (2, 6, 6), lambda: spikes(72)),
    "recurrent": (recurrent_layers, None, lambda: spikes(16)),
    "sigma_delta": (sdnn_layers, None, sdnn_inputs),
}


def full_and_reduced(case: str, folder: Path) -> tuple[Network, Network, dict[str, list[int]], np.ndarray]:
    """Both networks of ``case``, each written and read back, and its inputs."""
    build, input_shape, inputs = CASES[case]
    layers, removed = build()
    write_netx(folder / "full.net", layers)
    write_netx(folder / "reduced.net", remove_units(layers, removed))
    return (read_netx(folder / "full.net", input_shape=input_shape),
            read_netx(folder / "reduced.net", input_shape=input_shape), removed, inputs())


def golden(network: Network, inputs: np.ndarray) -> list[np.ndarray]:
    return GoldenModel(network).run_samples(Stimulus(inputs, None, STEPS)).spikes


@pytest.mark.parametrize("case", list(CASES))
def test_reduced_network_sends_what_the_full_one_sends_on_the_kept_neurons(case, tmp_path):
    full, reduced, removed, inputs = full_and_reduced(case, tmp_path)
    units = removed_by_layer(full.layers, removed)
    assert units, "the case removes something"
    full_run, reduced_run = golden(full, inputs), golden(reduced, inputs)
    for index, (layer, messages, kept) in enumerate(zip(full.layers, full_run, reduced_run)):
        gone = units.get(index, [])
        channels = layer.lava_shape[-1]
        assert reduced.layers[index].size == layer.size // channels * (channels - len(gone))
        np.testing.assert_array_equal(by_hand(messages, layer.lava_shape, gone), kept, err_msg=f"layer {index}")
        assert np.count_nonzero(kept), f"layer {index} sends nothing: the test would mean nothing"
    for index in units:  # the removed units had nonzero synapses into the next layer
        after, before = reduced.layers[index + 1].weights()[0], full.layers[index + 1].weights()[0]
        assert np.count_nonzero(after) < np.count_nonzero(before), index


@pytest.mark.parametrize("case", list(CASES))
def test_reduced_file_round_trips_with_its_smaller_layers(case, tmp_path):
    build, input_shape, _ = CASES[case]
    layers, removed = build()
    reduced = remove_units(layers, removed)
    write_netx(tmp_path / "r.net", reduced)
    read = read_netx(tmp_path / "r.net", input_shape=input_shape)
    assert read.kinds == [layer.netx_type for layer in layers]
    assert sum(read.sizes) < sum(layer.size for layer in layers)
    for written, back in zip(reduced, read.layers):
        assert len(written.weights()) == len(back.weights())
        for a, b in zip(written.weights(), back.weights()):
            np.testing.assert_array_equal(a, b)
        assert written.lava_shape == back.lava_shape
        np.testing.assert_array_equal(written.bias if written.bias is not None else [],
                                      back.bias if back.bias is not None else [])


def test_conv_removal_takes_the_right_kernels_and_bias():
    layers, removed = conv_layers(True)
    reduced = remove_units(layers, removed)
    np.testing.assert_array_equal(reduced[0].weight, layers[0].weight[[0, 2, 3]])
    np.testing.assert_array_equal(reduced[1].weight, layers[1].weight[[1, 2, 4]][:, [0, 2, 3]])
    assert reduced[1].shape == (3, 3, 3)
    np.testing.assert_array_equal(reduced[1].bias, np.tile([4, 2, 1], 9))  # Lava order: channel fastest
    # after the flatten, columns in (C, H, W) order: channel c is columns 9c .. 9c + 8
    np.testing.assert_array_equal(reduced[2].weight, layers[2].weight[[0, 1, 3, 4, 5, 7]][:, np.r_[9:18, 18:27, 36:45]])


def test_split_removed_maps_slayer_messages_onto_the_kept_neurons():
    layers, removed = conv_layers(True)
    reduced = remove_units(layers, removed)
    rng = np.random.default_rng(0)
    messages = (rng.random((3, 45, 5)) < 0.5).astype(np.uint8)  # layer 1: 5x3x3, Lava order
    messages[1, 0::5] = 0  # sample 1 sends nothing from removed channel 0, only from 3
    kept, sent = split_removed(messages, reduced[1], [0, 3])
    np.testing.assert_array_equal(kept, by_hand(messages, (3, 3, 5), [0, 3]))
    expected = [np.count_nonzero(messages[k, [n for n in range(45) if n % 5 in (0, 3)]]) for k in range(3)]
    assert sent.tolist() == expected and expected[0] > 0
    assert sent[1] == np.count_nonzero(messages[1, 3::5])
    with pytest.raises(ValueError, match="messages of 45 neurons, but the layer has 54"):
        split_removed(messages, reduced[1], [0, 3, 4])


@pytest.mark.parametrize("case", ["conv_flatten_dense", "recurrent"])
def test_synops_terms_of_the_reduced_network_line_up_with_the_full_ones(case, tmp_path):
    full, reduced, removed, inputs = full_and_reduced(case, tmp_path)
    units = removed_by_layer(full.layers, removed)
    whole = Stimulus(inputs, None, STEPS).batch_spikes(GoldenModel(full).drain_steps)
    full_terms = synops_terms(full, whole, golden(full, inputs))
    reduced_terms = synops_terms(reduced, whole, golden(reduced, inputs), units)
    assert [f.shape for _, f in full_terms] == [f.shape for _, f in reduced_terms]
    restored = 0
    for (full_messages, full_fan), (messages, fan) in zip(full_terms, reduced_terms):
        np.testing.assert_array_equal(full_messages, messages)
        gone = (fan == 0) & (full_fan != 0)  # removed neurons: synapses in the full network, no message
        assert not np.any(messages[gone])
        np.testing.assert_array_equal(full_fan[~gone], fan[~gone])
        restored += int(gone.sum())
    neurons = sum(full.layers[index].size - reduced.layers[index].size for index in units)
    assert restored >= neurons, "each removed neuron comes back with no fan-out (recurrent ones twice)"
    shares = saving_shares(full_terms, reduced_terms)
    assert shares["from_messages"] == 0.0 and shares["saving"] == shares["from_weights"]


def test_removed_messages_are_mismatches_of_their_layer():
    golden_run = [np.zeros((3, 4, 5), np.uint8), np.ones((3, 2, 5), np.uint8)]
    removed = [np.zeros(3, np.int64), np.array([0, 2, 0])]
    figures = slayer_equivalence(golden_run, [g.copy() for g in golden_run], removed)
    assert figures["mismatches_per_layer"] == [0, 2]
    assert figures["exact_fraction"] == pytest.approx(2 / 3)
    clean = slayer_equivalence(golden_run, [g.copy() for g in golden_run], [np.zeros(3, np.int64)] * 2)
    assert clean["mismatches_per_layer"] == [0, 0] and clean["exact_fraction"] == 1.0


def test_sparsity_counts_removed_weights_as_pruned():
    layers, removed = dense_layers()
    reduced = remove_units(layers, removed)
    flat = [layer.weight.reshape(-1) for layer in reduced]
    sizes = [layer.weight.size for layer in layers]
    result = _sparsity(flat, sizes, {"a": None, "b": None}, [("a",), ("b",), ("c",)])
    zeros = [size - np.count_nonzero(layer.weight) for size, layer in zip(sizes, reduced)]
    assert result["sparsity_per_layer"] == [z / s for z, s in zip(zeros, sizes)]
    assert result["sparsity"] == (zeros[0] + zeros[1]) / (sizes[0] + sizes[1])
    # the removed layer 1 columns held nonzero weights: they count as pruned too
    assert zeros[1] > sizes[1] - np.count_nonzero(layers[1].weight)


def _mlp_checkpoints(folder: Path, silent: list[int], removed: dict[str, list[int]]) -> None:
    """tiny.yaml's model (64 -> 24 -> 10), the rows of layer 0's neurons ``silent`` zero,
    saved as dense.pt and as pruned.pt, which alone records ``removed``."""
    recipe = load_recipe(TINY)
    torch.manual_seed(0)
    model = build_model((1, 8, 8), 10, recipe.model)
    with torch.no_grad():
        model.blocks[0].synapse.weight.mul_(4)[silent] = 0
    save_checkpoint(folder / "dense.pt", model, recipe, None, [])
    save_checkpoint(folder / "pruned.pt", model, recipe, None, [], extra={"removed": removed})


def test_export_stage_removes_the_pruned_checkpoints_units(tmp_path):
    _mlp_checkpoints(tmp_path, [3, 7, 11], {"0": [3, 7, 11]})
    export_stage(load_recipe(TINY), tmp_path)
    dense, pruned = read_netx(tmp_path / "dense.net"), read_netx(tmp_path / "pruned.net")
    assert dense.sizes == [24, 10] and pruned.sizes == [21, 10]
    assert pruned.layers[1].weight.shape == (10, 21)
    inputs = spikes(64)
    dense_run, pruned_run = golden(dense, inputs), golden(pruned, inputs)
    np.testing.assert_array_equal(by_hand(dense_run[0], (24,), [3, 7, 11]), pruned_run[0])
    np.testing.assert_array_equal(dense_run[1], pruned_run[1])
    assert np.count_nonzero(pruned_run[0]) and np.count_nonzero(pruned_run[1])


def test_export_stage_names_the_checkpoint_and_layer_of_a_unit_that_gets_input(tmp_path):
    _mlp_checkpoints(tmp_path, [3], {"0": [3, 4]})
    with pytest.raises(CheckpointError, match=r"pruned.pt: its removed units: weight layer 0 \(network layer 0, "
                                              r"dense\): neuron 4 gets input"):
        export_stage(load_recipe(TINY), tmp_path)


def _biased_conv_layers() -> list:
    """conv 1x4x4 -> 2x4x4 (1x1 kernels) whose channel 0 has no weights but a bias -> dense 3."""
    kernels = np.array([0, 2]).reshape(2, 1, 1, 1)
    return [ConvLayer(kernels, NEURON, shape=(2, 4, 4), bias=np.array([3, 0])),
            DenseLayer(weights(np.random.default_rng(0), (3, 32)), NEURON, flatten_input=True)]


def _scaling_layers() -> list:
    """Layer 1's weights without column 0 are all <= 0 with a power-of-two minimum: netx
    calls them MIXED, Lava INHIBITORY, and -64 is held as -63."""
    return [
        DenseLayer(np.array([[0, 0, 0, 0], [2, 4, 0, 6], [8, 0, 2, 2]]), NEURON),
        DenseLayer(np.array([[20, -64, 0], [40, -4, -8]]), NEURON),
        DenseLayer(np.array([[10, 2], [4, 8]]), NEURON),
    ]


@pytest.mark.parametrize("layers, removed, message", [
    (dense_layers()[0], {"0": [0]}, r"weight layer 0 \(network layer 0, dense\): neuron 0 gets input"),
    (dense_layers()[0], {"1": [0, 2]}, r"weight layer 1 \(network layer 1, dense\): neuron 2 gets input"),
    (_biased_conv_layers(), {"0": [0]}, r"weight layer 0 \(network layer 0, conv\): output channel 0 gets input"),
    (dense_layers()[0], {"1": list(range(10))}, r"weight layer 1 \(network layer 1, dense\): cannot remove all 10 "
                                                r"neurons"),
    (dense_layers()[0], {"0": [5, 1]}, r"weight layer 0 .*distinct indices in \[0, 12\) in ascending order"),
    (dense_layers()[0], {"0": [1, 12]}, r"weight layer 0 .*distinct indices in \[0, 12\)"),
    (dense_layers()[0], {"2": [0]}, r"weight layer 2 \(network layer 2, dense\): the output layer's neurons are "
                                    r"the classes"),
    (dense_layers()[0], {"3": [0]}, r"key '3' names no layer with weights \(these are '0' to '2'\)"),
    (dense_layers()[0], {"01": [1]}, r"key '01' names no layer with weights"),
    (sdnn_layers()[0], {"1": [0]}, r"weight layer 1 \(network layer 2, dense\): the output layer"),
    (_scaling_layers(), {"0": [0]}, r"weight layer 1 \(network layer 1, dense\): without these units netx and "
                                    r"Lava scale the weight matrix differently \(weight exponent -2 -> -2, 1 "),
    (_scaling_layers()[:1] + [DenseLayer(np.array([[6, 0, 0], [-4, 0, 0]]), NEURON), _scaling_layers()[2]],
     {"0": [0]}, r"weight layer 1 \(network layer 1, dense\): an all-zero weight matrix"),
], ids=["dense_row", "second_unit", "conv_bias", "every_unit", "unordered", "out_of_range", "output", "key",
        "key_form", "sdnn_output", "scaling", "all_zero"])
def test_refusals_name_the_layer(layers, removed, message):
    with pytest.raises(NetxError, match=message):
        remove_units(layers, removed)


def test_grouped_conv_refuses_to_lose_channels(tmp_path):
    network = conv_network(tmp_path / "c.net")  # input, conv (groups 1), conv (groups 2), dense, dense
    layers = list(network.layers)
    layers[1] = ConvLayer(silenced(layers[1].weight, [2]), layers[1].neuron, shape=layers[1].shape,
                          stride=layers[1].stride, padding=layers[1].padding)
    with pytest.raises(NetxError, match=r"weight layer 1 \(network layer 2, conv\): a conv layer with groups = 2 "
                                        r"cannot lose input channels"):
        remove_units(layers, {"0": [2]})
    with pytest.raises(NetxError, match=r"weight layer 1 \(network layer 2, conv\): .*groups = 2 cannot lose "
                                        r"output channels"):
        remove_units(layers, {"1": [0]})


def test_an_input_layer_has_no_units_to_remove():
    layer = sdnn_layers()[0][0]
    with pytest.raises(NetxError, match="a layer of type 'input' has no units to remove"):
        layer.without_units([0])


@pytest.mark.slow
@pytest.mark.lava
@pytest.mark.parametrize("case", ["conv_flatten_dense", "recurrent", "sigma_delta"])
def test_reduced_network_loads_in_netx_and_runs_as_the_golden_model(case, tmp_path):
    from neurodeploy.compare.equivalence import compare_recordings
    from neurodeploy.simulate.harness import run_lava

    _, reduced, _, inputs = full_and_reduced(case, tmp_path)
    stimulus = Stimulus(inputs[:2], None, STEPS)
    lava = run_lava(reduced, stimulus).spikes
    stream = {i: s[0] for i, s in enumerate(GoldenModel(reduced).run_stream(stimulus).spikes)}
    result = compare_recordings(stream, lava)
    assert result.equivalent, f"mismatches {result.mismatches}, first {result.first}"
    assert all(np.count_nonzero(s) for s in lava.values())


@pytest.mark.slow
@pytest.mark.lava
def test_stages_compare_slayer_with_the_reduced_network_exactly(tmp_path):
    import json

    from neurodeploy.compare.stage import compare_stage
    from neurodeploy.fileio import open_npz
    from neurodeploy.simulate.stage import simulate_stage

    _mlp_checkpoints(tmp_path, [3, 7, 11], {"0": [3, 7, 11]})
    recipe = load_recipe(TINY)
    export_stage(recipe, tmp_path)
    simulate_stage(recipe, tmp_path)
    with open_npz(tmp_path / "simulation.npz") as sim:
        assert sim["pruned/slayer/0"].shape[1] == sim["pruned/golden/0"].shape[1] == 21
        assert sim["dense/slayer/0"].shape[1] == 24
        assert [int(sim[f"pruned/slayer_removed_messages/{i}"].sum()) for i in range(2)] == [0, 0]
    figures = json.loads(compare_stage(recipe, tmp_path).read_text())
    assert figures["saving"]["synops_pruned"] == pytest.approx(figures["pruned"]["synops_per_sample"])
    for name in ("dense", "pruned"):
        assert figures[name]["golden_vs_slayer"]["mismatches_per_layer"] == [0, 0], name
        assert figures[name]["golden_vs_slayer"]["exact_fraction"] == 1.0
        assert figures[name]["lava"]["equivalent"]
    zeros = 3 * 64 + 3 * 10  # the removed rows and their columns in the next layer, zero or not
    assert figures["pruned"]["sparsity_all_layers"] >= zeros / (24 * 64 + 10 * 24)
    assert figures["pruned"]["sparsity_all_layers"] > figures["dense"]["sparsity_all_layers"]
