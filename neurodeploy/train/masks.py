"""Masks: one bool tensor per pruned parameter, keyed by its dotted name.

``True`` keeps a weight, ``False`` prunes it. Masks live apart from the
weights. A static mask is written into the weights (``apply_masks``:
``w <- w * m``) and re-applied after every optimizer step, so pruned weights
stay exactly zero. A forward mask (``attach_forward_masks``, SF-IMP-2's
dynamic masks) only masks the weight the forward pass uses: the stored
weight keeps its value and its gradient, and ``squash_forward_masks`` writes
the mask in at the end.
"""
from __future__ import annotations

from typing import Callable

import torch

Masks = dict[str, torch.Tensor]


def _check(params: dict[str, torch.nn.Parameter], name: str, mask: torch.Tensor) -> torch.nn.Parameter:
    if name not in params:
        raise KeyError(f"mask {name!r} names no parameter of the model")
    if mask.shape != params[name].shape or mask.dtype != torch.bool:
        raise ValueError(
            f"mask {name!r} must be bool of shape {tuple(params[name].shape)}, "
            f"got {mask.dtype} {tuple(mask.shape)}"
        )
    return params[name]


def apply_masks(model: torch.nn.Module, masks: Masks) -> None:
    """Zero every masked-out weight of ``model`` in place.

    Raises ``KeyError`` for a mask whose name is not a parameter of ``model``
    and ``ValueError`` for a mask whose shape differs from its parameter.
    """
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, mask in masks.items():
            _check(params, name, mask).mul_(mask)


def mask_sparsity(masks: Masks) -> float:
    """Fraction of pruned entries over all masks: sum(~m) / sum(numel)."""
    total = sum(m.numel() for m in masks.values())
    pruned = sum(int((~m).sum()) for m in masks.values())
    return pruned / total


class ForwardMask:
    """A synapse's ``pre_hook_fx`` that masks the weight first, straight through.

    ``mask``: a tensor shaped like the weight, or a function returning one
    (a supermask's top-k of its scores, recomputed every forward pass).
    Forward: ``hook(w * m)`` exactly. Backward: the gradient reaches every
    entry of w as if unmasked (d w_eff / d w = 1), so a masked weight keeps
    learning, and m gets d w_eff / d m = w (edge-popup's score gradient):
    ``w * m + (w - w.detach()) * (1 - m)``.
    """

    def __init__(self, hook: Callable[..., torch.Tensor],
                 mask: torch.Tensor | Callable[[], torch.Tensor]) -> None:
        self.hook = hook
        self.mask = mask

    def current(self) -> torch.Tensor:
        """The mask of this forward pass."""
        return self.mask() if callable(self.mask) else self.mask

    def __call__(self, weight: torch.Tensor, descale: bool = False) -> torch.Tensor:
        keep = self.current().to(weight.dtype)
        masked = weight * keep + (weight - weight.detach()) * (1 - keep)
        return self.hook(masked, descale=descale)


def _synapse(model: torch.nn.Module, name: str) -> torch.nn.Module:
    return model.get_submodule(name.rsplit(".", 1)[0])


def attach_forward_masks(model: torch.nn.Module, masks: Masks) -> None:
    """Mask the weights named in ``masks`` in the forward pass only.

    The synapse's own ``pre_hook_fx`` (lava-dl's 8-bit quantizer) still runs,
    on the masked weight. Attaching again replaces the earlier mask.
    """
    params = dict(model.named_parameters())
    for name, mask in masks.items():
        _check(params, name, mask)
        synapse = _synapse(model, name)
        hook = synapse.pre_hook_fx
        synapse.pre_hook_fx = ForwardMask(hook.hook if isinstance(hook, ForwardMask) else hook, mask)


def squash_forward_masks(model: torch.nn.Module) -> None:
    """Write every forward mask into its weight (``w <- w * m``) and remove it."""
    for name, param in model.named_parameters():
        if not name.endswith(".weight"):
            continue
        synapse = _synapse(model, name)
        hook = getattr(synapse, "pre_hook_fx", None)
        if isinstance(hook, ForwardMask):
            with torch.no_grad():
                param.mul_(hook.current())
            synapse.pre_hook_fx = hook.hook
