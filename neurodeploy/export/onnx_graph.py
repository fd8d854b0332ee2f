"""A NetX network as a stateful one-step ONNX graph, bit-exact with the golden model.

One run of the graph advances every layer by one time step, as Lava's
``fixed_pt`` models do; its state goes in and comes out, so a caller loops
over the steps, feeding each step's state outputs back as the next step's
state inputs (``export.onnx_run``).

Every tensor is ``tensor(double)`` [batch, n] with n in Lava's flat neuron
order ((W, H, C) for an image); every value is an integer, held exactly
because every intermediate stays below 2^53 (each kind checks its bound and
refuses, naming the layer, what it cannot keep exact). Integer wrap-arounds
of Lava's int32 and 24-bit arithmetic are computed explicitly.

Inputs, in this order:

- ``spikes_in`` [batch, n_in]: this step's input messages (0/1 spikes, or
  values for an input layer that takes them), in Lava order;
- ``bias_in`` [batch, n_in], only when layer 0 is an input layer fed
  through its bias (CUBA ``bias_mant``): its bias mantissas this step;
- per layer l: ``pre_{l}_in`` [batch, n_pre], only when layer l has a
  synapse: the messages its synapse received the previous step (the
  one-step synaptic delay); ``own_{l}_in`` [batch, n_l] for a recurrent
  layer: its own previous messages; then its neuron model's state variables
  ``{name}_{l}_in`` (``NeuronModel.state_names``: u, v for CUBA; act,
  residue / sigma, act, residue / sigma for sigma-delta; real, imag for
  resonate-and-fire).

Outputs: ``spikes_{l}`` [batch, n_l] (its messages) for every layer, then
every state input's ``_out`` twin, in the same order.

The arithmetic of each synapse and neuron is its kind's (``onnx_synapse``,
``onnx_recurrent``, ``onnx_step`` in ``netx.layers`` and ``netx.neurons``),
written with the operations ``OnnxGraph`` provides. Not supported
(``OnnxExportError`` naming the layer): axonal delays, and sums no float
type holds exactly. Resets are the caller's: zeroing a layer's state between
steps where netx resets it (``timing.reset_columns``); the metadata keys
give what ``timing.arrival`` needs.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from neurodeploy.fileio import atomic_path
from neurodeploy.loihi.arithmetic import STATE_LIMIT
from neurodeploy.netx import Network, NetxError

OPSET = 17
STARTS_WITH_INPUT_KEY = "neurodeploy.starts_with_input"
NUM_LAYERS_KEY = "neurodeploy.num_layers"
RESET_KEY = "neurodeploy.resets"


class OnnxExportError(ValueError):
    """A network this export cannot express exactly; names the layer and what is unsupported."""


class OnnxGraph:
    """Collects nodes and double constants; the integer operations every kind writes with.

    Every method returns the name of its output tensor.
    """

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.count = 0

    def const(self, value: np.ndarray | float, tag: str, dtype: type = np.float64) -> str:
        """A constant tensor (double unless ``dtype``)."""
        name = f"{tag}_{len(self.initializers)}"
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, inputs: list[str], output: str | None = None, **attrs: object) -> str:
        """One ONNX node; ``output`` names it (a fresh name when None)."""
        if output is None:
            self.count += 1
            output = f"t{self.count}_{op_type.lower()}"
        # a unique node name: ONNX Runtime's graph fusions name their nodes after the
        # originals, and two unnamed Slices of one input fused twice collide
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=f"n{len(self.nodes)}_{output}", **attrs))
        return output

    def scalar(self, value: float) -> str:
        return self.const(np.array(value, dtype=np.float64), "scalar")

    def add(self, a: str, b: str) -> str:
        return self.op("Add", [a, b])

    def sub(self, a: str, b: str) -> str:
        return self.op("Sub", [a, b])

    def mul(self, x: str, factor: float) -> str:
        return self.op("Mul", [x, self.scalar(factor)])

    def trunc0(self, x: str) -> str:
        """Round toward zero: sign(x) * floor(|x|)."""
        return self.op("Mul", [self.op("Sign", [x]), self.op("Floor", [self.op("Abs", [x])])])

    def floor_shift(self, x: str, bits: int) -> str:
        """x >> bits, flooring (an arithmetic shift)."""
        return self.op("Floor", [self.mul(x, 1.0 / (1 << bits))])

    def shift(self, x: str, exponent: int) -> str:
        """x << exponent, or a flooring x >> -exponent (a synapse's weight exponent)."""
        if exponent == 0:
            return x
        return self.mul(x, float(1 << exponent)) if exponent > 0 else self.floor_shift(x, -exponent)

    def wrap(self, x: str, bits: int) -> str:
        """x - 2^bits floor((x + 2^(bits-1)) / 2^bits): into [-2^(bits-1), 2^(bits-1))."""
        half, base = float(1 << (bits - 1)), float(1 << bits)
        turns = self.op("Floor", [self.mul(self.add(x, self.scalar(half)), 1.0 / base)])
        return self.sub(x, self.mul(turns, base))

    def wrap24_once(self, x: str) -> str:
        """Lava's one 24-bit wrap of a CUBA current: x > 2^23 loses 2^24, x <= -2^23 gains 2^24."""
        limit, span = float(STATE_LIMIT), float(2 * STATE_LIMIT)
        low = self.op("Where", [self.op("LessOrEqual", [x, self.scalar(-limit)]), self.add(x, self.scalar(span)), x])
        return self.op("Where", [self.op("Greater", [x, self.scalar(limit)]), self.sub(x, self.scalar(span)), low])

    def clip(self, x: str, low: float, high: float) -> str:
        return self.op("Clip", [x, self.scalar(low), self.scalar(high)])

    def to_double(self, x: str) -> str:
        """x (bool or float32) as double."""
        return self.op("Cast", [x], to=TensorProto.DOUBLE)

    def to_float32(self, x: str) -> str:
        return self.op("Cast", [x], to=TensorProto.FLOAT)

    def nonzero(self, x: str) -> str:
        """1 where x != 0, else 0 (a binary synapse's view of a message)."""
        return self.to_double(self.op("Not", [self.op("Equal", [x, self.scalar(0.0)])]))

    def matmul(self, x: str, weight_t: np.ndarray, tag: str) -> str:
        """x [batch, in] @ weight_t [in, out] in double."""
        return self.op("MatMul", [x, self.const(weight_t.astype(np.float64), tag)])

    def columns(self, x: str, start: int, stop: int) -> str:
        """x[:, start:stop]."""
        return self.op("Slice", [x, self.const([start], "start", np.int64), self.const([stop], "stop", np.int64),
                                 self.const([1], "axis", np.int64)])

    def concat(self, parts: list[str]) -> str:
        return self.op("Concat", parts, axis=1)


def _doc(network: Network, inputs: list[tuple[str, int]], outputs: list[tuple[str, int]]) -> str:
    kinds = ", ".join(f"{i}: {layer.netx_type} {layer.size} ({layer.neuron.describe()['summary']})"
                      for i, layer in enumerate(network.layers))
    return "\n".join([
        "One time step of a Loihi fixed-point network (neurodeploy export, bit-exact with Lava fixed_pt).",
        f"Layers (Lava flat order): {kinds}.",
        "All tensors double [batch, n], integer-valued. Feed state outputs back as the next step's state",
        "inputs; start from zeros. pre_l: the messages layer l's synapse received the previous step",
        "(spikes_in for l = 0, spikes_(l-1) otherwise); own_l: a recurrent layer's own previous messages.",
        "Inputs: " + ", ".join(f"{n} [batch, {size}]" for n, size in inputs) + ".",
        "Outputs: " + ", ".join(f"{n} [batch, {size}]" for n, size in outputs) + ".",
        "Resets (netx reset_interval) are the caller's: zero the layers listed in metadata "
        f"'{RESET_KEY}' before the step.",
    ])


def build_onnx(network: Network) -> onnx.ModelProto:
    """The one-step graph of ``network`` (see the module docstring), checked by ``onnx.checker``.

    Raises ``OnnxExportError`` naming the file and layer for what it cannot express exactly.
    """
    graph = OnnxGraph()
    n_in = int(np.prod(network.input_shape))
    inputs: list[tuple[str, int]] = [("spikes_in", n_in)]
    first = network.layers[0]
    if network.starts_with_input and first.neuron.input_bias_var is not None:
        inputs.append(("bias_in", n_in))
    states: list[tuple[str, int]] = []
    source = "spikes_in"
    for index, layer in enumerate(network.layers):
        where = f"{network.path or 'network'}: layer/{network.group_of(index)}"
        previous = network.previous(index)
        try:
            if layer.has_synapse:
                states.append((f"pre_{index}", int(np.prod(previous))))
                graph.op("Identity", [source], f"pre_{index}_out")
                a_in = layer.onnx_synapse(graph, index, previous, network.graded_into(index), f"pre_{index}_in")
            else:
                a_in = source
            own = layer.onnx_recurrent(graph, index, network.graded_into(index), f"own_{index}_in")
            if own is not None:
                states.append((f"own_{index}", layer.size))
                a_in = graph.wrap(graph.add(a_in, own), 32)
            states += [(f"{name}_{index}", layer.size) for name in layer.neuron.state_names]
            bias_input = "bias_in" if not layer.has_synapse and "bias_in" in dict(inputs) else None
            spikes = layer.neuron.onnx_step(graph, index, layer.size, a_in, None if not layer.has_synapse else layer.bias,
                                            bias_input)
        except NetxError as err:
            raise OnnxExportError(f"{where}: {err}") from err
        graph.op("Identity", [spikes], f"spikes_{index}")
        if own is not None:
            graph.op("Identity", [spikes], f"own_{index}_out")
        source = f"spikes_{index}"
    inputs += [(f"{name}_in", size) for name, size in states]
    outputs = [(f"spikes_{i}", layer.size) for i, layer in enumerate(network.layers)]
    outputs += [(f"{name}_out", size) for name, size in states]

    def info(name: str, size: int) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(name, TensorProto.DOUBLE, ["batch", size])

    onnx_graph = helper.make_graph(
        graph.nodes, "neurodeploy_snn_step", [info(*pair) for pair in inputs],
        [info(*pair) for pair in outputs], graph.initializers, doc_string=_doc(network, inputs, outputs),
    )
    model = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="neurodeploy", doc_string=onnx_graph.doc_string)
    resets = ",".join(str(i) for i, layer in enumerate(network.layers) if layer.neuron.resets)
    helper.set_model_props(model, {STARTS_WITH_INPUT_KEY: str(int(network.starts_with_input)),
                                   NUM_LAYERS_KEY: str(len(network.layers)), RESET_KEY: resets})
    onnx.checker.check_model(model, full_check=True)
    return model


def export_onnx(network: Network, path: str | Path) -> Path:
    """Write ``network`` as a one-step ONNX graph (``build_onnx``) to ``path``, atomically."""
    path = Path(path)
    model = build_onnx(network)
    with atomic_path(path) as tmp:
        onnx.save_model(model, str(tmp))
    return path
