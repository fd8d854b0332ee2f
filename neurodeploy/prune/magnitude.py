"""Global magnitude pruning: keep the largest |w| across all given tensors."""
from __future__ import annotations

import math

import torch

from neurodeploy.prune.masks import Masks


def global_magnitude_masks(weights: dict[str, torch.Tensor], sparsity: float) -> Masks:
    """Masks pruning the ``ceil(sparsity * N)`` smallest |w| over all tensors.

    weights: dotted name -> tensor (any shapes), N their total size; rounding
    up means the sparsity reached is never below the one asked. Exactly that
    many entries are pruned, ties at the cut falling either way, and every
    pruned |w| is <= every kept |w|.
    """
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity = {sparsity} is outside [0, 1)")
    flat = torch.cat([w.detach().abs().flatten() for w in weights.values()])
    num_pruned = math.ceil(round(sparsity * flat.numel(), 9))
    keep = torch.ones(flat.numel(), dtype=torch.bool)
    if num_pruned:
        keep[torch.topk(flat, num_pruned, largest=False, sorted=False).indices] = False
    masks, offset = {}, 0
    for name, w in weights.items():
        masks[name] = keep[offset : offset + w.numel()].reshape(w.shape).clone()
        offset += w.numel()
    return masks
