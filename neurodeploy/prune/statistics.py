"""Firing rates and membrane potential statistics measured on data, per layer.

What the spiking-firing criterion needs (Eq. 12/13, S.43): for every layer,
the firing rate of each input (per input channel for a conv layer) and the
mean and variance of each output neuron's membrane potential (per output
channel for a conv layer), over samples, time steps and pixels. For a
sigma-delta layer the rate is that of nonzero messages and the "potential"
the change of the activation, compared with the delta threshold
(docs/pruning.md).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from neurodeploy.train.device import model_device
from neurodeploy.train.model import SpikingNet


@dataclass(frozen=True)
class LayerStatistics:
    """Statistics of one layer, measured on data.

    input_rate: float64 [in_channels], E[s_i]: spikes per step of input i
        (averaged over the channel's pixels for a conv layer).
    potential_mean, potential_var: float64 [out_channels], mean and variance
        of the membrane potential u_j (SLAYER float units, before the spike
        and reset of the step) over samples, steps and pixels.
    threshold: u_th, in the same units; None for a neuron without a threshold (a
        sigma-delta Output, a Sigma, passes every input on).
    """

    input_rate: np.ndarray
    potential_mean: np.ndarray
    potential_var: np.ndarray
    threshold: float | None


class _Accumulator:
    """Running sums over the channel axis 1 of [batch, channels, ..., T] tensors."""

    def __init__(self) -> None:
        self.count = 0
        self.total: np.ndarray | None = None
        self.squares: np.ndarray | None = None

    def add(self, values: torch.Tensor) -> None:
        flat = values.detach().double().transpose(0, 1).reshape(values.shape[1], -1)
        total, squares = flat.sum(1).cpu().numpy(), (flat * flat).sum(1).cpu().numpy()
        self.total = total if self.total is None else self.total + total
        self.squares = squares if self.squares is None else self.squares + squares
        self.count += flat.shape[1]

    def mean(self) -> np.ndarray:
        return self.total / self.count

    def var(self) -> np.ndarray:
        mean = self.mean()
        return np.maximum(self.squares / self.count - mean * mean, 0.0)


def layer_statistics(model: SpikingNet, x: np.ndarray, batch_size: int = 256) -> dict[str, LayerStatistics]:
    """Run ``model`` on x [samples, inputs, T] and measure every layer with weights.

    Keyed by weight name (``model.weight_names()``). The model runs as it is, masks
    and quantizer included. A rate is the fraction of steps an input sends a message
    (a spike, or a nonzero graded message); the potential is what the neuron compares
    with its threshold (``family.watch_threshold_input``: a CUBA voltage, a sigma-delta
    neuron's activation change against its delta threshold). A recurrent layer's
    recurrent weights take the layer's own output as their input; a Sigma output,
    which has no threshold, gets ``threshold`` None. The model runs on its own device
    (``train.device``); the sums are taken there and the results are numpy arrays.
    """
    blocks = model.neuron_blocks
    inputs = [_Accumulator() for _ in blocks]
    outputs = [_Accumulator() for _ in blocks]
    potentials = [_Accumulator() for _ in blocks]
    undo = []
    for index, block in enumerate(blocks):
        undo.append(block.register_forward_pre_hook(
            lambda _module, args, i=index: inputs[i].add((args[0] != 0).double())
        ).remove)
        undo.append(block.register_forward_hook(
            lambda _module, _args, out, i=index: outputs[i].add((out != 0).double())
        ).remove)
        undo.append(model.family.watch_threshold_input(block, potentials[index].add))
    model.eval()
    device = model_device(model)
    try:
        with torch.no_grad():
            for start in range(0, len(x), batch_size):
                model(torch.from_numpy(np.ascontiguousarray(x[start : start + batch_size])).float().to(device))
    finally:
        for remove in undo:
            remove()
    result = {}
    for names, block, rate, own, potential in zip(model.weight_layers(), blocks, inputs, outputs, potentials):
        measured = potential.count > 0
        unmeasured = np.zeros(len(own.mean()))
        for name, source in zip(names, (rate, own)):
            result[name] = LayerStatistics(
                input_rate=source.mean(),
                potential_mean=potential.mean() if measured else unmeasured,
                potential_var=potential.var() if measured else unmeasured,
                threshold=float(block.neuron.threshold) if measured else None,
            )
    return result
