"""Iterative pruning with rewinding (Algorithm 1 of the paper), SF-IMP-1 and SF-IMP-2.

Given a trained network and its weights after R epochs (theta_R), each of K
rounds k = 1..K:

1. scores every live weight of the pruned layers by the criterion (``sf``
   measures firing rates and potentials of the current network on training
   data first);
2. prunes the lowest scores until the pruned layers reach sparsity
   s_k = 1 - (1 - s)^(k/K), i.e. removes p = 1 - (1 - s)^(1/K) of the
   weights still alive (a pruned weight stays pruned);
3. resets the weights to theta_R (kept at their trained values when there is
   no rewind point), masks them, and trains ``finetune_epochs`` epochs with
   the masks held (pruned weights stay exactly zero, the 8-bit quantizer
   stays on).

Under a chip objective (``prune.objective`` cores, time or energy), step 2
takes from each layer what ``allocation.allocate`` decides, measuring each
candidate with the ``measure`` the caller builds for the round's network
(the export, the golden model and the chip model sit in later stages).
Under a structured scope (``neuron``, ``channel``) the layers that lose whole
units lose them (``selection.unit_masks``); the result lists them per layer
(``removed``) for the export to remove.

Layers in ``magnitude_layers`` are ranked by |w| whatever the criterion and
pruned each on its own to s_k (SF-IMP-1: the encoding and output layers).
Layers in ``dynamic_layers`` get forward-only masks (SF-IMP-2): the stored
weights keep training under the mask, rewind to theta_R unmasked, and are
ranked again every round among all their weights, so a pruned one can
return; at the end their masks are written into the weights.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import torch

from neurodeploy.data.dataset import SpikeDataset
from neurodeploy.prune.allocation import Allocation, MeasureFor, allocate
from neurodeploy.prune.criteria import CRITERIA
from neurodeploy.prune.objectives import OBJECTIVES
from neurodeploy.train.masks import Masks, apply_masks, attach_forward_masks, mask_sparsity, squash_forward_masks
from neurodeploy.prune.selection import SCOPES, Layer, layer_names, pooled_masks, removed_units
from neurodeploy.prune.statistics import layer_statistics
from neurodeploy.recipe import PruneSettings, RecipeError
from neurodeploy.train.device import model_device
from neurodeploy.train.model import SpikingNet
from neurodeploy.train.trainer import fit


@dataclass(frozen=True)
class PrunePlan:
    """Which layers are pruned and how, resolved against one network.

    pruned: weight names of the pruned layers, in layer order (a recurrent layer's
        input and recurrent weights both).
    magnitude: those ranked by |w| whatever the criterion.
    dynamic: those with forward-only masks.
    pools: the names ranked together (the scope's pools), each a tuple.
    layers: the pruned layers, each the tuple of its weight names.
    units: the names of the layers that lose whole units (the scope's).
    """

    pruned: tuple[str, ...]
    magnitude: frozenset[str]
    dynamic: frozenset[str]
    pools: tuple[tuple[str, ...], ...]
    layers: tuple[tuple[str, ...], ...] = ()
    units: frozenset[str] = frozenset()

    def criterion(self, name: str, criterion: str) -> str:
        """The criterion layer ``name`` is ranked by."""
        return "magnitude" if name in self.magnitude else criterion


def _indices(layers: list[tuple[str, ...]], indices: tuple[int, ...], key: str) -> set[str]:
    """The weight names of the layers at ``indices`` (negative from the end)."""
    chosen: set[str] = set()
    for index in indices:
        if not -len(layers) <= index < len(layers):
            raise RecipeError(f"prune.{key}: layer {index} does not exist (the model has {len(layers)} layers "
                              "with weights)")
        chosen.update(layers[index])
    return chosen


def plan(layers: Sequence[Layer], settings: PruneSettings, conv_layers: int = 0) -> PrunePlan:
    """Resolve the recipe's layer indices (negative from the end) against ``layers``: per
    layer with weights, its weight name or the tuple of its weight names
    (``SpikingNet.weight_layers``), the first ``conv_layers`` of them conv layers.
    ``RecipeError`` for a structured scope that would remove the output layer's
    units (the classes) or meet ``dynamic_layers``."""
    layers = [layer_names(layer) for layer in layers]
    excluded = _indices(layers, settings.exclude, "exclude")
    kept = [layer for layer in layers if not set(layer) & excluded]
    pruned = tuple(name for layer in kept for name in layer)
    if not pruned:
        raise RecipeError(f"prune.exclude leaves no layer to prune (the model has {len(layers)} layers)")
    magnitude = _indices(layers, settings.magnitude_layers, "magnitude_layers") & set(pruned)
    dynamic = _indices(layers, settings.dynamic_layers, "dynamic_layers") & set(pruned)
    apart = magnitude if settings.criterion != "magnitude" else set()
    scope = SCOPES.lookup(settings.scope, "prune.scope =")
    conv = {name for layer in layers[:conv_layers] for name in layer}
    units = {name for index, layer in enumerate(layers) if layer in kept and scope.units(index < conv_layers)
             for name in layer}
    if set(layers[-1]) & units:
        raise RecipeError(f"prune.scope = {settings.scope} would remove output neurons (the classes): add -1 to "
                          "prune.exclude")
    if units and dynamic:
        raise RecipeError(f"prune.dynamic_layers: forward-only masks do not apply to prune.scope = "
                          f"{settings.scope}, whose units are removed")
    pools = scope.pools(kept, apart, conv)
    return PrunePlan(pruned, frozenset(magnitude), frozenset(dynamic), pools, tuple(kept), frozenset(units))


def round_sparsity(target: float, rounds: int, k: int) -> float:
    """s_k = 1 - (1 - target)^(k / rounds), the sparsity after round k of ``rounds``."""
    return 1.0 - (1.0 - target) ** (k / rounds)


def score_layers(
    model: SpikingNet, prune_plan: PrunePlan, criterion: str, x: Any, generator: torch.Generator
) -> dict[str, torch.Tensor]:
    """The score of every weight of the pruned layers, as the network is now.

    x: training spikes [samples, inputs, T] for the statistics ``sf`` needs, measured
    on the model's device; the scores are computed on the CPU, where the masks live.
    """
    params = dict(model.named_parameters())
    chosen = {name: CRITERIA.lookup(prune_plan.criterion(name, criterion), "prune.criterion =")
              for name in prune_plan.pruned}
    needed = any(kind.needs_statistics for kind in chosen.values())
    stats = layer_statistics(model, x) if needed else {}
    return {name: kind.score(params[name].detach().cpu(), stats.get(name), generator) for name, kind in chosen.items()}


@dataclass(frozen=True)
class PruneResult:
    """The pruned network's masks, every round's record, the fine-tuning losses, and the
    units removed (``selection.removed_units``: per layer index with weights, the units
    whose weights are all pruned, for a structured scope; empty otherwise)."""

    masks: Masks
    rounds: list[dict[str, Any]]
    losses: list[float]
    removed: dict[str, list[int]]


@dataclass(frozen=True)
class RoundState:
    """Iterative pruning after its round ``round``: the masks of the pruned layers (True =
    kept, on the CPU; a dynamic layer's attached forward-only), the state of the
    criterion's random generator (``torch.Generator.get_state()``, uint8), every round's
    record and the fine-tuning losses so far. The weights are the model's own (a dynamic
    layer's stored unmasked)."""

    round: int
    alive: Masks
    generator: torch.Tensor
    rounds: list[dict[str, Any]]
    losses: list[float]


def prune_rounds(
    model: SpikingNet,
    data: SpikeDataset,
    settings: PruneSettings,
    batch_size: int,
    seed: int,
    rewind_state: dict[str, torch.Tensor] | None = None,
    measure_for: MeasureFor | None = None,
    start: RoundState | None = None,
) -> Iterator[RoundState]:
    """Run the rounds of Algorithm 1 (see module doc) on the trained ``model`` in place,
    yielding the state after each.

    rewind_state: theta_R, the state dict after R epochs; None keeps each
    round's weights (fine-tuning). measure_for: given the network as it is before a
    round's pruning and the names of its layers that lose whole units, its
    ``allocation.ChipView`` (the chip figures of candidate masks); needed for a chip
    objective. start: a state an earlier run yielded, ``model`` holding its weights:
    the rounds after it run as they would have gone on (round k's sparsity, criterion
    generator and fine-tuning seed ``seed + k`` are those of round k either way). Runs on
    ``model``'s device.
    """
    prune_plan = plan(model.weight_layers(), settings, model.conv_layers)
    objective = OBJECTIVES.lookup(settings.objective, "prune.objective =")
    if objective is not None and measure_for is None:
        raise ValueError(f"prune.objective = {settings.objective} needs the chip figures of candidate masks "
                         "(measure_for)")
    device = model_device(model)
    generator = torch.Generator().manual_seed(seed)
    x_stats = data.x_train[: settings.stats_samples]
    alive: Masks = {name: torch.ones_like(p, dtype=torch.bool, device="cpu")
                    for name, p in model.named_parameters() if name in prune_plan.pruned}
    rounds: list[dict[str, Any]] = []
    losses: list[float] = []
    if start is not None:
        generator.set_state(start.generator)
        alive, rounds, losses = dict(start.alive), list(start.rounds), list(start.losses)
        attach_forward_masks(model, {name: m.to(device) for name, m in alive.items() if name in prune_plan.dynamic})
    for k in range(1 if start is None else start.round + 1, settings.rounds + 1):
        target = round_sparsity(settings.sparsity, settings.rounds, k)
        scores = score_layers(model, prune_plan, settings.criterion, x_stats, generator)
        static_alive = {name: m if name not in prune_plan.dynamic else torch.ones_like(m) for name, m in alive.items()}
        allocation = None
        if objective is None:
            alive = pooled_masks(scores, target, [list(pool) for pool in prune_plan.pools], static_alive,
                                 prune_plan.units)
        else:
            allocation = allocate(scores, prune_plan.layers, prune_plan.units, target, static_alive, objective,
                                  measure_for(model, prune_plan.units), _target(settings))
            alive = allocation.masks
        if rewind_state is not None:
            model.load_state_dict(copy.deepcopy(rewind_state))
        static = {name: m for name, m in alive.items() if name not in prune_plan.dynamic}
        attach_forward_masks(model, {name: m.to(device) for name, m in alive.items() if name in prune_plan.dynamic})
        round_losses = fit(
            model, data.x_train, data.y_train, settings.finetune_epochs, batch_size, settings.lr,
            seed + k, masks=static, desc=f"prune round {k}/{settings.rounds}",
        )
        losses.extend(round_losses)
        rounds.append({"round": k, "sparsity": mask_sparsity(alive), "target": target,
                       "final_loss": round_losses[-1] if round_losses else None, **_allocated(settings, allocation)})
        yield RoundState(k, dict(alive), generator.get_state(), list(rounds), list(losses))


def finish_pruning(model: SpikingNet, state: RoundState, settings: PruneSettings) -> PruneResult:
    """Write ``state``'s masks into ``model``'s weights (forward-only masks included, which
    go) and list the units the scope removes: the pruned network after that round."""
    prune_plan = plan(model.weight_layers(), settings, model.conv_layers)
    squash_forward_masks(model)
    apply_masks(model, {name: m.to(model_device(model)) for name, m in state.alive.items()})
    removed = removed_units(state.alive, model.weight_layers(), prune_plan.units)
    return PruneResult(masks=state.alive, rounds=state.rounds, losses=state.losses, removed=removed)


def iterative_prune(
    model: SpikingNet,
    data: SpikeDataset,
    settings: PruneSettings,
    batch_size: int,
    seed: int,
    rewind_state: dict[str, torch.Tensor] | None = None,
    measure_for: MeasureFor | None = None,
) -> PruneResult:
    """Prune the trained ``model`` in place, K rounds of Algorithm 1 (``prune_rounds``, whose
    arguments these are). Returns the masks of the pruned layers (True = kept, on the
    CPU), which ``model``'s weights now carry as exact zeros."""
    *_, last = prune_rounds(model, data, settings, batch_size, seed, rewind_state, measure_for)
    return finish_pruning(model, last, settings)


def _target(settings: PruneSettings) -> float | None:
    """The bound on the objective's figure: ``target_cores`` or ``target_time`` (µs)."""
    return settings.target_cores if settings.target_cores is not None else settings.target_time


def _allocated(settings: PruneSettings, allocation: Allocation | None) -> dict[str, Any]:
    """A round's record of a chip objective's plan: the objective, the figure it reached
    on the profile before fine-tuning, the weights each layer lost, whether the target
    was reached, and how many candidate networks were measured."""
    if allocation is None:
        return {}
    return {"objective": settings.objective, "profile": settings.profile, "figure": allocation.figure,
            "pruned_per_layer": allocation.pruned, "target_reached": allocation.target_reached,
            "evaluations": allocation.evaluations}
