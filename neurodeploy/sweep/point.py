"""One sweep point: the seed's dense network pruned by one criterion, for one objective,
to one sparsity.

A point's network is exported to NetX and measured there, in the golden
model (bit-exact with Lava ``fixed_pt``) on the whole test set: accuracy
over the first T steps, synaptic operations and spikes per sample (each
sample alone, for T + drain steps, every layer), and on each chip profile
the cores it maps to, its time per step and its energy per inference
(``hardware.cost``, from the same run's messages; a pruned network on
``Sparse`` synapses, as a run's pruned network is deployed).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neurodeploy.compare.stage import hardware_figures
from neurodeploy.compare.synops import network_synops
from neurodeploy.data.dataset import SpikeDataset, load_dataset
from neurodeploy.hardware.profile import available_profiles
from neurodeploy.prune.imp import PruneResult
from neurodeploy.prune.stage import prune_checkpoint
from neurodeploy.recipe import Recipe
from neurodeploy.report.chip import chip_key
from neurodeploy.simulate.chip import recipe_measure
from neurodeploy.simulate.measure import measure_model
from neurodeploy.train.checkpoint import load_checkpoint, save_checkpoint
from neurodeploy.train.model import SpikingNet
from neurodeploy.train.trainer import train_dense


# a row's chip figures: the row's name (before ``_{profile}``) -> ``NetworkCost.figures``' key
CHIP_FIGURES = {"cores": "cores", "time_us": "time_per_step_us", "static_uj": "static_uj",
                "dynamic_uj": "dynamic_uj", "total_uj": "total_uj"}


@dataclass(frozen=True)
class Point:
    """A criterion, a pruning objective (``prune.objective``), a target sparsity and a seed;
    sparsity 0 is the seed's dense network, shared by every objective (objective None:
    nothing is pruned). ``named``: the name carries the objective (every pruned point of a
    sweep whose objectives are not the recipe's own alone). ``rounds``: the pruning rounds
    that reach the sparsity (``prune.rounds``; None: the recipe's), a point of a
    trajectory's (``sweep.trajectory``)."""

    criterion: str
    objective: str | None
    sparsity: float
    seed: int
    named: bool = False
    rounds: int | None = None

    @property
    def name(self) -> str:
        """File-name stem, e.g. ``sf-0.9-s1``, named ``sf-cores-0.9-s1``; ``dense-s1`` for the
        dense network."""
        if self.sparsity == 0:
            return f"dense-s{self.seed}"
        objective = f"{self.objective}-" if self.named else ""
        return f"{self.criterion}-{objective}{self.sparsity:g}-s{self.seed}"


def point_recipe(recipe: Recipe, point: Point) -> Recipe:
    """The recipe of ``point``: the sweep's recipe with its seed, criterion, objective (the
    dense point keeps the recipe's), sparsity and rounds (unless the recipe's)."""
    prune = dataclasses.replace(recipe.prune, criterion=point.criterion, sparsity=point.sparsity,
                                objective=point.objective or recipe.prune.objective,
                                rounds=point.rounds or recipe.prune.rounds)
    return dataclasses.replace(recipe, seed=point.seed, prune=prune)


def chip_keys() -> tuple[str, ...]:
    """The row's keys of the chip figures, every ``CHIP_FIGURES`` on each chip profile in
    ``hardware/``, profile by profile (``cores_loihi1``, ``time_us_loihi1``, ...)."""
    return tuple(chip_key(figure, profile) for profile in available_profiles() for figure in CHIP_FIGURES)


def measure(model: SpikingNet, path: Path, data: SpikeDataset, steps: int, sparse: bool,
            removed: dict[str, list[int]] | None = None) -> dict[str, Any]:
    """Export ``model`` to ``path`` (without the units ``removed``, as a structured pruning
    recorded them) and measure that file in the golden model on the test set
    (``simulate.measure``): accuracy, synaptic operations and messages per sample (spikes,
    or nonzero graded messages), the fraction of the model's weights the file does not
    hold as nonzero (removed units' weights count as pruned); and from the same messages
    its ``chip_figures`` on each chip profile (``sparse``: its dense layers on ``Sparse``
    synapses), an inference being ``steps`` steps."""
    measured = measure_model(model, path, data.x_test, steps, removed)
    network, run, inputs = measured.network, measured.run, measured.inputs()
    synops = network_synops(network, inputs, run.spikes)
    nonzero = sum(int(np.count_nonzero(w)) for layer in network.layers for w in layer.weights())
    params = dict(model.named_parameters())
    total = sum(params[name].numel() for name in model.weight_names())
    return {
        "accuracy": measured.accuracy(data.y_test),
        "synops_per_sample": float(synops.sum(axis=1).mean()),
        "spikes_per_sample": float(sum(np.count_nonzero(s, axis=(1, 2)).mean() for s in run.spikes)),
        "sparsity_all_layers": 1.0 - nonzero / total,
        "test_samples": int(len(data.y_test)),
        **chip_figures(hardware_figures(network, inputs, run.spikes, sparse, steps)),
    }


def chip_figures(hardware: dict[str, dict[str, Any]]) -> dict[str, int | float | None]:
    """The row's chip figures (``chip_keys``) from ``NetworkCost.figures`` (``hardware``,
    per profile): cores, time per step (µs), static, dynamic and total energy per
    inference (µJ; None where the profile cannot give it)."""
    return {chip_key(figure, profile): hardware[profile][key]
            for profile in available_profiles() for figure, key in CHIP_FIGURES.items()}


def train_seed(recipe: Recipe, seed: int, path: Path) -> None:
    """Train the seed's dense network and save it (with its rewind point) at ``path``."""
    dense = dataclasses.replace(recipe, seed=seed)
    data = load_dataset(dense.data, seed)
    model, losses, extra = train_dense(dense, data)
    save_checkpoint(path, model, dense, masks=None, losses=losses, extra=extra)


def run_point(recipe: Recipe, point: Point, dense_path: Path, net_path: Path) -> dict[str, Any]:
    """Prune the seed's dense network as ``point`` says (or not, at sparsity 0) and measure it
    (``point_row``); returns the point's row."""
    settings = point_recipe(recipe, point)
    data = load_dataset(settings.data, point.seed)
    if point.sparsity == 0:
        return point_row(point, load_checkpoint(dense_path).model(settings.model), None, data, settings, net_path)
    model, result = prune_checkpoint(dense_path, data, settings, recipe_measure(settings, data))
    return point_row(point, model, result, data, settings, net_path)


def point_row(point: Point, model: SpikingNet, result: PruneResult | None, data: SpikeDataset, settings: Recipe,
              net_path: Path) -> dict[str, Any]:
    """Export ``model``, ``point``'s network pruned as ``result`` says (None: the dense
    network), to ``net_path`` and measure it (``measure``, an inference being
    ``settings.data.steps`` steps). Returns the point's row: criterion, objective (None for
    the dense network), target sparsity, seed, the sparsity reached in the pruned layers,
    and ``measure``'s figures."""
    reached = 0.0
    if result is not None:
        masks = result.masks.values()
        reached = sum(int((~m).sum()) for m in masks) / sum(m.numel() for m in masks)
    row = {"criterion": point.criterion, "objective": point.objective, "sparsity": point.sparsity, "seed": point.seed,
           "sparsity_reached": reached}
    row.update(measure(model, net_path, data, settings.data.steps, sparse=result is not None,
                       removed=result.removed if result is not None else None))
    return row
