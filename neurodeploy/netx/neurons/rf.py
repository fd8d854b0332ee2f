"""Resonate-and-fire neurons (NetX ``RF_PHASE``: Lava ``RF``; ``RF_IZHIKEVICH``: ``RF_IZ``).

Keys: ``sinDecay``, ``cosDecay`` (12-bit, (1 - decay) sin / cos of 2 pi /
period), ``vThMant``, and, never read, ``gradedSpike``. netx picks RF when
the type contains ``PHASE``, RF_IZ otherwise (so ``ADRF_*`` types load as
plain RF / RF_IZ, their adaptive keys ignored). It does not pass the file's
decays on: it turns them into a period and a decay
(``slayer.neuron.rf.neuron_params``) from which Lava's ``RF`` recomputes
``int32((1 - decay) sin(2 pi / period) 4096)``, which truncates: about half
of all (sin, cos) pairs come back one lower. ``decays`` replays that.
The threshold is ``vThMant << 6``. Complex weights feed ``a_real_in`` and
``a_imag_in`` (``layers.dense``); an RF layer takes no bias.

Per step (Lava ``PyRFModelFixed`` / ``PyRF_IZModelFixed``; trunc0 rounds
toward zero; sat24 clips to +-(2^23 - 1))::

    re' = sat24(trunc0(cos re / 4096) - trunc0(sin im / 4096) + wrap32(a_re << 6))
    im' = sat24(trunc0(sin re / 4096) + trunc0(cos im / 4096) + wrap32(a_im << 6))
    RF:    s = re' >= vth and im' >= 0 and im < 0;      re, im = re', im'
    RF_IZ: s = im' >= vth;   re = 0 where s else re';  im = vth - 1 where s else im'

Messages are 0/1 spikes. netx never resets these neurons.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import h5py
import numpy as np

from neurodeploy.jit import kernel
from neurodeploy.loihi import scalar
from neurodeploy.loihi.arithmetic import DECAY_SHIFT, STATE_LIMIT, VTH_SHIFT, WEIGHT_SCALE, wrap32
from neurodeploy.netx.base import NeuronModel
from neurodeploy.netx.fanout import CONV_LANES, emit, layer_input, silent_fanout
from neurodeploy.netx.keys import Keys, NetxError

VARIANTS = {"RF_PHASE": "RF", "RF_IZHIKEVICH": "RF_IZ"}


def decays(sin_decay: int, cos_decay: int) -> tuple[int, int]:
    """The (sin, cos) decays Lava ends up with for the file's, through netx's round trip:
    period = 2 pi / atan2(s, c), decay = 1 - sqrt(s^2 + c^2) (s, c = file / 4096), then
    int32((1 - decay) sin(2 pi / period) 4096), likewise cos (truncating)."""
    s, c = sin_decay / (1 << DECAY_SHIFT), cos_decay / (1 << DECAY_SHIFT)
    decay = 1 - np.sqrt(s**2 + c**2)
    period = 1 / (np.arctan2(s, c) / 2 / np.pi)
    return (int(np.int32((1 - decay) * np.sin(np.pi * 2 * 1 / period) * (1 << DECAY_SHIFT))),
            int(np.int32((1 - decay) * np.cos(np.pi * 2 * 1 / period) * (1 << DECAY_SHIFT))))


def _trunc_decay(x: np.ndarray) -> np.ndarray:
    """sign(x) (|x| >> 12), Lava's ``scale_volt``."""
    return np.sign(x) * np.right_shift(np.abs(x), DECAY_SHIFT)


@dataclass(frozen=True)
class ResonateFireNeuron(NeuronModel):
    """variant: ``RF`` (phase) or ``RF_IZ``; type_name: as stored; sin_decay, cos_decay:
    the file's; v_th_mant: the threshold mantissa."""

    variant: str
    type_name: str
    sin_decay: int
    cos_decay: int
    v_th_mant: int
    graded_spike: bool = False

    type_names: ClassVar[tuple[str, ...]] = ("RF_PHASE", "RF_IZHIKEVICH", "ADRF_PHASE", "ADRF_IZHIKEVICH")
    resets: ClassVar[bool] = False
    complex_input: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if self.variant not in ("RF", "RF_IZ"):
            raise NetxError(f"resonate-and-fire variant {self.variant!r} is not RF or RF_IZ")
        if self.sin_decay == 0 and self.cos_decay == 0:
            raise NetxError("neuron sinDecay and cosDecay are both 0: netx's period is undefined")

    @classmethod
    def read(cls, keys: Keys, type_name: str, input_layer: bool) -> "ResonateFireNeuron":
        if input_layer:
            raise NetxError(f"a {type_name} input layer: netx cannot build it (RF neurons have no a_in)")
        return cls(
            variant="RF" if "PHASE" in type_name else "RF_IZ",
            type_name=type_name,
            sin_decay=keys.integer("sinDecay"),
            cos_decay=keys.integer("cosDecay"),
            v_th_mant=keys.integer("vThMant"),
            graded_spike=keys.flag("gradedSpike") if keys.has("gradedSpike") else False,
        )

    def write(self, group: h5py.Group) -> None:
        group.create_dataset("neuron/type", data=self.type_name)
        group.create_dataset("neuron/sinDecay", data=self.sin_decay)
        group.create_dataset("neuron/cosDecay", data=self.cos_decay)
        group.create_dataset("neuron/vThMant", data=self.v_th_mant)
        group.create_dataset("neuron/gradedSpike", data=self.graded_spike)

    @property
    def state_names(self) -> tuple[str, ...]:
        return ("real", "imag")

    @property
    def membrane_names(self) -> tuple[str, ...]:
        return ("real", "imag")

    @property
    def message_bits(self) -> int:
        return 0

    @property
    def threshold(self) -> int:
        """vThMant << 6, as Lava stores it."""
        return self.v_th_mant << VTH_SHIFT

    def check_bias(self, bias: np.ndarray | None) -> None:
        return None  # netx gives a complex layer no bias: a bias key is ignored (``notes``)

    def init_state(self, rows: int, size: int) -> list[np.ndarray]:
        return [np.zeros((rows, size), dtype=np.int64), np.zeros((rows, size), dtype=np.int64)]

    def step(self, state: list[np.ndarray], a_in: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
        """a_in: int64 [B, 2n], the real inputs then the imaginary ones (``layers.dense``)."""
        real, imag = state
        size = real.shape[1]
        a_re = wrap32(np.left_shift(a_in[:, :size], VTH_SHIFT))
        a_im = wrap32(np.left_shift(a_in[:, size:], VTH_SHIFT))
        sin, cos = decays(self.sin_decay, self.cos_decay)
        limit = STATE_LIMIT - 1
        new_re = np.clip(_trunc_decay(cos * real) - _trunc_decay(sin * imag) + a_re, -limit, limit)
        new_im = np.clip(_trunc_decay(sin * real) + _trunc_decay(cos * imag) + a_im, -limit, limit)
        if self.variant == "RF":
            spikes = (new_re >= self.threshold) & (new_im >= 0) & (imag < 0)
            real[:], imag[:] = new_re, new_im
        else:
            spikes = new_im >= self.threshold
            real[:] = np.where(spikes, 0, new_re)
            imag[:] = np.where(spikes, self.threshold - 1, new_im)
        return spikes.astype(np.int64)

    def scan(self, feed: tuple, recurrence: tuple | None, pre: np.ndarray, events: tuple, bias: tuple,
             resets: np.ndarray, out: np.ndarray, state: np.ndarray, buffers: tuple) -> tuple:
        """The bias is ignored, as by ``step`` (netx gives a complex layer none)."""
        sin, cos = decays(self.sin_decay, self.cos_decay)
        return _scan(feed, recurrence or silent_fanout(2 * out.shape[1]).arrays(), recurrence is not None, pre,
                     events, resets, self.variant == "RF_IZ", sin, cos, self.threshold, out, state, buffers)

    def onnx_step(self, graph: Any, index: int, size: int, a_in: str, bias: np.ndarray | None,
                  bias_input: str | None) -> str:
        a_re = graph.wrap(graph.mul(graph.columns(a_in, 0, size), float(1 << VTH_SHIFT)), 32)
        a_im = graph.wrap(graph.mul(graph.columns(a_in, size, 2 * size), float(1 << VTH_SHIFT)), 32)
        sin, cos = decays(self.sin_decay, self.cos_decay)
        real, imag = f"real_{index}_in", f"imag_{index}_in"

        def scaled(x: str, factor: int) -> str:
            return graph.trunc0(graph.mul(x, factor / (1 << DECAY_SHIFT)))

        limit = STATE_LIMIT - 1
        new_re = graph.clip(graph.add(graph.sub(scaled(real, cos), scaled(imag, sin)), a_re), -limit, limit)
        new_im = graph.clip(graph.add(graph.add(scaled(real, sin), scaled(imag, cos)), a_im), -limit, limit)
        threshold = graph.scalar(float(self.threshold))
        if self.variant == "RF":
            fired = graph.op("And", [graph.op("And", [graph.op("GreaterOrEqual", [new_re, threshold]),
                                                      graph.op("GreaterOrEqual", [new_im, graph.scalar(0.0)])]),
                                     graph.op("Less", [imag, graph.scalar(0.0)])])
            graph.op("Identity", [new_re], f"real_{index}_out")
            graph.op("Identity", [new_im], f"imag_{index}_out")
        else:
            fired = graph.op("GreaterOrEqual", [new_im, threshold])
            graph.op("Where", [fired, graph.scalar(0.0), new_re], f"real_{index}_out")
            graph.op("Where", [fired, graph.scalar(float(self.threshold - 1)), new_im], f"imag_{index}_out")
        return graph.to_double(fired)

    def describe(self) -> dict[str, Any]:
        sin, cos = decays(self.sin_decay, self.cos_decay)
        s, c = self.sin_decay / (1 << DECAY_SHIFT), self.cos_decay / (1 << DECAY_SHIFT)
        period, decay = float(2 * np.pi / np.arctan2(s, c)), float(1 - np.sqrt(s**2 + c**2))
        threshold = self.v_th_mant / WEIGHT_SCALE
        return {"type": self.type_name, "process": self.variant, "sinDecay": self.sin_decay,
                "cosDecay": self.cos_decay, "sinDecay_lava": sin, "cosDecay_lava": cos,
                "vThMant": self.v_th_mant, "threshold": threshold, "period": period, "decay": decay,
                "summary": f"{self.variant} thresh {threshold:.3f} period {period:.2f} decay {decay:.3f}"}

    def notes(self) -> list[str]:
        notes = []
        if (self.sin_decay, self.cos_decay) != decays(self.sin_decay, self.cos_decay):
            sin, cos = decays(self.sin_decay, self.cos_decay)
            notes.append(f"neuron sinDecay, cosDecay ({self.sin_decay}, {self.cos_decay}) reach Lava as "
                         f"({sin}, {cos}): netx converts them to a period and back, truncating")
        if self.type_name.startswith("ADRF"):
            notes.append(f"neuron type {self.type_name}: netx builds a plain {self.variant}, without the adaptive "
                         "threshold and refractory keys")
        return notes


@kernel
def _scan(feed: tuple, recurrence: tuple, recurrent: bool, pre: np.ndarray, pre_events: tuple, resets: np.ndarray,
          izhikevich: bool, sin: int, cos: int, threshold: int, out: np.ndarray, state: np.ndarray,
          buffers: tuple) -> tuple:
    """``ResonateFireNeuron.step`` over rows and steps (``NeuronModel.scan``): the input
    holds the real parts then the imaginary ones [2n]; sin, cos: the decays Lava uses
    (``decays``); threshold: vThMant << 6."""
    rows, size, steps = out.shape
    record = state.shape[1] > 0
    pre_pointers, pre_indices, pre_values = pre_events
    pointers = np.zeros((rows, steps + 1), dtype=np.int64)
    indices, values = buffers
    at = np.int64(0)  # not a literal: emit is compiled once
    a_in = np.zeros(2 * size, dtype=np.int32)
    partial = np.zeros(2 * size + CONV_LANES, dtype=np.int64)
    real = np.zeros(size, dtype=np.int32)
    imag = np.zeros(size, dtype=np.int32)
    fired = np.zeros(size, dtype=np.int32)
    for b in range(rows):
        for t in range(steps):
            pointers[b, t] = at
            if t == 0 or resets[t]:
                for j in range(size):
                    real[j] = 0
                    imag[j] = 0
            for j in range(a_in.size):
                a_in[j] = 0
            layer_input(feed, pre[b], pre_pointers[b], pre_indices, pre_values, t, a_in, partial)
            if recurrent:
                layer_input(recurrence, out[b], pointers[b], indices, values, t, a_in, partial)
            spikes = 0
            for j in range(size):
                a_re = scalar.wrap32(np.int64(a_in[j]) << VTH_SHIFT)
                a_im = scalar.wrap32(np.int64(a_in[size + j]) << VTH_SHIFT)
                re, im = real[j], imag[j]
                new_re = scalar.saturate24(scalar.trunc_shift12(cos * re) - scalar.trunc_shift12(sin * im) + a_re)
                new_im = scalar.saturate24(scalar.trunc_shift12(sin * re) + scalar.trunc_shift12(cos * im) + a_im)
                if izhikevich:
                    spike = new_im >= threshold
                    real[j] = 0 if spike else new_re
                    imag[j] = threshold - 1 if spike else new_im
                else:
                    spike = new_re >= threshold and new_im >= 0 and im < 0
                    real[j] = new_re
                    imag[j] = new_im
                fired[j] = spike
                spikes += spike
            if spikes:
                indices, values, at = emit(indices, values, at, fired, out[b, :, t])
            if record:
                for j in range(size):
                    state[0, b, j, t] = real[j]
                    state[1, b, j, t] = imag[j]
        pointers[b, steps] = at
    return pointers, indices, values
