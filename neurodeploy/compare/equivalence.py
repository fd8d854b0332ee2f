"""Exact spike equivalence between SLAYER and Lava, layer by layer."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurodeploy.simulate.alignment import expected_stream, owners


@dataclass(frozen=True)
class Equivalence:
    """Result of comparing every spike of every layer at every step.

    mismatches: int64 [L], differing (neuron, step) entries per layer,
        including spikes Lava emits after the last sample (the empty sample).
    sample_exact: bool [N], True where every layer of that sample matches.
    output_exact: bool [N], True where the output layer of that sample matches.
    compared: number of (neuron, step) entries compared over all layers.
    """

    mismatches: np.ndarray
    sample_exact: np.ndarray
    output_exact: np.ndarray
    compared: int


def compare_streams(torch_spikes: list[np.ndarray], lava_streams: list[np.ndarray], steps: int) -> Equivalence:
    """Compare SLAYER spikes [N, n_l, T + L] with Lava streams [n_l, N*T + L].

    Each Lava column is compared with the SLAYER step that owns it
    (``alignment.owners``), so no Lava spike goes unchecked.
    """
    num_layers = len(torch_spikes)
    num_samples = torch_spikes[0].shape[0]
    mismatches = np.zeros(num_layers, dtype=np.int64)
    bad = np.zeros((num_layers, num_samples + 1), dtype=bool)  # + the empty sample
    compared = 0
    for layer, (spikes, stream) in enumerate(zip(torch_spikes, lava_streams)):
        expected = expected_stream(spikes, layer, steps, num_layers)
        if expected.shape != stream.shape:
            raise ValueError(f"layer {layer}: Lava stream {stream.shape} != expected {expected.shape}")
        differs = expected != stream
        mismatches[layer] = int(differs.sum())
        compared += differs.size
        sample, _ = owners(layer, num_samples, steps, num_layers)
        np.logical_or.at(bad[layer], sample, differs.any(axis=0))
    return Equivalence(mismatches, ~bad[:, :num_samples].any(axis=0), ~bad[-1, :num_samples], compared)
