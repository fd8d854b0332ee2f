"""Timing alignment between SLAYER and Lava, written down once.

Both sides run the same stack of dense CUBA layers (no input layer) on N
samples of T steps each.

SLAYER, per sample, on the input padded with L zero steps (L = number of
layers): every block delays its output by one step, so layer l (0-based)
spikes at the earliest at step l + 1; ``torch[k][l]`` is [n_l, T + L].

Lava, in one stream of N*T + L steps: the input of sample k occupies columns
[kT, kT + T). Each synapse delivers one step later. With
``netx.hdf5.Network(reset_interval=T, reset_offset=RESET_OFFSET)`` netx resets
layer l at column kT + l + 1, exactly when the first input of sample k reaches
it, so from then on it sees sample k only. Column c of layer l therefore
belongs to sample ``k = max((c - l - 1) // T, 0)`` at SLAYER step
``t = c - kT``: the columns [kT, kT + l] still carry the tail of sample k - 1
(its steps T .. T + l), which is why SLAYER runs T + L steps. The last
columns of a layer l < L - 1 come after its reset for a sample N that does
not exist: they belong to an empty sample, whose expected spikes are zero.
Every Lava column of every layer is owned by exactly one (sample, step); the
owner map is what ``expected_stream`` and ``split_stream`` use, so every
spike is compared.
Measured exact on lava-nc 0.10.0 / lava-dl 0.6.0 (tests/test_pipeline.py).
"""
from __future__ import annotations

import numpy as np

RESET_OFFSET = 1


def stream_length(num_samples: int, steps: int, num_layers: int) -> int:
    """Lava steps for N samples of T steps through L layers: N*T + L."""
    return num_samples * steps + num_layers


def owners(layer: int, num_samples: int, steps: int, num_layers: int) -> tuple[np.ndarray, np.ndarray]:
    """(sample, step) owning each Lava column of ``layer``; both int [N*T + L].

    Sample N is the empty sample after the last reset.
    """
    columns = np.arange(stream_length(num_samples, steps, num_layers))
    sample = np.maximum((columns - layer - 1) // steps, 0)
    return sample, columns - sample * steps


def expected_stream(torch_spikes: np.ndarray, layer: int, steps: int, num_layers: int) -> np.ndarray:
    """The Lava stream of ``layer`` that SLAYER predicts.

    torch_spikes: [N, n, T + L] spikes of that layer from SLAYER on padded
    input. Returns [n, N*T + L].
    """
    num_samples = torch_spikes.shape[0]
    sample, step = owners(layer, num_samples, steps, num_layers)
    empty = np.zeros_like(torch_spikes[:1])
    return np.concatenate([torch_spikes, empty])[sample, :, step].T


def split_stream(stream: np.ndarray, layer: int, num_samples: int, steps: int, num_layers: int) -> np.ndarray:
    """Cut a Lava stream [n, N*T + L] of ``layer`` into [N, n, T + L] per sample.

    Steps of a sample that no Lava column maps to are zero: steps t <= layer
    of samples k > 0 (SLAYER has no spike there either) and steps after the
    next sample's reset. Columns of the empty sample N are dropped.
    """
    sample, step = owners(layer, num_samples, steps, num_layers)
    real = sample < num_samples
    out = np.zeros((num_samples, stream.shape[0], steps + num_layers), dtype=stream.dtype)
    out[sample[real], :, step[real]] = stream[:, real].T
    return out
