"""Synaptic operations: the accumulates a spike costs on a Loihi-style chip.

A synaptic operation is one accumulate: each presynaptic spike costs one
operation per nonzero outgoing weight that lands on an existing
postsynaptic neuron. With S_i the number of spikes of presynaptic neuron i
over all time steps and F_i its fan-out,

    synops = sum_i  S_i * F_i.

Dense layer, weight W [out, in]:

    F_i = nnz(W[:, i]),    so    synops = sum_i S_i * nnz(W[:, i]).

Conv layer (PyTorch ``conv2d`` semantics: cross-correlation, weight
W [out, C/groups, kH, kW], stride (sH, sW), padding (pH, pW), dilation
(dH, dW), groups; output size Ho = floor((H + 2 pH - dH (kH - 1) - 1) / sH) + 1,
likewise Wo): the fan-out of input position (c, y, x) is the number of
(o, ky, kx) with o in the group of c, W[o, c mod (C/groups), ky, kx] != 0,
and an output position (oy, ox) in [0, Ho) x [0, Wo) with

    oy sH - pH + ky dH == y    and    ox sW - pW + kx dW == x.

Taps that fall into the zero padding touch no input neuron, and a weight
whose output position would lie outside the output map costs nothing.

Synaptic delays shift when an accumulate happens, not how many there are,
so they do not change the count.
"""
from __future__ import annotations

import numpy as np

from neurodeploy.network.netx import DenseLayer, InputLayer, Layer, Network, whc_to_chw


def dense_fan_out(weight: np.ndarray) -> np.ndarray:
    """Nonzero outgoing weights per input: int64 [in] for weight [out, in]."""
    weight = np.asarray(weight)
    if weight.ndim != 2:
        raise ValueError(f"dense weight must be [out, in], got shape {weight.shape}")
    return np.count_nonzero(weight, axis=0).astype(np.int64)


def _tap_hits(size: int, out_size: int, kernel: int, stride: int, padding: int, dilation: int) -> np.ndarray:
    """int64 [kernel, size]: 1 where tap k of some output position reads input position i.

    Input position i is read by tap k iff i = o * stride - padding + k * dilation
    for an integer o in [0, out_size); each (k, i) has at most one such o.
    """
    i = np.arange(size)[None, :]
    k = np.arange(kernel)[:, None]
    num = i + padding - k * dilation
    o = num // stride
    return ((num % stride == 0) & (o >= 0) & (o < out_size)).astype(np.int64)


def conv_fan_out(
    weight: np.ndarray,
    input_shape: tuple[int, int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
) -> np.ndarray:
    """Synaptic fan-out of every input position of a conv2d layer: int64 [C, H, W].

    ``input_shape`` is (C, H, W); ``weight`` is [out, C/groups, kH, kW] (a
    trailing singleton dim, [out, C/groups, kH, kW, 1], is accepted and
    dropped). Semantics are PyTorch's ``conv2d``; see the module docstring.

    Computed in closed form, exactly, in integers. The condition on a tap is
    separable in y and x, so with the 0/1 tables
    ``Ay[ky, y]`` (tap row ky of some output row oy in [0, Ho) reads input
    row y) and ``Ax[kx, x]`` (likewise for columns) and the per-group count
    of nonzero weights ``K[c, ky, kx] = #{o in group(c): W[o, c % (C/groups), ky, kx] != 0}``,

        fan_out[c, y, x] = sum_{ky, kx} K[c, ky, kx] * Ay[ky, y] * Ax[kx, x],

    one einsum costing O(C kH kW (H + W) + C H W kW). This equals the
    transposed convolution (input gradient) of an all-ones output map with
    the (weight != 0) kernel, including the last rows/columns that
    ``conv_transpose2d`` without ``output_padding`` would drop.
    """
    w = np.asarray(weight)
    if w.ndim == 5 and w.shape[-1] == 1:
        w = w[..., 0]
    if w.ndim != 4:
        raise ValueError(f"conv weight must be [out, C/groups, kH, kW], got shape {np.shape(weight)}")
    channels, height, width = (int(v) for v in input_shape)
    out_channels, group_in, k_h, k_w = w.shape
    s_h, s_w = (int(v) for v in stride)
    p_h, p_w = (int(v) for v in padding)
    d_h, d_w = (int(v) for v in dilation)
    groups = int(groups)
    if groups < 1 or channels % groups or out_channels % groups or group_in * groups != channels:
        raise ValueError(
            f"weight {w.shape} does not fit {channels} input channels in {groups} groups"
        )
    if min(s_h, s_w, d_h, d_w) < 1 or min(p_h, p_w) < 0:
        raise ValueError(f"bad stride {stride}, padding {padding} or dilation {dilation}")
    out_h = (height + 2 * p_h - d_h * (k_h - 1) - 1) // s_h + 1
    out_w = (width + 2 * p_w - d_w * (k_w - 1) - 1) // s_w + 1
    if out_h < 1 or out_w < 1:
        raise ValueError(f"kernel {(k_h, k_w)} does not fit input {(height, width)} with padding {padding}")

    # K[g, c', ky, kx]: nonzero weights from in-group channel c' at tap (ky, kx)
    nonzero = (w != 0).reshape(groups, out_channels // groups, group_in, k_h, k_w)
    per_channel = nonzero.sum(axis=1, dtype=np.int64).reshape(channels, k_h, k_w)
    hits_y = _tap_hits(height, out_h, k_h, s_h, p_h, d_h)
    hits_x = _tap_hits(width, out_w, k_w, s_w, p_w, d_w)
    return np.einsum("ckl,ky,lx->cyx", per_channel, hits_y, hits_x, optimize=True).astype(np.int64)


def synops(spikes: np.ndarray, fan_out: np.ndarray) -> np.ndarray:
    """Synaptic operations per sample: int64 [B] = sum_{n, s} spikes[b, n, s] * fan_out[n].

    ``spikes`` is [B, n, S] presynaptic spikes (0/1, any integer or bool
    dtype; floats holding 0/1 work too), ``fan_out`` [n] in the same neuron
    order (flat; a [B, C, H, W, S] spike array with a [C, H, W] fan-out is
    flattened the same way). Spikes are summed over S first with
    ``dtype=int64``, so no int64 copy of the [B, n, S] array is made.
    """
    spikes = np.asarray(spikes)
    fan_out = np.asarray(fan_out, dtype=np.int64).reshape(-1)
    if spikes.ndim < 3:
        raise ValueError(f"spikes must be [B, n, S], got shape {spikes.shape}")
    counts = spikes.sum(axis=-1, dtype=np.int64).reshape(spikes.shape[0], -1)
    if counts.shape[1] != fan_out.size:
        raise ValueError(f"spikes {spikes.shape} do not match fan-out of {fan_out.size} neurons")
    return counts @ fan_out


def layer_fan_out(layer: Layer, previous: tuple[int, ...]) -> np.ndarray | None:
    """Fan-out of every presynaptic neuron of ``layer``, int64 [n_pre] in Lava flat order.

    previous: the Lava shape of what feeds the layer. None for an input
    layer, which has no synapse (its input reaches its neurons directly).
    """
    if isinstance(layer, InputLayer):
        return None
    if isinstance(layer, DenseLayer):
        fan = dense_fan_out(layer.weight)
        if not layer.flatten_input:
            return fan
        out = np.empty_like(fan)
        out[whc_to_chw(previous)] = fan
        return out
    width, height, channels = previous
    fan = conv_fan_out(layer.weight, (channels, height, width), layer.stride, layer.padding,
                       layer.dilation, layer.groups)
    return fan.transpose(2, 1, 0).reshape(-1)


def network_synops(network: Network, inputs: np.ndarray | None, layer_spikes: list[np.ndarray | None]) -> np.ndarray:
    """Synaptic operations per row and layer: int64 [B, L].

    inputs: [B, n_in, S] spikes into layer 0 (None when there are none);
    layer_spikes[l]: [B, n_l, S] spikes of layer l, or None when not
    recorded. Layer l is driven by layer l - 1 (layer 0 by ``inputs``); a
    layer whose presynaptic spikes are missing gets -1, an input layer 0.
    The last layer's spikes drive no synapse and cost nothing here.
    """
    presynaptic = [inputs, *layer_spikes[:-1]]
    rows = next(s.shape[0] for s in [inputs, *layer_spikes] if s is not None)
    result = np.zeros((rows, len(network.layers)), dtype=np.int64)
    previous = network.input_shape
    for index, (layer, pre) in enumerate(zip(network.layers, presynaptic)):
        fan = layer_fan_out(layer, previous)
        if fan is not None:
            result[:, index] = -1 if pre is None else synops(pre, fan)
        previous = layer.lava_shape
    return result
