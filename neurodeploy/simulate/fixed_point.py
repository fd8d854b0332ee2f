"""Loihi fixed-point arithmetic as Lava's ``fixed_pt`` models compute it.

Neuron (``lava.proc.lif.models.AbstractPyLifModelFixed``), per step, for
integer state u (current) and v (voltage)::

    u = wrap24(trunc0(u * (4096 - i_decay) / 4096) + (a_in << 6))
    v = sat24(trunc0(v * (4096 - v_decay) / 4096) + u + (bias << 6))
    spike = v > (v_th_mant << 6);  v[spike] = 0          (u is kept)

``trunc0`` rounds toward zero. ``wrap24`` wraps u once into the 24-bit range
the way Lava does (u > 2^23 loses 2^24; u <= -2^23 gains 2^24); ``sat24``
clips v to [-(2^23 - 1), 2^23 - 1]. netx stores ``du = iDecay - 1`` and Lava
adds 1 back, so the decay applied is ``iDecay`` itself. No refractory period.

Dense synapse (``lava.proc.dense.models.AbstractPyDenseModelBitAcc``, also
Sparse and the delay variants): netx first rescales the stored weights
(``netx.utils.optimize_weight_bits``: w << s, weight_exp = -s, and a number
of weight bits); the synapse then clips them to 8 bits and truncates their
low bits for that sign mode, accumulates ``W @ spikes`` per delay and
shifts the sum by ``weight_exp`` (arithmetic right shift for a negative
exponent). ``dense_weights`` returns exactly those integers.

Conv synapse (``lava.proc.conv.models.PyConvModelFixed``): the stored
weights are used as they are; the accumulated input wraps to 24 bits.

Integers are held in int64 here, where Lava uses int32: the two agree
while |state| < 2^31, which the 24-bit wrap and saturation guarantee.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurodeploy.lavacompat import netx, weightutils
from neurodeploy.network.netx import NetxError

DECAY_SHIFT = 12
DECAY_UNITY = 1 << DECAY_SHIFT
ACT_SHIFT = 6
VTH_SHIFT = 6
BIAS_EXP = 6
STATE_LIMIT = 1 << 23


@dataclass(frozen=True)
class DenseWeights:
    """The integers a Lava dense synapse accumulates, and the shift after.

    weight: int64 [out, in]; exponent: the sum ``weight @ s`` is shifted
    left by ``exponent`` (right by ``-exponent`` when negative).
    """

    weight: np.ndarray
    exponent: int


def dense_weights(weight: np.ndarray) -> DenseWeights:
    """Lava's effective dense weights for the NetX integers ``weight`` [out, in].

    Raises ``NetxError`` for an all-zero matrix, which netx cannot load
    (its weight-bit optimisation takes log2 of infinity).
    """
    if not np.any(weight):
        raise NetxError("key 'weight' is all zero: netx cannot load an all-zero weight matrix")
    scaled, num_bits, exponent, _ = netx.utils.optimize_weight_bits(weight.astype(np.int64))
    sign_mode = weightutils.determine_sign_mode(scaled)
    clipped = weightutils.clip_weights(scaled, sign_mode, num_bits=8)
    truncated = weightutils.truncate_weights(clipped, sign_mode, num_bits)
    return DenseWeights(np.asarray(truncated, dtype=np.int64), int(exponent))


def shift_accumulated(total: np.ndarray, exponent: int) -> np.ndarray:
    """``total << exponent`` for exponent > 0, ``total >> -exponent`` (floor) for
    exponent < 0, ``total`` itself for 0."""
    if exponent == 0:
        return total
    return np.left_shift(total, exponent) if exponent > 0 else np.right_shift(total, -exponent)


def wrap24(x: np.ndarray) -> np.ndarray:
    """Lava's single 24-bit wrap of the current u (``x`` itself when nothing wraps)."""
    if -STATE_LIMIT < x.min() and x.max() <= STATE_LIMIT:
        return x
    wrapped = np.where(x > STATE_LIMIT, x - 2 * STATE_LIMIT, x)
    return np.where(wrapped <= -STATE_LIMIT, x + 2 * STATE_LIMIT, wrapped)


def signed_wrap(x: np.ndarray, bits: int) -> np.ndarray:
    """Modular wrap into [-2^(bits-1), 2^(bits-1)) (Lava's conv ``signed_clamp``)."""
    base = 1 << bits
    return (x + base // 2) % base - base // 2


def decay(x: np.ndarray, amount: int) -> np.ndarray:
    """trunc0(x * (4096 - amount) / 4096), Lava's sign(p) * (|p| >> 12) for p = x (4096 - amount).

    Computed as (p + (4095 if p < 0 else 0)) >> 12, the same integer; a full
    decay (4096) gives zeros and none (0) gives x.
    """
    if amount == DECAY_UNITY:
        return np.zeros_like(x)
    if amount == 0:
        return x.copy()
    product = x * (DECAY_UNITY - amount)
    return (product + ((product >> 63) & (DECAY_UNITY - 1))) >> DECAY_SHIFT


@dataclass(frozen=True)
class NeuronConstants:
    """One layer's CUBA constants in Lava's units.

    i_decay, v_decay: 0..4096. threshold: ``v_th_mant << 6``. bias: int64
    [n] (Lava flat order), already shifted by ``BIAS_EXP``, or None.
    """

    i_decay: int
    v_decay: int
    threshold: int
    bias: np.ndarray | None


def cuba_step(
    u: np.ndarray,
    v: np.ndarray,
    a_in: np.ndarray,
    constants: NeuronConstants,
    bias: np.ndarray | None = None,
) -> np.ndarray:
    """Advance u and v (int64 [B, n], in place) by one step; return the spikes.

    a_in: int32 [B, n] synaptic input of this step; its << 6 wraps at 32 bits
    as in Lava.
    bias: int64 [B, n] extra bias mantissa (the input layer's image), or None.
    Returns bool [B, n].
    """
    u[:] = wrap24(decay(u, constants.i_decay) + np.left_shift(a_in, ACT_SHIFT))
    total = decay(v, constants.v_decay) + u
    if constants.bias is not None:
        total += constants.bias
    if bias is not None:
        total += np.left_shift(bias, BIAS_EXP)
    np.clip(total, -STATE_LIMIT + 1, STATE_LIMIT - 1, out=v)
    spikes = v > constants.threshold
    v *= ~spikes
    return spikes
