"""One sweep point: the seed's dense network pruned by one criterion to one sparsity.

A point's network is exported to NetX and measured there, in the golden
model (bit-exact with Lava ``fixed_pt``) on the whole test set: accuracy
over the first T steps, synaptic operations and spikes per sample (each
sample alone, for T + drain steps, every layer), and the cores it maps to on
each chip profile (``hardware.resources``; a pruned network on ``Sparse``
synapses, as a run's pruned network is deployed).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neurodeploy.compare.synops import network_synops
from neurodeploy.data.dataset import SpikeDataset, load_dataset
from neurodeploy.hardware.profile import available_profiles, load_profile
from neurodeploy.hardware.resources import estimate_resources
from neurodeploy.prune.stage import prune_checkpoint
from neurodeploy.recipe import Recipe
from neurodeploy.simulate.measure import measure_model
from neurodeploy.train.checkpoint import load_checkpoint, save_checkpoint
from neurodeploy.train.model import SpikingNet
from neurodeploy.train.trainer import train_dense


@dataclass(frozen=True)
class Point:
    """A criterion, a target sparsity and a seed; sparsity 0 is the dense network."""

    criterion: str
    sparsity: float
    seed: int

    @property
    def name(self) -> str:
        """File-name stem, e.g. ``sf-0.9-s1``; ``dense-s1`` for the dense network."""
        return f"dense-s{self.seed}" if self.sparsity == 0 else f"{self.criterion}-{self.sparsity:g}-s{self.seed}"


def point_recipe(recipe: Recipe, point: Point) -> Recipe:
    """The recipe of ``point``: the sweep's recipe with its seed, criterion and sparsity."""
    prune = dataclasses.replace(recipe.prune, criterion=point.criterion, sparsity=point.sparsity)
    return dataclasses.replace(recipe, seed=point.seed, prune=prune)


def cores_keys() -> tuple[str, ...]:
    """The row's keys of the cores on each chip profile (``cores_loihi2``, ...)."""
    return tuple(f"cores_{name}" for name in available_profiles())


def measure(model: SpikingNet, path: Path, data: SpikeDataset, steps: int, sparse: bool) -> dict[str, Any]:
    """Export ``model`` to ``path`` and measure that file in the golden model on the test set
    (``simulate.measure``): accuracy, synaptic operations and messages per sample (spikes,
    or nonzero graded messages); and its cores on each chip profile (``sparse``: its dense
    layers on ``Sparse`` synapses)."""
    measured = measure_model(model, path, data.x_test, steps)
    network, run = measured.network, measured.run
    synops = network_synops(network, measured.inputs(), run.spikes)
    weights = [w for layer in network.layers for w in layer.weights()]
    return {
        "accuracy": measured.accuracy(data.y_test),
        "synops_per_sample": float(synops.sum(axis=1).mean()),
        "spikes_per_sample": float(sum(np.count_nonzero(s, axis=(1, 2)).mean() for s in run.spikes)),
        "sparsity_all_layers": float(sum(int((w == 0).sum()) for w in weights) / sum(w.size for w in weights)),
        "test_samples": int(len(data.y_test)),
        **{key: estimate_resources(network, load_profile(name), sparse=sparse).cores
           for key, name in zip(cores_keys(), available_profiles())},
    }


def train_seed(recipe: Recipe, seed: int, path: Path) -> None:
    """Train the seed's dense network and save it (with its rewind point) at ``path``."""
    dense = dataclasses.replace(recipe, seed=seed)
    data = load_dataset(dense.data, seed)
    model, losses, extra = train_dense(dense, data)
    save_checkpoint(path, model, dense, masks=None, losses=losses, extra=extra)


def run_point(recipe: Recipe, point: Point, dense_path: Path, net_path: Path) -> dict[str, Any]:
    """Prune the seed's dense network as ``point`` says (or not, at sparsity 0) and measure it.

    Returns the point's row: criterion, target sparsity, seed, the sparsity
    reached in the pruned layers, and ``measure``'s figures.
    """
    settings = point_recipe(recipe, point)
    data = load_dataset(settings.data, point.seed)
    if point.sparsity == 0:
        model = load_checkpoint(dense_path).model(settings.model)
        reached = 0.0
    else:
        model, result = prune_checkpoint(dense_path, data, settings)
        masks = result.masks.values()
        reached = sum(int((~m).sum()) for m in masks) / sum(m.numel() for m in masks)
    row = {"criterion": point.criterion, "sparsity": point.sparsity, "seed": point.seed, "sparsity_reached": reached}
    row.update(measure(model, net_path, data, settings.data.steps, sparse=point.sparsity > 0))
    return row
