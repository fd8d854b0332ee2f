"""Fully connected layers (NetX ``dense``), with real weights or, for resonate-and-fire
neurons, complex ones.

Keys: ``shape`` (any number of values; netx uses their product, so [n] and
[n, 1, 1] are alike), ``weight`` [out, in] (a 1-D weight is reshaped
(out, -1)) or ``weight/real`` and ``weight/imag``, optional ``bias`` [out],
optional ``delay`` (axonal, steps: a scalar, one per output [out] (checked
first), one per input [in], or [out, in]; values above 62 make netx clip
them all into [0, 62]), and an optional ``neuron`` group (without one netx
uses a non-leaky integrator whose threshold is never reached,
``neurons.cuba.DEFAULT``). lava-dl also writes ``inFeatures`` and
``outFeatures``, which netx never reads. A dense layer after a ``flatten``
reads the layer before it in (C, H, W) order (``loihi.order.whc_to_chw``);
netx applies that only between two layers it builds.

Weights go through netx's optimisation and Lava's clipping and truncation
(``loihi.weights.synapse_weights``); arithmetic in ``layers.synapses``. A
complex layer (Lava ``ComplexDense``) has one synapse per part, each
optimised on its own, into ``a_real_in`` and ``a_imag_in``; netx gives it no
bias and no delay.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import h5py
import numpy as np
import scipy.sparse

from neurodeploy.loihi.arithmetic import WEIGHT_SCALE
from neurodeploy.loihi.order import channel_neurons, whc_to_chw
from neurodeploy.loihi.weights import WEIGHT_MAX, WEIGHT_MIN, out_of_range_effect, synapse_weights
from neurodeploy.netx.base import (
    Connections, GroupWriter, Layer, NeuronModel, ReadContext, Synapse, check_silent, kept_units, write_type,
)
from neurodeploy.netx.fanout import Fanout, dense_fanout
from neurodeploy.netx.keys import Keys, NetxError
from neurodeploy.netx.layers import flatten
from neurodeploy.netx.layers.synapses import DenseSynapse

MAX_DELAY = 62


def check_weight(weight: np.ndarray, key: str = "weight") -> None:
    """``NetxError`` unless ``weight`` is a non-empty 2-D matrix of integers."""
    if not np.issubdtype(weight.dtype, np.integer):
        raise NetxError(f"key '{key}' must hold integers (NetX weights), got dtype {weight.dtype}")
    if weight.ndim != 2 or min(weight.shape) == 0:
        raise NetxError(f"key '{key}' must be a non-empty 2-D array [out, in], got shape {weight.shape}")


def read_weight(keys: Keys, key: str, out_features: int) -> np.ndarray:
    """``key`` as netx reads a dense weight: a 1-D array reshaped (out, -1). Values outside
    [-256, 254] are read as stored, with a warning saying what netx makes of them
    (``loihi.weights.out_of_range_effect``); the golden model runs them as Lava does."""
    weight = keys.integers(key, truncate=True)
    if weight.ndim == 1:
        if weight.size % out_features:
            raise NetxError(f"key '{key}' holds {weight.size} values, not a multiple of key 'shape' {out_features}")
        weight = weight.reshape(out_features, -1)
    check_weight(weight, key)
    outside = int(np.count_nonzero((weight < WEIGHT_MIN) | (weight > WEIGHT_MAX)))
    if outside:
        keys.warn(f"{outside} weight(s) of '{key}' outside [{WEIGHT_MIN}, {WEIGHT_MAX}] (range [{weight.min()}, "
                  f"{weight.max()}]): {out_of_range_effect(weight)}")
    if weight.shape[0] != out_features:
        raise NetxError(f"key '{key}' has {weight.shape[0]} outputs, key 'shape' says {out_features}")
    return weight


def read_delay(keys: Keys, shape: tuple[int, int]) -> tuple[np.ndarray, list[str]]:
    """Key 'delay' broadcast to [out, in] as netx does (a 1-D delay of length out is
    per output, checked before length in); above 62 netx clips all into [0, 62].
    Returns the delays and the notes to tell a user."""
    delay = keys.integers("delay", truncate=True)
    notes = []
    if delay.max(initial=0) > MAX_DELAY:
        notes.append(f"delays up to {delay.max()} are clipped by netx to [0, {MAX_DELAY}]")
        delay = np.clip(delay, 0, MAX_DELAY)
    if delay.min(initial=0) < 0:
        raise NetxError(f"key 'delay' holds negative values (min {delay.min()}): Lava refuses them")
    if delay.size == 1:
        return np.full(shape, int(delay.reshape(-1)[0]), dtype=np.int64), notes
    if delay.ndim == 1 and delay.size == shape[0]:
        return np.repeat(delay.reshape(-1, 1), shape[1], axis=1), notes
    if delay.ndim == 1 and delay.size == shape[1]:
        return np.repeat(delay.reshape(1, -1), shape[0], axis=0), notes
    if delay.shape == shape:
        return delay, notes
    raise NetxError(f"key 'delay' of shape {delay.shape} does not fit weight {shape}")


def read_neuron_or_default(keys: Keys) -> NeuronModel:
    """The layer's neuron model, or netx's default integrator when it has no neuron group."""
    from neurodeploy.netx.neurons.cuba import DEFAULT
    from neurodeploy.netx.registry import read_neuron

    return read_neuron(keys, input_layer=False) if keys.has("neuron") else DEFAULT


def check_inputs(inputs: int, context: ReadContext) -> None:
    """The weight's input count against the layer before (or the network's input)."""
    if context.previous is not None and int(np.prod(context.previous)) != inputs:
        raise NetxError(f"key 'weight' has {inputs} inputs, the layer before has {int(np.prod(context.previous))} "
                        "neurons")


def take_flatten(context: ReadContext) -> bool:
    """Whether a pending ``flatten`` applies (netx: only between two layers it builds, from
    a (W, H, C) layer); the flag is consumed either way."""
    applies = context.flatten_next and context.blocks > 0 and context.previous is not None \
        and len(context.previous) == 3
    context.flatten_next = False
    return applies


def in_lava_order(weight: np.ndarray, flatten_input: bool, previous: tuple[int, ...]) -> np.ndarray:
    """``weight`` [out, in] with its columns in the Lava order of the layer before (a
    flattened layer's columns read (C, H, W) order)."""
    if not flatten_input:
        return weight
    reordered = np.empty_like(weight)
    reordered[:, whc_to_chw(previous)] = weight
    return reordered


def _check_same_action(name: str, before: tuple[np.ndarray, int], kept: tuple[np.ndarray, np.ndarray],
                      after: tuple[np.ndarray, int]) -> None:
    """``NetxError`` unless a synapse matrix ``after`` (the integers Lava holds [out', in'] and
    the exponent of its sums) weighs every message as the ``kept`` (rows, columns: bool masks)
    of ``before`` did, so that every sum, shifted, is the same. netx rescales a matrix
    from its extreme weights and Lava clips and truncates it by its signs
    (``loihi.weights``): rows or columns taken out can change how the others act."""
    (old, old_exponent), (new, new_exponent) = before, after
    old = old[np.ix_(*kept)]
    low = min(old_exponent, new_exponent)
    changed = np.count_nonzero((old << (old_exponent - low)) != (new << (new_exponent - low)))
    if changed:
        raise NetxError(f"without these units netx and Lava scale the {name} matrix differently (weight exponent "
                        f"{old_exponent} -> {new_exponent}, {changed} remaining weight(s) held at other values): "
                        "the layer's other messages would change")


def _cut(array: np.ndarray | None, rows: np.ndarray, columns: np.ndarray) -> np.ndarray | None:
    """The rows and columns (bool masks) of ``array`` [out, in] that stay, or None."""
    return None if array is None else array[np.ix_(rows, columns)]


def dense_connections(weight: np.ndarray) -> Connections:
    """Every (out, in) pair is a synapse; the nonzero ones carry a weight."""
    return Connections(scipy.sparse.csr_matrix(np.ones(weight.shape, dtype=np.int8)),
                       scipy.sparse.csr_matrix(weight))


@dataclass(frozen=True)
class DenseLayer(Layer):
    """weight: int [out, in] (the real part when ``weight_imag`` is set); bias: [out] or
    None; delay: [out, in] or None; flatten_input: reads a (W, H, C) layer in (C, H, W)
    order; read_notes: what netx did to the file's values (clipped delays)."""

    weight: np.ndarray
    neuron: NeuronModel
    bias: np.ndarray | None = None
    delay: np.ndarray | None = None
    flatten_input: bool = False
    weight_imag: np.ndarray | None = None
    read_notes: tuple[str, ...] = ()

    netx_type: ClassVar[str] = "dense"

    def __post_init__(self) -> None:
        check_weight(self.weight)
        if self.weight_imag is not None and self.weight_imag.shape != self.weight.shape:
            raise NetxError(f"key 'weight/imag' has shape {self.weight_imag.shape}, 'weight/real' {self.weight.shape}")
        if (self.weight_imag is not None) != self.neuron.complex_input:
            need = "complex weights (weight/real, weight/imag)" if self.neuron.complex_input else "real weights"
            raise NetxError(f"a {self.neuron.describe()['type']} neuron needs {need}")
        if self.bias is not None and self.bias.shape != (self.weight.shape[0],):
            raise NetxError(f"key 'bias' has shape {self.bias.shape}, expected ({self.weight.shape[0]},)")
        if self.delay is not None and self.delay.shape != self.weight.shape:
            raise NetxError(f"key 'delay' has shape {self.delay.shape}, expected {self.weight.shape}")
        self.neuron.check_bias(None if self.weight_imag is not None else self.bias)

    @classmethod
    def read(cls, keys: Keys, context: ReadContext) -> "DenseLayer":
        out_features = int(np.prod(keys.positive_shape("shape", (1, 2, 3))))
        neuron = read_neuron_or_default(keys)
        complex_weight = keys.is_group("weight")
        weight = read_weight(keys, "weight/real" if complex_weight else "weight", out_features)
        imag = read_weight(keys, "weight/imag", out_features) if complex_weight else None
        check_inputs(weight.shape[1], context)
        if not keys.tolerant and not np.any(weight) and (imag is None or not np.any(imag)):
            raise NetxError(f"key 'weight' {list(weight.shape)} is all zero: netx cannot load an all-zero dense "
                            "weight matrix (it takes log2 of infinity)")
        bias = keys.integers("bias", truncate=True).reshape(-1) if keys.has("bias") else None
        delay, notes = (None, [])
        if complex_weight:  # netx's ComplexDense takes neither
            notes += [f"key '{key}' of a complex layer is ignored by netx" for key in ("bias", "delay") if keys.has(key)]
            bias = None
        elif keys.has("delay"):
            delay, notes = read_delay(keys, weight.shape)
        layer = cls(weight=weight, neuron=neuron, bias=bias, delay=delay, flatten_input=take_flatten(context),
                    weight_imag=imag, read_notes=tuple(notes))
        return layer

    def write(self, writer: GroupWriter) -> None:
        if self.flatten_input:
            flatten.write(writer, self.weight.shape[1])
        self._write_keys(writer.next())

    def _write_keys(self, group: h5py.Group) -> None:
        """The layer's keys, as lava-dl's ``export_hdf5`` writes them."""
        write_type(group, self.netx_type)
        out_features, in_features = self.weight.shape
        group.create_dataset("shape", data=np.array([out_features]))
        group.create_dataset("inFeatures", data=in_features)
        group.create_dataset("outFeatures", data=out_features)
        if self.weight_imag is None:
            group.create_dataset("weight", data=self.weight.astype(np.int16))
        else:
            group.create_dataset("weight/real", data=self.weight.astype(np.int16))
            group.create_dataset("weight/imag", data=self.weight_imag.astype(np.int16))
        if self.bias is not None:
            group.create_dataset("bias", data=self.bias.astype(np.int32))
        if self.delay is not None:
            group.create_dataset("delay", data=self.delay.astype(np.int32))
        self.neuron.write(group)

    @property
    def lava_shape(self) -> tuple[int]:
        return (self.weight.shape[0],)

    def input_size(self) -> int:
        return int(self.weight.shape[1])

    def synapse(self, previous: tuple[int, ...], graded: bool, sparse: bool) -> Synapse:
        permutation = whc_to_chw(previous) if self.flatten_input else None
        synapses = []
        for weight in self.feedforward_weights():
            held = synapse_weights(weight)
            synapses.append(DenseSynapse(held.weight, held.exponent, self.delay, graded, sparse, permutation))
        return synapses[0] if len(synapses) == 1 else _ComplexSynapse(synapses)

    def fanout(self, previous: tuple[int, ...], graded: bool, sparse: bool) -> Fanout:
        permutation = whc_to_chw(previous) if self.flatten_input else None
        held = [synapse_weights(weight) for weight in self.feedforward_weights()]
        return dense_fanout([(h.weight, h.exponent) for h in held], self.delay, graded, sparse, permutation)

    def fan_out(self, previous: tuple[int, ...]) -> np.ndarray:
        fan = sum(np.count_nonzero(w, axis=0).astype(np.int64) for w in self.feedforward_weights())
        if not self.flatten_input:
            return fan
        out = np.empty_like(fan)
        out[whc_to_chw(previous)] = fan
        return out

    def connections(self, previous: tuple[int, ...]) -> list[Connections]:
        return [dense_connections(in_lava_order(w, self.flatten_input, previous)) for w in self.feedforward_weights()]

    def without_units(self, units: Sequence[int]) -> "DenseLayer":
        keep = kept_units(units, self.weight.shape[0], "neurons")
        incoming = [w[~keep] for w in self.weights()] + ([] if self.bias is None else [self.bias[~keep]])
        check_silent(units, incoming, "neuron")
        return self._reduced(keep, np.ones(self.weight.shape[1], dtype=bool))

    def without_inputs(self, units: Sequence[int], previous: tuple[int, ...]) -> "DenseLayer":
        """Drops the weight columns of every neuron of the removed units; after a ``flatten``
        the columns read (C, H, W) order (``in_lava_order``)."""
        kept_units(units, previous[-1], "units of the layer before")  # checks them
        gone = channel_neurons(previous, units)
        if gone.size != self.weight.shape[1]:
            raise NetxError(f"key 'weight' has {self.weight.shape[1]} inputs, the layer before {gone.size} neurons")
        columns = gone[whc_to_chw(previous)] if self.flatten_input else gone
        return self._reduced(np.ones(self.weight.shape[0], dtype=bool), ~columns)

    def _reduced(self, rows: np.ndarray, columns: np.ndarray) -> "DenseLayer":
        """The layer with only its neurons ``rows`` and inputs ``columns`` (bool masks), each
        synapse checked to act on what stays as before (``_check_same_action``)."""
        slices = self._slices(rows, columns)
        arrays = {name: _cut(getattr(self, name), *kept) for name, kept in slices.items()}
        reduced = dataclasses.replace(self, **arrays, bias=None if self.bias is None else self.bias[rows])
        before = self._acting()
        for name, after in reduced._acting().items():
            _check_same_action(name, before[name], slices[name], after)
        return reduced

    def _slices(self, rows: np.ndarray, columns: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The (rows, columns) each of its [out, in] arrays keeps when only neurons ``rows`` and
        inputs ``columns`` stay."""
        return {"weight": (rows, columns), "weight_imag": (rows, columns), "delay": (rows, columns)}

    def _acting(self) -> dict[str, tuple[np.ndarray, int]]:
        """Each weight matrix as its Lava synapse holds it: (integers [out, in], exponent)."""
        held = {name: synapse_weights(w) for name, w in (("weight", self.weight), ("weight_imag", self.weight_imag))
                if w is not None}
        return {name: (h.weight, h.exponent) for name, h in held.items()}

    def feedforward_weights(self) -> list[np.ndarray]:
        """The matrices [out, in] from the layer before: the weight, and its imaginary part."""
        return [self.weight] if self.weight_imag is None else [self.weight, self.weight_imag]

    def weights(self) -> list[np.ndarray]:
        return self.feedforward_weights()

    def describe(self) -> dict[str, Any]:
        facts: dict[str, Any] = {"delays": None if self.delay is None else [int(self.delay.min()),
                                                                            int(self.delay.max())]}
        if self.weight_imag is not None:
            facts["complex"] = True
        return facts

    def notes(self) -> list[str]:
        return list(self.read_notes) + self.neuron.notes()

    def nir_synapse(self, shape: tuple[int, ...]) -> tuple[list[tuple[str, Any]], tuple[int, ...]]:
        """[flatten,] Linear(weight / 64): netx's flatten is NIR's Flatten of a (C, H, W)
        tensor, so the weight goes over unchanged."""
        import nir

        if self.weight_imag is not None:
            raise NetxError("NIR has no node for complex (resonate-and-fire) weights")
        if self.delay is not None and np.any(self.delay):
            raise NetxError(f"axonal delays (key 'delay', up to {int(self.delay.max())} steps) cannot be "
                            "expressed in NIR")
        nodes = []
        if self.flatten_input:
            nodes.append(("flatten", nir.Flatten(input_type=np.array(shape), start_dim=0, end_dim=-1)))
        nodes.append(("linear", nir.Linear(weight=self.weight / WEIGHT_SCALE)))
        return nodes, (self.weight.shape[0],)

    def onnx_synapse(self, graph: Any, index: int, previous: tuple[int, ...], graded: bool, pre: str) -> str:
        if self.delay is not None and np.any(self.delay):
            raise NetxError(f"axonal delays (key 'delay', up to {int(self.delay.max())} steps) are not supported "
                            "by the ONNX export")
        parts = []
        for weight in self.feedforward_weights():
            held = synapse_weights(weight)
            parts.append(onnx_dense(graph, in_lava_order(held.weight, self.flatten_input, previous), held.exponent,
                                    pre, graded, "dense synapse"))
        return parts[0] if len(parts) == 1 else graph.concat(parts)


def onnx_dense(graph: Any, weight: np.ndarray, exponent: int, pre: str, graded: bool, what: str) -> str:
    """A dense synapse in the one-step ONNX graph: shift(wrap32(W @ s)) for graded messages,
    shift(W @ (s != 0)) for spikes, sent as int32; ``weight`` [out, in] as the synapse holds
    it, columns in the presynaptic layer's Lava order."""
    largest = float(np.abs(weight).sum(axis=1).max(initial=0)) * (2.0**31 if graded else 1.0)
    if largest >= 2.0**53:
        raise NetxError(f"{what}: its sums can reach 2^53, beyond what double holds exactly")
    total = graph.matmul(pre if graded else graph.nonzero(pre), weight.T, "weight")
    if graded:
        total = graph.wrap(total, 32)
    return graph.wrap(graph.shift(total, exponent), 32)


class _ComplexSynapse(Synapse):
    """A complex layer's two synapses; the neuron takes [real inputs | imaginary inputs]."""

    def __init__(self, parts: list[DenseSynapse]) -> None:
        self.parts = parts

    def __call__(self, pre: np.ndarray) -> np.ndarray:
        return np.concatenate([part(pre) for part in self.parts], axis=-1)
