"""Lava's neuron order, and the permutation a ``flatten`` stands for.

NetX shapes are (C, H, W); Lava's are reversed, (W, H, C) = (x, y, channel).
Every array of neuron values in this project is flattened in Lava's order:
neuron (c, h, w) of a (C, H, W) layer is ``w*H*C + h*C + c``. A trained
model's image, and a dense layer that follows a ``flatten``, read the same
neurons in (C, H, W) order, ``c*H*W + h*W + w``.
"""
from __future__ import annotations

import numpy as np


def lava_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Lava's shape of a layer of NetX shape ``shape``: reversed."""
    return tuple(reversed(tuple(shape)))


def chw_to_lava(x: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Neurons of a (C, H, W) layer from (C, H, W) order to Lava's (W, H, C) order.

    x: [N, C*H*W, ...] with neuron ``c*H*W + h*W + w`` on axis 1 (a row-major
    image, SLAYER's [N, C, H, W, ...] flattened). shape: (C, H, W), NetX
    order. Returns a new array [N, W*H*C, ...] with that neuron at
    ``w*H*C + h*C + c``; the inverse of ``x[:, whc_to_chw((W, H, C))]``.
    """
    channels, height, width = shape
    if x.ndim < 2 or x.shape[1] != channels * height * width:
        raise ValueError(f"array of shape {x.shape} does not hold {channels}x{height}x{width} neurons on axis 1")
    rest = tuple(range(4, x.ndim + 2))
    return np.ascontiguousarray(
        x.reshape(x.shape[0], channels, height, width, *x.shape[2:]).transpose(0, 3, 2, 1, *rest)
    ).reshape(x.shape)


def whc_to_chw(lava_shape: tuple[int, int, int]) -> np.ndarray:
    """The flatten permutation of a (W, H, C) layer: ``x_chw = x_whc[..., perm]``.

    x_whc is flattened in Lava's order, x_chw in (C, H, W) order, the order
    in which a dense layer after ``flatten`` reads it (netx connects
    ``out.transpose([2, 1, 0]).flatten()``).
    """
    width, height, channels = lava_shape
    return np.arange(width * height * channels).reshape(width, height, channels).transpose(2, 1, 0).reshape(-1)


def per_channel_to_lava(values: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """One value per channel [C] of a (C, H, W) layer (NetX shape ``shape``) as one per
    neuron in Lava's order [W*H*C]: the channel varies fastest."""
    channels, height, width = shape
    return np.tile(np.asarray(values).reshape(channels), height * width)


def channel_neurons(lava_shape: tuple[int, ...], channels: np.ndarray) -> np.ndarray:
    """bool [n]: the neurons of a layer of Lava shape ``lava_shape`` whose channel (the
    last, fastest Lava axis) is one of ``channels``: in a (W, H, C) layer every neuron
    ``index % C == c`` of channel c, in a flat (n,) layer neuron c itself."""
    size = int(np.prod(lava_shape))
    return np.isin(np.arange(size) % lava_shape[-1], np.asarray(channels, dtype=np.int64))
