"""Pruning for what the chip bills: structured units (``selection.unit_masks``), the scopes
that use them, and the plan under a chip objective (``allocation.allocate``) with the real
export, golden model and chip model (``simulate.chip.chip_measure``)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from neurodeploy.hardware import load_profile
from neurodeploy.prune.allocation import allocate
from neurodeploy.prune.imp import plan
from neurodeploy.prune.objectives import OBJECTIVES
from neurodeploy.prune.selection import EmptiedLayerError, pooled_masks, removed_units, unit_masks
from neurodeploy.recipe import ModelSettings, PruneSettings, RecipeError
from neurodeploy.simulate.chip import chip_measure
from neurodeploy.train.model import SpikingNet


def test_unit_masks_remove_the_units_of_lowest_mean_score() -> None:
    """4 units of 3 weights, mean scores 1, 5, 2, 4: half the weights -> units 0 and 2."""
    scores = {"w": torch.tensor([[1.0, 1, 1], [5, 5, 5], [0, 2, 4], [4, 4, 4]])}
    masks = unit_masks(scores, 0.5)
    assert masks["w"].tolist() == [[False] * 3, [True] * 3, [False] * 3, [True] * 3]
    # 0.3 of 12 weights is 4 (ceil 3.6): two units (6 weights), never part of one
    assert (~unit_masks(scores, 0.3)["w"]).sum() == 6
    # a dead unit stays dead whatever its score, and counts toward the target
    alive = {"w": torch.tensor([[True] * 3, [False] * 3, [True] * 3, [True] * 3])}
    assert unit_masks(scores, 0.25, alive)["w"][:, 0].tolist() == [True, False, True, True]
    with pytest.raises(EmptiedLayerError, match="without a unit"):
        unit_masks(scores, 0.9)


def test_a_units_rows_are_taken_from_every_weight_of_its_layer() -> None:
    """A recurrent layer: unit i is row i of its input and of its recurrent weight."""
    scores = {"in": torch.tensor([[9.0, 9], [0, 0], [9, 9]]), "rec": torch.tensor([[9.0, 9, 9], [1, 1, 1], [0, 0, 0]])}
    masks = unit_masks(scores, 0.3)
    assert masks["in"][:, 0].tolist() == [True, False, True] == masks["rec"][:, 0].tolist()
    assert removed_units(masks, [("in", "rec")], {"in", "rec"}) == {"0": [1]}


def test_structured_scopes_plan_units_per_layer() -> None:
    names = ["c0", "c1", "d2", "d3", "out"]  # two conv layers, two dense, the output
    neuron = plan(names, PruneSettings(scope="neuron", exclude=(-1,)), conv_layers=2)
    assert neuron.units == {"c0", "c1", "d2", "d3"} and neuron.pools == (("c0",), ("c1",), ("d2",), ("d3",))
    channel = plan(names, PruneSettings(scope="channel", exclude=(-1,)), conv_layers=2)
    assert channel.units == {"c0", "c1"} and channel.pools == (("c0",), ("c1",), ("d2", "d3"))
    with pytest.raises(RecipeError, match="would remove output neurons"):
        plan(names, PruneSettings(scope="neuron"), conv_layers=2)
    assert plan(names, PruneSettings(scope="channel"), conv_layers=2).units == {"c0", "c1"}
    with pytest.raises(RecipeError, match="dynamic_layers"):
        plan(names, PruneSettings(scope="neuron", exclude=(-1,), dynamic_layers=(0,)), conv_layers=2)
    scores = {"c0": torch.rand(4, 2, 3, 3), "d2": torch.rand(6, 5)}
    masks = pooled_masks(scores, 0.5, [["c0"], ["d2"]], units={"c0"})
    per_channel = masks["c0"].reshape(4, -1)
    assert (per_channel.all(dim=1) | ~per_channel.any(dim=1)).all() and (~per_channel).sum() == 2 * 18
    assert (~masks["d2"]).sum() == 15, "a dense layer of the channel scope loses weights, not neurons"


def _small_profile(tmp_path: Path) -> Path:
    """Loihi 2 with 512 synaptic memory words per core, so that a 64 -> 128 dense layer
    is what sets its cores."""
    raw = yaml.safe_load(load_profile("loihi2").path.read_text())
    raw["figures"]["synapse_words_per_core"]["value"] = 512
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _network(tmp_path: Path):
    """64 -> 128 -> 16 -> 10, random weights, those of the 128 -> 16 layer 0.6 times as large
    (so that magnitude pruning takes them first, though their layer's cores are set by its
    neurons); 16 samples of random spikes; the pruned layers (all but the output), their
    magnitudes, its ``ChipView`` on Sparse synapses and the measure on Dense ones."""
    torch.manual_seed(0)
    model = SpikingNet((1, 8, 8), 10, ModelSettings(hidden=(128, 16)))
    with torch.no_grad():
        model.blocks[1].synapse.weight.mul_(0.6)
    x = (np.random.default_rng(0).random((16, 64, 8)) < 0.3).astype(np.float32)
    layers = model.weight_layers()[:-1]
    params = dict(model.named_parameters())
    scores = {name: params[name].detach().abs() for layer in layers for name in layer}
    profile = str(_small_profile(tmp_path))
    return (layers, scores, chip_measure(profile, x, 8)(model, set()),
            chip_measure(profile, x, 8, sparse=False)(model, set()).measure)


def _kept(scores: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: torch.ones_like(score, dtype=torch.bool) for name, score in scores.items()}


@pytest.mark.parametrize("objective", ["cores", "time", "energy"])
def test_the_plan_never_raises_the_objective_it_minimises(tmp_path: Path, objective: str) -> None:
    """On a real network (export, golden model, mapper, time and energy model), the plan's
    masks at 50 % sparsity never give more of the objective than the dense network on the
    same (Sparse) synapses; under ``cores`` fewer cores than the criterion alone (global
    magnitude) gives and than the dense network on Dense synapses, the memory-bound layer
    giving up the weights."""
    layers, scores, chip, dense_measure = _network(tmp_path)
    measure = chip.measure
    chosen = OBJECTIVES[objective]
    allocation = allocate(scores, layers, set(), 0.5, _kept(scores), chosen, chip, chunks=20)
    pruned = measure(allocation.masks)
    assert chosen.key(pruned)[0] < chosen.key(measure(_kept(scores)))[0]
    assert sum((~m).sum().item() for m in allocation.masks.values()) >= 0.5 * sum(s.numel() for s in scores.values())
    if objective == "cores":
        names = [name for layer in layers for name in layer]
        magnitude = measure(pooled_masks(scores, 0.5, [names]))
        assert pruned["cores"] < magnitude["cores"] < dense_measure(_kept(scores))["cores"]
        memory_bound, neuron_bound = (layer[0] for layer in layers)
        assert allocation.pruned[memory_bound] > 0.5 * scores[memory_bound].numel()
        assert allocation.pruned[neuron_bound] < 0.5 * scores[neuron_bound].numel()


def test_a_target_bounds_the_objective_and_the_criterion_spends_the_rest(tmp_path: Path) -> None:
    """With a target the plan reaches it, then prunes to the sparsity by lowest scores
    among the chunks that stay within it: at 50 % and a bound of one core fewer than the
    dense network, the neuron-bound layer (smaller weights) gives up more than under the
    cores objective alone, and the cores stay within the bound."""
    layers, scores, chip, _ = _network(tmp_path)
    dense = chip.measure(_kept(scores))["cores"]
    free = allocate(scores, layers, set(), 0.5, _kept(scores), OBJECTIVES["cores"], chip, chunks=20)
    bounded = allocate(scores, layers, set(), 0.5, _kept(scores), OBJECTIVES["cores"], chip, target=dense - 1,
                       chunks=20)
    assert bounded.target_reached and bounded.figure <= dense - 1
    pruned = sum((~m).sum().item() for m in bounded.masks.values()) / sum(s.numel() for s in scores.values())
    assert pruned >= 0.5, "the rest of the sparsity is spent"
    neuron_bound = layers[1][0]
    assert bounded.pruned[neuron_bound] > free.pruned[neuron_bound]
    unreachable = allocate(scores, layers, set(), 0.3, _kept(scores), OBJECTIVES["cores"], chip, target=1)
    assert unreachable.target_reached is False


@pytest.mark.slow
@pytest.mark.lava
def test_a_structured_run_removes_units_and_stays_exact(tmp_path: Path) -> None:
    """tests/recipes/tiny_structured.yaml (conv 6 channels -> dense 24 -> 10, whole units
    pruned for time per step): the exported pruned network lacks exactly the units the
    checkpoint lists, SLAYER = golden on every message of the test set and golden = Lava
    on the Lava samples, every layer, and the removed units sent nothing in SLAYER."""
    import json

    from neurodeploy.cli import main
    from neurodeploy.netx import read_netx
    from neurodeploy.train.checkpoint import load_checkpoint

    out = tmp_path / "run"
    assert main(["run", str(Path(__file__).parent / "recipes" / "tiny_structured.yaml"), "--out", str(out)]) == 0
    removed = load_checkpoint(out / "pruned.pt").extra["removed"]
    assert set(removed) == {"0", "1"}, "both pruned layers lost units"
    dense, pruned = (read_netx(out / name, input_shape=(1, 8, 8)) for name in ("dense.net", "pruned.net"))
    assert pruned.layers[0].weight.shape[0] == 6 - len(removed["0"]) and dense.layers[0].weight.shape[0] == 6
    assert pruned.layers[1].size == 24 - len(removed["1"])
    assert pruned.layers[1].weight.shape[1] == pruned.layers[0].size, "the dense layer reads only the kept channels"
    report = json.loads((out / "report.json").read_text())
    golden, lava = report["golden"], report["lava"]
    assert golden["pruned_mismatches_per_layer"] == [0, 0, 0] and golden["pruned_exact_fraction"] == 1.0
    assert lava["pruned_mismatches_per_layer"] == [0, 0, 0] and lava["pruned_exact_fraction"] == 1.0
    record = load_checkpoint(out / "pruned.pt").extra["rounds"][0]
    assert record["objective"] == "time" and record["evaluations"] > 1
    hardware = report["pruned"]["hardware"]["loihi2"], report["dense"]["hardware"]["loihi2"]
    assert hardware[0]["cores"] <= hardware[1]["cores"]
    assert sum(hardware[0]["per_core"]["dendrite_updates"]) < sum(hardware[1]["per_core"]["dendrite_updates"])


@pytest.mark.parametrize("recipe", ["moving_conv.yaml", "moving_conv_time.yaml"])
def test_the_cores_recipes_pass_preflight_and_take_at_least_16_loihi2_cores(recipe: str) -> None:
    """models/moving_conv*.yaml: a conv SNN whose dense network maps to at least 16 Loihi 2
    cores (on random weights of the 8 bits the quantizer gives at most; trained, 32)."""
    from neurodeploy.data.dataset import dataset_shape
    from neurodeploy.export.quantize import network_to_layers
    from neurodeploy.hardware.resources import estimate_resources
    from neurodeploy.limits import Limits
    from neurodeploy.loihi.order import lava_shape
    from neurodeploy.netx import Network
    from neurodeploy.preflight import check_recipe
    from neurodeploy.recipe import load_recipe

    settings = load_recipe(Path(__file__).resolve().parents[1] / "models" / recipe)
    check_recipe(settings, Limits())
    shape, classes = dataset_shape(settings.data)
    torch.manual_seed(0)
    model = SpikingNet(shape, classes, settings.model)
    network = Network(tuple(network_to_layers(model)), lava_shape(model.input_shape))
    assert estimate_resources(network, load_profile("loihi2")).cores >= 16
