"""A NetX network as a stateful one-step ONNX graph, bit-exact with the golden model.

One run of the graph advances every layer by one time step, as Lava's
``fixed_pt`` models do (``simulate.fixed_point``); its state goes in and
comes out, so a caller loops over the steps, feeding each step's state
outputs back as the next step's state inputs (``export.onnx_run``).

Every tensor is ``tensor(double)`` [batch, n] with n in Lava's flat neuron
order ((W, H, C) for an image, ``network.netx``); every value is an integer
(spikes 0/1), held exactly because all of them stay far below 2^53.

Inputs, in this order:

- ``spikes_in`` [batch, n_in]: input spikes of this step (0/1), as the
  golden model takes them (``Network.to_lava_order``).
- ``bias_in`` [batch, n_in], only when layer 0 is an input layer: its bias
  mantissas this step (the image netx feeds as ``bias_mant``; zeros for none).
- per layer l: ``pre_{l}_in`` [batch, n_pre], only when layer l has a
  synapse (a dense or conv layer): the spikes its synapse received in the
  previous step (``spikes_in`` for l = 0, ``spikes_{l-1}`` otherwise), the
  one-step synaptic delay; then ``u_{l}_in`` and ``v_{l}_in`` [batch, n_l],
  its current and voltage after the previous step.

Outputs, in this order: ``spikes_{l}`` [batch, n_l] for every layer, then
``pre_{l}_out``, ``u_{l}_out``, ``v_{l}_out`` in the order of the state inputs.

Per step and layer (integers; ``trunc0`` rounds toward zero)::

    a    = W @ pre                       dense: then * 2^e (e > 0) or floor(* 2^e) (e < 0)
         = wrap24(conv2d(pre, W))        conv: modular 24-bit wrap
         = spikes_in                     input layer: no synapse, no delay
    u    = wrap24(trunc0(u * (4096 - iDecay) / 4096) + wrap32(a * 64))
    v    = clip(trunc0(v * (4096 - vDecay) / 4096) + u + 64 bias, +-(2^23 - 1))
    s    = v > 64 vThMant;  v = 0 where s

W and e are netx's rescaled dense weights (``fixed_point.dense_weights``);
a dense layer after a flatten has the (C, H, W) -> (W, H, C) permutation
folded into W. Dense and conv products are exact: dense MatMul in double,
conv in float32 (ONNX Runtime has no double Conv) only when every output's
sum of |weights| is below 2^24, so every partial sum is an exact float32
integer. ``trunc0(p / 4096)`` is ``sign(y) floor(|y|)`` of y = p / 4096,
exact in double. Not supported (``OnnxExportError``): axonal delays.

Resets are the caller's: zeroing ``u_{l}``/``v_{l}`` between steps where
netx resets (``timing.reset_columns``); the metadata key
``neurodeploy.starts_with_input`` gives what ``timing.arrival`` needs.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from neurodeploy.fileio import atomic_path
from neurodeploy.network.netx import ConvLayer, DenseLayer, InputLayer, Layer, Network, whc_to_chw
from neurodeploy.simulate.fixed_point import (
    ACT_SHIFT,
    BIAS_EXP,
    DECAY_UNITY,
    STATE_LIMIT,
    VTH_SHIFT,
    dense_weights,
)

OPSET = 17
CONV_ACCUMULATOR_BITS = 24
FLOAT32_EXACT = 1 << 24
STARTS_WITH_INPUT_KEY = "neurodeploy.starts_with_input"
NUM_LAYERS_KEY = "neurodeploy.num_layers"


class OnnxExportError(ValueError):
    """A network this export cannot express exactly; names the layer and what is unsupported."""


class _Graph:
    """Collects nodes and double constants; every node gets a fresh output name."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.count = 0

    def const(self, value: np.ndarray | float, name: str, dtype: type = np.float64) -> str:
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, inputs: list[str], output: str | None = None, **attrs: object) -> str:
        if output is None:
            self.count += 1
            output = f"t{self.count}_{op_type.lower()}"
        self.nodes.append(helper.make_node(op_type, inputs, [output], **attrs))
        return output


def _scalar(graph: _Graph, value: float, tag: str) -> str:
    return graph.const(np.array(value, dtype=np.float64), f"{tag}_{len(graph.initializers)}")


def _trunc0(graph: _Graph, x: str) -> str:
    """Round toward zero: sign(x) * floor(|x|)."""
    return graph.op("Mul", [graph.op("Sign", [x]), graph.op("Floor", [graph.op("Abs", [x])])])


def _decay(graph: _Graph, x: str, amount: int) -> str:
    """trunc0(x * (4096 - amount) / 4096); x * (4096 - amount) / 4096 is exact in double."""
    if amount == 0:
        return x
    factor = (DECAY_UNITY - amount) / DECAY_UNITY
    return _trunc0(graph, graph.op("Mul", [x, _scalar(graph, factor, "decay")]))


def _signed_wrap(graph: _Graph, x: str, bits: int) -> str:
    """x - 2^bits floor((x + 2^(bits-1)) / 2^bits): into [-2^(bits-1), 2^(bits-1))."""
    half, base = float(1 << (bits - 1)), float(1 << bits)
    shifted = graph.op("Add", [x, _scalar(graph, half, "half")])
    turns = graph.op("Floor", [graph.op("Mul", [shifted, _scalar(graph, 1.0 / base, "inv_base")])])
    return graph.op("Sub", [x, graph.op("Mul", [turns, _scalar(graph, base, "base")])])


def _wrap24(graph: _Graph, x: str) -> str:
    """Lava's one 24-bit wrap of u: x > 2^23 loses 2^24, x <= -2^23 gains 2^24."""
    limit, span = float(STATE_LIMIT), float(2 * STATE_LIMIT)
    low = graph.op("Where", [graph.op("LessOrEqual", [x, _scalar(graph, -limit, "neg_limit")]),
                             graph.op("Add", [x, _scalar(graph, span, "span")]), x])
    return graph.op("Where", [graph.op("Greater", [x, _scalar(graph, limit, "limit")]),
                              graph.op("Sub", [x, _scalar(graph, span, "span")]), low])


def _dense_input(graph: _Graph, index: int, layer: DenseLayer, previous: tuple[int, ...], pre: str) -> str:
    """a = W @ pre shifted by netx's weight exponent (floor for a right shift)."""
    effective = dense_weights(layer.weight)
    weight = effective.weight
    if layer.flatten_input:
        folded = np.zeros_like(weight)
        folded[:, whc_to_chw(previous)] = weight
        weight = folded
    total = graph.op("MatMul", [pre, graph.const(weight.T.astype(np.float64), f"weight_{index}")])
    if effective.exponent == 0:
        return total
    scaled = graph.op("Mul", [total, _scalar(graph, 2.0 ** effective.exponent, "weight_exp")])
    return scaled if effective.exponent > 0 else graph.op("Floor", [scaled])


def _conv_input(graph: _Graph, index: int, layer: ConvLayer, previous: tuple[int, ...], pre: str) -> str:
    """a = wrap24(conv2d(pre, W)) with pre and a in Lava's (W, H, C) order."""
    if np.abs(layer.weight).reshape(layer.weight.shape[0], -1).sum(axis=1).max() >= FLOAT32_EXACT:
        raise OnnxExportError(
            f"layer {index} (conv): a sum of |weights| reaches 2^24, beyond what a float32 Conv "
            "(the only Conv ONNX Runtime runs) adds exactly"
        )
    width, height, channels = previous
    frames = graph.op("Reshape", [graph.op("Cast", [pre], to=TensorProto.FLOAT),
                                  graph.const(np.array([-1, width, height, channels]), f"shape_in_{index}", np.int64)])
    result = graph.op(
        "Conv", [graph.op("Transpose", [frames], perm=[0, 3, 2, 1]),
                 graph.const(layer.weight, f"weight_{index}", np.float32)],
        strides=list(layer.stride), pads=[*layer.padding, *layer.padding],
        dilations=list(layer.dilation), group=layer.groups,
    )
    flat = graph.op("Reshape", [graph.op("Transpose", [result], perm=[0, 3, 2, 1]),
                                graph.const(np.array([-1, int(np.prod(layer.shape))]), f"shape_out_{index}", np.int64)])
    return _signed_wrap(graph, graph.op("Cast", [flat], to=TensorProto.DOUBLE), CONV_ACCUMULATOR_BITS)


def _bias(layer: Layer) -> np.ndarray | None:
    """The layer's bias mantissas per neuron in Lava order, times 2^6, or None."""
    if isinstance(layer, InputLayer) or layer.bias is None:
        return None
    per_neuron = layer.bias if isinstance(layer, DenseLayer) else np.tile(layer.bias, layer.shape[1] * layer.shape[2])
    return per_neuron.astype(np.float64) * (1 << BIAS_EXP)


def _neuron(graph: _Graph, index: int, layer: Layer, a_in: str, extra_bias: str | None) -> None:
    """CUBA step of layer ``index``: u_l_out, v_l_out, spikes_l from a_in and u_l_in, v_l_in."""
    neuron = layer.neuron
    current = graph.op("Mul", [a_in, _scalar(graph, float(1 << ACT_SHIFT), "act")])
    current = _signed_wrap(graph, current, 32)  # Lava's int32 a_in << 6
    u = _wrap24(graph, graph.op("Add", [_decay(graph, f"u_{index}_in", neuron.i_decay), current]))
    graph.op("Identity", [u], f"u_{index}_out")
    total = graph.op("Add", [_decay(graph, f"v_{index}_in", neuron.v_decay), u])
    bias = _bias(layer)
    if bias is not None:
        total = graph.op("Add", [total, graph.const(bias, f"bias_{index}")])
    if extra_bias is not None:
        total = graph.op("Add", [total, graph.op("Mul", [extra_bias, _scalar(graph, float(1 << BIAS_EXP), "bias_exp")])])
    limit = float(STATE_LIMIT - 1)
    v = graph.op("Clip", [total, _scalar(graph, -limit, "v_min"), _scalar(graph, limit, "v_max")])
    fired = graph.op("Greater", [v, _scalar(graph, float(neuron.v_th_mant << VTH_SHIFT), "threshold")])
    graph.op("Cast", [fired], f"spikes_{index}", to=TensorProto.DOUBLE)
    graph.op("Where", [fired, _scalar(graph, 0.0, "zero"), v], f"v_{index}_out")


def _check(network: Network) -> None:
    for index, layer in enumerate(network.layers):
        if isinstance(layer, DenseLayer) and layer.delay is not None and np.any(layer.delay):
            raise OnnxExportError(
                f"layer {index} (dense): axonal delays (key 'delay', up to {int(layer.delay.max())} steps) "
                "are not supported by the ONNX export"
            )


def _doc(network: Network, names: list[tuple[str, int]], outputs: list[tuple[str, int]]) -> str:
    kinds = ", ".join(f"{i}: {kind} {int(np.prod(layer.lava_shape))}"
                      for i, (kind, layer) in enumerate(zip(network.kinds, network.layers)))
    lines = [
        "One time step of a Loihi fixed-point CUBA network (neurodeploy export, bit-exact with Lava fixed_pt).",
        f"Layers (Lava flat order): {kinds}.",
        "All tensors double [batch, n], integer-valued. Feed state outputs back as the next step's state",
        "inputs; start from zeros. pre_l: the spikes layer l's synapse received the previous step",
        "(spikes_in for l = 0, spikes_(l-1) otherwise); u_l, v_l: current and voltage.",
        "Inputs: " + ", ".join(f"{n} [batch, {size}]" for n, size in names) + ".",
        "Outputs: " + ", ".join(f"{n} [batch, {size}]" for n, size in outputs) + ".",
        "Resets (netx reset_interval) are the caller's: zero u_l, v_l before the step.",
    ]
    return "\n".join(lines)


def build_onnx(network: Network) -> onnx.ModelProto:
    """The one-step graph of ``network`` (see the module docstring), checked by ``onnx.checker``.

    Raises ``OnnxExportError`` naming the layer for what it cannot express exactly.
    """
    _check(network)
    graph = _Graph()
    n_in = int(np.prod(network.input_shape))
    inputs: list[tuple[str, int]] = [("spikes_in", n_in)]
    if network.starts_with_input:
        inputs.append(("bias_in", n_in))
    states: list[tuple[str, int]] = []
    previous, source = network.input_shape, "spikes_in"
    for index, layer in enumerate(network.layers):
        size = int(np.prod(layer.lava_shape))
        n_pre = int(np.prod(previous))
        if isinstance(layer, InputLayer):
            a_in = source
        else:
            states.append((f"pre_{index}", n_pre))
            graph.op("Identity", [source], f"pre_{index}_out")
            build = _dense_input if isinstance(layer, DenseLayer) else _conv_input
            a_in = build(graph, index, layer, previous, f"pre_{index}_in")
        states += [(f"u_{index}", size), (f"v_{index}", size)]
        _neuron(graph, index, layer, a_in, "bias_in" if isinstance(layer, InputLayer) else None)
        previous, source = layer.lava_shape, f"spikes_{index}"
    inputs += [(f"{name}_in", size) for name, size in states]
    outputs = [(f"spikes_{i}", int(np.prod(layer.lava_shape))) for i, layer in enumerate(network.layers)]
    outputs += [(f"{name}_out", size) for name, size in states]

    def info(name: str, size: int) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(name, TensorProto.DOUBLE, ["batch", size])

    onnx_graph = helper.make_graph(
        graph.nodes, "neurodeploy_snn_step", [info(*pair) for pair in inputs],
        [info(*pair) for pair in outputs], graph.initializers, doc_string=_doc(network, inputs, outputs),
    )
    model = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="neurodeploy", doc_string=onnx_graph.doc_string)
    helper.set_model_props(model, {STARTS_WITH_INPUT_KEY: str(int(network.starts_with_input)),
                                   NUM_LAYERS_KEY: str(len(network.layers))})
    onnx.checker.check_model(model, full_check=True)
    return model


def export_onnx(network: Network, path: str | Path) -> Path:
    """Write ``network`` as a one-step ONNX graph (``build_onnx``) to ``path``, atomically."""
    path = Path(path)
    model = build_onnx(network)
    with atomic_path(path) as tmp:
        onnx.save_model(model, str(tmp))
    return path
