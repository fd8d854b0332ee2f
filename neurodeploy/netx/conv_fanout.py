"""A conv synapse's fanout (``fanout.CONV_TAPS``): for each sending neuron, the kernel taps
that land inside the output, each with the first of its group's outputs there.

Nothing is expanded: an entry is one (sending neuron, tap), and ``fanout._scatter_conv``
adds the tap's weights (``taps``) to the group's outputs from there. Built by a compiled
loop (``_conv_entries``): PilotNet's 76,032-input layer takes milliseconds.
"""
from __future__ import annotations

import numpy as np

from neurodeploy.jit import kernel
from neurodeploy.loihi.geometry import tap_reach
from neurodeploy.netx.fanout import CHANNEL_GROUP, CONV, CONV_LANES, CONV_TAPS, EMPTY, Fanout, make_fanout

# The largest table of combined channel weights (``Fanout.combined``) built; beyond it a
# conv adds each spike's weights (the table would no longer stay in the cache).
COMBINED_BYTES = 2 << 20


def conv_fanout(weight: np.ndarray, previous: tuple[int, int, int], shape: tuple[int, int, int],
                stride: tuple[int, int], padding: tuple[int, int], dilation: tuple[int, int], groups: int,
                graded: bool) -> Fanout:
    """A conv synapse's fanout: weight [out, in/groups, kH, kW] (PyTorch's), previous: the
    Lava shape (W, H, C) of its input, shape: its output (C, H, W). Input (y, x) reaches
    output (oy, ox) through tap (ky, kx) when y = oy stride - padding + ky dilation
    (likewise x: ``geometry.tap_reach``), PyTorch's cross-correlation."""
    out_channels, group_in, k_h, k_w = weight.shape
    per_group = out_channels // groups
    width, height, channels = previous
    c_out, out_h, out_w = shape
    taps = np.zeros((channels, k_h * k_w, -(-per_group // CONV_LANES) * CONV_LANES), dtype=np.int64)
    for c in range(channels):
        g = c // group_in
        taps[c, :, :per_group] = np.moveaxis(weight[g * per_group:(g + 1) * per_group, c - g * group_in], 0,
                                             -1).reshape(-1, per_group)
    pointers, targets, tap_of, channel = _conv_entries(
        tap_reach(height, out_h, k_h, stride[0], padding[0], dilation[0]),
        tap_reach(width, out_w, k_w, stride[1], padding[1], dilation[1]), channels, group_in, per_group, c_out, out_h)
    combined = not graded and groups == 1 and \
        -(-channels // CHANNEL_GROUP) * (1 << CHANNEL_GROUP) * taps[0].nbytes <= COMBINED_BYTES
    return make_fanout(CONV_TAPS, 1, [0], np.zeros(c_out * out_h * out_w, dtype=np.int64), CONV, not graded,
                       csr=(pointers, targets, EMPTY), conv=(_combined(taps) if combined else taps, tap_of, channel),
                       combined=combined)


def _combined(taps: np.ndarray) -> np.ndarray:
    """taps [C, K, P] as ``Fanout.combined``'s table: [ceil(C / g) 2^g, K, P], g = ``CHANNEL_GROUP``."""
    channels = taps.shape[0]
    groups = -(-channels // CHANNEL_GROUP)
    padded = np.zeros((groups * CHANNEL_GROUP, *taps.shape[1:]), dtype=np.int64)
    padded[:channels] = taps
    bits = (np.arange(1 << CHANNEL_GROUP)[:, None] >> np.arange(CHANNEL_GROUP)) & 1   # [2^g, g]
    table = np.einsum("mb,gbkp->gmkp", bits, padded.reshape(groups, CHANNEL_GROUP, *taps.shape[1:]))
    return np.ascontiguousarray(table.reshape(groups << CHANNEL_GROUP, *taps.shape[1:]), dtype=np.int64)


@kernel
def _conv_entries(reach_y: np.ndarray, reach_x: np.ndarray, channels: int, group_in: int, per_group: int,
                  c_out: int, out_h: int) -> tuple:
    """``conv_fanout``'s entries: (pointers int64 [1, n_in + 1], targets, tap_of, channel),
    inputs in Lava order (x, y, c), each input's taps (ky, kx) in row-major order; reach_y
    int64 [H, kH] and reach_x [W, kW]: ``geometry.tap_reach``."""
    height, k_h = reach_y.shape
    width, k_w = reach_x.shape
    n_in = width * height * channels
    pointers = np.zeros((1, n_in + 1), dtype=np.int64)
    count = 0
    for x in range(width):
        for y in range(height):
            inside = 0
            for ky in range(k_h):
                if reach_y[y, ky] >= 0:
                    for kx in range(k_w):
                        inside += reach_x[x, kx] >= 0
            for c in range(channels):
                pointers[0, (x * height + y) * channels + c] = count
                count += inside
    pointers[0, n_in] = count
    targets = np.empty(count, dtype=np.int64)
    tap_of = np.empty(count, dtype=np.int64)
    channel = np.empty(n_in, dtype=np.int64)
    at = 0
    for x in range(width):
        for y in range(height):
            for c in range(channels):
                channel[(x * height + y) * channels + c] = c
                group_base = (c // group_in) * per_group
                for ky in range(k_h):
                    oy = reach_y[y, ky]
                    if oy < 0:
                        continue
                    for kx in range(k_w):
                        ox = reach_x[x, kx]
                        if ox < 0:
                            continue
                        targets[at] = (ox * out_h + oy) * c_out + group_base
                        tap_of[at] = ky * k_w + kx
                        at += 1
    return pointers, targets, tap_of, channel
