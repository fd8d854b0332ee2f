"""Which presynaptic neuron reaches which postsynaptic neuron, layer by layer.

For a dense or conv layer, ``connections(layer, previous)`` gives two
scipy CSR matrices [n_out, n_in], both in Lava flat order (``netx.lava_shape``)
on both axes:

- ``structure``: 1 for every synapse the layer's connectivity defines, zero
  weight or not: every (out, in) pair of a dense layer; for a conv layer every
  kernel tap of an output position that lands inside the input (taps in the
  zero padding are no synapse);
- ``weights``: the integer weight of every nonzero synapse.

A conv layer is expanded synapse by synapse: the chip model in
``resources`` stores a conv layer like any other, one entry per synapse
(no weight sharing).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse

from neurodeploy.network.netx import ConvLayer, DenseLayer, whc_to_chw


@dataclass(frozen=True)
class Connections:
    """A layer's synapses: ``structure`` (0/1) and ``weights`` (nonzero integers), CSR [n_out, n_in]."""

    structure: scipy.sparse.csr_matrix
    weights: scipy.sparse.csr_matrix


def connections(layer: DenseLayer | ConvLayer, previous: tuple[int, ...]) -> Connections:
    """The synapses of ``layer`` fed by a layer of Lava shape ``previous``."""
    if isinstance(layer, DenseLayer):
        weight = layer.weight
        if layer.flatten_input:
            # column j reads the (C, H, W)-ordered neuron j, Lava neuron whc_to_chw(previous)[j]
            reordered = np.empty_like(weight)
            reordered[:, whc_to_chw(previous)] = weight
            weight = reordered
        structure = scipy.sparse.csr_matrix(np.ones(weight.shape, dtype=np.int8))
        return Connections(structure, scipy.sparse.csr_matrix(weight))
    return _conv_connections(layer, previous)


def _conv_connections(layer: ConvLayer, previous: tuple[int, int, int]) -> Connections:
    """Every (output position, tap) of a conv2d layer whose input position lies inside the input."""
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
