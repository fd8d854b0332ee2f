"""SLAYER (PyTorch, CPU) messages of every layer, in Lava's neuron order, units and columns."""
from __future__ import annotations

import numpy as np
import torch

from neurodeploy.loihi.order import chw_to_lava


def lava_order(spikes: np.ndarray) -> np.ndarray:
    """One layer's SLAYER spikes as [N, n, S] in Lava's neuron order.

    A conv layer's [N, C, H, W, S] becomes [N, W*H*C, S] (``chw_to_lava``);
    a dense layer's [N, n, S] is already in order and comes back as is.
    """
    if spikes.ndim == 3:
        return spikes
    if spikes.ndim != 5:
        raise ValueError(f"layer spikes must be [N, n, T] or [N, C, H, W, T], got shape {spikes.shape}")
    count, channels, height, width, steps = spikes.shape
    return chw_to_lava(spikes.reshape(count, -1, steps), (channels, height, width))


def torch_layer_spikes(model: torch.nn.Module, x: np.ndarray, pad: int, batch_size: int = 256) -> list[np.ndarray]:
    """Messages of every layer of the exported network, in the golden model's units and columns.

    x: [N, n_in, T] inputs (0/1 spikes, or values for a sigma-delta Input block) in
    the order the model reads them: an image flattened in (C, H, W) order (the model
    reshapes it itself), NOT Lava's order. SLAYER runs T + ``pad`` steps (the input
    silent after T); ``model.layer_spikes`` gives [B, C, H, W, T'] per conv layer and
    [B, n, T'] per dense layer. Layer l is moved ``family.lag(l)`` columns later
    (sigma-delta blocks do not delay, Lava does) and read as the chip's integers
    (``family.chip_values``). Returns one array [N, n_l, T + pad] per layer (uint8
    spikes or int32 values), neurons in Lava's (W, H, C) order (``lava_order``), the
    order of the golden model's and Lava's messages. Runs on the CPU.
    """
    model.eval()
    family = model.family
    padded = np.concatenate([x, np.zeros((*x.shape[:2], pad), dtype=x.dtype)], axis=-1)
    per_layer: list[list[np.ndarray]] = []
    with torch.no_grad():
        for start in range(0, len(padded), batch_size):
            batch = torch.from_numpy(padded[start : start + batch_size]).float()
            layers = model.layer_spikes(batch)
            per_layer = per_layer or [[] for _ in layers]
            for layer, spikes in enumerate(layers):
                values = family.chip_values(lava_order(spikes.numpy()), output=layer == len(layers) - 1)
                lag = family.lag(layer)
                if lag:
                    values = np.concatenate([np.zeros((*values.shape[:2], lag), values.dtype),
                                             values[..., : values.shape[-1] - lag]], axis=-1)
                per_layer[layer].append(values)
    return [np.concatenate(chunks) for chunks in per_layer]
