"""SLAYER (PyTorch, CPU) spikes of every layer, in Lava's neuron order."""
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
    """Spikes of every neuron layer for inputs padded with ``pad`` zero steps.

    x: [N, n_in, T] 0/1 spikes in the order the model reads them: an image
    flattened in (C, H, W) order (the model reshapes it itself), NOT Lava's
    order. ``model.layer_spikes`` gives [B, C, H, W, T'] per conv layer and
    [B, n, T'] per dense layer. Returns one uint8 array [N, n_l, T + pad]
    per neuron layer, neurons in Lava's (W, H, C) order (``lava_order``),
    the order of the golden model's and Lava's spikes. Runs on the CPU,
    where SLAYER is bit-exact with Lava fixed_pt.
    """
    model.eval()
    padded = np.concatenate([x, np.zeros((*x.shape[:2], pad), dtype=x.dtype)], axis=-1)
    per_layer: list[list[np.ndarray]] = []
    with torch.no_grad():
        for start in range(0, len(padded), batch_size):
            batch = torch.from_numpy(padded[start : start + batch_size]).float()
            layers = model.layer_spikes(batch)
            per_layer = per_layer or [[] for _ in layers]
            for layer, spikes in enumerate(layers):
                per_layer[layer].append(lava_order(spikes.numpy().astype(np.uint8)))
    return [np.concatenate(chunks) for chunks in per_layer]
