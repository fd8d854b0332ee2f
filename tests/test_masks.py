import math

import numpy as np
import pytest
import torch

from neurodeploy.prune.imp import plan, round_sparsity
from neurodeploy.train.masks import apply_masks, attach_forward_masks, mask_sparsity, squash_forward_masks
from neurodeploy.prune.selection import pooled_masks, lowest_masks
from neurodeploy.recipe import ModelSettings, PruneSettings
from neurodeploy.train.model import build_model
from neurodeploy.train.trainer import fit


@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.5, 0.9, 0.99])
def test_lowest_scores_are_pruned_exactly(sparsity):
    g = torch.Generator().manual_seed(0)
    weights = {"a": torch.randn(30, 20, generator=g), "b": torch.randn(7, 30, generator=g) * 0.1}
    masks = lowest_masks({n: w.abs() for n, w in weights.items()}, sparsity)
    total = 30 * 20 + 7 * 30
    assert sum(int((~m).sum()) for m in masks.values()) == math.ceil(sparsity * total)
    assert mask_sparsity(masks) >= sparsity
    assert all(m.any() for m in masks.values()), "every layer keeps a weight"
    pruned = torch.cat([weights[n].abs()[~masks[n]] for n in weights])
    # every pruned |w| is below every kept one, but for the one weight a layer keeps when
    # it would otherwise lose all of them (its best)
    kept = torch.cat([weights[n].abs()[masks[n]] for n in weights if masks[n].sum() > 1])
    if len(pruned):
        assert pruned.max() <= kept.min()


def test_pruning_never_revives_a_dead_weight_even_with_a_high_score():
    w = torch.randn(50, 40, generator=torch.Generator().manual_seed(1))
    first = lowest_masks({"w": w.abs()}, 0.5)["w"]
    reversed_scores = 1 / (w.abs() + 1e-3)  # the dead ones now score highest
    second = lowest_masks({"w": reversed_scores}, 0.8, alive={"w": first})["w"]
    assert not (second & ~first).any()
    assert int((~second).sum()) == 1600
    more_dead_than_asked = lowest_masks({"w": w.abs()}, 0.2, alive={"w": first})["w"]
    assert torch.equal(more_dead_than_asked, first)


def test_layerwise_pools_prune_each_layer_to_the_sparsity():
    g = torch.Generator().manual_seed(2)
    scores = {"a": torch.rand(20, 10, generator=g), "b": torch.rand(10, 10, generator=g) * 0.01}
    layerwise = pooled_masks(scores, 0.5, [["a"], ["b"]])
    assert int((~layerwise["a"]).sum()) == 100 and int((~layerwise["b"]).sum()) == 50
    together = pooled_masks(scores, 0.5, [["a", "b"]])
    # b's scores are all lower: b loses all but its best weight, a the one more it takes
    assert int((~together["b"]).sum()) == 99 and int((~together["a"]).sum()) == 51
    assert together["b"].reshape(-1)[scores["b"].argmax()]
    with pytest.raises(ValueError, match="do not cover"):
        pooled_masks(scores, 0.5, [["a"]])


def test_sparsity_out_of_range_is_an_error():
    with pytest.raises(ValueError, match="outside"):
        lowest_masks({"w": torch.ones(3)}, 1.0)


def test_round_sparsity_compounds_to_the_target():
    rounds = [round_sparsity(0.9, 3, k) for k in range(1, 4)]
    assert rounds[-1] == pytest.approx(0.9)
    p = 1 - 0.1 ** (1 / 3)
    for before, after in zip([0.0, *rounds[:-1]], rounds):
        assert (after - before) / (1 - before) == pytest.approx(p)  # p of the live weights each round


def test_plan_resolves_layers_and_scopes():
    names = ["l0", "l1", "l2", "l3"]
    sf_imp_1 = plan(names, PruneSettings(criterion="sf", magnitude_layers=(0, -1)))
    assert sf_imp_1.pools == (("l0",), ("l3",), ("l1", "l2"))
    assert sf_imp_1.criterion("l0", "sf") == "magnitude" and sf_imp_1.criterion("l1", "sf") == "sf"
    assert plan(names, PruneSettings(exclude=(-1,))).pools == (("l0", "l1", "l2"),)
    assert plan(names, PruneSettings(scope="layerwise", exclude=(0,))).pools == (("l1",), ("l2",), ("l3",))
    assert plan(names, PruneSettings(dynamic_layers=(0,))).dynamic == {"l0"}
    with pytest.raises(ValueError, match="prune.exclude: layer 4 does not exist"):
        plan(names, PruneSettings(exclude=(4,)))
    with pytest.raises(ValueError, match="prune.magnitude_layers: layer -5"):
        plan(names, PruneSettings(magnitude_layers=(-5,)))
    with pytest.raises(ValueError, match="no layer"):
        plan(names, PruneSettings(exclude=(0, 1, 2, 3)))


def _data(inputs, classes, samples=40, steps=8, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((samples, inputs, steps)) < 0.4).astype(np.float32), rng.integers(0, classes, samples)


def test_masked_weights_stay_exactly_zero_through_finetuning():
    torch.manual_seed(0)
    model = build_model(16, 4, ModelSettings(hidden=(12,)))
    params = dict(model.named_parameters())
    masks = lowest_masks({n: params[n].abs() for n in model.weight_names()}, 0.7)
    x, y = _data(16, 4)
    before = {n: params[n].detach().clone() for n in masks}
    fit(model, x, y, epochs=3, batch_size=8, lr=0.05, seed=0, masks=masks)
    for name, mask in masks.items():
        w = params[name].detach()
        assert torch.all(w[~mask] == 0)
        assert not torch.equal(w[mask], before[name][mask]), "kept weights should train"
        synapse = model.get_submodule(name.rsplit(".", 1)[0])
        assert synapse.pre_hook_fx.__name__ == "quantize_8bit"
        assert torch.all(synapse.pre_hook_fx(w, descale=True)[~mask] == 0)


def test_forward_masks_mask_the_forward_pass_only_and_squash_to_zeros():
    torch.manual_seed(0)
    model = build_model(16, 4, ModelSettings(hidden=(12,)))
    name = model.weight_names()[0]
    weight = dict(model.named_parameters())[name]
    mask = lowest_masks({name: weight.abs()}, 0.6)[name]
    x, y = _data(16, 4)
    reference = build_model(16, 4, ModelSettings(hidden=(12,)))
    reference.load_state_dict(model.state_dict())
    apply_masks(reference, {name: mask})
    attach_forward_masks(model, {name: mask})
    inputs = torch.from_numpy(x)
    assert torch.equal(model(inputs), reference(inputs)), "forward = the statically masked network"
    before = weight.detach().clone()
    fit(model, x, y, epochs=2, batch_size=8, lr=0.05, seed=0)
    assert not torch.equal(weight.detach()[~mask], before[~mask]), "masked weights keep learning"
    assert torch.count_nonzero(weight.detach()[~mask]) > 0
    squash_forward_masks(model)
    assert torch.all(weight.detach()[~mask] == 0)
    assert model.get_submodule(name.rsplit(".", 1)[0]).pre_hook_fx.__name__ == "quantize_8bit"


def test_apply_masks_rejects_unknown_names_and_shapes():
    model = build_model(4, 2, ModelSettings(hidden=(3,)))
    with pytest.raises(KeyError, match="blocks.9"):
        apply_masks(model, {"blocks.9.synapse.weight": torch.ones(1, dtype=torch.bool)})
    with pytest.raises(ValueError, match="shape"):
        apply_masks(model, {"blocks.0.synapse.weight": torch.ones(2, dtype=torch.bool)})
