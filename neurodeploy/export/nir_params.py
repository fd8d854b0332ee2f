"""The parameters of a NIR node as the importer may use them: real numbers, checked
before any arithmetic, so that a NaN, an infinity, a complex number, text or an empty
array is one line naming the node and the parameter, never a wrong integer.

Why before: NumPy turns ``nan`` into INT64_MIN when cast to int64 (whose ``abs`` is
negative, so a limit check after the cast passes), text into a ValueError deep inside
the conversion, and a complex number into its real part with a ComplexWarning.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from neurodeploy.netx import NetxError


class NirImportError(NetxError):
    """A NIR graph (or node) that cannot become a NetX network; the message names it."""


def _kind(array: np.ndarray) -> str:
    """What a non-numeric array holds, in words."""
    if array.dtype.kind in "SU":
        return "text"
    if array.dtype.kind == "O":
        return "text" if all(isinstance(v, (str, bytes)) for v in array.flat) else "Python objects"
    return f"{array.dtype} values"


def numbers(value: Any, key: str, where: str) -> np.ndarray:
    """``value`` (parameter ``key`` of the node ``where`` names) as a float64 array:
    ``NirImportError`` when it is complex, text, boolean or otherwise not integer or
    float, empty, or holds NaN or an infinity."""
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as err:  # ragged nested sequences
        raise NirImportError(f"{where}: {key} is not an array of numbers ({err})") from err
    if array.dtype.kind == "c":
        raise NirImportError(f"{where}: {key} is complex ({array.dtype}); NIR parameters are real numbers")
    if array.dtype.kind not in "iuf":
        raise NirImportError(f"{where}: {key} holds {_kind(array)}, not numbers")
    if array.size == 0:
        raise NirImportError(f"{where}: {key} is empty (shape {array.shape})")
    floats = array.astype(np.float64)
    if not np.all(np.isfinite(floats)):
        raise NirImportError(f"{where}: {key} holds a value that is not finite (NaN or infinite)")
    return floats


def integers(value: Any, key: str, where: str, minimum: int, count: int | None = None) -> tuple[int, ...]:
    """``value`` as whole numbers of at least ``minimum``: one (broadcast to ``count``) or
    ``count`` of them (any number when ``count`` is None)."""
    array = numbers(value, key, where).reshape(-1)
    if count is not None and array.size not in (1, count):
        raise NirImportError(f"{where}: {key} has {array.size} values; {count} (or one for all) expected")
    if np.any(array != np.round(array)) or np.any(array < minimum) or np.any(np.abs(array) > 2 ** 31):
        raise NirImportError(f"{where}: {key} must be whole numbers of at least {minimum}, got "
                             f"{np.array2string(array, threshold=8)}")
    if count is not None:
        array = np.broadcast_to(array, (count,))
    return tuple(int(v) for v in array)


def finite(value: np.ndarray, what: str, where: str) -> np.ndarray:
    """``value`` (a quantity derived from several parameters) when every entry is finite;
    else ``NirImportError``: the parameters are too far apart for float64."""
    if not np.all(np.isfinite(value)):
        raise NirImportError(f"{where}: {what} is not a finite number (the parameters it is made of are out of "
                             "range of one another)")
    return value


WHOLE_NUMBERS = {"shape": 1, "input_shape": 1, "kernel_size": 1, "stride": 1, "dilation": 1, "groups": 1, "padding": 0}
"""Stored keys that are counts or sizes in every NIR node type that has them, and their least value."""
NOT_PARAMETERS = ("type", "metadata", "nodes", "edges")


def check_stored(node: dict, where: str) -> None:
    """Every parameter of a node as nir's reader stores it (``nir.serialization.hdf2dict``'s
    dict, before nir builds the node) real, finite, non-empty numbers, and the sizes,
    strides, paddings and groups of ``WHOLE_NUMBERS`` whole numbers in range; ``where``
    names the file and the node. (A Conv's padding may be text, 'same' or 'valid'.)"""
    for key, value in node.items():
        if key in NOT_PARAMETERS or isinstance(value, dict) or (key == "padding" and isinstance(value, str)):
            continue
        if key in WHOLE_NUMBERS:
            integers(value, key, where, WHOLE_NUMBERS[key])
        else:
            numbers(value, key, where)
