"""From scores to masks: prune the lowest-scoring weights of each group."""
from __future__ import annotations

import math

import torch

from neurodeploy.prune.masks import Masks


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
    cut fall either way; every pruned live score is <= every kept score.
    """
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity = {sparsity} is outside [0, 1)")
    flat = torch.cat([s.detach().double().flatten() for s in scores.values()])
    if alive is not None:
        dead = ~torch.cat([alive[name].flatten() for name in scores])
        flat = flat.masked_fill(dead, -math.inf)
    num_pruned = math.ceil(round(sparsity * flat.numel(), 9))
    if alive is not None:
        num_pruned = max(num_pruned, int(dead.sum()))
    keep = torch.ones(flat.numel(), dtype=torch.bool)
    if num_pruned:
        keep[torch.topk(flat, num_pruned, largest=False, sorted=False).indices] = False
    masks, offset = {}, 0
    for name, s in scores.items():
        masks[name] = keep[offset : offset + s.numel()].reshape(s.shape).clone()
        offset += s.numel()
    return masks


def grouped_masks(
    scores: dict[str, torch.Tensor],
    sparsity: float,
    groups: list[list[str]],
    alive: dict[str, torch.Tensor] | None = None,
) -> Masks:
    """``lowest_masks`` on each group of names on its own, joined.

    Global scope is one group of all pruned layers; layerwise scope a group
    per layer. Every name of ``scores`` must be in exactly one group.
    """
    listed = [name for group in groups for name in group]
    if sorted(listed) != sorted(scores):
        raise ValueError(f"groups {groups} do not cover the scored layers {sorted(scores)} once each")
    masks: Masks = {}
    for group in groups:
        masks.update(lowest_masks({name: scores[name] for name in group}, sparsity, alive))
    return masks
