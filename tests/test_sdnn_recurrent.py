"""Sigma-delta and recurrent networks built from recipes: pruning keeps both kinds of
weights at zero, the SF statistics measure what the docs say, the saving splits into
weights and messages exactly, and tiny recipes run end to end, SLAYER = golden on the
whole test set and golden = Lava on 32 samples, every message of every layer."""
from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from neurodeploy.cli import main
from neurodeploy.compare.synops import saving_shares
from neurodeploy.data.dataset import load_dataset
from neurodeploy.limits import Limits
from neurodeploy.preflight import check_recipe
from neurodeploy.prune.criteria import threshold_density
from neurodeploy.prune.imp import iterative_prune
from neurodeploy.prune.statistics import layer_statistics
from neurodeploy.recipe import RecipeError, load_recipe
from neurodeploy.train.model import build_model
from neurodeploy.train.trainer import fit

RECIPES = Path(__file__).parent / "recipes"
TINY_SDNN = RECIPES / "tiny_sdnn.yaml"
TINY_RECURRENT = RECIPES / "tiny_recurrent.yaml"


def _small(path: Path, samples: int = 96):
    """The recipe, its dataset cut to ``samples`` training samples, and a model trained one epoch."""
    recipe = load_recipe(path)
    data = load_dataset(recipe.data, recipe.seed)
    data = dataclasses.replace(data, x_train=data.x_train[:samples], y_train=data.y_train[:samples])
    torch.manual_seed(0)
    model = build_model(data.input_shape, data.num_classes, recipe.model)
    fit(model, data.x_train, data.y_train, 1, 32, recipe.train.lr, 0)
    return recipe, data, model


@pytest.mark.parametrize("scope", ["global", "layerwise"])
def test_recurrent_masks_stay_zero_through_finetuning_and_rounds(scope):
    recipe, data, model = _small(TINY_RECURRENT)
    rewind = copy.deepcopy(model.state_dict())
    settings = dataclasses.replace(recipe.prune, scope=scope, rounds=2, finetune_epochs=1, stats_samples=32)
    result = iterative_prune(model, data, settings, 32, 0, rewind_state=rewind)
    recurrent = ("blocks.0.input_synapse.weight", "blocks.0.recurrent_synapse.weight")
    assert set(result.masks) == set(recurrent)  # the output layer is excluded; both tensors pruned
    params = dict(model.named_parameters())
    kept = sum(int(m.sum()) for m in result.masks.values())
    total = sum(m.numel() for m in result.masks.values())
    assert kept <= round(total * (1 - settings.sparsity)) + 1
    block = model.blocks[0]
    for name, synapse in zip(recurrent, (block.input_synapse, block.recurrent_synapse)):
        mask = result.masks[name]
        assert 0 < int(mask.sum()) < mask.numel()
        assert torch.count_nonzero(params[name][~mask]) == 0
        quantized = synapse.pre_hook_fx(synapse.weight, descale=True)
        assert torch.count_nonzero(quantized[~mask]) == 0, "the quantizer must keep pruned weights at zero"
    # layerwise: the layer's two tensors share one pool, ranked together to the sparsity
    if scope == "layerwise":
        assert kept == total - int(np.ceil(settings.sparsity * total))


def test_sf_statistics_of_sigma_delta_layers_are_message_rates_and_activation_changes():
    _, data, model = _small(TINY_SDNN)
    x = data.x_train[:32]
    stats = layer_statistics(model, x)
    assert list(stats) == model.weight_names()
    with torch.no_grad():
        layers = model.layer_spikes(torch.from_numpy(x))
    # the conv layer's input is the Input block's messages: the rate of nonzero messages per channel
    first = stats[model.weight_names()[0]]
    np.testing.assert_allclose(first.input_rate, (layers[0] != 0).double().mean(dim=(0, 2, 3, 4)).numpy())
    assert first.threshold == pytest.approx(float(model.blocks[1].neuron.delta.threshold))
    assert first.potential_mean.shape == (4,) and np.all(first.potential_var > 0)
    # the Output Sigma has no threshold: its density is 1
    output = stats[model.weight_names()[-1]]
    assert output.threshold is None
    assert torch.equal(threshold_density(output), torch.ones(10, dtype=torch.float64))


def test_sf_statistics_of_a_recurrent_layer_use_its_own_rate_for_its_recurrent_weights():
    _, data, model = _small(TINY_RECURRENT)
    x = data.x_train[:32]
    stats = layer_statistics(model, x)
    with torch.no_grad():
        hidden = model.layer_spikes(torch.from_numpy(x))[0]
    w_in, w_rec = stats["blocks.0.input_synapse.weight"], stats["blocks.0.recurrent_synapse.weight"]
    np.testing.assert_allclose(w_in.input_rate, (x != 0).mean(axis=(0, 2)))
    np.testing.assert_allclose(w_rec.input_rate, (hidden != 0).double().mean(dim=(0, 2)).numpy())
    np.testing.assert_array_equal(w_in.potential_mean, w_rec.potential_mean)
    assert w_in.potential_mean.shape == (32,) and w_in.threshold == pytest.approx(1.0)


def test_saving_splits_into_weights_and_messages_exactly():
    dense = [(np.array([2.0, 1.0]), np.array([3, 3]))]
    pruned = [(np.array([1.0, 1.0]), np.array([1, 2]))]
    # S(md, fd) = 9, S(mp, fp) = 3, S(md, fp) = 4, S(mp, fd) = 6
    shares = saving_shares(dense, pruned)
    assert shares["saving"] == 6
    assert shares["from_weights"] == (9 - 4 + 6 - 3) / 2
    assert shares["from_messages"] == (9 - 6 + 4 - 3) / 2
    assert shares["share_weights"] + shares["share_messages"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="same synapses"):
        saving_shares(dense, [(np.ones(3), np.ones(3, dtype=np.int64))])


def test_recurrent_sigma_delta_is_refused_before_work_starts():
    recipe = load_recipe(TINY_SDNN)
    bad = dataclasses.replace(recipe, model=dataclasses.replace(recipe.model, recurrent=True))
    with pytest.raises(RecipeError, match="model.recurrent: lava-dl has no recurrent sigma_delta block"):
        check_recipe(bad, Limits())


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    runs = {}
    for recipe in (TINY_SDNN, TINY_RECURRENT):
        out = tmp_path_factory.mktemp(recipe.stem)
        assert main(["run", str(recipe), "--out", str(out)]) == 0
        runs[recipe.stem] = json.loads((out / "report.json").read_text())
    return runs


@pytest.mark.slow
@pytest.mark.lava
@pytest.mark.parametrize("name", ["tiny_sdnn", "tiny_recurrent"])
def test_tiny_recipes_run_end_to_end_exactly(tiny_runs, name):
    report = tiny_runs[name]
    golden, lava = report["golden"], report["lava"]
    assert golden["dense_exact_fraction"] == golden["pruned_exact_fraction"] == 1.0
    assert golden["test_samples"] == 360
    assert lava["samples"] == 32 and lava["dense_equivalent"] and lava["pruned_equivalent"]
    for side in ("dense", "pruned"):
        figures = report[side]
        assert figures["golden_vs_slayer"]["compared_entries"] > 0
        assert all(m > 0 for m in figures["spikes_per_layer"]), "every layer must send for the comparison to mean something"
        assert 0 < figures["activity"] < 1
    assert report["pruned"]["sparsity"] >= report["recipe"]["prune"]["sparsity"]
    saving = report["saving"]
    assert saving["from_weights"] + saving["from_messages"] == pytest.approx(saving["saving"])
    assert saving["synops_dense"] == pytest.approx(report["dense"]["synops_per_sample"])
    assert saving["synops_pruned"] == pytest.approx(report["pruned"]["synops_per_sample"])


@pytest.mark.slow
@pytest.mark.lava
def test_tiny_sigma_delta_run_sends_graded_messages(tiny_runs):
    report = tiny_runs["tiny_sdnn"]
    dense = report["dense"]
    assert len(dense["spikes_per_layer"]) == 4  # input (Delta), conv, dense, Output Sigma
    assert dense["hardware"]["loihi1"]["dynamic_uj"] is None  # Loihi 1 has no graded messages
    assert dense["hardware"]["loihi2"]["dynamic_uj"] > 0
