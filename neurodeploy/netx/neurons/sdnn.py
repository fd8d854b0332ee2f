"""Sigma-delta neurons (NetX ``SDNN``): graded messages that are sent only when they change.

Keys: ``vThMant`` (the delta threshold's mantissa), ``activation`` (written
by lava-dl, never read: Lava's SigmaDelta always applies ReLU), and
``sigma_output``, whose mere presence (any value) makes the layer a Sigma.
netx builds, with ``spike_exp = state_exp = 6`` and 16-bit messages
(Lava ``lava.proc.sdn``, fixed_pt; every operation int32 and wrapping):

- the network's ``input`` layer: ``Delta``. Its input is fed to ``a_in``::

      x = a_in << 12;  delta = x - act + residue
      s = delta where |delta| >= vThMant << 12, else 0
      residue = delta - s;  act = x;  send s >> 6

- a ``sigma_output`` layer: ``Sigma``: ``sigma += a_in``; send ``sigma``;
- any other: ``SigmaDelta`` (``a_in`` is not shifted: graded synapses
  multiply weights x 64 by messages x 64, the state's 1/4096 units)::

      sigma += a_in;  act_new = max(sigma + (bias << 12), 0)
      delta = act_new - act + residue
      s = delta where |delta| >= vThMant << 12, else 0
      residue = delta - s;  act = act_new;  send s >> 6

The 6 bits dropped by ``>> 6`` are lost, not kept in ``residue``. All state
starts at 0 and netx never resets it (a reset interval only warns). A
``bias`` is ``bias`` of SigmaDelta (int32, times 4096 in int32); an input
layer's is ignored and a Sigma cannot take one (netx fails). Measured bit
for bit against Lava (docs/netx.md).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import h5py
import numpy as np

from neurodeploy.jit import kernel
from neurodeploy.loihi import scalar
from neurodeploy.loihi.arithmetic import WEIGHT_SCALE, signed_wrap, wrap32
from neurodeploy.netx.base import NeuronModel
from neurodeploy.netx.fanout import CONV_LANES, bias_at, emit, layer_input, silent_fanout
from neurodeploy.netx.keys import Keys, NetxError

ROLES = ("delta", "sigma_delta", "sigma")
SPIKE_EXP = 6
STATE_EXP = 6
MESSAGE_BITS = 16
# An activation of 1.0 is 2^18 in a neuron's state (an input layer's a_in = x * 64 is
# shifted by 12; a synapse multiplies weights x 64 by messages x 2^12) and 2^12 in a
# message (the state >> STATE_EXP): the units lava-dl's blocks work in, times these.
STATE_SCALE = WEIGHT_SCALE << (SPIKE_EXP + STATE_EXP)
MESSAGE_SCALE = STATE_SCALE >> STATE_EXP
INT32_MIN = -(1 << 31)


def _abs32(x: np.ndarray) -> np.ndarray:
    """numpy's abs on int32: |-2^31| stays -2^31."""
    return np.where(x == INT32_MIN, INT32_MIN, np.abs(x))


@dataclass(frozen=True)
class SigmaDeltaNeuron(NeuronModel):
    """role: ``delta`` (the input layer), ``sigma_delta`` or ``sigma`` (``sigma_output``);
    v_th_mant: the delta threshold (unused by a Sigma); activation: as stored."""

    role: str
    v_th_mant: int = 0
    activation: str = "relu"

    type_names: ClassVar[tuple[str, ...]] = ("SDNN",)
    resets: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise NetxError(f"sigma-delta role {self.role!r} is not one of {', '.join(ROLES)}")
        if self.v_th_mant < 0:
            raise NetxError(f"neuron vThMant = {self.v_th_mant} must not be negative")

    @classmethod
    def read(cls, keys: Keys, type_name: str, input_layer: bool) -> "SigmaDeltaNeuron":
        role = "delta" if input_layer else "sigma" if keys.has("sigma_output") else "sigma_delta"
        activation = keys.text("activation") if keys.has("activation") else "relu"
        if role == "sigma":
            return cls(role, keys.integer("vThMant") if keys.has("vThMant") else 0, activation)
        return cls(role, keys.integer("vThMant"), activation)

    def write(self, group: h5py.Group) -> None:
        group.create_dataset("neuron/type", data="SDNN")
        group.create_dataset("neuron/activation", data=self.activation)
        group.create_dataset("neuron/vThMant", data=self.v_th_mant)
        if self.role == "sigma":
            group.create_dataset("neuron/sigma_output", data=True)

    @property
    def state_names(self) -> tuple[str, ...]:
        return {"delta": ("act", "residue"), "sigma_delta": ("sigma", "act", "residue"),
                "sigma": ("sigma",)}[self.role]

    @property
    def membrane_names(self) -> tuple[str, ...]:
        return ("sigma",) if "sigma" in self.state_names else ()

    @property
    def message_bits(self) -> int:
        return MESSAGE_BITS

    @property
    def threshold(self) -> int:
        """The delta threshold as Lava stores it: vThMant << 12, in int32."""
        return int(wrap32(np.int64(self.v_th_mant) << (SPIKE_EXP + STATE_EXP)))

    def check_bias(self, bias: np.ndarray | None) -> None:
        if bias is not None and self.role == "sigma":
            raise NetxError("key 'bias' on a sigma_output layer: netx cannot build it "
                            "(Sigma takes no bias: TypeError)")

    def init_state(self, rows: int, size: int) -> list[np.ndarray]:
        return [np.zeros((rows, size), dtype=np.int64) for _ in self.state_names]

    def _delta(self, act: np.ndarray, residue: np.ndarray, value: np.ndarray) -> np.ndarray:
        """The delta encoder on ``value`` (state units); updates act and residue; the message."""
        delta = wrap32(value - act + residue)
        sent = np.where(_abs32(delta) >= self.threshold, delta, 0)
        residue[:] = wrap32(delta - sent)
        act[:] = value
        return np.right_shift(sent, STATE_EXP)

    def step(self, state: list[np.ndarray], a_in: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
        if self.role == "delta":
            act, residue = state
            return self._delta(act, residue, wrap32(np.left_shift(a_in, SPIKE_EXP + STATE_EXP)))
        sigma = state[0]
        sigma[:] = wrap32(sigma + a_in)
        if self.role == "sigma":
            return sigma.copy()
        _, act, residue = state
        value = sigma if bias is None else wrap32(sigma + wrap32(signed_wrap(bias, 32) << (SPIKE_EXP + STATE_EXP)))
        return self._delta(act, residue, np.maximum(value, 0))

    def scan(self, feed: tuple, recurrence: tuple | None, pre: np.ndarray, events: tuple, bias: tuple,
             resets: np.ndarray, out: np.ndarray, state: np.ndarray, buffers: tuple) -> tuple:
        return _scan(feed, recurrence or silent_fanout(out.shape[1]).arrays(), recurrence is not None, pre, events,
                     bias, resets, ROLES.index(self.role), self.threshold, out, state, buffers)

    def onnx_step(self, graph: Any, index: int, size: int, a_in: str, bias: np.ndarray | None,
                  bias_input: str | None) -> str:
        if self.role == "sigma":
            sigma = graph.wrap(graph.add(f"sigma_{index}_in", a_in), 32)
            graph.op("Identity", [sigma], f"sigma_{index}_out")
            return sigma
        if self.role == "delta":
            value = graph.wrap(graph.mul(a_in, float(1 << (SPIKE_EXP + STATE_EXP))), 32)
        else:
            sigma = graph.wrap(graph.add(f"sigma_{index}_in", a_in), 32)
            graph.op("Identity", [sigma], f"sigma_{index}_out")
            value = sigma
            if bias is not None:
                stored = wrap32(signed_wrap(bias, 32) << (SPIKE_EXP + STATE_EXP)).astype(np.float64)
                value = graph.wrap(graph.add(sigma, graph.const(stored, "bias")), 32)
            value = graph.op("Max", [value, graph.scalar(0.0)])
        delta = graph.wrap(graph.sub(value, graph.add(f"act_{index}_in", graph.mul(f"residue_{index}_in", -1.0))), 32)
        magnitude = graph.op("Where", [graph.op("Equal", [delta, graph.scalar(float(INT32_MIN))]),
                                        graph.scalar(float(INT32_MIN)), graph.op("Abs", [delta])])
        sent = graph.op("Where", [graph.op("GreaterOrEqual", [magnitude, graph.scalar(float(self.threshold))]),
                                  delta, graph.scalar(0.0)])
        graph.op("Identity", [graph.wrap(graph.sub(delta, sent), 32)], f"residue_{index}_out")
        graph.op("Identity", [value], f"act_{index}_out")
        return graph.floor_shift(sent, STATE_EXP)

    def describe(self) -> dict[str, Any]:
        process = {"delta": "Delta", "sigma_delta": "SigmaDelta", "sigma": "Sigma"}[self.role]
        threshold = self.v_th_mant / WEIGHT_SCALE
        return {"type": "SDNN", "process": process, "vThMant": self.v_th_mant, "threshold": threshold,
                "activation": self.activation, "message_bits": MESSAGE_BITS,
                "summary": f"SDNN {process}" + ("" if self.role == "sigma" else f" delta thresh {threshold:.4f}")}

    def notes(self) -> list[str]:
        if self.role != "sigma" and self.activation.lower() != "relu":
            return [f"neuron activation '{self.activation}' is ignored by netx: Lava's SigmaDelta applies ReLU"]
        return []


@kernel
def _scan(feed: tuple, recurrence: tuple, recurrent: bool, pre: np.ndarray, pre_events: tuple, bias: tuple,
          resets: np.ndarray, role: int, threshold: int, out: np.ndarray, state: np.ndarray, buffers: tuple) -> tuple:
    """``SigmaDeltaNeuron.step`` over rows and steps (``NeuronModel.scan``); role: index in
    ``ROLES``; threshold: ``SigmaDeltaNeuron.threshold``. Never reset by netx, but
    ``resets`` is honoured as for any model."""
    rows, size, steps = out.shape
    record = state.shape[1] > 0
    pre_pointers, pre_indices, pre_values = pre_events
    pointers = np.zeros((rows, steps + 1), dtype=np.int64)
    indices, values = buffers
    at = np.int64(0)  # not a literal: emit is compiled once
    a_in = np.zeros(size, dtype=np.int32)
    partial = np.zeros(size + CONV_LANES, dtype=np.int64)
    sigma = np.zeros(size, dtype=np.int32)
    act = np.zeros(size, dtype=np.int32)
    residue = np.zeros(size, dtype=np.int32)
    sent = np.zeros(size, dtype=np.int32)
    drive = np.zeros(size, dtype=np.int32)  # the bias, << 12, as Lava stores it
    for b in range(rows):
        for t in range(steps):
            pointers[b, t] = at
            if t == 0 or resets[t]:
                for j in range(size):
                    sigma[j] = 0
                    act[j] = 0
                    residue[j] = 0
            for j in range(a_in.size):
                a_in[j] = 0
            layer_input(feed, pre[b], pre_pointers[b], pre_indices, pre_values, t, a_in, partial)
            if recurrent:
                layer_input(recurrence, out[b], pointers[b], indices, values, t, a_in, partial)
            row_bias = bias_at(bias, b, t)  # empty: unchanged
            for j in range(row_bias.size):
                drive[j] = scalar.wrap32(scalar.wrap32(row_bias[j]) << (SPIKE_EXP + STATE_EXP))
            count = 0
            for j in range(size):
                if role == 2:  # sigma: sends its sum
                    sigma[j] = scalar.wrap32(sigma[j] + a_in[j])
                    message = sigma[j]
                else:
                    if role == 0:  # delta
                        value = scalar.wrap32(np.int64(a_in[j]) << (SPIKE_EXP + STATE_EXP))
                    else:
                        sigma[j] = scalar.wrap32(sigma[j] + a_in[j])
                        value = max(scalar.wrap32(sigma[j] + drive[j]), 0)
                    delta = scalar.wrap32(value - act[j] + residue[j])
                    sending = delta if scalar.abs32(delta) >= threshold else 0
                    residue[j] = scalar.wrap32(delta - sending)
                    act[j] = value
                    message = sending >> STATE_EXP
                sent[j] = message
                count += message != 0
            if count:
                indices, values, at = emit(indices, values, at, sent, out[b, :, t])
            if record:
                for j in range(size):
                    if role == 0:
                        state[0, b, j, t] = act[j]
                        state[1, b, j, t] = residue[j]
                    elif role == 1:
                        state[0, b, j, t] = sigma[j]
                        state[1, b, j, t] = act[j]
                        state[2, b, j, t] = residue[j]
                    else:
                        state[0, b, j, t] = sigma[j]
        pointers[b, steps] = at
    return pointers, indices, values
