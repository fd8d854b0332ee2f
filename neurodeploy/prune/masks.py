"""Masks: one bool tensor per pruned parameter, keyed by its dotted name.

``True`` keeps a weight, ``False`` prunes it. Masks live apart from the
weights; ``apply_masks`` writes them in (``w <- w * m``).
"""
from __future__ import annotations

import torch

Masks = dict[str, torch.Tensor]


def apply_masks(model: torch.nn.Module, masks: Masks) -> None:
    """Zero every masked-out weight of ``model`` in place.

    Raises ``KeyError`` for a mask whose name is not a parameter of ``model``
    and ``ValueError`` for a mask whose shape differs from its parameter.
    """
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, mask in masks.items():
            if name not in params:
                raise KeyError(f"mask {name!r} names no parameter of the model")
            if mask.shape != params[name].shape or mask.dtype != torch.bool:
                raise ValueError(
                    f"mask {name!r} must be bool of shape {tuple(params[name].shape)}, "
                    f"got {mask.dtype} {tuple(mask.shape)}"
                )
            params[name].mul_(mask)


def mask_sparsity(masks: Masks) -> float:
    """Fraction of pruned entries over all masks: sum(~m) / sum(numel)."""
    total = sum(m.numel() for m in masks.values())
    pruned = sum(int((~m).sum()) for m in masks.values())
    return pruned / total
