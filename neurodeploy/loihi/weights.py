"""Synaptic weights as Loihi stores them: netx's weight-bit optimisation, then Lava's
clipping and truncation. Our own code, checked equal to netx's and Lava's.

A NetX file stores 8-bit weight integers w (SLAYER float weight x 64, in
[-256, 254]). netx (``lava.lib.dl.netx.utils.optimize_weight_bits``) rescales
each dense matrix to use the synapse's bits best:

- sign mode (netx's rule): INHIBITORY when max(w) < 0, EXCITATORY when
  min(w) >= 0, MIXED otherwise;
- scale = min(127 / max(w), -128 / min(w)) (MIXED), -256 / min(w)
  (INHIBITORY) or 255 / max(w) (EXCITATORY); s = floor(log2(scale)) + 1 for
  MIXED, + 0 otherwise;
- n = the largest k <= 8 with every w a multiple of 2^k (less 1 for MIXED);
- the synapse gets w << s, weight exponent -s, and 8 - s - n weight bits.

Lava's fixed-point synapse (``lava.utils.weightutils``, used by Dense,
Sparse and their delay variants) then, with its own sign mode (EXCITATORY
when min >= 0, INHIBITORY when max <= 0, else MIXED), clips the weights to
8 bits (MIXED: [-256, 255]; EXCITATORY: [0, 255]; INHIBITORY: [-255, 0]) and
truncates 8 - bits (+ 1 for MIXED) low bits (arithmetic shifts, on -w for
INHIBITORY), accumulates W @ s and shifts the sum by the exponent.

An all-zero matrix has scale 255 / 0 = inf: netx takes log2 of infinity
and fails, so ``optimize_weight_bits`` raises ``AllZeroWeightsError`` here.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

WEIGHT_MIN = -256
WEIGHT_MAX = 254
SYNAPSE_BITS = 8


class AllZeroWeightsError(ValueError):
    """A weight matrix with no nonzero weight, which netx cannot load."""


class SignMode(IntEnum):
    """Sign modes of a synapse (the values of netx's and Lava's enums)."""

    MIXED = 1
    EXCITATORY = 2
    INHIBITORY = 3


def netx_sign_mode(weight: np.ndarray) -> SignMode:
    """netx's sign mode of ``weight``: INHIBITORY when every weight is below 0,
    EXCITATORY when none is, MIXED otherwise (zeros and negatives are MIXED)."""
    if np.max(weight) < 0:
        return SignMode.INHIBITORY
    if np.min(weight) >= 0:
        return SignMode.EXCITATORY
    return SignMode.MIXED


def lava_sign_mode(weight: np.ndarray) -> SignMode:
    """Lava's sign mode (``weightutils.determine_sign_mode``): EXCITATORY when min >= 0,
    INHIBITORY when max <= 0 (and not all zero), MIXED otherwise."""
    if np.min(weight) >= 0:
        return SignMode.EXCITATORY
    if np.max(weight) <= 0:
        return SignMode.INHIBITORY
    return SignMode.MIXED


@dataclass(frozen=True)
class OptimizedWeights:
    """netx's rescaled weights: ``weight`` (int64, w << s), ``bits`` the synapse keeps,
    ``exponent`` (-s) the accumulated sum is shifted by, and netx's ``sign_mode``."""

    weight: np.ndarray
    bits: int
    exponent: int
    sign_mode: SignMode


def optimize_weight_bits(weight: np.ndarray) -> OptimizedWeights:
    """netx's ``optimize_weight_bits`` (module doc); weights beyond [-256, 254] are
    clipped as netx clips them. ``AllZeroWeightsError`` for an all-zero matrix."""
    weight = np.asarray(weight, dtype=np.int64)
    if not np.any(weight):
        raise AllZeroWeightsError("an all-zero weight matrix: netx cannot load it (it takes log2 of infinity)")
    max_weight, min_weight = np.max(weight), np.min(weight)
    if (max_weight > WEIGHT_MAX and min_weight < 0) or (min_weight < WEIGHT_MIN and max_weight > 0):
        weight = np.clip(weight, WEIGHT_MIN, WEIGHT_MAX)
        max_weight, min_weight = np.max(weight), np.min(weight)
    sign_mode = netx_sign_mode(weight)
    signed = int(sign_mode == SignMode.MIXED)
    with np.errstate(divide="ignore"):
        if sign_mode == SignMode.MIXED:
            scale = np.min([127 / max_weight, -128 / min_weight])
        elif sign_mode == SignMode.INHIBITORY:
            scale = -256 / min_weight
        else:
            scale = 255 / max_weight
    scale_bits = int(np.floor(np.log2(scale))) + signed
    n = SYNAPSE_BITS
    while n > 0 and np.sum(np.abs(weight / (2**n) - np.round(weight / (2**n)))) != 0:
        n -= 1
    n -= signed
    # a single-sign matrix beyond 255 gives a negative shift, which numpy's left_shift
    # (as netx uses it) turns into zeros: every weight is lost (measured in Lava)
    shifted = np.zeros_like(weight) if scale_bits < 0 else np.left_shift(weight, scale_bits)
    return OptimizedWeights(shifted, SYNAPSE_BITS - scale_bits - n, -scale_bits, sign_mode)


def out_of_range_effect(weight: np.ndarray) -> str:
    """What netx and Lava make of a matrix holding weights outside [-256, 254]: netx
    clips a matrix with both signs into the range; a single-sign one it scales by
    less than 1, a negative shift that turns every weight into 0; 255 in an
    all-positive matrix is kept."""
    weight = np.asarray(weight, dtype=np.int64)
    max_weight, min_weight = np.max(weight), np.min(weight)
    if (max_weight > WEIGHT_MAX and min_weight < 0) or (min_weight < WEIGHT_MIN and max_weight > 0):
        return "netx clips them into the range"
    if optimize_weight_bits(weight).exponent > 0:
        return "netx's weight scaling then turns every weight of this matrix into 0"
    return "netx and Lava keep them"


def clip_weights(weight: np.ndarray, sign_mode: SignMode, bits: int = SYNAPSE_BITS) -> np.ndarray:
    """Lava's ``clip_weights``: into [-2^bits, 2^bits - 1] (MIXED), [0, 2^bits - 1]
    (EXCITATORY) or [-(2^bits - 1), 0] (INHIBITORY, clipped as -w)."""
    inhibitory = sign_mode == SignMode.INHIBITORY
    low = -(1 << bits) if sign_mode == SignMode.MIXED else 0
    clipped = np.clip(-weight if inhibitory else weight, low, (1 << bits) - 1)
    return -clipped if inhibitory else clipped


def truncate_weights(weight: np.ndarray, sign_mode: SignMode, bits: int) -> np.ndarray:
    """Lava's ``truncate_weights``: drop 8 - bits low bits (one more for MIXED) by
    arithmetic shifts, of -w for INHIBITORY."""
    inhibitory = sign_mode == SignMode.INHIBITORY
    drop = SYNAPSE_BITS - bits + int(sign_mode == SignMode.MIXED)
    magnitude = -weight if inhibitory else weight
    truncated = np.left_shift(np.right_shift(magnitude, drop), drop)
    return -truncated if inhibitory else truncated


@dataclass(frozen=True)
class SynapseWeights:
    """The integers a Lava Dense or Sparse synapse accumulates, and the shift after.

    weight: int64 [out, in]; exponent: the sum ``weight @ s`` is shifted left
    by ``exponent`` (right, flooring, by ``-exponent`` when negative).
    """

    weight: np.ndarray
    exponent: int


def held_weights(weight: np.ndarray, bits: int) -> np.ndarray:
    """What a Lava synapse holds for netx's rescaled ``weight`` and ``bits``: clipped to 8
    bits and truncated to ``bits``, with Lava's own sign mode of ``weight``."""
    sign_mode = lava_sign_mode(weight)
    return truncate_weights(clip_weights(weight, sign_mode), sign_mode, bits)


def synapse_weights(weight: np.ndarray) -> SynapseWeights:
    """What Lava's dense synapse holds for the NetX integers ``weight``: netx's rescaling,
    then Lava's 8-bit clipping and truncation with Lava's own sign mode."""
    optimized = optimize_weight_bits(weight)
    return SynapseWeights(held_weights(optimized.weight, optimized.bits), optimized.exponent)


def shift_accumulated(total: np.ndarray, exponent: int) -> np.ndarray:
    """``total << exponent`` for exponent > 0, ``total >> -exponent`` (floor) for
    exponent < 0, ``total`` itself for 0: how a synapse scales its sum."""
    if exponent == 0:
        return total
    return np.left_shift(total, exponent) if exponent > 0 else np.right_shift(total, -exponent)
