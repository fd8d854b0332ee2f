"""SLAYER (PyTorch, CPU) spikes of every layer."""
from __future__ import annotations

import numpy as np
import torch

from neurodeploy.train.model import SpikingMLP


def torch_layer_spikes(model: SpikingMLP, x: np.ndarray, pad: int, batch_size: int = 256) -> list[np.ndarray]:
    """Spikes of every layer for inputs padded with ``pad`` zero steps.

    x: [N, inputs, T] spikes. Returns one uint8 array [N, n_l, T + pad] per
    layer. Runs on the CPU, where SLAYER is bit-exact with Lava fixed_pt.
    """
    model.eval()
    padded = np.concatenate([x, np.zeros((*x.shape[:2], pad), dtype=x.dtype)], axis=-1)
    per_layer: list[list[np.ndarray]] = [[] for _ in model.blocks]
    with torch.no_grad():
        for start in range(0, len(padded), batch_size):
            batch = torch.from_numpy(padded[start : start + batch_size]).float()
            for layer, spikes in enumerate(model.layer_spikes(batch)):
                per_layer[layer].append(spikes.numpy().astype(np.uint8))
    return [np.concatenate(chunks) for chunks in per_layer]
