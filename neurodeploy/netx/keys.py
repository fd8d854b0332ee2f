"""Reading one ``layer/i`` group of a NetX file: every key checked, every error naming it.

``Keys`` wraps an h5py group. Its readers turn what netx would misread into
a ``NetxError`` naming the key: a missing key, a group where a dataset
belongs (or the reverse), text where numbers belong, NaN, infinite,
fractional or huge (beyond +-2^31: Lava holds integers in int32) values, and
wrong shapes. What netx survives but a user should know is a warning line
(``warn``); in tolerant mode (``inspect``) some errors become warnings too.
"""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

INT_LIMIT = 2**31 - 1

# What h5py raises for a file that opens but is damaged inside (bad object
# headers, heaps or links); NetxError is a ValueError and passes through.
HDF5_ERRORS = (OSError, RuntimeError, KeyError)


class NetxError(ValueError):
    """A NetX file or record that cannot be used; names the file, layer and key."""


class Keys:
    """The keys of one layer group (or of a subgroup such as ``neuron``)."""

    def __init__(self, path: Path, index: int, handle: h5py.Group, warnings: list[str], tolerant: bool = False,
                 prefix: str = "") -> None:
        self.path, self.index, self.handle, self.prefix = path, index, handle, prefix
        self.warnings, self.tolerant = warnings, tolerant

    def warn(self, message: str) -> None:
        """Record a warning line naming the file and layer."""
        self.warnings.append(f"{self.path}: layer/{self.index}: {message}")

    def group(self, key: str) -> "Keys":
        """The subgroup ``key`` (e.g. ``neuron``); ``NetxError`` when it is missing or a dataset."""
        if not self.has(key):
            raise NetxError(f"missing group '{self.prefix}{key}'")
        node = self.handle[key]
        if not isinstance(node, h5py.Group):
            raise NetxError(f"key '{self.prefix}{key}' must be a group, found a dataset")
        return Keys(self.path, self.index, node, self.warnings, self.tolerant, f"{self.prefix}{key}/")

    def has(self, key: str) -> bool:
        """Whether ``key`` (a path below this group, e.g. ``neuron/vThMant``) exists;
        a path through a dataset does not."""
        parent, _, leaf = key.rpartition("/")
        if parent and not self.has(parent):
            return False
        try:
            node = self.handle[parent] if parent else self.handle
            if not isinstance(node, h5py.Group):
                raise NetxError(f"key '{self.prefix}{parent}' must be a group, found a dataset")
            return leaf in node
        except HDF5_ERRORS as err:
            raise NetxError(f"key '{self.prefix}{key}' cannot be read, the file is damaged ({err})") from err

    def is_group(self, key: str) -> bool:
        """Whether ``key`` exists and is a group (``weight`` of a complex layer)."""
        return self.has(key) and isinstance(self.handle[key], h5py.Group)

    def names(self) -> list[str]:
        """The keys directly in this group."""
        try:
            return list(self.handle)
        except HDF5_ERRORS as err:
            raise NetxError(f"group '{self.prefix or '.'}' cannot be read, the file is damaged ({err})") from err

    def raw(self, key: str) -> np.ndarray:
        """The dataset ``key`` as an array, unchecked."""
        if not self.has(key):
            raise NetxError(f"missing key '{self.prefix}{key}'")
        try:
            node = self.handle[key]
            value = np.asarray(node[()]) if isinstance(node, h5py.Dataset) else None
        except HDF5_ERRORS as err:
            raise NetxError(f"key '{self.prefix}{key}' cannot be read, the file is damaged ({err})") from err
        if value is None:
            raise NetxError(f"key '{self.prefix}{key}' must be a dataset, found a group")
        return value

    def text(self, key: str) -> str:
        """A one-string key (bytes or str, scalar or one element), as netx decodes it."""
        value = self.raw(key).reshape(-1)
        if value.size != 1:
            raise NetxError(f"key '{self.prefix}{key}' must hold one string, got shape {self.raw(key).shape}")
        value = value[0]
        return value.decode(errors="replace") if isinstance(value, bytes) else str(value)

    def integers(self, key: str, truncate: bool = False) -> np.ndarray:
        """``key`` as int64; ``NetxError`` unless every value is finite and within +-2^31.
        Fractional values are an error, or, with ``truncate`` (the keys netx reads with
        ``astype(int)``: weights, biases, delays), rounded toward zero as netx does, with a
        warning."""
        value = self.raw(key)
        name = f"{self.prefix}{key}"
        if not np.issubdtype(value.dtype, np.number) or np.issubdtype(value.dtype, np.complexfloating):
            raise NetxError(f"key '{name}' must be numeric, got dtype {value.dtype}")
        finite = np.isfinite(value)
        if not finite.all():
            bad = value[~finite].reshape(-1)[0]
            raise NetxError(f"key '{name}' holds {int((~finite).sum())} NaN or infinite value(s) (e.g. {bad})")
        huge = np.abs(value.astype(np.float64)) > INT_LIMIT
        if huge.any():
            raise NetxError(f"key '{name}' holds {int(huge.sum())} value(s) beyond +-2^31 "
                            f"(e.g. {value[huge].reshape(-1)[0]})")
        fractional = value != np.round(value)
        if fractional.any() and truncate:
            self.warn(f"key '{name}' holds {int(fractional.sum())} non-integer value(s) (e.g. "
                      f"{value[fractional].reshape(-1)[0]}): netx truncates them toward zero, and so does this reader")
            return np.trunc(value).astype(np.int64)
        if fractional.any():
            raise NetxError(f"key '{name}' holds {int(fractional.sum())} non-integer value(s) "
                            f"(e.g. {value[fractional].reshape(-1)[0]}); NetX stores integers")
        return value.astype(np.int64)

    def integer(self, key: str) -> int:
        """A single-number key."""
        value = self.integers(key)
        if value.size != 1:
            raise NetxError(f"key '{self.prefix}{key}' must be a single number, got shape {value.shape}")
        return int(value.reshape(-1)[0])

    def flag(self, key: str) -> bool:
        """A boolean key (stored as bool or as 0/1)."""
        value = self.raw(key)
        if value.dtype != np.bool_:
            return bool(self.integer(key))
        if value.size != 1:
            raise NetxError(f"key '{self.prefix}{key}' must be a single boolean, got shape {value.shape}")
        return bool(value.reshape(-1)[0])

    def positive_shape(self, key: str, lengths: tuple[int, ...]) -> tuple[int, ...]:
        """``key`` as a shape: ``lengths`` says how many values it may hold, each at least 1."""
        shape = tuple(int(s) for s in self.integers(key).reshape(-1))
        if len(shape) not in lengths or min(shape) < 1:
            allowed = " or ".join(str(n) for n in lengths)
            if len(lengths) > 2:
                allowed = ", ".join(str(n) for n in lengths[:-1]) + f" or {lengths[-1]}"
            raise NetxError(f"key '{self.prefix}{key}' must hold {allowed} positive integers, got {list(shape)}")
        return shape

    def pair(self, key: str, default: int) -> tuple[int, int]:
        """An (H, W) pair stored as one or two numbers (``default`` for both when absent)."""
        if not self.has(key):
            return (default, default)
        value = self.integers(key).reshape(-1)
        if value.size == 1:
            return (int(value[0]), int(value[0]))
        if value.size != 2:
            raise NetxError(f"key '{self.prefix}{key}' must hold 1 or 2 numbers, got {value.size}")
        return (int(value[0]), int(value[1]))
