"""The Python model of ``SpikeRecorder`` for Lava's CPU backend."""
from __future__ import annotations

import numpy as np

from neurodeploy.lavacompat import (
    CPU,
    LavaPyType,
    LoihiProtocol,
    PyInPort,
    PyLoihiProcessModel,
    implements,
    requires,
    tag,
)
from neurodeploy.simulate.recorder.process import WORD_BITS, SpikeRecorder, ValueRecorder


@implements(proc=SpikeRecorder, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySpikeRecorderModel(PyLoihiProcessModel):
    """Sets bit (t mod 48) of word (t // 48) of every neuron that spiked at step t."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32)
    words: np.ndarray = LavaPyType(np.ndarray, np.float64)

    def run_spk(self) -> None:
        spikes = self.a_in.recv()
        word, bit = divmod(self.time_step - 1, WORD_BITS)
        self.words[:, word] += (spikes != 0) * float(1 << bit)


@implements(proc=ValueRecorder, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyValueRecorderModel(PyLoihiProcessModel):
    """Stores every neuron's message of step t in column t."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32)
    values: np.ndarray = LavaPyType(np.ndarray, np.float64)

    def run_spk(self) -> None:
        self.values[:, self.time_step - 1] = self.a_in.recv()
