"""Dense synapse arithmetic shared by ``dense`` and ``dense_rec``: Lava's Dense, Sparse,
DelayDense and DelaySparse in fixed point.

The weights are what the synapse holds (``loihi.weights.synapse_weights``:
netx's rescaling, Lava's clipping and truncation) and ``exponent`` the shift
of its sum. A message is binary when the synapse's ``num_message_bits`` is 0
(any nonzero counts as 1; netx sets this for spikes and for the network's
input) and graded otherwise (its value multiplies the weight). Per step
(measured against Lava, docs/netx.md)::

    binary:  a = shift(sum of W[:, s != 0])            (int64, wrapped to int32 when sent)
    graded:  a = shift(wrap32(W @ s))                   (Dense, Sparse: the int32 dot wraps)
    delayed: a[t + 1 + d] += wrap32(shift(sum over the synapses of delay d))
             graded DelayDense wraps each product W s to int32 first; DelaySparse
             wraps each delay's int32 dot; they differ only when a product overflows

``shift`` is ``<< e`` for e > 0 and a flooring ``>> -e`` otherwise. The sum
reaches the neuron one step (plus its delay) later.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse

from neurodeploy.loihi.arithmetic import wrap32
from neurodeploy.loihi.weights import shift_accumulated
from neurodeploy.netx.base import RecurrentSynapse, Synapse

# Sparse spike trains are accumulated event by event (a CSR product), dense
# ones by one float matrix product exact for integers.
EVENT_DENSITY = 0.05


def _float_type(weight_t: np.ndarray, largest_message: float) -> type | None:
    """float32 when every sum of ``flat @ weight_t`` is an exact float32 integer (below
    2^24), float64 when exact in float64 (below 2^53), None when neither."""
    bound = float(np.abs(weight_t).sum(axis=0).max(initial=0)) * largest_message
    return np.float32 if bound < 1 << 24 else np.float64 if bound < 1 << 53 else None


class DenseSynapse(Synapse):
    """A dense layer's feedforward synapse over all steps (module doc).

    weight: int64 [out, in] as the synapse holds it; exponent: its shift;
    delay: int64 [out, in] axonal delays or None; permutation: index map
    applied to the input first (a flatten), or None.
    """

    def __init__(self, weight: np.ndarray, exponent: int, delay: np.ndarray | None, graded: bool,
                 sparse: bool, permutation: np.ndarray | None = None) -> None:
        self.weight, self.exponent, self.graded, self.sparse = weight, exponent, graded, sparse
        self.delays = [0] if delay is None else [int(d) for d in np.unique(delay)]
        self.by_delay = {d: weight if delay is None else np.where(delay == d, weight, 0) for d in self.delays}
        self.delayed = delay is not None
        self.permutation = permutation

    def __call__(self, pre: np.ndarray) -> np.ndarray:
        if self.permutation is not None:
            pre = pre[:, :, self.permutation]
        steps, rows, size = pre.shape
        flat = pre.reshape(steps * rows, size)
        if not self.graded:
            flat = (flat != 0).astype(np.int64)
        total = np.zeros((steps * rows, self.weight.shape[0]), dtype=np.int64)
        for d in self.delays:
            lag = (1 + d) * rows
            if lag >= len(flat):
                continue
            total[lag:] = wrap32(total[lag:] + self._accumulate(flat[:-lag], self.by_delay[d]))
        return total.reshape(steps, rows, -1)

    def _accumulate(self, flat: np.ndarray, weight: np.ndarray) -> np.ndarray:
        """The shifted sums [rows, out] of messages ``flat`` [rows, in] through ``weight``."""
        if not self.graded:
            return shift_accumulated(_product(flat, weight.T, 1), self.exponent)
        if self.delayed and not self.sparse:  # DelayDense: each product wraps to int32
            return shift_accumulated(_wrapped_products(flat, weight), self.exponent)
        return shift_accumulated(wrap32(_product(flat, weight.T, float(np.abs(flat).max(initial=0)))),
                                 self.exponent)


def _product(flat: np.ndarray, weight_t: np.ndarray, largest: float) -> np.ndarray:
    """flat [rows, in] @ weight_t [in, out] exactly, in int64: event by event for sparse
    messages or sums too large for a float, else one float product exact for them."""
    dtype = _float_type(weight_t, largest)
    if dtype is None or np.count_nonzero(flat) <= EVENT_DENSITY * flat.size:
        return np.asarray(scipy.sparse.csr_matrix(flat) @ weight_t.astype(np.int64), dtype=np.int64)
    return (flat.astype(dtype) @ weight_t.astype(dtype)).astype(np.int64)


def _wrapped_products(flat: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """sum_i wrap32(W[o, i] s[r, i]) [rows, out], DelayDense's graded sum."""
    rows = np.nonzero(flat.any(axis=1))[0]
    out = np.zeros((flat.shape[0], weight.shape[0]), dtype=np.int64)
    for row in rows:
        out[row] = wrap32(weight * flat[row][None, :]).sum(axis=1)
    return out


class DenseRecurrence(RecurrentSynapse):
    """A layer's synapse from its own output (``dense_rec``): step by step, a message sent
    at t arriving at t + 1 + delay, arithmetic as ``DenseSynapse``."""

    def __init__(self, weight: np.ndarray, exponent: int, delay: np.ndarray | None, graded: bool,
                 sparse: bool) -> None:
        self.synapse = DenseSynapse(weight, exponent, delay, graded, sparse)
        self.span = 1 + (0 if delay is None else int(np.max(delay)))
        self.buffer = np.zeros((self.span, 0, weight.shape[0]), dtype=np.int64)

    def start(self, rows: int) -> None:
        self.buffer = np.zeros((self.span, rows, self.synapse.weight.shape[0]), dtype=np.int64)

    def deliver(self) -> np.ndarray:
        now = self.buffer[0].copy()
        self.buffer = np.roll(self.buffer, -1, axis=0)
        self.buffer[-1] = 0
        return now

    def send(self, messages: np.ndarray) -> None:
        arriving = self.synapse(np.concatenate([messages[None], np.zeros((self.span, *messages.shape),
                                                                         dtype=messages.dtype)]))
        self.buffer = wrap32(self.buffer + arriving[1:])
