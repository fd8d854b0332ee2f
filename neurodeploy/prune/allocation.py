"""How much each layer gives up when pruning minimises what the chip bills.

Under ``prune.objective`` ``cores``, ``time`` or ``energy`` (``objectives``),
the plan decides per layer how many weights it loses; within a layer the
criterion's lowest scores go first (or its lowest units, for a layer that
loses whole units). Greedy, in chunks of ``1 / chunks`` of each layer's
weights (so that a small layer, a conv layer's few weights, can give up its
units one by one): at each step every layer that can give up another chunk is
tried, and the chunk that leaves the smallest objective (``Objective.key``
of the chip figures ``measure`` gives for the masks) is taken; among equal
ones, the chunk of lowest scores (the criterion's own preference, so that on
a plateau of the objective the plan prunes as the criterion would). So a
layer whose synaptic memory sets its cores gives up synapses while that frees
cores, and the layer of the busiest core gives up work while that shortens
the step.

A weight the quantizer already makes zero costs the chip nothing: the plan
prunes every such weight first (``ChipView.zeros``), whatever its score, so
that the chunks it weighs hold weights the chip would store.

It stops at the round's sparsity (``ceil(sparsity * N)`` weights of the N
of the pruned layers, as the other objectives reach it). A ``target`` on the
objective's figure (``prune.target_cores``, ``prune.target_time``) makes the
objective a bound: any chunk that leaves the figure within it is taken
before any that does not, the cheapest in the criterion's terms first; so
the plan minimises the objective until it is within the target, then spends
the rest of the sparsity as the criterion would, as long as the figure stays
within it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Collection, Sequence

import torch

from neurodeploy.prune.objectives import Objective
from neurodeploy.prune.selection import EmptiedLayerError, lowest_masks, pruned_count, unit_masks
from neurodeploy.train.masks import Masks
from neurodeploy.train.model import SpikingNet

# masks of every pruned weight (True = kept) -> the chip figures of the objective's profile
# (``hardware.cost.NetworkCost.figures`` of one profile)
Measure = Callable[[Masks], dict[str, Any]]


@dataclass(frozen=True)
class ChipView:
    """What the plan sees of the round's network on the chip: ``measure`` of candidate
    masks, and ``zeros``, per pruned weight name, True where the exported integer weight
    is 0 already."""

    measure: Measure
    zeros: Masks


# (the round's network, the names of its layers that lose whole units) -> its ``ChipView``;
# built by a later stage (``simulate.chip``), which exports and runs it
MeasureFor = Callable[[SpikingNet, Collection[str]], ChipView]


@dataclass(frozen=True)
class Allocation:
    """The masks chosen, per layer (its first weight name) the weights it lost, the
    objective's figure reached, whether the target was reached (None without one), and
    how many times ``measure`` ran."""

    masks: Masks
    pruned: dict[str, int]
    figure: float | None
    target_reached: bool | None
    evaluations: int


def _layer_masks(scores: dict[str, torch.Tensor], layer: tuple[str, ...], count: int,
                 alive: dict[str, torch.Tensor], by_units: bool) -> Masks:
    """One layer's masks pruning at least ``count`` of its weights: its lowest scores,
    or its lowest units (``selection.unit_masks``)."""
    size = sum(scores[name].numel() for name in layer)
    select = unit_masks if by_units else lowest_masks
    return select({name: scores[name] for name in layer}, count / size, alive)


def _pruned(masks: Masks, layer: tuple[str, ...]) -> int:
    return sum(int((~masks[name]).sum()) for name in layer)


def _chunk_score(scores: dict[str, torch.Tensor], layer: tuple[str, ...], before: Masks, after: Masks) -> float:
    """The highest score among the weights the step prunes (the cost of the chunk in the
    criterion's terms)."""
    taken = [scores[name][before[name] & ~after[name]] for name in layer]
    values = torch.cat([t.detach().double().flatten() for t in taken])
    return float(values.max()) if values.numel() else math.inf


def allocate(scores: dict[str, torch.Tensor], layers: Sequence[tuple[str, ...]], units: Collection[str],
             sparsity: float, alive: dict[str, torch.Tensor], objective: Objective, chip: ChipView,
             target: float | None = None, chunks: int = 50) -> Allocation:
    """Masks of the pruned ``layers`` (each a tuple of weight names) minimising
    ``objective`` at ``sparsity`` (module docstring). scores: every pruned weight's
    score; units: names of layers that lose whole units; alive: the masks so far (a
    pruned weight stays pruned); chip: the round's network as the chip sees it.
    ``EmptiedLayerError`` when the sparsity cannot be reached without emptying a layer."""
    measure = chip.measure
    sizes = {layer: sum(scores[name].numel() for name in layer) for layer in layers}
    total = sum(sizes.values())
    by_units = {layer: bool(set(layer) & set(units)) for layer in layers}
    masks: Masks = {}
    for layer in layers:
        live = alive if by_units[layer] else {name: alive[name] & ~chip.zeros[name] for name in layer}
        masks.update(_layer_masks(scores, layer, _pruned(live, layer), live, by_units[layer]))
    done = sum(_pruned(masks, layer) for layer in layers)
    budget = pruned_count([total], sparsity, done)
    chunk = {layer: max(1, math.ceil(sizes[layer] / chunks)) for layer in layers}
    figures, evaluations = measure(masks), 1
    while done < budget:
        best = None
        for layer in layers:
            count = _pruned(masks, layer) + min(chunk[layer], budget - done)
            if count > sizes[layer] - len(layer):
                continue
            try:
                candidate = _layer_masks(scores, layer, count, masks, by_units[layer])
            except EmptiedLayerError:
                continue
            trial = {**masks, **candidate}
            result, evaluations = measure(trial), evaluations + 1
            cost = _chunk_score(scores, layer, masks, candidate)
            within = target is not None and result[objective.figure] <= target
            rank = (0, (), cost) if within else (1, objective.key(result), cost)
            if best is None or rank < best[0]:
                best = (rank, trial, result)
        if best is None:
            raise EmptiedLayerError(f"sparsity {sparsity} cannot be reached without leaving a layer without weights "
                                    f"({done} of {budget} weights pruned)")
        _, masks, figures = best
        done = sum(_pruned(masks, layer) for layer in layers)
    reached = None if target is None else figures[objective.figure] <= target
    return Allocation(masks=masks, pruned={layer[0]: _pruned(masks, layer) for layer in layers},
                      figure=figures[objective.figure], target_reached=reached, evaluations=evaluations)
