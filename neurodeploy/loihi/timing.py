"""Timing between Lava, the golden model and SLAYER, written down once.

Lava (lava-nc 0.10.0, netx), and the golden model, which follows it step for
step: a dense or conv synapse delivers at column c + 1 what it received at
column c (at c + 1 + d with an axonal delay d); an input layer takes its
``a_in`` and its bias in the same column. Layer l of a network therefore
first sees input column 0 at column ``arrival(l)``: l + 1 when the network
starts with a synapse (a dense or conv layer), l when it starts with an input layer.

A stream of N samples of T steps puts sample k's input (spikes, or an input
layer's bias) in columns [kT, kT + T), followed by ``drain`` =
arrival(L - 1) silent columns so that the last layer sees every input
column: N*T + drain columns in all.

netx resets: ``netx.hdf5.Network(reset_interval=T, reset_offset=r)`` zeroes
u and v of layer l, before that step's dynamics, at 1-based time step
r + 1 + l (mod T), i.e. at column r + l (mod T). With r = arrival(0)
(``reset_offset``) layer l is reset at column kT + arrival(l), exactly when
sample k's first input reaches it; its window for sample k is
[kT + arrival(l), (k+1)T + arrival(l)). Synapse buffers are not reset. In a
network without axonal delays, layer l's window only ever receives layer
l - 1's window of the same sample, so each window equals a run of that
sample alone in which each layer is reset when the sample reaches it (the
golden model's default; a reset that only matters for neurons a bias drives
before any input arrives): column c of layer l belongs to sample
``k = max((c - arrival(l)) // T, 0)`` at step ``c - kT`` (``owners``); the
columns [kT, kT + arrival(l)) still carry the tail of sample k - 1 (its
steps T .. T + arrival(l) - 1). Columns after a layer's last reset belong
to sample N, which does not exist (its input is silent). With axonal
delays, spikes cross window borders, and only a stream run compares.

SLAYER: every block delays its output by one step, the input block too; a
Flatten block adds no step. For a network that starts with a dense or conv
layer (every network this project exports) SLAYER's step t of layer l is
the golden model's column t of a run of that sample alone: no shift.
Measured exact on lava-nc 0.10.0 / lava-dl 0.6.0 (tests/test_golden.py,
tests/test_conv_export.py, tests/test_pipeline.py).
"""
from __future__ import annotations

import numpy as np


def arrival(layer: int, starts_with_input: bool) -> int:
    """Column at which ``layer`` first sees input column 0."""
    return layer if starts_with_input else layer + 1


def reset_offset(starts_with_input: bool) -> int:
    """netx's ``reset_offset`` that resets each layer when its sample arrives."""
    return arrival(0, starts_with_input)


def drain(num_layers: int, starts_with_input: bool) -> int:
    """Silent columns after the last input column until the last layer has seen it."""
    return arrival(num_layers - 1, starts_with_input)


def reset_columns(first: int, steps: int, length: int) -> np.ndarray:
    """bool [length]: the columns where netx resets a layer with arrival ``first``.

    Lava's rule is ``column % steps == first % steps``, columns before the
    first arrival included.
    """
    return np.arange(length) % steps == first % steps


def owners(first: int, num_samples: int, steps: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """(sample, step) owning each of ``length`` stream columns of a layer.

    first: the layer's ``arrival``. Both results are int [length]; sample
    ``num_samples`` is the silent sample after the last reset.
    """
    columns = np.arange(length)
    sample = np.maximum((columns - first) // steps, 0)
    return sample, columns - sample * steps


def split_stream(stream: np.ndarray, first: int, num_samples: int, steps: int, drain_steps: int) -> np.ndarray:
    """Cut a stream [n, N*T + drain_steps] of one layer into [N, n, T + drain_steps] per sample.

    Steps of a sample that no column maps to are zero: its steps
    t < ``first`` when k > 0 (nothing can reach the layer that early) and
    steps after the next sample's reset. Columns of sample N are dropped.
    """
    sample, step = owners(first, num_samples, steps, stream.shape[1])
    real = sample < num_samples
    out = np.zeros((num_samples, stream.shape[0], steps + drain_steps), dtype=stream.dtype)
    out[sample[real], :, step[real]] = stream[:, real].T
    return out
