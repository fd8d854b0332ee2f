"""Synaptic operations: the accumulates a spike costs on a Loihi-style chip.

A presynaptic spike of input i in a dense layer with weight W [out, in]
costs one accumulate per nonzero weight in column i:

    synops = sum_i  S_i * nnz(W[:, i]),    S_i = spikes of input i over time.
"""
from __future__ import annotations

import numpy as np


def fan_out(weight: np.ndarray) -> np.ndarray:
    """Nonzero outgoing weights per input: int64 [in] for weight [out, in]."""
    return np.count_nonzero(weight, axis=0).astype(np.int64)


def dense_synops(spikes_in: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Synaptic operations per sample of one dense layer.

    spikes_in: [N, in, T] presynaptic spikes (0/1); weight: [out, in].
    Returns int64 [N].
    """
    counts = spikes_in.sum(axis=-1, dtype=np.int64)
    return counts @ fan_out(weight)


def network_synops(inputs: np.ndarray, layer_spikes: list[np.ndarray], weights: list[np.ndarray]) -> np.ndarray:
    """Synaptic operations per sample and layer: int64 [N, L].

    Layer 0 is driven by ``inputs`` [N, in, T]; layer l > 0 by
    ``layer_spikes[l - 1]`` [N, n_{l-1}, T']. The last layer's spikes drive
    no synapse on the chip and cost nothing here.
    """
    presynaptic = [inputs, *layer_spikes[:-1]]
    return np.stack([dense_synops(s, w) for s, w in zip(presynaptic, weights)], axis=1)
