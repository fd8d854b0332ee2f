"""Firing rates and membrane potential statistics measured on data, per layer.

What the spiking-firing criterion needs (Eq. 12/13, S.43): for every layer,
the firing rate of each input (per input channel for a conv layer) and the
mean and variance of each output neuron's membrane potential (per output
channel for a conv layer), over samples, time steps and pixels.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from neurodeploy.train.model import SpikingNet


@dataclass(frozen=True)
class LayerStatistics:
    """Statistics of one layer, measured on data.

    input_rate: float64 [in_channels], E[s_i]: spikes per step of input i
        (averaged over the channel's pixels for a conv layer).
    potential_mean, potential_var: float64 [out_channels], mean and variance
        of the membrane potential u_j (SLAYER float units, before the spike
        and reset of the step) over samples, steps and pixels.
    threshold: u_th, in the same units.
    """

    input_rate: np.ndarray
    potential_mean: np.ndarray
    potential_var: np.ndarray
    threshold: float


class _Accumulator:
    """Running sums over the channel axis 1 of [batch, channels, ..., T] tensors."""

    def __init__(self) -> None:
        self.count = 0
        self.total: np.ndarray | None = None
        self.squares: np.ndarray | None = None

    def add(self, values: torch.Tensor) -> None:
        flat = values.detach().double().transpose(0, 1).reshape(values.shape[1], -1)
        total, squares = flat.sum(1).numpy(), (flat * flat).sum(1).numpy()
        self.total = total if self.total is None else self.total + total
        self.squares = squares if self.squares is None else self.squares + squares
        self.count += flat.shape[1]

    def mean(self) -> np.ndarray:
        return self.total / self.count

    def var(self) -> np.ndarray:
        mean = self.mean()
        return np.maximum(self.squares / self.count - mean * mean, 0.0)


def layer_statistics(model: SpikingNet, x: np.ndarray, batch_size: int = 256) -> dict[str, LayerStatistics]:
    """Run ``model`` on x [samples, inputs, T] and measure every neuron layer.

    Keyed by the layer's weight name (``model.weight_names()``). The model
    runs as it is, masks and quantizer included; potentials are those of
    ``neuron.dynamics`` on the synaptic input the block computed.
    """
    names = model.weight_names()
    blocks = model.neuron_blocks
    rates = [_Accumulator() for _ in blocks]
    potentials = [_Accumulator() for _ in blocks]
    handles = []
    for index, block in enumerate(blocks):
        handles.append(block.register_forward_pre_hook(
            lambda _module, args, i=index: rates[i].add(args[0])
        ))
        handles.append(block.neuron.register_forward_pre_hook(
            lambda module, args, i=index: potentials[i].add(module.dynamics(args[0])[1])
        ))
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(x), batch_size):
                model(torch.from_numpy(np.ascontiguousarray(x[start : start + batch_size])).float())
    finally:
        for handle in handles:
            handle.remove()
    return {
        name: LayerStatistics(
            input_rate=rate.mean(),
            potential_mean=potential.mean(),
            potential_var=potential.var(),
            threshold=float(block.neuron.threshold),
        )
        for name, block, rate, potential in zip(names, blocks, rates, potentials)
    }
