"""Current-based leaky integrate-and-fire (NetX ``CUBA``; ``LOIHI`` in older files).

Keys: ``iDecay``, ``vDecay`` (12-bit fractions, 4096 = all lost per step),
``vThMant`` (threshold mantissa), and, never read by netx, ``refDelay`` and
``gradedSpike``. netx builds Lava's ``LIF`` (``LIFReset`` with a reset
interval) with ``du = iDecay - 1`` (Lava adds 1 back), ``dv = vDecay``,
``bias_exp = 6``. A dense layer without a neuron group gets netx's default,
a non-leaky integrator with threshold 1 << 17 (``DEFAULT``), whose
threshold 2^23 a 24-bit voltage never exceeds.

Dynamics per step (Lava ``PyLifModelBitAcc``; ``trunc0`` rounds toward zero)::

    u = wrap24(wrap32(trunc0(u (4096 - iDecay) / 4096) + wrap32(a_in << 6)))
    v = sat24(trunc0(v (4096 - vDecay) / 4096) + u + (wrap16(bias) << 6))
    s = v > vThMant << 6;   v = 0 where s            (u is kept)

The bias is Lava's ``bias_mant``, an int16 Var. Messages are 0/1 spikes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import h5py
import numpy as np

from neurodeploy.jit import kernel
from neurodeploy.loihi import scalar
from neurodeploy.loihi.arithmetic import (
    ACT_SHIFT, BIAS_EXP, DECAY_UNITY, STATE_LIMIT, VTH_SHIFT, WEIGHT_SCALE, decay, saturate24, signed_wrap, wrap24, wrap32,
)
from neurodeploy.netx.base import NeuronModel
from neurodeploy.netx.fanout import CONV_LANES, bias_at, emit, layer_input, silent_fanout
from neurodeploy.netx.keys import Keys, NetxError


@dataclass(frozen=True)
class CubaNeuron(NeuronModel):
    """i_decay, v_decay: 0..4096; v_th_mant: > 0; ref_delay and graded_spike are
    stored and never read by netx (``graded_spike`` True changes nothing)."""

    v_th_mant: int
    i_decay: int
    v_decay: int
    ref_delay: int = 1
    graded_spike: bool = False

    type_names: ClassVar[tuple[str, ...]] = ("CUBA", "LOIHI")
    resets: ClassVar[bool] = True
    input_bias_var: ClassVar[str | None] = "bias_mant"

    def __post_init__(self) -> None:
        for name in ("i_decay", "v_decay"):
            value = getattr(self, name)
            if not 0 <= value <= DECAY_UNITY:
                raise NetxError(f"neuron {name} = {value} is outside [0, {DECAY_UNITY}]")
        if self.v_th_mant <= 0:
            raise NetxError(f"neuron v_th_mant = {self.v_th_mant} must be positive")

    @classmethod
    def read(cls, keys: Keys, type_name: str, input_layer: bool) -> "CubaNeuron":
        for key in ("iDecay", "vDecay"):
            if keys.has(key) and keys.integers(key).size != 1:
                raise NetxError(f"key '{keys.prefix}{key}' holds one decay per neuron; Lava's LIF takes one "
                                "per layer")
        return cls(
            v_th_mant=keys.integer("vThMant"),
            i_decay=keys.integer("iDecay"),
            v_decay=keys.integer("vDecay"),
            ref_delay=keys.integer("refDelay") if keys.has("refDelay") else 1,
            graded_spike=keys.flag("gradedSpike") if keys.has("gradedSpike") else False,
        )

    def write(self, group: h5py.Group) -> None:
        group.create_dataset("neuron/type", data="CUBA")
        group.create_dataset("neuron/iDecay", data=self.i_decay)
        group.create_dataset("neuron/vDecay", data=self.v_decay)
        group.create_dataset("neuron/vThMant", data=self.v_th_mant)
        group.create_dataset("neuron/refDelay", data=self.ref_delay)
        group.create_dataset("neuron/gradedSpike", data=self.graded_spike)

    @property
    def state_names(self) -> tuple[str, ...]:
        return ("u", "v")

    @property
    def membrane_names(self) -> tuple[str, ...]:
        return ("v",)

    @property
    def message_bits(self) -> int:
        return 0

    def check_bias(self, bias: np.ndarray | None) -> None:
        return None

    def init_state(self, rows: int, size: int) -> list[np.ndarray]:
        return [np.zeros((rows, size), dtype=np.int64), np.zeros((rows, size), dtype=np.int64)]

    def step(self, state: list[np.ndarray], a_in: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
        u, v = state
        u[:] = wrap24(wrap32(decay(u, self.i_decay) + wrap32(np.left_shift(a_in, ACT_SHIFT))))
        total = decay(v, self.v_decay) + u
        if bias is not None:
            total += np.left_shift(signed_wrap(bias, 16), BIAS_EXP)
        saturate24(total, out=v)
        spikes = v > (self.v_th_mant << VTH_SHIFT)
        v[spikes] = 0
        return spikes.astype(np.int64)

    def scan(self, feed: tuple, recurrence: tuple | None, pre: np.ndarray, events: tuple, bias: tuple,
             resets: np.ndarray, out: np.ndarray, state: np.ndarray, buffers: tuple) -> tuple:
        return _scan(feed, recurrence or silent_fanout(out.shape[1]).arrays(), recurrence is not None, pre, events,
                     bias, resets, self.i_decay, self.v_decay, self.v_th_mant << VTH_SHIFT, out, state, buffers)

    def onnx_step(self, graph: Any, index: int, size: int, a_in: str, bias: np.ndarray | None,
                  bias_input: str | None) -> str:
        current = graph.wrap(graph.mul(a_in, float(1 << ACT_SHIFT)), 32)
        u = graph.wrap24_once(graph.wrap(graph.add(_onnx_decay(graph, f"u_{index}_in", self.i_decay), current), 32))
        graph.op("Identity", [u], f"u_{index}_out")
        total = graph.add(_onnx_decay(graph, f"v_{index}_in", self.v_decay), u)
        if bias is not None:
            total = graph.add(total, graph.const(signed_wrap(bias, 16).astype(np.float64) * (1 << BIAS_EXP), "bias"))
        if bias_input is not None:
            total = graph.add(total, graph.mul(graph.wrap(bias_input, 16), float(1 << BIAS_EXP)))
        v = graph.clip(total, -(STATE_LIMIT - 1), STATE_LIMIT - 1)
        fired = graph.op("Greater", [v, graph.scalar(float(self.v_th_mant << VTH_SHIFT))])
        graph.op("Where", [fired, graph.scalar(0.0), v], f"v_{index}_out")
        return graph.to_double(fired)

    def nir_node(self, shape: tuple[int, ...], bias: np.ndarray | None, input_gain: float, dt: float) -> Any:
        """NIR ``CubaLIF`` (forward Euler with step dt, current first) matching these dynamics
        up to rounding: tau_syn = dt / di, w_in = input_gain tau_syn / dt, tau_mem = dt / dv,
        r = tau_mem / dt, v_leak = (b / 64) tau_mem / dt, v_threshold = vThMant / 64,
        v_reset = 0 (docs/nir.md). A zero decay has no finite time constant: ``NetxError``."""
        import nir

        for name in ("i_decay", "v_decay"):
            if getattr(self, name) == 0:
                raise NetxError(f"neuron {name} = 0 (no leak) has no finite NIR time constant")
        steps_syn = DECAY_UNITY / self.i_decay  # tau_syn / dt
        steps_mem = DECAY_UNITY / self.v_decay  # tau_mem / dt
        ones = np.ones(shape, dtype=np.float64)
        bias_v = np.zeros(shape) if bias is None else np.broadcast_to(bias / WEIGHT_SCALE, shape)
        return nir.CubaLIF(tau_syn=ones * (steps_syn * dt), tau_mem=ones * (steps_mem * dt), r=ones * steps_mem,
                           v_leak=ones * bias_v * steps_mem, v_threshold=ones * (self.v_th_mant / WEIGHT_SCALE),
                           v_reset=np.zeros(shape), w_in=ones * (input_gain * steps_syn))

    def describe(self) -> dict[str, Any]:
        threshold, current, voltage = (self.v_th_mant / WEIGHT_SCALE, self.i_decay / DECAY_UNITY,
                                       self.v_decay / DECAY_UNITY)
        return {
            "type": "CUBA", "vThMant": self.v_th_mant, "iDecay": self.i_decay, "vDecay": self.v_decay,
            "refDelay": self.ref_delay, "threshold": threshold, "current_decay": current, "voltage_decay": voltage,
            "summary": f"CUBA thresh {threshold:.3f} i_dec {current:.3f} v_dec {voltage:.3f}",
        }

    def notes(self) -> list[str]:
        return ["neuron gradedSpike = True, which netx ignores: the neurons send 0/1 spikes"] \
            if self.graded_spike else []

    def never_emits(self, positive_drive: np.ndarray, bias: np.ndarray) -> np.ndarray:
        """With a = the largest input per step and b the bias (weight units),
        u <= a / di and v <= (a / di + b) / dv, the limits of the two geometric
        filters (Lava's truncation toward zero only lowers them), di and dv the
        decays as fractions; at most vThMant means never. di = 0 with a > 0, or
        dv = 0 with a positive drive, is unbounded."""
        di, dv = self.i_decay / DECAY_UNITY, self.v_decay / DECAY_UNITY
        with np.errstate(divide="ignore", invalid="ignore"):
            u_max = np.where(positive_drive > 0, positive_drive / di if di else np.inf, 0.0)
            drive = u_max + bias
            bound = np.where(drive > 0, drive / dv if dv else np.inf, drive)
        # the voltage saturates at 2^23 - 1: a threshold at or above it is never exceeded
        unreachable = (self.v_th_mant << VTH_SHIFT) >= STATE_LIMIT - 1
        return (bound <= self.v_th_mant) | unreachable


@kernel
def _scan(feed: tuple, recurrence: tuple, recurrent: bool, pre: np.ndarray, pre_events: tuple, bias: tuple,
          resets: np.ndarray, i_decay: int, v_decay: int, threshold: int, out: np.ndarray,
          state: np.ndarray, buffers: tuple) -> tuple:
    """``CubaNeuron.step`` over rows and steps (``NeuronModel.scan``); threshold = vThMant << 6."""
    rows, size, steps = out.shape
    record = state.shape[1] > 0
    pre_pointers, pre_indices, pre_values = pre_events
    pointers = np.zeros((rows, steps + 1), dtype=np.int64)
    indices, values = buffers
    at = np.int64(0)  # not a literal: emit is compiled once
    a_in = np.zeros(size, dtype=np.int32)
    partial = np.zeros(size + CONV_LANES, dtype=np.int64)
    u = np.zeros(size, dtype=np.int32)
    v = np.zeros(size, dtype=np.int32)
    fired = np.zeros(size, dtype=np.int32)
    drive = np.zeros(size, dtype=np.int32)  # the bias, << 6
    for b in range(rows):
        for t in range(steps):
            pointers[b, t] = at
            if t == 0 or resets[t]:
                for j in range(size):
                    u[j] = 0
                    v[j] = 0
            for j in range(a_in.size):
                a_in[j] = 0
            layer_input(feed, pre[b], pre_pointers[b], pre_indices, pre_values, t, a_in, partial)
            if recurrent:
                layer_input(recurrence, out[b], pointers[b], indices, values, t, a_in, partial)
            row_bias = bias_at(bias, b, t)  # empty: unchanged
            for j in range(row_bias.size):
                drive[j] = scalar.wrap16(row_bias[j]) << BIAS_EXP
            spikes = 0
            for j in range(size):  # one branch-free pass (vectorised)
                current = scalar.wrap24_once(scalar.wrap32(scalar.decay(u[j], i_decay)
                                                           + scalar.wrap32(np.int64(a_in[j]) << ACT_SHIFT)))
                u[j] = current
                voltage = scalar.saturate24(scalar.decay(v[j], v_decay) + current + drive[j])
                spike = voltage > threshold
                fired[j] = spike
                spikes += spike
                v[j] = 0 if spike else voltage
            if spikes:
                indices, values, at = emit(indices, values, at, fired, out[b, :, t])
            if record:
                for j in range(size):
                    state[0, b, j, t] = u[j]
                    state[1, b, j, t] = v[j]
        pointers[b, steps] = at
    return pointers, indices, values


def _onnx_decay(graph: Any, x: str, amount: int) -> str:
    """trunc0(x (4096 - amount) / 4096) in ONNX: the product and the division are exact in double."""
    if amount == 0:
        return x
    return graph.trunc0(graph.mul(x, (DECAY_UNITY - amount) / DECAY_UNITY))


# netx's neuron for a dense layer without a neuron group: a non-leaky integrator
# with threshold ``1 << 18 - 1`` = 1 << 17 (``hdf5.Network.create_dense``).
DEFAULT = CubaNeuron(v_th_mant=1 << 17, i_decay=0, v_decay=DECAY_UNITY)
