"""Checkpoints: weights, masks and the recipe that made them, written atomically."""
from __future__ import annotations

from pathlib import Path

import torch

from neurodeploy.prune.masks import Masks
from neurodeploy.recipe import Recipe, recipe_from_dict
from neurodeploy.train.model import SpikingMLP
from neurodeploy.fileio import atomic_path


class CheckpointError(ValueError):
    """A checkpoint that cannot be read; names the file."""


def save_checkpoint(
    path: Path, model: SpikingMLP, recipe: Recipe, masks: Masks | None, losses: list[float]
) -> None:
    """Save model sizes and weights, masks (bool, by dotted name), recipe and losses."""
    payload = {
        "recipe": recipe.to_dict(),
        "sizes": model.sizes,
        "state_dict": model.state_dict(),
        "masks": masks,
        "losses": losses,
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: Path) -> tuple[SpikingMLP, Recipe, Masks | None]:
    """Rebuild the model saved at ``path``; returns (model, recipe, masks)."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
        recipe = recipe_from_dict(payload["recipe"])
        model = SpikingMLP(payload["sizes"], recipe.model)
        model.load_state_dict(payload["state_dict"])
    except FileNotFoundError as err:
        raise CheckpointError(f"{path}: no such checkpoint (run the stage that makes it)") from err
    except (OSError, RuntimeError, KeyError, ValueError) as err:
        raise CheckpointError(f"{path}: not a neurodeploy checkpoint ({err})".splitlines()[0]) from err
    return model, recipe, payload["masks"]
