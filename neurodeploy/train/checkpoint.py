"""Checkpoints: weights, masks and extras, written atomically, read without running code.

A checkpoint is ``torch.save`` of a dict holding only tensors and plain data
(dicts, lists, strings, numbers, None). It is read with
``torch.load(weights_only=True)``, PyTorch's restricted unpickler, which
builds only those types: a file whose pickle asks for anything else (a
function to call, a class to build) is refused before any of it runs, so a
run folder someone else wrote cannot execute code here.

The recipe a checkpoint was made with is stored for the record only; stages
read their settings from the run's current recipe (``pipeline``), and the
model is rebuilt from it (``Checkpoint.model``).
"""
from __future__ import annotations

import io
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from neurodeploy.fileio import REDO, atomic_path
from neurodeploy.recipe import ModelSettings, Recipe
from neurodeploy.train.device import to_cpu
from neurodeploy.train.model import SpikingNet, build_model



class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit the recipe; names the file."""


@dataclass(frozen=True)
class Checkpoint:
    """What a checkpoint holds.

    input_shape: (C, H, W) the network reads; num_classes: its outputs.
    state_dict: the weights by dotted name. masks: bool tensors by weight
    name (True = kept), or None. losses: per epoch. extra: e.g.
    ``rewind_state`` and ``rewind_epoch`` (training), ``rounds`` (pruning).
    recipe: the recipe it was made with, as a dict, for the record.
    """

    path: Path
    input_shape: tuple[int, int, int]
    num_classes: int
    state_dict: dict[str, torch.Tensor]
    masks: dict[str, torch.Tensor] | None
    losses: list[float]
    extra: dict[str, Any]
    recipe: dict[str, Any]

    def model(self, settings: ModelSettings) -> SpikingNet:
        """The network ``settings`` describe, with these weights; ``CheckpointError``
        when the weights do not fit it (the checkpoint was made with other settings)."""
        model = build_model(self.input_shape, self.num_classes, settings)
        try:
            model.load_state_dict(self.state_dict)
        except RuntimeError as err:
            raise CheckpointError(
                f"{self.path}: its weights do not fit the recipe's model settings "
                f"({str(err).splitlines()[0]}); {REDO}"
            ) from err
        return model


def save_checkpoint(
    path: Path, model: SpikingNet, recipe: Recipe, masks: dict[str, torch.Tensor] | None, losses: list[float],
    extra: dict[str, Any] | None = None,
) -> None:
    """Save the model's input shape, classes and weights, masks (bool, by dotted name),
    the recipe (for the record), the losses and ``extra`` (e.g. the rewind weights);
    every tensor as a CPU copy, whatever device it trained on."""
    payload = {
        "recipe": recipe.to_dict(),
        "input_shape": list(model.input_shape),
        "num_classes": model.num_classes,
        "state_dict": to_cpu(dict(model.state_dict())),
        "masks": to_cpu(masks),
        "losses": [float(v) for v in losses],
        "extra": to_cpu(extra or {}),
    }
    buffer = io.BytesIO()  # serialized first: torch's writer turns a failed write (a full disk) into
    torch.save(payload, buffer)  # an unreadable RuntimeError, a plain write gives the OSError
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getbuffer())


def _check_tensors(path: Path, name: str, value: Any, dtype: torch.dtype | None = None) -> None:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) and (dtype is None or v.dtype == dtype)
        for k, v in value.items()
    ):
        kind = f"{dtype} tensors" if dtype is not None else "tensors"
        raise CheckpointError(f"{path}: not a neurodeploy checkpoint ('{name}' is not a dict of {kind}); {REDO}")


def load_checkpoint(path: Path) -> Checkpoint:
    """Read the checkpoint at ``path`` (restricted unpickler, see the module doc).

    Raises ``CheckpointError`` on one line naming the file for a missing,
    damaged or foreign file, or one whose pickle asks for anything but
    tensors and plain data.
    """
    path = Path(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as err:
        raise CheckpointError(f"{path}: no such checkpoint; {REDO}") from err
    except pickle.UnpicklingError as err:
        # torch's message: a preamble, the reason, a link; the reason names a refused GLOBAL
        lines = [line.strip() for line in str(err).splitlines()[1:] if line.strip()]
        reason = next((line for line in lines if "GLOBAL" in line), None)
        if reason is not None:
            raise CheckpointError(
                f"{path}: refused: its pickle asks for more than tensors and plain data ({reason}); "
                f"nothing in it was run; {REDO}"
            ) from err
        detail = lines[-2] if len(lines) > 1 else str(err).splitlines()[0]
        raise CheckpointError(f"{path}: not a readable checkpoint (damaged pickle: {detail}); {REDO}") from err
    except (OSError, RuntimeError, EOFError, ValueError, zipfile.BadZipFile) as err:
        raise CheckpointError(f"{path}: not a readable checkpoint ({str(err).splitlines()[0]}); {REDO}") from err
    if not isinstance(payload, dict) or not {"input_shape", "num_classes", "state_dict"} <= set(payload):
        raise CheckpointError(f"{path}: not a neurodeploy checkpoint (missing keys); {REDO}")
    _check_tensors(path, "state_dict", payload["state_dict"])
    if payload.get("masks") is not None:
        _check_tensors(path, "masks", payload["masks"], torch.bool)
    shape = payload["input_shape"]
    if not (isinstance(shape, (list, tuple)) and len(shape) == 3 and all(isinstance(v, int) and v > 0 for v in shape)):
        raise CheckpointError(f"{path}: not a neurodeploy checkpoint (input_shape {shape!r}); {REDO}")
    if not isinstance(payload["num_classes"], int) or payload["num_classes"] < 1:
        raise CheckpointError(f"{path}: not a neurodeploy checkpoint (num_classes {payload['num_classes']!r}); {REDO}")
    extra = payload.get("extra") or {}
    if not isinstance(extra, dict):
        raise CheckpointError(f"{path}: not a neurodeploy checkpoint ('extra' is not a dict); {REDO}")
    return Checkpoint(
        path=path,
        input_shape=tuple(shape),
        num_classes=payload["num_classes"],
        state_dict=payload["state_dict"],
        masks=payload.get("masks"),
        losses=list(payload.get("losses") or []),
        extra=extra,
        recipe=payload.get("recipe") or {},
    )
