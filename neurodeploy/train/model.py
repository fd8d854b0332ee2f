"""A stack of SLAYER CUBA Dense blocks, built from a recipe."""
from __future__ import annotations

import numpy as np
import torch

from neurodeploy.lavacompat import slayer
from neurodeploy.recipe import ModelSettings


class SpikingMLP(torch.nn.Module):
    """inputs -> hidden... -> classes, each a ``slayer.block.cuba.Dense``.

    Every block keeps lava-dl's default ``pre_hook_fx`` (the 8-bit weight
    quantizer ``neuron.quantize_8bit``): the forward pass uses the weights
    exactly as they are exported, so PyTorch and Lava see the same network.
    Each block delays its output by one step (SLAYER's ``delay_shift``).
    """

    def __init__(self, sizes: list[int], settings: ModelSettings) -> None:
        super().__init__()
        n = settings.neuron
        params = {
            "threshold": n.threshold,
            "current_decay": n.current_decay,
            "voltage_decay": n.voltage_decay,
            "tau_grad": n.tau_grad,
            "scale_grad": n.scale_grad,
            "requires_grad": False,
        }
        self.sizes = list(sizes)
        self.blocks = torch.nn.ModuleList(
            slayer.block.cuba.Dense(params, fan_in, fan_out)
            for fan_in, fan_out in zip(sizes[:-1], sizes[1:])
        )

    def weight_names(self) -> list[str]:
        """Dotted names of the synaptic weights, in layer order."""
        return [f"blocks.{i}.synapse.weight" for i in range(len(self.blocks))]

    def layer_spikes(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Spikes of every layer: x [batch, in, T] -> list of [batch, n_l, T]."""
        spikes = []
        for block in self.blocks:
            x = block(x)
            spikes.append(x)
        return spikes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Output spikes [batch, classes, T] for input spikes [batch, in, T]."""
        return self.layer_spikes(x)[-1]


def build_model(num_inputs: int, num_classes: int, settings: ModelSettings) -> SpikingMLP:
    """The network a recipe describes, with sizes [inputs, *hidden, classes]."""
    return SpikingMLP([num_inputs, *settings.hidden, num_classes], settings)


def classify(output_spikes: np.ndarray, steps: int) -> np.ndarray:
    """Class per sample: argmax of output spike counts over the first ``steps``.

    output_spikes: [samples, classes, T'] with T' >= steps. Ties go to the
    lowest class index. Returns int64 [samples].
    """
    return output_spikes[..., :steps].sum(axis=-1).argmax(axis=-1)
