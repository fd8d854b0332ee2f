"""The torch device that training, pruning and the pruning statistics run on.

``train.device`` in a recipe (``--device`` on the CLI) is ``cpu`` (the
default) or ``cuda`` / ``cuda:N``. Everything after training runs on the
CPU: checkpoints hold CPU tensors, and export, the golden model and Lava
read those.
"""
from __future__ import annotations

from typing import Any

import torch


class DeviceError(ValueError):
    """The recipe asks for a device this machine does not have; one line."""


def check_device(name: str) -> None:
    """``DeviceError`` when ``name`` (``train.device`` or ``--device``) is a CUDA device
    torch cannot use on this machine."""
    if not name.startswith("cuda"):
        return
    if not torch.cuda.is_available():
        build = "a CPU-only build" if torch.version.cuda is None else f"built for CUDA {torch.version.cuda}"
        raise DeviceError(f"device {name!r} (train.device or --device): torch {torch.__version__} ({build}) "
                          "finds no CUDA device on this machine; use cpu")
    index = torch.device(name).index
    if index is not None and index >= torch.cuda.device_count():
        raise DeviceError(f"device {name!r} (train.device or --device): this machine has "
                          f"{torch.cuda.device_count()} CUDA device(s)")


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of ``model``'s parameters (the CPU for a model without any)."""
    return next((p.device for p in model.parameters()), torch.device("cpu"))


def to_cpu(value: Any) -> Any:
    """``value`` with every tensor in it (nested in dicts and lists) copied to the CPU."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {key: to_cpu(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_cpu(item) for item in value)
    return value
