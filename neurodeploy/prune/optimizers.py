"""The optimizers the supermask search trains its scores with (``supermask.optimizer``).

``OPTIMIZERS`` is the registry: name -> a function of (parameters, lr, momentum,
weight_decay) returning the torch optimizer.
"""
from __future__ import annotations

from typing import Callable, Iterable

import torch

from neurodeploy.registry import Registry

OptimizerFactory = Callable[[Iterable[torch.nn.Parameter], float, float, float], torch.optim.Optimizer]


def adam(params: Iterable[torch.nn.Parameter], lr: float, momentum: float, weight_decay: float) -> torch.optim.Optimizer:
    """Adam with L2 ``weight_decay``; ``momentum`` is unused (Adam keeps its own moments)."""
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


def sgd(params: Iterable[torch.nn.Parameter], lr: float, momentum: float, weight_decay: float) -> torch.optim.Optimizer:
    """SGD with ``momentum`` and L2 ``weight_decay`` (the edge-popup paper's choice)."""
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


OPTIMIZERS: Registry[OptimizerFactory] = Registry("supermask optimizer", {"adam": adam, "sgd": sgd})
