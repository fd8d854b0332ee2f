"""Pruning criteria: a score per weight, lowest pruned first; ``CRITERIA`` is the
registry (name -> ``Criterion``: its score and whether it needs statistics).

Each criterion maps a layer's weight (SLAYER shape [out, in, kH, kW, 1]; a
dense layer has kH = kW = 1) and, when it needs them, the layer's
statistics on training data (``LayerStatistics``) to a score of the same
shape.

- ``magnitude``: |w_ij|.
- ``random``: uniform in [0, 1), independent of w (the baseline).
- ``sf``: the spiking-firing criterion of the paper (Eq. 12, 13; S.43 for
  conv layers), an estimate of the probability that removing w_ij changes
  the firing of output j:

      P_ij = E_act[|w_ij|] * |gamma_j| / sqrt(sigma_Bj^2 + eps) * N(0 | mu_j - u_th, var_j)

  with E_act[|w_ij|] = r_i |w_ij|, r_i the firing rate of input i (per
  input channel for conv), mu_j and var_j the mean and variance of output
  j's membrane potential (per output channel for conv), u_th the threshold
  and N(0 | m, v) = exp(-m^2 / 2v) / sqrt(2 pi v) the Gaussian density of
  the potential at the threshold. The factor gamma / sqrt(sigma^2 + eps) is
  the gain of a batch norm between the synapse and the potential; SLAYER
  CUBA blocks have none (no batch norm, and our blocks have no weight
  norm), the synaptic weight is the whole linear map from a spike to the
  current, so the factor is 1. ``VARIANCE_FLOOR`` is added to var_j so that
  a neuron whose potential never varies (a dead neuron) gets density ~0
  instead of 0/0.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from neurodeploy.prune.statistics import LayerStatistics
from neurodeploy.registry import Registry

VARIANCE_FLOOR = 1e-8

Score = Callable[[torch.Tensor, "LayerStatistics | None", torch.Generator], torch.Tensor]


def magnitude(weight: torch.Tensor, stats: LayerStatistics | None, generator: torch.Generator) -> torch.Tensor:
    """|w|."""
    return weight.detach().abs()


def random(weight: torch.Tensor, stats: LayerStatistics | None, generator: torch.Generator) -> torch.Tensor:
    """Uniform [0, 1) scores drawn from ``generator``."""
    return torch.rand(weight.shape, generator=generator)


def threshold_density(stats: LayerStatistics) -> torch.Tensor:
    """N(0 | mu_j - u_th, var_j) per output channel j: float64 [out]; 1 for neurons without
    a threshold (a Sigma output passes every input on)."""
    if stats.threshold is None:
        return torch.ones(len(stats.potential_mean), dtype=torch.float64)
    var = torch.from_numpy(stats.potential_var) + VARIANCE_FLOOR
    gap = torch.from_numpy(stats.potential_mean) - stats.threshold
    return torch.exp(-gap * gap / (2 * var)) / torch.sqrt(2 * math.pi * var)


def spiking_firing(weight: torch.Tensor, stats: LayerStatistics | None, generator: torch.Generator) -> torch.Tensor:
    """r_i |w_ij| N(0 | mu_j - u_th, var_j) (S.43 with gain 1), float64, weight's shape."""
    if stats is None:
        raise ValueError("the sf criterion needs layer statistics measured on data")
    out_channels, in_channels = weight.shape[:2]
    if stats.input_rate.shape != (in_channels,) or stats.potential_mean.shape != (out_channels,):
        raise ValueError(
            f"statistics for {stats.input_rate.shape[0]} inputs and {stats.potential_mean.shape[0]} outputs "
            f"do not fit a weight of shape {tuple(weight.shape)}"
        )
    view = (1,) * (weight.dim() - 2)
    rate = torch.from_numpy(stats.input_rate).reshape(1, in_channels, *view)
    density = threshold_density(stats).reshape(out_channels, 1, *view)
    return rate * weight.detach().abs().double() * density


@dataclass(frozen=True)
class Criterion:
    """A pruning criterion: its ``score`` (weight, statistics, generator) -> scores of
    the weight's shape, and whether it needs the layer statistics measured on training
    data (``statistics.layer_statistics``; without them ``score`` gets None)."""

    score: Score
    needs_statistics: bool = False


CRITERIA: Registry[Criterion] = Registry("pruning criterion", {
    "magnitude": Criterion(magnitude),
    "random": Criterion(random),
    "sf": Criterion(spiking_firing, needs_statistics=True),
})
