"""From scores to masks: prune the lowest-scoring weights, or whole units, of each pool.

A pool is a set of weight tensors ranked together. ``SCOPES`` is the registry of
pruning scopes: how the pruned layers are split into pools, and which layers lose
whole units instead of single weights. A layer is a weight name, or a tuple of the
names of its weights (a recurrent layer's input and recurrent weights), which always
share a pool. A unit is row i of every weight of a layer: a dense layer's neuron i,
a conv layer's output channel i (its whole map); a layer without the unit's incoming
weights never sends a message from it, so the export removes it (``removed_units``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Collection, Sequence

import torch

from neurodeploy.registry import Registry
from neurodeploy.train.masks import Masks

Pools = tuple[tuple[str, ...], ...]


Layer = str | tuple[str, ...]


def layer_names(layer: Layer) -> tuple[str, ...]:
    """A layer's weight names as a tuple."""
    return (layer,) if isinstance(layer, str) else tuple(layer)


def _touches(layer: Layer, names: Collection[str]) -> bool:
    return bool(set(layer_names(layer)) & set(names))


def global_pools(pruned: Sequence[Layer], apart: Collection[str], conv: Collection[str] = ()) -> Pools:
    """The layers of ``apart`` (by weight name) each in a pool of its own, then every other
    pruned layer's weights in one pool."""
    alone = [layer_names(layer) for layer in pruned if _touches(layer, apart)]
    shared = tuple(name for layer in pruned if not _touches(layer, apart) for name in layer_names(layer))
    return tuple(alone + ([shared] if shared else []))


def layerwise_pools(pruned: Sequence[Layer], apart: Collection[str], conv: Collection[str] = ()) -> Pools:
    """Every pruned layer's weights in a pool of their own (``apart`` changes nothing)."""
    return tuple(layer_names(layer) for layer in pruned)


def channel_pools(pruned: Sequence[Layer], apart: Collection[str], conv: Collection[str]) -> Pools:
    """Every conv layer (by weight name in ``conv``) in a pool of its own, the others as
    ``global_pools`` pools them."""
    return (tuple(layer_names(layer) for layer in pruned if _touches(layer, conv))
            + global_pools([layer for layer in pruned if not _touches(layer, conv)], apart))


@dataclass(frozen=True)
class Scope:
    """pools: (pruned layers, names ranked apart, names of conv layers) -> the pools;
    units: whether a layer (given whether it is a conv) loses whole units."""

    pools: Callable[[Sequence[Layer], Collection[str], Collection[str]], Pools]
    units: Callable[[bool], bool]


SCOPES: Registry[Scope] = Registry("pruning scope", {
    "global": Scope(global_pools, lambda conv: False),
    "layerwise": Scope(layerwise_pools, lambda conv: False),
    "neuron": Scope(layerwise_pools, lambda conv: True),
    "channel": Scope(channel_pools, lambda conv: conv),
})


class EmptiedLayerError(ValueError):
    """A sparsity that would leave a layer without a single weight."""


def pruned_count(sizes: list[int], sparsity: float, dead: int = 0) -> int:
    """How many of ``sum(sizes)`` weights ranked together ``lowest_masks`` prunes:
    ``ceil(sparsity * N)``, or the ``dead`` ones when more are dead already.

    Raises ``EmptiedLayerError`` when that would leave fewer weights than
    tensors: every tensor keeps at least one (netx cannot load an all-zero
    dense layer, and an empty layer silences everything after it).
    """
    total = sum(sizes)
    count = max(math.ceil(round(sparsity * total, 9)), dead)
    if total - count < len(sizes):
        raise EmptiedLayerError(
            f"sparsity {sparsity} prunes {count} of {total} weights, which would leave a layer "
            f"without weights ({len(sizes)} layer(s) ranked together need at least one each)"
        )
    return count


def lowest_masks(
    scores: dict[str, torch.Tensor],
    sparsity: float,
    alive: dict[str, torch.Tensor] | None = None,
) -> Masks:
    """Masks pruning the ``ceil(sparsity * N)`` lowest scores over all tensors.

    scores: dotted name -> tensor (any shapes), ranked together, N their
    total size. alive: bool tensors of the same shapes; an entry that is not
    alive stays pruned whatever its score (pruning never revives a weight);
    when more than the target are dead already, no live one is pruned. Rounding
    up means the sparsity reached is never below the one asked. Ties at the
    cut fall either way; every pruned live score is <= every kept score,
    except that every tensor keeps its best live entry: where a tensor would
    lose all of them, its best one is kept and the next-lowest score
    elsewhere is pruned instead (``pruned_count`` refuses a sparsity that
    cannot leave one per tensor).
    """
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity = {sparsity} is outside [0, 1)")
    flat = torch.cat([s.detach().double().flatten() for s in scores.values()])
    dead = torch.zeros(flat.numel(), dtype=torch.bool)
    if alive is not None:
        dead = ~torch.cat([alive[name].flatten() for name in scores])
        flat = flat.masked_fill(dead, -math.inf)
    num_pruned = pruned_count([s.numel() for s in scores.values()], sparsity, int(dead.sum()))
    ranked, offset = flat.clone(), 0
    for s in scores.values():  # protect each tensor's best live entry (dead ones are -inf)
        if not dead[offset : offset + s.numel()].all():
            ranked[offset + int(torch.argmax(flat[offset : offset + s.numel()]))] = math.inf
        offset += s.numel()
    keep = torch.ones(flat.numel(), dtype=torch.bool)
    if num_pruned:
        keep[torch.topk(ranked, num_pruned, largest=False, sorted=False).indices] = False
    masks, offset = {}, 0
    for name, s in scores.items():
        masks[name] = keep[offset : offset + s.numel()].reshape(s.shape).clone()
        offset += s.numel()
    return masks


def unit_masks(
    scores: dict[str, torch.Tensor],
    sparsity: float,
    alive: dict[str, torch.Tensor] | None = None,
) -> Masks:
    """Masks pruning whole units of one layer (``scores``: its tensors, [units, ...] each):
    the units of lowest mean score over their weights, until at least
    ``ceil(sparsity * N)`` of its N weights are pruned. A unit with no live weight stays
    pruned; at least one unit is kept (``EmptiedLayerError`` otherwise)."""
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity = {sparsity} is outside [0, 1)")
    rows = [s.detach().double().reshape(s.shape[0], -1) for s in scores.values()]
    units = rows[0].shape[0]
    per_unit = sum(row.shape[1] for row in rows)
    dead = torch.zeros(units, dtype=torch.bool)
    if alive is not None:
        dead = ~torch.stack([alive[name].reshape(units, -1).any(dim=1) for name in scores]).any(dim=0)
    wanted = math.ceil(round(sparsity * units * per_unit, 9) / per_unit)
    count = max(wanted, int(dead.sum()))
    if count >= units:
        raise EmptiedLayerError(f"sparsity {sparsity} removes {count} of {units} units of a layer, which would "
                                "leave it without a unit (at least one is kept)")
    ranked = torch.cat(rows, dim=1).mean(dim=1).masked_fill(dead, -math.inf)
    keep = torch.ones(units, dtype=torch.bool)
    keep[torch.argsort(ranked, stable=True)[:count]] = False
    return {name: keep.reshape(-1, *[1] * (s.dim() - 1)).expand(s.shape).clone() for name, s in scores.items()}


def pooled_masks(
    scores: dict[str, torch.Tensor],
    sparsity: float,
    pools: list[list[str]],
    alive: dict[str, torch.Tensor] | None = None,
    units: Collection[str] = (),
) -> Masks:
    """``lowest_masks`` on each pool of names on its own, joined; ``unit_masks`` on a pool
    of ``units`` (names of layers that lose whole units; such a pool is one layer).

    Global scope is one pool of all pruned layers; layerwise scope a pool
    per layer. Every name of ``scores`` must be in exactly one pool.
    """
    listed = [name for pool in pools for name in pool]
    if sorted(listed) != sorted(scores):
        raise ValueError(f"pools {pools} do not cover the scored layers {sorted(scores)} once each")
    masks: Masks = {}
    for pool in pools:
        select = unit_masks if set(pool) & set(units) else lowest_masks
        masks.update(select({name: scores[name] for name in pool}, sparsity, alive))
    return masks


def removed_units(masks: Masks, layers: Sequence[Layer], units: Collection[str]) -> dict[str, list[int]]:
    """The units each layer of ``units`` lost: ``{"k": [i, ...]}``, k the layer's index in
    ``layers`` (every layer with weights, ``SpikingNet.weight_layers``), i the units (rows)
    whose weights are all pruned, ascending; layers that lost none are left out."""
    removed = {}
    for index, layer in enumerate(layers):
        names = layer_names(layer)
        if not set(names) & set(units):
            continue
        alive = torch.stack([masks[name].reshape(masks[name].shape[0], -1).any(dim=1) for name in names]).any(dim=0)
        gone = torch.nonzero(~alive).flatten().tolist()
        if gone:
            removed[str(index)] = gone
    return removed
