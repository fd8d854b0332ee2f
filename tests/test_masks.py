import math

import numpy as np
import pytest
import torch

from neurodeploy.prune.magnitude import global_magnitude_masks
from neurodeploy.prune.masks import apply_masks, mask_sparsity
from neurodeploy.prune.stage import pruned_weight_names
from neurodeploy.recipe import ModelSettings
from neurodeploy.train.model import SpikingMLP
from neurodeploy.train.trainer import fit


@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.5, 0.9, 0.99])
def test_global_magnitude_prunes_exactly_the_smallest(sparsity):
    g = torch.Generator().manual_seed(0)
    weights = {"a": torch.randn(30, 20, generator=g), "b": torch.randn(7, 30, generator=g) * 0.1}
    masks = global_magnitude_masks(weights, sparsity)
    total = 30 * 20 + 7 * 30
    assert sum(int((~m).sum()) for m in masks.values()) == math.ceil(sparsity * total)
    assert mask_sparsity(masks) >= sparsity
    pruned = torch.cat([weights[n].abs()[~masks[n]] for n in weights])
    kept = torch.cat([weights[n].abs()[masks[n]] for n in weights])
    if len(pruned):
        assert pruned.max() <= kept.min()


def test_pruning_twice_never_revives():
    w = torch.randn(50, 40, generator=torch.Generator().manual_seed(1))
    first = global_magnitude_masks({"w": w}, 0.5)["w"]
    second = global_magnitude_masks({"w": w * first}, 0.8)["w"]
    assert not (second & ~first).any()


def test_sparsity_out_of_range_is_an_error():
    with pytest.raises(ValueError, match="outside"):
        global_magnitude_masks({"w": torch.ones(3)}, 1.0)


def test_masked_weights_stay_exactly_zero_through_finetuning():
    torch.manual_seed(0)
    model = SpikingMLP([16, 12, 4], ModelSettings())
    params = dict(model.named_parameters())
    masks = global_magnitude_masks({n: params[n] for n in model.weight_names()}, 0.7)
    rng = np.random.default_rng(0)
    x = (rng.random((40, 16, 8)) < 0.4).astype(np.float32)
    y = rng.integers(0, 4, 40)
    before = {n: params[n].detach().clone() for n in masks}
    fit(model, x, y, epochs=3, batch_size=8, lr=0.05, seed=0, masks=masks)
    for name, mask in masks.items():
        w = params[name].detach()
        assert torch.all(w[~mask] == 0)
        assert not torch.equal(w[mask], before[name][mask]), "kept weights should train"
        quantized = model.blocks[int(name.split(".")[1])].synapse.pre_hook_fx(w, descale=True)
        assert torch.all(quantized[~mask] == 0)


def test_apply_masks_rejects_unknown_names_and_shapes():
    model = SpikingMLP([4, 3, 2], ModelSettings())
    with pytest.raises(KeyError, match="blocks.9"):
        apply_masks(model, {"blocks.9.synapse.weight": torch.ones(1, dtype=torch.bool)})
    with pytest.raises(ValueError, match="shape"):
        apply_masks(model, {"blocks.0.synapse.weight": torch.ones(2, dtype=torch.bool)})


def test_excluded_layers():
    names = ["l0", "l1", "l2"]
    assert pruned_weight_names(names, ()) == names
    assert pruned_weight_names(names, (-1,)) == ["l0", "l1"]
    with pytest.raises(ValueError, match="layer 3"):
        pruned_weight_names(names, (3,))
    with pytest.raises(ValueError, match="no layer"):
        pruned_weight_names(names, (0, 1, 2))
