"""Recorder processes: spikes of one layer, 48 steps per element; graded messages, one per element."""
from __future__ import annotations

import numpy as np

from neurodeploy.lavacompat import AbstractProcess, InPort, Var

WORD_BITS = 48


class SpikeRecorder(AbstractProcess):
    """Records binary spikes of ``size`` neurons for ``num_steps`` steps.

    ``words`` [size, ceil(num_steps / 48)]: bit b of word w of neuron i is
    its spike at 0-based step 48 w + b. ``unpack`` turns it back into
    uint8 [size, num_steps].
    """

    def __init__(self, size: int, num_steps: int) -> None:
        super().__init__(size=size, num_steps=num_steps)
        self.a_in = InPort(shape=(size,))
        self.words = Var(shape=(size, -(-num_steps // WORD_BITS)), init=np.zeros((size, -(-num_steps // WORD_BITS))))


def unpack(words: np.ndarray, num_steps: int) -> np.ndarray:
    """uint8 [size, num_steps] spikes from the recorder's ``words``."""
    packed = words.astype(np.uint64)
    bits = (packed[:, :, None] >> np.arange(WORD_BITS, dtype=np.uint64)) & np.uint64(1)
    return bits.reshape(words.shape[0], -1)[:, :num_steps].astype(np.uint8)


class ValueRecorder(AbstractProcess):
    """Records the graded messages (int32 values) of ``size`` neurons for ``num_steps``
    steps: ``values`` [size, num_steps], float64 (exact for every int32)."""

    def __init__(self, size: int, num_steps: int) -> None:
        super().__init__(size=size, num_steps=num_steps)
        self.a_in = InPort(shape=(size,))
        self.values = Var(shape=(size, num_steps), init=np.zeros((size, num_steps)))
