"""The two networks a perturbation compares, built from a run folder's checkpoints.

``prune``: reference = the dense trained network (``dense.pt``), perturbed =
the same weights times the masks of ``pruned.pt`` (no fine-tuning: the
perturbation pruning itself causes); both through the 8-bit quantizer.
``quantize``: reference = the dense network with float weights (each
synapse's ``pre_hook_fx`` removed), perturbed = the same network with
lava-dl's 8-bit quantizer, as it is exported.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import torch

from neurodeploy.train.masks import apply_masks
from neurodeploy.recipe import Recipe
from neurodeploy.train.checkpoint import CheckpointError, load_checkpoint
from neurodeploy.variants import DENSE, PRUNED

PERTURBATIONS = ("prune", "quantize")
DESCRIPTIONS = {
    "prune": (
        f"{DENSE.checkpoint} weights, 8-bit quantized",
        f"{DENSE.checkpoint} weights times {PRUNED.checkpoint} masks (not fine-tuned), 8-bit quantized",
    ),
    "quantize": (f"{DENSE.checkpoint} weights in float (no quantizer)", f"{DENSE.checkpoint} weights, 8-bit quantized"),
}


class AnalysisError(ValueError):
    """Input the analysis cannot use; the message names the file or option."""


@dataclass
class Pair:
    """Reference and perturbed network (eval mode) and the run's recipe."""

    reference: torch.nn.Module
    perturbed: torch.nn.Module
    recipe: Recipe
    reference_description: str
    perturbed_description: str


def perturbed_pair(out_dir: Path, recipe: Recipe, perturbation: str) -> Pair:
    """Build the networks ``perturbation`` compares from ``out_dir``'s checkpoints
    (the networks ``recipe.model`` describes)."""
    if perturbation not in PERTURBATIONS:
        raise AnalysisError(f"unknown perturbation {perturbation!r}: choose one of {', '.join(PERTURBATIONS)}")
    dense = load_checkpoint(out_dir / DENSE.checkpoint).model(recipe.model)
    perturbed = copy.deepcopy(dense)
    if perturbation == "prune":
        path = out_dir / PRUNED.checkpoint
        masks = load_checkpoint(path).masks
        if not masks:
            raise CheckpointError(f"{path}: holds no pruning masks")
        try:
            apply_masks(perturbed, masks)
        except (KeyError, ValueError) as err:
            raise CheckpointError(f"{path}: masks do not fit {DENSE.checkpoint} ({err})") from err
        reference = dense
    else:
        reference = dense
        for block in reference.blocks:
            if getattr(block, "synapse", None) is not None:
                block.synapse.pre_hook_fx = None
    ref_text, pert_text = DESCRIPTIONS[perturbation]
    return Pair(reference.eval(), perturbed.eval(), recipe, ref_text, pert_text)
