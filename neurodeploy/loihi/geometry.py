"""Convolution geometry (PyTorch ``conv2d`` semantics, as SLAYER, netx and Lava use it).

Output size per axis: ``floor((size + 2 padding - dilation (kernel - 1) - 1) / stride) + 1``.
Input position i is read by kernel tap k of output position o when
``i = o stride - padding + k dilation``; taps that land in the zero padding
read nothing.
"""
from __future__ import annotations

import numpy as np


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output positions along one axis (may be < 1: the kernel does not fit)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv_input_size(out_size: int, kernel: int, padding: int = 0, dilation: int = 1) -> int:
    """The input size along one axis that gives ``out_size`` with stride 1 (the only
    stride for which it is unique): ``out - 2 padding + dilation (kernel - 1)``."""
    return out_size - 2 * padding + dilation * (kernel - 1)


def tap_reach(size: int, out_size: int, kernel: int, stride: int, padding: int, dilation: int) -> np.ndarray:
    """int64 [size, kernel]: the output position o that tap k of input position i reaches
    (i = o * stride - padding + k * dilation, o in [0, out_size)), or -1 where none does."""
    num = np.arange(size)[:, None] + padding - np.arange(kernel)[None, :] * dilation
    hits = (num >= 0) & (num % stride == 0) & (num // stride < out_size)
    return np.where(hits, num // stride, -1).astype(np.int64)


def tap_hits(size: int, out_size: int, kernel: int, stride: int, padding: int, dilation: int) -> np.ndarray:
    """int64 [kernel, size]: 1 where tap k of some output position reads input position i
    (``tap_reach``; each (k, i) has at most one output position)."""
    return (tap_reach(size, out_size, kernel, stride, padding, dilation) >= 0).T.astype(np.int64)
