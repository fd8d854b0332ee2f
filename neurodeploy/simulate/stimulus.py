"""What drives a network's first layer, as samples, as one stream, or as a batch.

A sample is T steps of input for layer 0 (spikes into a dense or conv
layer's synapse, or spikes or graded values into an input layer's ``a_in``)
and/or a bias image for an input layer, constant over its T steps.
``loihi.timing`` says how samples sit in a stream.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Stimulus:
    """N samples of T steps.

    spikes: integers [N, n_in, T] (uint8 spikes, or int32 values for an
    input layer that takes them) or None, neurons in Lava order (an image as
    (W, H, C); ``Network.to_lava_order`` converts a model's (C, H, W)
    input). bias: int64 [N, n_in] input-layer bias mantissas (Lava flat
    order) or None. At least one is given.
    """

    spikes: np.ndarray | None
    bias: np.ndarray | None
    steps: int

    def __post_init__(self) -> None:
        if self.spikes is None and self.bias is None:
            raise ValueError("a stimulus needs input spikes, a bias, or both")
        if self.spikes is not None and self.bias is not None and len(self.spikes) != len(self.bias):
            raise ValueError(f"{len(self.spikes)} spike samples but {len(self.bias)} bias images")
        if self.spikes is not None and self.spikes.shape[-1] != self.steps:
            raise ValueError(f"spikes have {self.spikes.shape[-1]} steps, expected {self.steps}")

    @property
    def num_samples(self) -> int:
        """N."""
        return len(self.spikes if self.spikes is not None else self.bias)

    def subset(self, start: int, stop: int) -> "Stimulus":
        """Samples [start, stop) (views, not copies)."""
        return Stimulus(None if self.spikes is None else self.spikes[start:stop],
                        None if self.bias is None else self.bias[start:stop], self.steps)

    def batches(self, size: int | None) -> list[tuple[int, "Stimulus"]]:
        """(first sample, ``subset``) of consecutive batches of ``size`` samples (None: one)."""
        size = size or self.num_samples
        return [(start, self.subset(start, min(start + size, self.num_samples)))
                for start in range(0, self.num_samples, size)]

    def stream_length(self, drain: int) -> int:
        """N*T + drain columns."""
        return self.num_samples * self.steps + drain

    def stream_spikes(self, drain: int) -> np.ndarray | None:
        """[n_in, N*T + drain] (the spikes' dtype): sample k in columns [kT, kT + T), silence after."""
        if self.spikes is None:
            return None
        count, size, steps = self.spikes.shape
        out = np.zeros((size, self.stream_length(drain)), dtype=self.spikes.dtype)
        out[:, : count * steps] = self.spikes.transpose(1, 0, 2).reshape(size, -1)
        return out

    def batch_spikes(self, drain_steps: int) -> np.ndarray | None:
        """[N, n_in, T + drain_steps] (the spikes' dtype): each sample followed by ``drain_steps`` silent steps."""
        if self.spikes is None:
            return None
        pad = np.zeros((*self.spikes.shape[:2], drain_steps), dtype=self.spikes.dtype)
        return np.concatenate([self.spikes, pad], axis=-1)
