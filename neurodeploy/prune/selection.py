"""From scores to masks: prune the lowest-scoring weights of each pool.

A pool is a set of weight tensors ranked together. ``SCOPES`` is the registry of
pruning scopes: how the pruned layers are split into pools. A layer is a weight name,
or a tuple of the names of its weights (a recurrent layer's input and recurrent
weights), which always share a pool.
"""
from __future__ import annotations

import math
from typing import Callable, Collection, Sequence

import torch

from neurodeploy.registry import Registry
from neurodeploy.train.masks import Masks

Pools = tuple[tuple[str, ...], ...]


Layer = str | tuple[str, ...]


def layer_names(layer: Layer) -> tuple[str, ...]:
    """A layer's weight names as a tuple."""
    return (layer,) if isinstance(layer, str) else tuple(layer)


def global_pools(pruned: Sequence[Layer], apart: Collection[str]) -> Pools:
    """The layers of ``apart`` (by weight name) each in a pool of its own, then every other
    pruned layer's weights in one pool."""
    alone = [layer_names(layer) for layer in pruned if set(layer_names(layer)) & set(apart)]
    shared = tuple(name for layer in pruned if not set(layer_names(layer)) & set(apart) for name in layer_names(layer))
    return tuple(alone + ([shared] if shared else []))


def layerwise_pools(pruned: Sequence[Layer], apart: Collection[str]) -> Pools:
    """Every pruned layer's weights in a pool of their own (``apart`` changes nothing)."""
    return tuple(layer_names(layer) for layer in pruned)


Scope = Callable[[Sequence[Layer], Collection[str]], Pools]
SCOPES: Registry[Scope] = Registry("pruning scope", {"global": global_pools, "layerwise": layerwise_pools})


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


def pooled_masks(
    scores: dict[str, torch.Tensor],
    sparsity: float,
    pools: list[list[str]],
    alive: dict[str, torch.Tensor] | None = None,
) -> Masks:
    """``lowest_masks`` on each pool of names on its own, joined.

    Global scope is one pool of all pruned layers; layerwise scope a pool
    per layer. Every name of ``scores`` must be in exactly one pool.
    """
    listed = [name for pool in pools for name in pool]
    if sorted(listed) != sorted(scores):
        raise ValueError(f"pools {pools} do not cover the scored layers {sorted(scores)} once each")
    masks: Masks = {}
    for pool in pools:
        masks.update(lowest_masks({name: scores[name] for name in pool}, sparsity, alive))
    return masks
