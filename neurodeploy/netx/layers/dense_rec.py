"""Recurrent fully connected layers (NetX ``dense_rec``): a dense layer plus ``weight_rec``
[out, out], the synapses from the layer's own neurons back to them.

Keys: those of ``dense`` and ``weight_rec``. netx optimises [weight |
weight_rec] together (one exponent and bit width for both, each synapse
then clipped and truncated with its own sign mode) and builds Lava's
``RecurrentDense``: a spike sent at step t reaches the layer's own ``a_in``
at t + 1, summed with the feedforward input in int32. The recurrent synapse
uses the message bits of the layer's *input*, not its own (an SDNN
``dense_rec`` behind spikes has a binary recurrent path). With ``delay``,
netx gives the recurrent synapse the same delay matrix (so in == out is
required) and passes no weight exponent to either synapse: the weights act
2^k times larger than stored (measured, docs/netx.md); the golden model
runs what Lava runs and ``inspect`` says so.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import h5py
import numpy as np

from neurodeploy.loihi.arithmetic import WEIGHT_SCALE
from neurodeploy.loihi.order import whc_to_chw
from neurodeploy.loihi.weights import held_weights, optimize_weight_bits
from neurodeploy.netx.base import Connections, ReadContext, RecurrentSynapse, Synapse
from neurodeploy.netx.fanout import Fanout, dense_fanout
from neurodeploy.netx.keys import Keys, NetxError
from neurodeploy.netx.layers.dense import (
    DenseLayer, check_inputs, check_weight, dense_connections, in_lava_order, onnx_dense, read_delay,
    read_neuron_or_default, read_weight, take_flatten,
)
from neurodeploy.netx.layers.synapses import DenseRecurrence, DenseSynapse


@dataclass(frozen=True)
class RecurrentDenseLayer(DenseLayer):
    """A ``DenseLayer`` (real weights) and weight_rec: int [out, out]."""

    weight_rec: np.ndarray | None = None

    netx_type: ClassVar[str] = "dense_rec"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.weight_imag is not None:
            raise NetxError("a complex dense_rec layer: netx cannot build it")
        if self.weight_rec is None:
            raise NetxError("missing key 'weight_rec'")
        check_weight(self.weight_rec, "weight_rec")
        if self.weight_rec.shape != (self.weight.shape[0],) * 2:
            raise NetxError(f"key 'weight_rec' has shape {self.weight_rec.shape}, expected "
                            f"{(self.weight.shape[0],) * 2}")
        if self.delay is not None and self.weight.shape[0] != self.weight.shape[1]:
            raise NetxError(f"key 'delay' on a dense_rec layer of {self.weight.shape[1]} inputs and "
                            f"{self.weight.shape[0]} neurons: netx reuses the delays for weight_rec and fails "
                            "unless both are equal")

    @classmethod
    def read(cls, keys: Keys, context: ReadContext) -> "RecurrentDenseLayer":
        out_features = int(np.prod(keys.positive_shape("shape", (1, 2, 3))))
        neuron = read_neuron_or_default(keys)
        weight = read_weight(keys, "weight", out_features)
        weight_rec = read_weight(keys, "weight_rec", out_features)
        check_inputs(weight.shape[1], context)
        if not keys.tolerant and not np.any(weight) and not np.any(weight_rec):
            raise NetxError(f"keys 'weight' and 'weight_rec' are all zero: netx cannot load an all-zero "
                            "weight matrix (it takes log2 of infinity)")
        bias = keys.integers("bias", truncate=True).reshape(-1) if keys.has("bias") else None
        delay, notes = read_delay(keys, weight.shape) if keys.has("delay") else (None, [])
        return cls(weight=weight, neuron=neuron, bias=bias, delay=delay, flatten_input=take_flatten(context),
                   read_notes=tuple(notes), weight_rec=weight_rec)

    def _write_keys(self, group: h5py.Group) -> None:
        super()._write_keys(group)
        group.create_dataset("weight_rec", data=self.weight_rec.astype(np.int16))

    def _held(self) -> tuple[np.ndarray, np.ndarray, int]:
        """The feedforward and recurrent matrices as their synapses hold them (netx optimises
        them together; Lava clips and truncates each with its own sign mode) and the exponent
        Lava applies (none with delays: netx does not pass it)."""
        shared = optimize_weight_bits(np.hstack([self.weight, self.weight_rec]))
        inputs = self.weight.shape[1]
        feedforward, recurrent = (held_weights(part, shared.bits)
                                  for part in (shared.weight[:, :inputs], shared.weight[:, inputs:]))
        return feedforward, recurrent, 0 if self.delay is not None else shared.exponent

    def _slices(self, rows: np.ndarray, columns: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Also ``weight_rec`` [out, out]: a removed neuron's row and column."""
        return {**super()._slices(rows, columns), "weight_rec": (rows, rows)}

    def _acting(self) -> dict[str, tuple[np.ndarray, int]]:
        feedforward, recurrent, exponent = self._held()
        return {"weight": (feedforward, exponent), "weight_rec": (recurrent, exponent)}

    def synapse(self, previous: tuple[int, ...], graded: bool, sparse: bool) -> Synapse:
        feedforward, _, exponent = self._held()
        permutation = whc_to_chw(previous) if self.flatten_input else None
        return DenseSynapse(feedforward, exponent, self.delay, graded, sparse, permutation)

    def recurrent(self, graded: bool, sparse: bool) -> RecurrentSynapse:
        _, recurrent, exponent = self._held()
        return DenseRecurrence(recurrent, exponent, self.delay, graded, sparse)

    def fanout(self, previous: tuple[int, ...], graded: bool, sparse: bool) -> Fanout:
        feedforward, _, exponent = self._held()
        permutation = whc_to_chw(previous) if self.flatten_input else None
        return dense_fanout([(feedforward, exponent)], self.delay, graded, sparse, permutation)

    def recurrent_fanout(self, graded: bool, sparse: bool) -> Fanout:
        _, recurrent, exponent = self._held()
        return dense_fanout([(recurrent, exponent)], self.delay, graded, sparse)

    def onnx_synapse(self, graph: Any, index: int, previous: tuple[int, ...], graded: bool, pre: str) -> str:
        if self.delay is not None and np.any(self.delay):
            raise NetxError(f"axonal delays (key 'delay', up to {int(self.delay.max())} steps) are not supported "
                            "by the ONNX export")
        feedforward, _, exponent = self._held()
        return onnx_dense(graph, in_lava_order(feedforward, self.flatten_input, previous), exponent, pre, graded,
                          "dense_rec synapse")

    def onnx_recurrent(self, graph: Any, index: int, graded: bool, own: str) -> str:
        _, recurrent, exponent = self._held()
        return onnx_dense(graph, recurrent, exponent, own, graded, "dense_rec recurrent synapse")

    def nir_recurrent(self) -> Any:
        """Linear(weight_rec / 64) from its neurons back to them."""
        import nir

        return nir.Linear(weight=self.weight_rec / WEIGHT_SCALE)

    def recurrent_fan_out(self) -> np.ndarray:
        return np.count_nonzero(self.weight_rec, axis=0).astype(np.int64)

    def connections(self, previous: tuple[int, ...]) -> list[Connections]:
        own = dense_connections(self.weight_rec)
        return super().connections(previous) + [Connections(own.structure, own.weights, recurrent=True)]

    def weights(self) -> list[np.ndarray]:
        return [*self.feedforward_weights(), self.weight_rec]

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "recurrent": True}

    def notes(self) -> list[str]:
        notes = super().notes()
        if self.delay is not None:
            exponent = optimize_weight_bits(np.hstack([self.weight, self.weight_rec])).exponent
            if exponent:
                notes.append(f"dense_rec with delays: netx drops the weight exponent ({exponent}), so Lava's "
                             f"synaptic input is 2^{-exponent} times what the weights say")
        return notes
