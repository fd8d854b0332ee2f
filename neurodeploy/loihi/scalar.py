"""Loihi's fixed-point rules one integer at a time, compiled: what the golden model's
kernels call. The same rules as ``arithmetic`` and ``weights.shift_accumulated``
(which hold their definitions and units); a property test requires the two to
agree on random and edge values. Every value is an int64."""
from __future__ import annotations

from neurodeploy.jit import kernel

INT32_MIN = -(1 << 31)
_BASE32 = 1 << 32
_HALF24 = 1 << 23
_BASE24 = 1 << 24
_DECAY_UNITY = 4096


@kernel(inline=True)
def wrap32(x: int) -> int:
    """Modulo 2^32 into [-2^31, 2^31) (``arithmetic.wrap32``)."""
    return ((x + (1 << 31)) & (_BASE32 - 1)) - (1 << 31)


@kernel(inline=True)
def wrap16(x: int) -> int:
    """Modulo 2^16 into [-2^15, 2^15) (``arithmetic.signed_wrap(x, 16)``)."""
    return ((x + (1 << 15)) & ((1 << 16) - 1)) - (1 << 15)


@kernel(inline=True)
def wrap24_modular(x: int) -> int:
    """Modulo 2^24 into [-2^23, 2^23) (``arithmetic.signed_wrap(x, 24)``, the conv accumulator)."""
    return ((x + _HALF24) & (_BASE24 - 1)) - _HALF24


@kernel(inline=True)
def wrap24_once(x: int) -> int:
    """Lava's single 24-bit wrap of a CUBA current (``arithmetic.wrap24``)."""
    if x > _HALF24:
        return x - _BASE24
    if x <= -_HALF24:
        return x + _BASE24
    return x


@kernel(inline=True)
def saturate24(x: int) -> int:
    """Clip into [-(2^23 - 1), 2^23 - 1] (``arithmetic.saturate24``)."""
    if x > _HALF24 - 1:
        return _HALF24 - 1
    if x < -(_HALF24 - 1):
        return -(_HALF24 - 1)
    return x


@kernel(inline=True)
def decay(x: int, amount: int) -> int:
    """trunc0(x (4096 - amount) / 4096) (``arithmetic.decay``), without a branch: for
    amount 0 the product is a multiple of 4096 and gives x back, for 4096 it is 0."""
    product = x * (_DECAY_UNITY - amount)
    return (product + ((product >> 63) & (_DECAY_UNITY - 1))) >> 12


@kernel(inline=True)
def trunc_shift12(x: int) -> int:
    """sign(x) (|x| >> 12), Lava's ``scale_volt`` of a resonate-and-fire neuron."""
    if x < 0:
        return -((-x) >> 12)
    return x >> 12


@kernel(inline=True)
def shift(total: int, exponent: int) -> int:
    """``total << exponent`` or ``total >> -exponent`` (floor) (``weights.shift_accumulated``),
    without a branch."""
    return (total << max(exponent, 0)) >> max(-exponent, 0)


@kernel(inline=True)
def abs32(x: int) -> int:
    """|x| of an int32, where |-2^31| stays -2^31 (numpy's int32 abs)."""
    if x == INT32_MIN:
        return INT32_MIN
    return -x if x < 0 else x


@kernel(inline=True)
def int32_cast(x: int) -> int:
    """A conv's exact sum as Lava casts its float64 sum to int32: from 2^31 in magnitude
    on, -2^31 (``layers.conv``)."""
    if x >= 1 << 31 or x <= -(1 << 31):
        return INT32_MIN
    return x
