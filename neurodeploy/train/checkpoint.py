"""Checkpoints: weights, masks and the recipe that made them, written atomically."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from neurodeploy.prune.masks import Masks
from neurodeploy.recipe import Recipe, recipe_from_dict
from neurodeploy.train.model import SpikingNet, build_model
from neurodeploy.fileio import atomic_path


class CheckpointError(ValueError):
    """A checkpoint that cannot be read; names the file."""


def save_checkpoint(
    path: Path, model: SpikingNet, recipe: Recipe, masks: Masks | None, losses: list[float],
    extra: dict[str, Any] | None = None,
) -> None:
    """Save the model's input shape, classes and weights, masks (bool, by dotted name),
    the recipe, the losses and ``extra`` (e.g. the rewind weights)."""
    payload = {
        "recipe": recipe.to_dict(),
        "input_shape": model.input_shape,
        "num_classes": model.num_classes,
        "state_dict": model.state_dict(),
        "masks": masks,
        "losses": losses,
        "extra": extra or {},
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: Path) -> tuple[SpikingNet, Recipe, Masks | None]:
    """Rebuild the model saved at ``path``; returns (model, recipe, masks)."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
        recipe = recipe_from_dict(payload["recipe"])
        model = build_model(tuple(payload["input_shape"]), payload["num_classes"], recipe.model)
        model.load_state_dict(payload["state_dict"])
    except FileNotFoundError as err:
        raise CheckpointError(f"{path}: no such checkpoint (run the stage that makes it)") from err
    except (OSError, RuntimeError, KeyError, ValueError) as err:
        raise CheckpointError(f"{path}: not a neurodeploy checkpoint ({err})".splitlines()[0]) from err
    return model, recipe, payload["masks"]


def checkpoint_extra(path: Path) -> dict[str, Any]:
    """The ``extra`` entries saved with a checkpoint (empty when none)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=False).get("extra", {})
    except FileNotFoundError as err:
        raise CheckpointError(f"{path}: no such checkpoint (run the stage that makes it)") from err
    except (OSError, RuntimeError, AttributeError) as err:
        raise CheckpointError(f"{path}: not a neurodeploy checkpoint ({err})".splitlines()[0]) from err
