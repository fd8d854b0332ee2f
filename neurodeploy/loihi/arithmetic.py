"""Loihi's fixed-point rules and constants, as Lava's ``fixed_pt`` models compute them.

Units: weights are 8-bit mantissas (SLAYER float weight x 64, ``WEIGHT_SCALE``);
a neuron's synaptic input, threshold and bias are left-shifted by 6 bits
(``ACT_SHIFT``, ``VTH_SHIFT``, ``BIAS_EXP``) to align them with its 24-bit
state; decays are 12-bit fractions of ``DECAY_UNITY`` = 4096 (4096 = all
lost in one step). State is 24 bits wide: Lava wraps a CUBA current once
(``wrap24``), saturates a voltage (``saturate24``) and wraps a conv's
accumulated input modulo 2^24 (``signed_wrap``).

Integers are held in int64 here where Lava uses int32: the two agree while
|value| < 2^31, which the 24-bit wrap and saturation guarantee.
"""
from __future__ import annotations

import numpy as np

WEIGHT_SCALE = 64            # NetX weight integer per SLAYER float weight unit
DECAY_SHIFT = 12
DECAY_UNITY = 1 << DECAY_SHIFT
ACT_SHIFT = 6                # synaptic input << 6 into u
VTH_SHIFT = 6                # threshold mantissa << 6
BIAS_EXP = 6                 # bias mantissa << 6 (netx's bias_exp)
STATE_BITS = 24
STATE_LIMIT = 1 << (STATE_BITS - 1)
CONV_ACCUMULATOR_BITS = 24   # Lava's conv synapse wraps its sum to 24 bits


def wrap24(x: np.ndarray) -> np.ndarray:
    """Lava's single 24-bit wrap of a CUBA current: x > 2^23 loses 2^24, x <= -2^23
    gains 2^24 (``x`` itself when nothing wraps)."""
    if -STATE_LIMIT < x.min() and x.max() <= STATE_LIMIT:
        return x
    wrapped = np.where(x > STATE_LIMIT, x - 2 * STATE_LIMIT, x)
    return np.where(wrapped <= -STATE_LIMIT, x + 2 * STATE_LIMIT, wrapped)


def saturate24(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Clip into [-(2^23 - 1), 2^23 - 1], Lava's voltage saturation."""
    return np.clip(x, -STATE_LIMIT + 1, STATE_LIMIT - 1, out=out)


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


def wrap32(x: np.ndarray) -> np.ndarray:
    """``x`` as int32 arithmetic leaves it: modulo 2^32 into [-2^31, 2^31), as int64."""
    return signed_wrap(x, 32)
