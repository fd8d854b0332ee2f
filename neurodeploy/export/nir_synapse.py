"""A path of NIR's linear nodes between two neuron layers, as the one synapse NetX holds.

The path is ``[pre ...] weight [post ...]``: one weight node (``Linear``,
``Affine``, ``Conv1d``, ``Conv2d``) and, before it, any of ``SumPool2d``,
``AvgPool2d``, ``Scale``, ``Flatten`` and ``Delay``, after it ``Scale`` and
``Delay``. Every one of them is linear, so the path is one linear map, and it is
folded into the weight exactly (all in float64; NetX has no pool layer):

- a pool before a dense weight W [out, C*P*Q]: W' = W P, P the pool's matrix
  [C*P*Q, C*H*W] (each output cell sums its k_h x k_w window; AvgPool2d is
  SumPool2d then Scale 1 / (k_h k_w), as NIR defines it);
- a pool (kernel k_p, stride s_p, padding p_p) before a conv (kernel k,
  stride s, padding p, dilation d): the conv of kernel s_p d (k - 1) + k_p,
  stride s s_p, padding s_p p + p_p, dilation 1, with K[o, c, s_p d a + u] +=
  W[o, c, a] (u < k_p), per axis. Exact when the pooled map's zero padding
  falls outside the input (k_p <= s_p + p_p, and s_p P - p_p >= H for the
  pooled size P); refused otherwise, naming the pool;
- a Scale s before the weight multiplies its columns (a conv: one s per input
  channel), after it its rows and bias (a conv: one s per output channel);
- a Delay of tau seconds before the weight delays each input, after it each
  output: NetX's axonal ``delay`` [out, in] = d_in + d_out steps (tau / dt, whole
  numbers, at most 62), on dense layers only (netx ignores a conv's delay);
- Conv1d over (C, N) is Conv2d over (C, 1, N).

Conv padding 'valid' is 0; 'same' (stride 1) is d (k - 1) / 2 when that is whole.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import nir
import numpy as np

from neurodeploy.export.nir_params import NirImportError, integers, numbers
from neurodeploy.loihi.geometry import conv_output_size
from neurodeploy.netx.layers.dense import MAX_DELAY

WEIGHT_TYPES = (nir.Linear, nir.Affine, nir.Conv1d, nir.Conv2d)
POOL_TYPES = (nir.SumPool2d, nir.AvgPool2d)
PRE_TYPES = POOL_TYPES + (nir.Scale, nir.Flatten, nir.Delay)
POST_TYPES = (nir.Scale, nir.Delay)


@dataclass
class Synapse:
    """A folded path. ``weight``: dense [out, in] or conv [out, in/groups, kH, kW], float64;
    ``bias`` [rows] (rows: dense outputs or conv output channels), a constant input to
    the neurons in the weight's units; ``conv``: None for dense, else (stride, padding,
    dilation, groups) with per-axis pairs; ``delay``: steps [out, in] or None;
    ``in_shape``, ``out_shape``: NIR shapes; ``flatten``: a dense weight reads a
    multi-dimensional input flattened in (C, H, W) order."""

    weight: np.ndarray
    bias: np.ndarray
    conv: tuple[tuple[int, int], tuple[int, int], tuple[int, int], int] | None
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    flatten: bool = False
    delay: np.ndarray | None = None
    nodes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def rows(self) -> int:
        return self.weight.shape[0]


def _pair(value: Any, key: str, where: str, minimum: int) -> tuple[int, int]:
    return tuple(integers(value, key, where, minimum, 2))  # type: ignore[return-value]


def _steps(node: nir.Delay, dt: float | None, where: str) -> np.ndarray:
    """A Delay's taus (seconds) as whole steps of dt, at most netx's 62."""
    tau = numbers(node.delay, "delay", where).reshape(-1)
    if dt is None:
        raise NirImportError(f"{where}: a Delay is in seconds; give the graph's time step (--dt)")
    steps = tau / dt
    whole = np.rint(steps)
    if np.any(np.abs(steps - whole) > 1e-6 * np.maximum(1, np.abs(steps))) or np.any(whole < 0):
        raise NirImportError(f"{where}: delay / dt is not a whole number of steps >= 0 (dt {dt:g} s); NetX delays "
                             "are whole steps")
    if whole.max() > MAX_DELAY:
        raise NirImportError(f"{where}: a delay of {int(whole.max())} steps; netx holds at most {MAX_DELAY}")
    return whole.astype(np.int64)


def _conv(node: Any, shape: tuple[int, ...], where: str) -> tuple[np.ndarray, np.ndarray, tuple, tuple[int, ...]]:
    """(weight [out, in/groups, kH, kW], bias [out], geometry, output shape) of a Conv1d or
    Conv2d node on the NIR input ``shape``."""
    weight = numbers(node.weight, "weight", where)
    one_d = isinstance(node, nir.Conv1d)
    if one_d:
        if weight.ndim != 3 or len(shape) != 2:
            raise NirImportError(f"{where}: Conv1d weight {weight.shape} on input {shape}; (C, N) input and "
                                 "[out, in, k] weight expected")
        weight, shape = weight[:, :, None, :], (shape[0], 1, shape[1])
    (groups,) = integers(node.groups, "groups", where, 1, 1)
    if len(shape) != 3 or weight.ndim != 4 or weight.shape[1] * groups != shape[0] or weight.shape[0] % groups:
        raise NirImportError(f"{where}: {type(node).__name__} weight {weight.shape} (groups {groups}) does not take "
                             f"the (C, H, W) input {shape}")
    stride = (1, *integers(node.stride, "stride", where, 1, 1)) if one_d else _pair(node.stride, "stride", where, 1)
    dilation = (1, *integers(node.dilation, "dilation", where, 1, 1)) if one_d else _pair(node.dilation, "dilation",
                                                                                            where, 1)
    kernel = weight.shape[2:]
    if isinstance(node.padding, str):
        if node.padding == "valid":
            padding = (0, 0)
        else:
            span = [dilation[axis] * (kernel[axis] - 1) for axis in (0, 1)]
            if max(stride) != 1 or any(extent % 2 for extent in span):
                raise NirImportError(f"{where}: padding 'same' with stride {stride} and an even kernel extent is "
                                     "not symmetric; NetX pads both sides alike")
            padding = (span[0] // 2, span[1] // 2)
    else:
        padding = (0, *integers(node.padding, "padding", where, 0, 1)) if one_d else _pair(node.padding, "padding",
                                                                                           where, 0)
    out_shape = (weight.shape[0],) + tuple(conv_output_size(shape[1 + axis], kernel[axis], stride[axis],
                                                            padding[axis], dilation[axis]) for axis in (0, 1))
    if min(out_shape) < 1:
        raise NirImportError(f"{where}: its {kernel[0]} x {kernel[1]} kernel (dilation {dilation}) does not fit "
                             f"the {shape[1]} x {shape[2]} input with padding {padding}")
    bias = np.zeros(weight.shape[0]) if getattr(node, "bias", None) is None else numbers(node.bias, "bias", where)
    return weight, bias.reshape(-1), (stride, padding, dilation, groups), out_shape


def _pool(node: Any, shape: tuple[int, ...], where: str) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int],
                                                                    tuple[int, ...], float]:
    """(kernel, stride, padding, output shape, gain) of a SumPool2d (gain 1) or AvgPool2d
    (gain 1 / (k_h k_w)) on the (C, H, W) input ``shape``."""
    if len(shape) != 3:
        raise NirImportError(f"{where}: a {type(node).__name__} needs a (C, H, W) input, got shape {shape}")
    kernel = _pair(node.kernel_size, "kernel_size", where, 1)
    stride = _pair(node.stride, "stride", where, 1)
    padding = _pair(node.padding, "padding", where, 0)
    out = (shape[0],) + tuple(conv_output_size(shape[1 + axis], kernel[axis], stride[axis], padding[axis], 1)
                              for axis in (0, 1))
    if min(out) < 1:
        raise NirImportError(f"{where}: its {kernel} window does not fit the {shape[1:]} input")
    gain = 1.0 / (kernel[0] * kernel[1]) if isinstance(node, nir.AvgPool2d) else 1.0
    return kernel, stride, padding, out, gain


def _pool_into_dense(weight: np.ndarray, shape: tuple[int, ...], pooled: tuple[int, ...], kernel, stride, padding,
                     gain: float) -> np.ndarray:
    """W P: ``weight`` [out, C*P*Q] over the pooled map, as [out, C*H*W] over the map before."""
    rows = weight.shape[0]
    pooled_w = weight.reshape(rows, *pooled) * gain
    before = np.zeros((rows, *shape))
    for u in range(kernel[0]):
        for v in range(kernel[1]):
            p = np.arange(pooled[1]) * stride[0] + u - padding[0]
            q = np.arange(pooled[2]) * stride[1] + v - padding[1]
            keep_p, keep_q = (p >= 0) & (p < shape[1]), (q >= 0) & (q < shape[2])
            before[:, :, p[keep_p][:, None], q[keep_q][None, :]] += pooled_w[:, :, keep_p][:, :, :, keep_q]
    return before.reshape(rows, -1)


def _pool_into_conv(weight: np.ndarray, geometry: tuple, shape: tuple[int, ...], pooled: tuple[int, ...], kernel,
                    stride, padding, gain: float, where: str) -> tuple[np.ndarray, tuple]:
    """The conv on the map before a pool that equals ``weight`` (geometry ``geometry``) on
    the pooled map (module docstring); refused where the padding would differ."""
    c_stride, c_padding, c_dilation, groups = geometry
    size = [stride[axis] * c_dilation[axis] * (weight.shape[2 + axis] - 1) + kernel[axis] for axis in (0, 1)]
    folded = np.zeros(weight.shape[:2] + tuple(size))
    for u in range(kernel[0]):
        for v in range(kernel[1]):
            rows = np.arange(weight.shape[2]) * stride[0] * c_dilation[0] + u
            cols = np.arange(weight.shape[3]) * stride[1] * c_dilation[1] + v
            folded[:, :, rows[:, None], cols[None, :]] += weight * gain
    for axis in (0, 1):
        if c_padding[axis] and (kernel[axis] > stride[axis] + padding[axis]
                                or stride[axis] * pooled[1 + axis] - padding[axis] < shape[1 + axis]):
            raise NirImportError(f"{where}: this pool's output is zero-padded by the conv after it in a way no single "
                                 f"conv on its input reproduces (axis {axis}: kernel {kernel[axis]}, stride "
                                 f"{stride[axis]}, padding {padding[axis]}, input {shape[1 + axis]}); NetX has no "
                                 "pool layer, so it is not imported")
    new_geometry = (tuple(c_stride[a] * stride[a] for a in (0, 1)),
                    tuple(stride[a] * c_padding[a] + padding[a] for a in (0, 1)), (1, 1), groups)
    return folded, new_geometry


def fold(names: tuple[str, ...], nodes: dict[str, Any], shape: tuple[int, ...], dt: float | None,
         source: str) -> Synapse:
    """The synapse of the path ``names`` (module docstring) on the NIR input ``shape``."""
    weights = [name for name in names if isinstance(nodes[name], WEIGHT_TYPES)]
    if len(weights) != 1:
        where = f"{source}: nodes {', '.join(names) or '(none)'}"
        raise NirImportError(f"{where}: a layer's synapse is one Linear, Affine, Conv1d or Conv2d node (with pools, "
                             f"scales, flattens, delays around it); this path has {len(weights)}")
    at = names.index(weights[0])
    pre, post = names[:at], names[at + 1:]
    shapes = [shape]
    for name in pre:  # shapes forward through the pre nodes
        node, where = nodes[name], f"{source}: node '{name}'"
        if not isinstance(node, PRE_TYPES):
            raise NirImportError(f"{where} is a NIR {type(node).__name__}, which cannot come before a weight node "
                                 "(imported there: SumPool2d, AvgPool2d, Scale, Flatten, Delay)")
        if isinstance(node, POOL_TYPES):
            shapes.append(_pool(node, shapes[-1], where)[3])
        elif isinstance(node, nir.Flatten):
            shapes.append((int(np.prod(shapes[-1])),))
        else:
            shapes.append(shapes[-1])
    name = weights[0]
    node, where = nodes[name], f"{source}: node '{name}'"
    if isinstance(node, (nir.Conv1d, nir.Conv2d)):
        if any(isinstance(nodes[n], nir.Flatten) for n in pre):
            raise NirImportError(f"{where} ({type(node).__name__}) follows a Flatten")
        weight, bias, conv, out_shape = _conv(node, shapes[-1], where)
        flatten = False
    else:
        weight = numbers(node.weight, "weight", where)
        inputs = int(np.prod(shapes[-1]))
        if weight.ndim != 2 or weight.shape[1] != inputs:
            raise NirImportError(f"{where}: weight {weight.shape} does not take the {inputs} inputs of shape "
                                 f"{shapes[-1]} (is a Flatten missing?)")
        bias = np.zeros(weight.shape[0]) if getattr(node, "bias", None) is None else numbers(node.bias, "bias", where)
        bias = bias.reshape(-1)
        if bias.size not in (1, weight.shape[0]):
            raise NirImportError(f"{where}: bias has {bias.size} values for {weight.shape[0]} rows of the weight")
        bias = np.broadcast_to(bias, (weight.shape[0],)).copy()
        conv, out_shape, flatten = None, (weight.shape[0],), len(shape) > 1
    if conv is not None and bias.size != weight.shape[0]:
        raise NirImportError(f"{where}: bias has {bias.size} values for {weight.shape[0]} output channels")
    delay_in = np.zeros(1, dtype=np.int64)
    transparent = True  # only Flatten and Scale between a Delay and the weight keep each input its own
    for index in range(len(pre) - 1, -1, -1):
        pre_node, pre_where, before = nodes[pre[index]], f"{source}: node '{pre[index]}'", shapes[index]
        if isinstance(pre_node, POOL_TYPES):
            kernel, stride, padding, pooled, gain = _pool(pre_node, before, pre_where)
            transparent = False
            if conv is None:
                weight = _pool_into_dense(weight, before, pooled, kernel, stride, padding, gain)
            else:
                weight, conv = _pool_into_conv(weight, conv, before, pooled, kernel, stride, padding, gain, pre_where)
                folded_out = tuple(conv_output_size(before[1 + axis], weight.shape[2 + axis], conv[0][axis],
                                                    conv[1][axis], 1) for axis in (0, 1))
                if folded_out != tuple(out_shape[1:]):
                    raise NirImportError(f"{pre_where}: folded into the conv after it, this pool gives a "
                                         f"{folded_out} map instead of {tuple(out_shape[1:])}; NetX has no pool "
                                         "layer, so it is not imported")
        elif isinstance(pre_node, nir.Scale):
            scale = numbers(pre_node.scale, "scale", pre_where)
            weight = _scale_columns(weight, conv, scale, before, pre_where)
        elif isinstance(pre_node, nir.Delay):
            steps = _steps(pre_node, dt, pre_where)
            if conv is not None and np.any(steps):
                raise NirImportError(f"{pre_where}: a delay into a convolution; netx ignores a conv layer's delay")
            if not transparent and np.any(steps):
                raise NirImportError(f"{pre_where}: a delay before a pool; each input's delay must reach the weight "
                                     "unmixed")
            if steps.size not in (1, int(np.prod(before))):
                raise NirImportError(f"{pre_where}: delay has {steps.size} values for {int(np.prod(before))} inputs")
            delay_in = delay_in + steps
    rows = weight.shape[0]
    delay_out = np.zeros(1, dtype=np.int64)
    for post_name in post:
        post_node, post_where = nodes[post_name], f"{source}: node '{post_name}'"
        if not isinstance(post_node, POST_TYPES):
            raise NirImportError(f"{post_where} is a NIR {type(post_node).__name__}, which cannot come between a "
                                 "weight node and its neurons (imported there: Scale, Delay)")
        if isinstance(post_node, nir.Scale):
            scale = _per_row(numbers(post_node.scale, "scale", post_where), out_shape, conv is not None, post_where)
            weight = weight * scale.reshape((-1,) + (1,) * (weight.ndim - 1))
            bias = bias * scale
        else:
            steps = _steps(post_node, dt, post_where)
            if conv is not None and np.any(steps):
                raise NirImportError(f"{post_where}: a delay after a convolution; netx ignores a conv layer's delay")
            if steps.size not in (1, rows):
                raise NirImportError(f"{post_where}: delay has {steps.size} values for {rows} outputs")
            delay_out = delay_out + steps
    delay = None
    if np.any(delay_in) or np.any(delay_out):
        delay = np.broadcast_to(delay_out.reshape(-1, 1) + delay_in.reshape(1, -1), weight.shape).copy()
        if delay.max() > MAX_DELAY:
            raise NirImportError(f"{source}: nodes {', '.join(names)}: delays add up to {int(delay.max())} steps; "
                                 f"netx holds at most {MAX_DELAY}")
    return Synapse(weight=weight, bias=bias, conv=conv, in_shape=shape, out_shape=out_shape, flatten=flatten,
                   delay=delay, nodes=names)


def _scale_columns(weight: np.ndarray, conv: tuple | None, scale: np.ndarray, shape: tuple[int, ...],
                   where: str) -> np.ndarray:
    """``weight`` with its inputs scaled by ``scale`` (of the input ``shape``, or one value)."""
    flat = scale.reshape(-1)
    if flat.size == 1:
        return weight * flat[0]
    if flat.size != int(np.prod(shape)):
        raise NirImportError(f"{where}: scale has {flat.size} values for an input of shape {shape}")
    if conv is None:
        return weight * flat.reshape(1, -1)
    per_channel = flat.reshape(shape[0], -1)
    if not np.all(per_channel == per_channel[:, :1]):
        raise NirImportError(f"{where}: a Scale before a convolution must be one value per input channel")
    groups = conv[3]
    per_group = weight.shape[1]
    channel = (np.arange(weight.shape[0])[:, None] // (weight.shape[0] // groups)) * per_group \
        + np.arange(per_group)[None, :]
    return weight * per_channel[:, 0][channel][:, :, None, None]


def _per_row(scale: np.ndarray, out_shape: tuple[int, ...], conv: bool, where: str) -> np.ndarray:
    """A Scale after the weight as one value per row (dense output, conv output channel)."""
    flat = scale.reshape(-1)
    size = int(np.prod(out_shape))
    if flat.size == 1:
        return np.full(out_shape[0], flat[0])
    if flat.size != size:
        raise NirImportError(f"{where}: scale has {flat.size} values for an output of shape {out_shape}")
    if not conv:
        return flat
    per_channel = flat.reshape(out_shape[0], -1)
    if not np.all(per_channel == per_channel[:, :1]):
        raise NirImportError(f"{where}: a Scale after a convolution must be one value per output channel "
                             "(NetX weights are shared over a channel)")
    return per_channel[:, 0]
