"""A synapse as the golden model's compiled kernels run it: event by event, from each
sending neuron to the inputs it reaches.

A ``Fanout`` holds a synapse's integer weights, as the synapse holds them, in
one of four forms (``form``), grouped by axonal delay d_g:

- ``FULL``: for each sending neuron (Lava order of the layer before) the row
  of its weights to every input, [G, n_in, n_out]: a dense synapse at least
  ``FULL_ROWS_DENSITY`` nonzero (an event is a contiguous, vectorised add);
- ``CSR``: the nonzero weights by sending neuron, [G, n_in, n_out] sparse;
- ``CONV``: a conv kernel and its geometry (an event is the kernel's taps
  that land inside the output; nothing is expanded);
- ``DIRECT``: an input layer's, whose ``a_in`` is the message fed to it.

A message sent at step t arrives at t + 1 + d_g. With m the message (1 for
any nonzero when ``binary``, else its value) and ``shift`` the synapse's
exponent (``loihi.scalar.shift``), ``mode`` says how the sums become the
input at step t::

    DENSE_BINARY        a = wrap32(sum_g shift(sum_i w m))         netx dense, spikes
    DENSE_GRADED        a = wrap32(sum_g shift(wrap32(sum_i w m)))  graded Dense, Sparse, DelaySparse
    DELAY_DENSE_GRADED  a = wrap32(sum_g shift(sum_i wrap32(w m)))  graded DelayDense
    CONV                a = wrap24(int32(sum_i w m))               conv (no delays, no exponent)

the arithmetic of ``layers.synapses.DenseSynapse`` and ``layers.conv``
(which state it for all steps at once, measured against Lava). Each layer
kind builds its own (``Layer.fanout``); ``layer_input`` is what every neuron
model's compiled time loop (``NeuronModel.scan``) calls.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse

from neurodeploy.jit import kernel
from neurodeploy.loihi.scalar import int32_cast, shift, wrap24_modular, wrap32

DENSE_BINARY, DENSE_GRADED, DELAY_DENSE_GRADED, CONV = range(4)
FULL, CSR, CONV_TAPS, DIRECT = range(4)
# Dense synapses at least this dense keep full weight rows; sparser ones keep CSR.
FULL_ROWS_DENSITY = 0.25
# A conv event adds a tap's weights to its group's outputs in blocks of this many (the
# weights zero-padded to a whole number of blocks): a loop of fixed length compiles to a
# few vector adds, where one of the group's length loops over a remainder.
CONV_LANES = 8
# A binary conv with one group can add, per tap, one precomputed sum for every pattern of
# spikes of this many neighbouring channels at one position (``taps`` is then that table).
CHANNEL_GROUP = 4
EMPTY = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class Fanout:
    """form: ``FULL``, ``CSR``, ``CONV_TAPS`` or ``DIRECT``; rows: int64 [G, n_in, n_out]
    (``FULL``, else [G, 0, 0]); pointers: int64 [G, n_in + 1], each group's row pointers
    into ``targets`` (int64 [nnz]) and ``weights`` (int64 [nnz]: ``CSR``) or ``tap_of``
    (int64 [nnz]: ``CONV_TAPS``); for ``CONV_TAPS`` an entry is one kernel tap (ky, kx)
    of sending neuron i that lands inside the output: ``targets`` holds the first of the
    C_out / groups outputs it reaches (its group's channels at that position),
    ``tap_of`` the tap's index ky kW + kx, ``taps`` int64 [C_in, kH kW, P] the weights of
    input channel c to its group's C_out / groups outputs, zero-padded to P, a multiple of
    ``CONV_LANES`` (so an event also adds zeros to the next position's first outputs, or
    to the ``CONV_LANES`` entries of slack of the scratch ``layer_input`` takes),
    ``channel`` int64 [n_in] each sending neuron's channel; delays: int64 [G]; exponent: int64 [n_out]; mode: how sums
    become inputs (module doc); binary: a message counts as 1 whatever its value;
    uniform: every output has the same exponent; combined (binary ``CONV_TAPS`` of one
    group): ``taps`` is [C_in / g * 2^g, kH kW, P] with g = ``CHANNEL_GROUP``, row
    k 2^g + m the sum of the weights of the channels kg + b whose bit b is set in m."""

    form: int
    rows: np.ndarray
    pointers: np.ndarray
    targets: np.ndarray
    weights: np.ndarray
    taps: np.ndarray
    tap_of: np.ndarray
    channel: np.ndarray
    delays: np.ndarray
    exponent: np.ndarray
    mode: int
    binary: bool
    uniform: bool
    combined: bool = False

    def arrays(self) -> tuple:
        """The tuple the kernels take (``layer_input``)."""
        return (self.form, self.rows, self.pointers, self.targets, self.weights, self.taps, self.tap_of, self.channel,
                self.delays, self.exponent, self.mode, self.binary, self.uniform, self.combined)


def make_fanout(form: int, groups: int, delays: list[int], exponent: np.ndarray, mode: int, binary: bool,
                rows: np.ndarray | None = None, csr: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                conv: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None, combined: bool = False) -> Fanout:
    """A ``Fanout`` of ``groups`` delay groups; rows (``FULL``), csr (pointers, targets,
    weights) and conv (taps, tap_of, channel) default to empty arrays of their types."""
    pointers, targets, weights = csr if csr is not None else (np.zeros((groups, 1), dtype=np.int64), EMPTY, EMPTY)
    taps, tap_of, channel = conv if conv is not None else (np.zeros((0, 0, 0), dtype=np.int64), EMPTY, EMPTY)
    return Fanout(form, rows if rows is not None else np.zeros((groups, 0, 0), dtype=np.int64), pointers, targets,
                  weights, taps, tap_of, channel, np.asarray(delays, dtype=np.int64), exponent.astype(np.int64), mode,
                  binary, bool(exponent.size == 0 or exponent.min() == exponent.max()), combined)


def dense_fanout(parts: list[tuple[np.ndarray, int]], delay: np.ndarray | None, graded: bool, sparse: bool,
                 permutation: np.ndarray | None = None) -> Fanout:
    """A dense synapse's fanout (``DenseSynapse``'s arithmetic).

    parts: (weight int [out, in] as the synapse holds it, exponent) per part,
    stacked along the outputs (a complex layer's real then imaginary part);
    delay: int [out, in] axonal delays or None; permutation: synapse input j
    reads sending neuron ``permutation[j]`` (a flatten), or None.
    """
    weight = np.vstack([part for part, _ in parts]).astype(np.int64)
    exponent = np.concatenate([np.full(part.shape[0], e, dtype=np.int64) for part, e in parts])
    full_delay = None if delay is None else np.vstack([delay] * len(parts))
    delays = [0] if full_delay is None else [int(d) for d in np.unique(full_delay)]
    mode = DENSE_BINARY if not graded else DELAY_DENSE_GRADED if delay is not None and not sparse else DENSE_GRADED
    grouped = [_by_sender(weight, permutation)] if full_delay is None else \
        [_by_sender(np.where(full_delay == d, weight, 0), permutation) for d in delays]
    if np.count_nonzero(weight) >= FULL_ROWS_DENSITY * weight.size:
        return make_fanout(FULL, len(delays), delays, exponent, mode, not graded,
                           rows=np.ascontiguousarray(np.stack(grouped)))
    matrices = [scipy.sparse.csr_matrix(matrix) for matrix in grouped]
    offsets = np.cumsum([0] + [m.nnz for m in matrices])[:-1]
    csr = (np.stack([m.indptr.astype(np.int64) + offset for m, offset in zip(matrices, offsets)]),
           np.concatenate([m.indices for m in matrices]).astype(np.int64),
           np.concatenate([m.data for m in matrices]).astype(np.int64))
    return make_fanout(CSR, len(delays), delays, exponent, mode, not graded, csr=csr)


def _by_sender(weight: np.ndarray, permutation: np.ndarray | None) -> np.ndarray:
    """weight [out, in] by sending neuron [n_in, out]: row permutation[j] (or j) is column j."""
    if permutation is None:
        return weight.T
    by_sender = np.empty_like(weight.T)
    by_sender[permutation] = weight.T
    return by_sender


def direct_fanout(size: int) -> Fanout:
    """An input layer's: its ``a_in`` is the message fed to it."""
    return make_fanout(DIRECT, 0, [], np.zeros(size, dtype=np.int64), DENSE_BINARY, binary=False)


def silent_fanout(size: int) -> Fanout:
    """No synapse: what a layer without a recurrent one passes (its kernels skip it)."""
    return make_fanout(FULL, 0, [], np.zeros(size, dtype=np.int64), DENSE_BINARY, binary=True)


@kernel
def events_of(messages: np.ndarray, indices: np.ndarray, values: np.ndarray) -> tuple:
    """The events of messages [B, n, S] (one entry per nonzero message), as the kernels
    pass them on: (pointers int64 [B, S + 1], indices int32, values int32), row b's
    events at step t being entries pointers[b, t] to pointers[b, t + 1], written into
    ``indices`` and ``values`` (replaced by larger ones when they are too small)."""
    rows, size, steps = messages.shape
    count = 0
    for b in range(rows):
        for j in range(size):
            for t in range(steps):
                if messages[b, j, t] != 0:
                    count += 1
    if count > indices.size:
        indices = np.empty(count, dtype=np.int32)
        values = np.empty(count, dtype=np.int32)
    pointers = np.zeros((rows, steps + 1), dtype=np.int64)
    at = 0
    for b in range(rows):
        for t in range(steps):
            pointers[b, t] = at
            for j in range(size):
                value = messages[b, j, t]
                if value != 0:
                    indices[at] = j
                    values[at] = value
                    at += 1
        pointers[b, steps] = at
    return pointers, indices, values


@kernel
def emit(indices: np.ndarray, values: np.ndarray, at: int, sent: np.ndarray, out: np.ndarray) -> tuple:
    """Append this step's nonzero messages ``sent`` [n] at position ``at`` of the event
    buffers (grown first to hold n more) and write them into ``out`` [n] (the step's
    column of the layer's messages, zero before); returns (indices, values, new end).
    The append is branch-free: every neuron is written at ``at``, which moves on only
    past a nonzero message (a branch per neuron mispredicts at any middling rate)."""
    n = sent.size
    if at + n > indices.size:
        grown = max(2 * indices.size, at + n)
        more_indices = np.empty(grown, dtype=np.int32)
        more_values = np.empty(grown, dtype=np.int32)
        for k in range(at):  # a loop: numba compiles a slice assignment for seconds
            more_indices[k] = indices[k]
            more_values[k] = values[k]
        indices, values = more_indices, more_values
    first = at
    for j in range(n):
        message = sent[j]
        indices[at] = j
        values[at] = message
        at += message != 0
    for k in range(first, at):
        out[indices[k]] = values[k]
    return indices, values, at


@kernel(inline=True)
def _scatter_full(rows: np.ndarray, indices: np.ndarray, values: np.ndarray, first: int, last: int, binary: bool,
                  wrapped: bool, partial: np.ndarray) -> None:
    """partial += the weight row of each event first..last-1 (times its message unless
    binary; each product wrapped to int32 when ``wrapped``)."""
    n = rows.shape[1]
    for k in range(first, last):
        row = rows[indices[k]]
        message = np.int64(values[k])
        if binary:  # no product: a vectorised add
            for j in range(n):
                partial[j] += row[j]
        elif wrapped:
            for j in range(n):
                partial[j] += wrap32(row[j] * message)
        else:
            for j in range(n):
                partial[j] += row[j] * message


@kernel(inline=True)
def _scatter_csr(pointers: np.ndarray, targets: np.ndarray, weights: np.ndarray, indices: np.ndarray,
                 values: np.ndarray, first: int, last: int, binary: bool, wrapped: bool, partial: np.ndarray) -> None:
    """``_scatter_full`` over the nonzero weights only."""
    for k in range(first, last):
        i = indices[k]
        message = np.int64(values[k])
        for e in range(pointers[i], pointers[i + 1]):
            if binary:
                partial[targets[e]] += weights[e]
            elif wrapped:
                partial[targets[e]] += wrap32(weights[e] * message)
            else:
                partial[targets[e]] += weights[e] * message


@kernel(inline=True)
def _scatter_conv(pointers: np.ndarray, targets: np.ndarray, taps: np.ndarray, tap_of: np.ndarray,
                  channel: np.ndarray, indices: np.ndarray, values: np.ndarray, first: int, last: int, binary: bool,
                  partial: np.ndarray) -> None:
    """partial += for each event, the weights of each of its taps that lands inside the
    output, to its group's channels there (in blocks of ``CONV_LANES``)."""
    blocks = taps.shape[2] // CONV_LANES
    for k in range(first, last):
        i = indices[k]
        c = channel[i]
        message = np.int64(values[k])
        for e in range(pointers[i], pointers[i + 1]):
            base = targets[e]
            tap = tap_of[e]
            for block in range(blocks):
                at = block * CONV_LANES
                if binary:
                    for q in range(CONV_LANES):
                        partial[base + at + q] += taps[c, tap, at + q]
                else:
                    for q in range(CONV_LANES):
                        partial[base + at + q] += taps[c, tap, at + q] * message


@kernel(inline=True)
def _scatter_conv_combined(pointers: np.ndarray, targets: np.ndarray, combined: np.ndarray, tap_of: np.ndarray,
                           channel: np.ndarray, indices: np.ndarray, first: int, last: int,
                           partial: np.ndarray) -> None:
    """``_scatter_conv`` of spikes into a conv of one group: the events of one position
    arrive together (Lava order puts the channels last, and events are in neuron order),
    and each ``CHANNEL_GROUP`` of its channels that sent adds, per tap, the one sum of
    their weights (``Fanout.combined``)."""
    blocks = combined.shape[2] // CONV_LANES
    k = first
    while k < last:
        i = indices[k]
        start = i - channel[i]  # the position's first neuron
        group = channel[i] // CHANNEL_GROUP
        mask = 0
        while k < last:
            j = indices[k]
            if j - channel[j] != start or channel[j] // CHANNEL_GROUP != group:
                break
            mask |= 1 << (channel[j] % CHANNEL_GROUP)
            k += 1
        row = (group << CHANNEL_GROUP) + mask
        for e in range(pointers[i], pointers[i + 1]):
            base = targets[e]
            tap = tap_of[e]
            for block in range(blocks):
                at = block * CONV_LANES
                for q in range(CONV_LANES):
                    partial[base + at + q] += combined[row, tap, at + q]


@kernel(inline=True)
def _deliver(partial: np.ndarray, exponent: np.ndarray, uniform: bool, mode: int, total: np.ndarray) -> None:
    """Add one delay group's sums ``partial`` (zeroed here) into ``total`` as ``mode`` says,
    wrapped to int32. One loop per case, each branch-free (and, with one exponent for
    all, vectorised)."""
    n = total.size
    if mode == CONV:
        for j in range(n):
            total[j] = wrap32(total[j] + wrap24_modular(int32_cast(partial[j])))
            partial[j] = 0
        return
    graded = mode == DENSE_GRADED
    if uniform:
        left, right = max(exponent[0], 0), max(-exponent[0], 0)
        if graded:
            for j in range(n):
                total[j] = wrap32(total[j] + ((wrap32(partial[j]) << left) >> right))
                partial[j] = 0
        else:
            for j in range(n):
                total[j] = wrap32(total[j] + ((partial[j] << left) >> right))
                partial[j] = 0
        return
    for j in range(n):
        summed = wrap32(partial[j]) if graded else partial[j]
        partial[j] = 0
        total[j] = wrap32(total[j] + shift(summed, exponent[j]))


@kernel
def layer_input(fanout: tuple, dense: np.ndarray, pointers: np.ndarray, indices: np.ndarray, values: np.ndarray,
                t: int, total: np.ndarray, partial: np.ndarray) -> None:
    """The input at step t added into ``total`` [n_out] (zero, or a synapse's input of the
    same step), wrapped to int32 (as Lava's channel adds a recurrent synapse's input to
    the feedforward one). The sending layer's messages of this row: ``dense`` [n_in, S]
    (read by ``DIRECT`` only; [0, S]: none) and its events (``events_of``: ``pointers`` [S + 1] of this
    row, ``indices``, ``values``). partial: int64 scratch (n_out + ``CONV_LANES`` entries), zero on entry
    and return."""
    (form, rows, fan_pointers, targets, weights, taps, tap_of, channel, delays, exponent, mode, binary, uniform,
     combined) = fanout
    if form == DIRECT:  # no input neurons given: none arrives
        for j in range(dense.shape[0]):
            total[j] = wrap32(total[j] + dense[j, t])
        return
    wrapped = mode == DELAY_DENSE_GRADED
    for g in range(delays.size):
        source = t - 1 - delays[g]
        if source < 0:
            continue
        first, last = pointers[source], pointers[source + 1]
        if first == last:
            continue  # no event adds 0 in every mode
        if form == FULL:
            _scatter_full(rows[g], indices, values, first, last, binary, wrapped, partial)
        elif form == CSR:
            _scatter_csr(fan_pointers[g], targets, weights, indices, values, first, last, binary, wrapped, partial)
        elif combined:
            _scatter_conv_combined(fan_pointers[0], targets, taps, tap_of, channel, indices, first, last, partial)
        else:
            _scatter_conv(fan_pointers[0], targets, taps, tap_of, channel, indices, values, first, last, binary,
                          partial)
        _deliver(partial, exponent, uniform, mode, total)


@kernel
def bias_at(bias: tuple, b: int, t: int) -> np.ndarray:
    """The bias [n] of row b at step t, or an empty array when it is the same as at step
    t - 1 (or there is none). bias: (images int64 [1 or B, K, n], index int64 [S]), step t
    taking image index[t] of its row."""
    images, index = bias
    if images.shape[2] == 0 or (t > 0 and index[t] == index[t - 1]):
        return images[0, 0, :0]
    return images[b if images.shape[0] > 1 else 0, index[t]]
