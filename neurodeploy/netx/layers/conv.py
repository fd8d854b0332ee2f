"""2-D convolution layers (NetX ``conv``), PyTorch ``conv2d`` semantics.

Keys: ``shape`` [C, H, W] of the output, ``weight`` [out, in/groups, kH, kW]
(a trailing singleton axis, as older lava-dl writes it, is read too),
``stride``, ``padding``, ``dilation`` (each (H, W), or one value for both),
``groups``, a ``neuron`` group (all required by netx), an optional ``bias``
(one per output channel, or one per neuron in Lava's (W, H, C) shape), and
``delay`` (warned about), ``inChannels``, ``outChannels``, ``kernelSize``,
which netx never reads. Nothing stores the input shape of a conv layer 0: netx needs it
(``hdf5.Network(input_shape=)``); it is given, taken from a neuron-less
input group, or inferred for stride 1 (``loihi.geometry``).

netx flips and transposes the kernel for Lava's true convolution, which
amounts to PyTorch's cross-correlation, and passes the weights unchanged:
no weight-bit optimisation, no clipping, no exponent. Lava's fixed-point
Conv sums in float64 (``scipy.signal``), casts to int32 (a sum beyond
+-2^31 becomes -2^31) and wraps that into 24 bits::

    a[t + 1] = wrap24(int32(conv2d(s[t], W)))       s binary (!= 0) or graded

``conv_fan_out`` and ``_connections`` count and list the synapses,
padding taps excluded.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import numpy as np
import scipy.sparse

from neurodeploy.loihi.arithmetic import CONV_ACCUMULATOR_BITS, WEIGHT_SCALE, signed_wrap
from neurodeploy.loihi.geometry import conv_input_size, conv_output_size, tap_hits
from neurodeploy.loihi.order import channel_neurons, lava_shape, per_channel_to_lava
from neurodeploy.loihi.weights import WEIGHT_MAX, WEIGHT_MIN
from neurodeploy.netx.base import (
    Connections, GroupWriter, Layer, NeuronModel, ReadContext, Synapse, check_silent, kept_units, write_type,
)
from neurodeploy.netx.conv_fanout import conv_fanout
from neurodeploy.netx.fanout import Fanout
from neurodeploy.netx.keys import Keys, NetxError

INT32_MIN = -(1 << 31)
NEURON_BYTES = 8  # a tiled bias (int64) per neuron: what reading a conv layer holds per neuron


@dataclass(frozen=True)
class ConvLayer(Layer):
    """weight: int [out, in/groups, kH, kW]; shape: output [C, H, W] (NetX order);
    stride, padding, dilation: (H, W) pairs; bias: int per neuron (Lava order; one per
    channel is tiled to that) or None."""

    weight: np.ndarray
    neuron: NeuronModel
    shape: tuple[int, int, int]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    bias: np.ndarray | None = None

    netx_type: ClassVar[str] = "conv"
    weight_rows: ClassVar[str] = "output channels"
    needs_input_shape: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if self.weight.ndim != 4 or min(self.weight.shape) == 0:
            raise NetxError(f"key 'weight' must be a non-empty 4-D array, got shape {self.weight.shape}")
        if self.weight.shape[0] != self.shape[0]:
            raise NetxError(f"key 'weight' has {self.weight.shape[0]} output channels, 'shape' says {self.shape[0]}")
        if self.groups < 1 or self.shape[0] % self.groups:
            raise NetxError(f"key 'groups' = {self.groups} does not divide {self.shape[0]} output channels")
        if min(self.stride) < 1 or min(self.dilation) < 1 or min(self.padding) < 0:
            raise NetxError(f"stride {self.stride}, padding {self.padding} or dilation {self.dilation} out of range")
        if self.bias is not None and self.bias.shape == (self.shape[0],):  # one per channel: per neuron
            object.__setattr__(self, "bias", per_channel_to_lava(self.bias, self.shape))
        if self.bias is not None and self.bias.shape != (self.size,):
            raise NetxError(f"key 'bias' has {self.bias.size} values for {self.size} neurons")
        if self.neuron.complex_input:
            raise NetxError("a complex conv layer: netx cannot build it")
        self.neuron.check_bias(self.bias)

    @classmethod
    def read(cls, keys: Keys, context: ReadContext) -> "ConvLayer":
        from neurodeploy.netx.registry import read_neuron

        weight = keys.integers("weight", truncate=True)
        if weight.ndim == 5 and weight.shape[4] == 1:
            weight = weight[..., 0]
        if weight.ndim != 4:
            raise NetxError(f"key 'weight' of a conv layer must be 4-D [out, in/groups, kH, kW], got shape {weight.shape}")
        outside = int(np.count_nonzero((weight < WEIGHT_MIN) | (weight > WEIGHT_MAX)))
        if outside:
            keys.warn(f"{outside} conv weight(s) outside [{WEIGHT_MIN}, {WEIGHT_MAX}] (range [{weight.min()}, "
                      f"{weight.max()}]): netx passes conv weights to Lava unchanged, so they run as stored")
        delay = keys.raw("delay") if keys.has("delay") else np.zeros(1)
        if np.issubdtype(delay.dtype, np.number) and np.any(delay):
            keys.warn(f"key 'delay' (up to {delay.max():g} steps) is ignored: netx builds a conv layer without "
                      "delays, and so does this reader")
        for key in ("stride", "padding", "dilation", "groups"):
            if not keys.has(key):
                raise NetxError(f"missing key '{key}' (netx requires it for a conv layer)")
        shape = keys.positive_shape("shape", (3,))
        layer = cls(weight=weight, neuron=read_neuron(keys, input_layer=False), shape=shape,
                    stride=keys.pair("stride", 1), padding=keys.pair("padding", 0),
                    dilation=keys.pair("dilation", 1), groups=keys.integer("groups"))
        previous = context.previous
        if previous is None:
            context.input_shape = layer.network_input(context.given_shape)
        elif len(previous) != 3:
            raise NetxError("a conv layer needs a (C, H, W) layer before it (an input or conv layer)")
        else:
            layer.check_input(lava_shape(previous))
        # only now, its shape that of the convolution, anything per neuron (a tiled bias)
        context.limits.check_memory(NEURON_BYTES * layer.size, f"{keys.path}: layer/{keys.index}: conv of shape "
                                    f"{list(shape)} ({layer.size} neurons, {NEURON_BYTES} bytes each)")
        if keys.has("bias"):
            layer = dataclasses.replace(layer, bias=_read_bias(keys, shape))
        context.flatten_next = False
        return layer

    def write(self, writer: GroupWriter) -> None:
        group = writer.next()
        write_type(group, self.netx_type)
        group.create_dataset("shape", data=np.array(self.shape))
        group.create_dataset("inChannels", data=self.weight.shape[1] * self.groups)
        group.create_dataset("outChannels", data=self.weight.shape[0])
        group.create_dataset("kernelSize", data=np.array(self.weight.shape[2:]))
        group.create_dataset("weight", data=self.weight.astype(np.int16))
        for key in ("stride", "padding", "dilation"):
            group.create_dataset(key, data=np.array(getattr(self, key)))
        group.create_dataset("groups", data=self.groups)
        if self.bias is not None:
            per_position = self.bias.reshape(-1, self.shape[0])
            channel_wise = bool((per_position == per_position[:1]).all())
            data = per_position[0] if channel_wise else self.bias.reshape(lava_shape(self.shape))
            group.create_dataset("bias", data=data.astype(np.int32))
        self.neuron.write(group)

    @property
    def lava_shape(self) -> tuple[int, int, int]:
        return lava_shape(self.shape)

    def input_size(self) -> int:
        raise NetxError("a conv layer's input size depends on its input shape")

    def output_hw(self, input_hw: tuple[int, int]) -> tuple[int, int]:
        """Output (H, W) for an input (H, W)."""
        kernel = self.weight.shape[2:]
        return tuple(conv_output_size(size, k, s, p, d)
                     for size, k, s, p, d in zip(input_hw, kernel, self.stride, self.padding, self.dilation))

    def check_input(self, shape: tuple[int, int, int]) -> None:
        """``NetxError`` unless an input of NetX ``shape`` (C, H, W) gives this layer's output."""
        channels, height, width = shape
        expected = self.weight.shape[1] * self.groups
        if channels != expected:
            raise NetxError(f"key 'weight' expects {expected} input channels, its input has {channels}")
        if self.output_hw((height, width)) != tuple(self.shape[1:]):
            raise NetxError(f"key 'shape' {list(self.shape)} differs from the convolution's output "
                            f"{list(self.output_hw((height, width)))} for input {list(shape)}")

    def network_input(self, given: tuple[int, ...] | None) -> tuple[int, int, int]:
        """The input image (W, H, C): ``given``, or inferred (``infer_input``), checked."""
        shape = self.infer_input(given)
        self.check_input(shape)
        return lava_shape(shape)

    def infer_input(self, given: tuple[int, ...] | None) -> tuple[int, int, int]:
        """NetX shape (C, H, W) of what feeds this layer as a network's first: ``given`` (a
        Lava shape, checked) or, with stride 1, the one input size that gives this output."""
        if given is not None:
            shape = tuple(int(s) for s in reversed(given))
            if len(shape) != 3 or min(shape) < 1:
                raise NetxError(f"input shape {list(shape)} must be [C, H, W], three positive integers")
            return shape
        if self.stride != (1, 1):
            raise NetxError(
                f"conv layer with stride {list(self.stride)}: its input shape cannot be inferred "
                "(several input sizes give the same output); give the input shape [C, H, W] "
                "(read_netx(..., input_shape=), --input-shape C,H,W)")
        kernel = self.weight.shape[2:]
        height, width = (conv_input_size(size, k, p, d)
                         for size, k, p, d in zip(self.shape[1:], kernel, self.padding, self.dilation))
        if min(height, width) < 1:
            raise NetxError(f"no input gives conv output {list(self.shape)} with padding {list(self.padding)}")
        return (self.weight.shape[1] * self.groups, height, width)

    def synapse(self, previous: tuple[int, ...], graded: bool, sparse: bool) -> Synapse:
        return _ConvSynapse(self, previous, graded)

    def fanout(self, previous: tuple[int, ...], graded: bool, sparse: bool) -> Fanout:
        return conv_fanout(self.weight, previous, self.shape, self.stride, self.padding, self.dilation, self.groups,
                           graded)

    def fan_out(self, previous: tuple[int, ...]) -> np.ndarray:
        width, height, channels = previous
        fan = conv_fan_out(self.weight, (channels, height, width), self.stride, self.padding, self.dilation,
                           self.groups)
        return fan.transpose(2, 1, 0).reshape(-1)

    def connections(self, previous: tuple[int, ...]) -> list[Connections]:
        return [_connections(self, previous)]

    def weights(self) -> list[np.ndarray]:
        return [self.weight]

    def without_units(self, units: Sequence[int]) -> "ConvLayer":
        """Drops output channels ``units``: their kernels weight[c] and their neurons' bias."""
        self._check_ungrouped("output channels")
        keep = kept_units(units, self.shape[0], "output channels")
        bias = [] if self.bias is None else [self.bias.reshape(-1, self.shape[0])[:, ~keep].T]
        check_silent(units, [self.weight[~keep], *bias], "output channel")
        return dataclasses.replace(
            self, weight=self.weight[keep], shape=(int(keep.sum()), *self.shape[1:]),
            bias=None if self.bias is None else self.bias[~channel_neurons(self.lava_shape, units)])

    def without_inputs(self, units: Sequence[int], previous: tuple[int, ...]) -> "ConvLayer":
        """Drops input channels ``units`` of every kernel: weight[:, c]."""
        self._check_ungrouped("input channels")
        keep = kept_units(units, previous[-1], "channels of the layer before")
        if keep.size != self.weight.shape[1]:
            raise NetxError(f"key 'weight' has {self.weight.shape[1]} input channels, the layer before {keep.size}")
        return dataclasses.replace(self, weight=self.weight[:, keep])

    def _check_ungrouped(self, what: str) -> None:
        """``NetxError`` for a grouped convolution, whose groups are fixed slices of channels."""
        if self.groups != 1:
            raise NetxError(f"a conv layer with groups = {self.groups} cannot lose {what}: each group reads and "
                            "writes a fixed slice of channels (only groups = 1 can)")

    def describe(self) -> dict[str, Any]:
        return {"stride": list(self.stride), "padding": list(self.padding), "dilation": list(self.dilation),
                "groups": self.groups}

    def notes(self) -> list[str]:
        return self.neuron.notes()

    def nir_synapse(self, shape: tuple[int, ...]) -> tuple[list[tuple[str, Any]], tuple[int, ...]]:
        """Conv2d(weight / 64) written with groups = 1 (``ungrouped``): nir 1.0.8's Conv2d
        takes its input channels from the weight whatever its ``groups``."""
        import nir

        node = nir.Conv2d(input_shape=np.array(shape[1:]), weight=ungrouped(self.weight, self.groups) / WEIGHT_SCALE,
                          stride=np.array(self.stride), padding=np.array(self.padding),
                          dilation=np.array(self.dilation), groups=1, bias=np.zeros(self.weight.shape[0]))
        return [("conv", node)], tuple(self.shape)

    def onnx_synapse(self, graph: Any, index: int, previous: tuple[int, ...], graded: bool, pre: str) -> str:
        """The conv synapse in ONNX, whose Conv runs in float32 only: spikes in one Conv
        (exact while every sum of |w| is below 2^24); graded messages (int32) as four
        base-256 digits of m + 2^31, each Conv exact while every sum of |w| times 255 is,
        recombined in double: conv(m) = sum 256^k conv(d_k) - 2^31 conv(1)."""
        total_abs = float(np.abs(self.weight).reshape(self.weight.shape[0], -1).sum(axis=1).max())
        limit = (1 << 24) / (255 if graded else 1)
        if total_abs >= limit:
            raise NetxError(f"a sum of |weights| ({total_abs:.0f}) reaches {limit:.0f}, beyond what a float32 Conv "
                            "(the only Conv ONNX Runtime runs) adds exactly")
        if not graded:
            total = self._onnx_conv(graph, graph.nonzero(pre), previous)
        else:
            shifted = graph.add(pre, graph.scalar(2.0**31))
            digits = [graph.sub(graph.op("Floor", [graph.mul(shifted, 1.0 / 256**k)]),
                                graph.mul(graph.op("Floor", [graph.mul(shifted, 1.0 / 256 ** (k + 1))]), 256.0))
                      for k in range(4)]
            total = self._onnx_conv(graph, digits[0], previous)
            for k in range(1, 4):
                total = graph.add(total, graph.mul(self._onnx_conv(graph, digits[k], previous), float(256**k)))
            total = graph.sub(total, graph.const(2.0**31 * self._ones_response(previous), "conv_ones"))
        beyond = graph.op("GreaterOrEqual", [graph.op("Abs", [total]), graph.scalar(2.0**31)])
        as_int32 = graph.op("Where", [beyond, graph.scalar(float(INT32_MIN)), total])
        return graph.wrap(as_int32, CONV_ACCUMULATOR_BITS)

    def _onnx_conv(self, graph: Any, x: str, previous: tuple[int, ...]) -> str:
        """conv2d of x [batch, n_pre] (Lava order) in float32, as double [batch, n]."""
        width, height, channels = previous
        frames = graph.op("Reshape", [graph.to_float32(x),
                                      graph.const(np.array([-1, width, height, channels]), "shape_in", np.int64)])
        result = graph.op("Conv", [graph.op("Transpose", [frames], perm=[0, 3, 2, 1]),
                                   graph.const(self.weight, "conv_weight", np.float32)],
                          strides=list(self.stride), pads=[*self.padding, *self.padding],
                          dilations=list(self.dilation), group=self.groups)
        flat = graph.op("Reshape", [graph.op("Transpose", [result], perm=[0, 3, 2, 1]),
                                    graph.const(np.array([-1, self.size]), "shape_out", np.int64)])
        return graph.to_double(flat)

    def _ones_response(self, previous: tuple[int, ...]) -> np.ndarray:
        """conv2d of an all-ones input, [n] in Lava order (padding taps read zeros)."""
        ones = np.ones((1, 1, int(np.prod(previous))), dtype=np.int64)
        return _ConvSynapse(self, previous, graded=True)(np.concatenate([ones, np.zeros_like(ones)]))[1, 0]


class _ConvSynapse(Synapse):
    """The conv synapse over all steps (module doc), in float64 (or float32 when every
    sum is an exact float32 integer), as PyTorch's conv2d."""

    def __init__(self, layer: ConvLayer, previous: tuple[int, ...], graded: bool) -> None:
        self.layer, self.previous, self.graded = layer, previous, graded

    def __call__(self, pre: np.ndarray) -> np.ndarray:
        import torch

        steps, rows, _ = pre.shape
        width, height, channels = self.previous
        messages = pre if self.graded else (pre != 0)
        largest = float(np.abs(messages).max(initial=0))
        bound = float(np.abs(self.layer.weight).reshape(self.layer.weight.shape[0], -1).sum(axis=1).max()) * largest
        dtype = torch.float32 if bound < 1 << 24 else torch.float64
        frames = torch.from_numpy(np.ascontiguousarray(messages)).to(dtype).reshape(steps * rows, width, height,
                                                                                      channels)
        layer = self.layer
        result = torch.nn.functional.conv2d(
            frames.permute(0, 3, 2, 1), torch.from_numpy(layer.weight).to(dtype), stride=layer.stride,
            padding=layer.padding, dilation=layer.dilation, groups=layer.groups,
        )
        total = result.permute(0, 3, 2, 1).reshape(steps, rows, -1).to(torch.float64).numpy()
        as_int32 = np.where(np.abs(total) >= 2.0**31, INT32_MIN, total).astype(np.int64)
        out = np.zeros(total.shape, dtype=np.int64)
        out[1:] = signed_wrap(as_int32[:-1], CONV_ACCUMULATOR_BITS)
        return out


def _read_bias(keys: Keys, shape: tuple[int, int, int]) -> np.ndarray:
    """Key ``bias`` flat: one value per channel (tiled per neuron by the record) or one per
    neuron in Lava's (W, H, C) shape."""
    bias = keys.integers("bias", truncate=True)
    if bias.size != shape[0] and bias.shape != lava_shape(shape):
        raise NetxError(f"key 'bias' of shape {bias.shape} is neither one value per channel ({shape[0]}) "
                        f"nor one per neuron {lava_shape(shape)}")
    return bias.reshape(-1)


def ungrouped(weight: np.ndarray, groups: int) -> np.ndarray:
    """The groups = 1 weight [out, in, kH, kW] of a grouped conv weight [out, in/groups, kH, kW]:
    output channel o of group g = o // (out/groups) reads input channels g*(in/groups) ..
    (g+1)*(in/groups) - 1; the other entries are zero."""
    out_channels, per_group = weight.shape[:2]
    full = np.zeros((out_channels, per_group * groups, *weight.shape[2:]), dtype=weight.dtype)
    step = out_channels // groups
    for g in range(groups):
        full[g * step:(g + 1) * step, g * per_group:(g + 1) * per_group] = weight[g * step:(g + 1) * step]
    return full


def conv_fan_out(weight: np.ndarray, input_shape: tuple[int, int, int], stride: tuple[int, int],
                 padding: tuple[int, int], dilation: tuple[int, int], groups: int) -> np.ndarray:
    """Synaptic fan-out of every input position of a conv2d layer: int64 [C, H, W].

    The fan-out of input (c, y, x) is the number of (o, ky, kx) with o in c's
    group, W[o, c mod (C/groups), ky, kx] != 0, and an output position inside
    the output map reading (y, x) through that tap. Separable in y and x: with
    ``Ay[ky, y]``, ``Ax[kx, x]`` (``loihi.geometry.tap_hits``) and the nonzero
    counts ``K[c, ky, kx]``, fan_out = sum K Ay Ax, one einsum, exact in integers.
    """
    w = np.asarray(weight)
    channels, height, width = (int(v) for v in input_shape)
    out_channels, group_in, k_h, k_w = w.shape
    if groups < 1 or channels % groups or out_channels % groups or group_in * groups != channels:
        raise ValueError(f"weight {w.shape} does not fit {channels} input channels in {groups} groups")
    out_h = conv_output_size(height, k_h, stride[0], padding[0], dilation[0])
    out_w = conv_output_size(width, k_w, stride[1], padding[1], dilation[1])
    if out_h < 1 or out_w < 1:
        raise ValueError(f"kernel {(k_h, k_w)} does not fit input {(height, width)} with padding {padding}")
    nonzero = (w != 0).reshape(groups, out_channels // groups, group_in, k_h, k_w)
    per_channel = nonzero.sum(axis=1, dtype=np.int64).reshape(channels, k_h, k_w)
    hits_y = tap_hits(height, out_h, k_h, stride[0], padding[0], dilation[0])
    hits_x = tap_hits(width, out_w, k_w, stride[1], padding[1], dilation[1])
    return np.einsum("ckl,ky,lx->cyx", per_channel, hits_y, hits_x, optimize=True).astype(np.int64)


def _connections(layer: ConvLayer, previous: tuple[int, int, int]) -> Connections:
    """Every (output position, tap) whose input position lies inside the input, expanded
    synapse by synapse (the resource model stores a conv like any other layer)."""
    width, height, channels = previous
    out_channels, group_in, k_h, k_w = layer.weight.shape
    _, out_h, out_w = layer.shape
    per_group = out_channels // layer.groups
    o, ci, ky, kx, oy, ox = np.meshgrid(
        np.arange(out_channels), np.arange(group_in), np.arange(k_h), np.arange(k_w),
        np.arange(out_h), np.arange(out_w), indexing="ij",
    )
    y = oy * layer.stride[0] - layer.padding[0] + ky * layer.dilation[0]
    x = ox * layer.stride[1] - layer.padding[1] + kx * layer.dilation[1]
    c = (o // per_group) * group_in + ci
    inside = (y >= 0) & (y < height) & (x >= 0) & (x < width)
    rows = (ox * out_h * out_channels + oy * out_channels + o)[inside]
    cols = (x * height * channels + y * channels + c)[inside]
    values = layer.weight[o, ci, ky, kx][inside]
    shape = (out_channels * out_h * out_w, channels * height * width)
    structure = scipy.sparse.csr_matrix((np.ones(rows.size, dtype=np.int8), (rows, cols)), shape=shape)
    nonzero = values != 0
    weights = scipy.sparse.csr_matrix((values[nonzero], (rows[nonzero], cols[nonzero])), shape=shape)
    return Connections(structure, weights)
