"""Random damage to NetX files, for the reader's property test (``test_netx_fuzz``).

Each mutation takes an open, writable ``h5py.File`` (or, for the byte-level
ones, the file's path) and a ``numpy.random.Generator`` and changes one
thing the way a broken exporter, a hand edit or a bad copy would. It
returns a short description of what it did.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import h5py
import numpy as np

BAD_VALUES = (np.nan, np.inf, -np.inf, 1e30, -1e30, 2.0**40, 255.0, -257.0, 0.5, -1.0, 1e9)
ADDED_KEYS = ("delay", "bias", "stride", "padding", "dilation", "groups", "shape", "weight",
              "neuron/gradedSpike", "neuron/messageBits", "neuron/vThMant", "neuron/iDecay")
TYPE_STRINGS = (b"pool", b"", b"dense", b"conv", b"input", b"flatten", b"Dense", b"\xff\xfe", b"CUBA", b"LOIHI")


def _objects(handle: h5py.File, kind: type | None = None) -> list[str]:
    names: list[str] = []
    handle.visititems(lambda name, obj: names.append(name) if kind is None or isinstance(obj, kind) else None)
    return sorted(names)


def _numeric(handle: h5py.File) -> list[str]:
    return [n for n in _objects(handle, h5py.Dataset) if handle[n].dtype.kind in "iufb"]


def _replace(handle: h5py.File, name: str, data) -> None:
    del handle[name]
    handle[name] = data


def delete(handle: h5py.File, rng: np.random.Generator) -> str:
    """Delete a random group or dataset (the whole ``layer`` group included)."""
    name = str(rng.choice(_objects(handle)))
    del handle[name]
    return f"deleted {name}"


def retype(handle: h5py.File, rng: np.random.Generator) -> str:
    """Store a dataset again with another dtype: float, text, bool, complex or unsigned."""
    name = str(rng.choice(_objects(handle, h5py.Dataset)))
    data = np.asarray(handle[name][()])
    kind = int(rng.integers(6))
    if kind == 0 and data.dtype.kind in "iufb":
        new = data.astype(np.float64) + rng.choice([0.0, 0.5])
    elif kind == 1:
        new = np.full(data.shape, b"abc", dtype="S4")
    elif kind == 2 and data.dtype.kind in "iufb":
        new = data.astype(bool)
    elif kind == 3 and data.dtype.kind in "iuf":
        new = data.astype(np.complex128)
    elif kind == 4 and data.dtype.kind in "iuf":
        new = data.astype(np.uint8)
    else:
        new = "some text"
    _replace(handle, name, new)
    return f"retyped {name} to {np.asarray(new).dtype}"


def reshape(handle: h5py.File, rng: np.random.Generator) -> str:
    """Store a dataset again with another shape: empty, scalar, flat, an extra axis or random."""
    name = str(rng.choice(_numeric(handle)))
    data = np.asarray(handle[name][()])
    kind = int(rng.integers(5))
    if kind == 0:
        new = np.zeros((0,), dtype=data.dtype)
    elif kind == 1:
        new = data.reshape(-1)[:1].reshape(()) if data.size else np.array(3, dtype=data.dtype)
    elif kind == 2:
        new = data.reshape(-1)
    elif kind == 3:
        new = data[..., None]
    else:
        shape = tuple(int(s) for s in rng.integers(1, 5, size=int(rng.integers(1, 5))))
        new = rng.integers(-3, 5, size=shape).astype(data.dtype)
    _replace(handle, name, new)
    return f"reshaped {name} from {data.shape} to {new.shape}"


def bad_value(handle: h5py.File, rng: np.random.Generator) -> str:
    """Put NaN, an infinity, a huge, fractional or out-of-range value into a numeric dataset."""
    names = _numeric(handle)
    weights = [n for n in names if n.endswith("weight")]
    name = str(rng.choice(weights if weights and rng.random() < 0.6 else names))
    data = np.asarray(handle[name][()], dtype=np.float64)
    value = float(rng.choice(BAD_VALUES))
    if data.size == 0:
        data = np.array([value])
    else:
        flat = data.reshape(-1)
        flat[rng.integers(flat.size, size=int(rng.integers(1, 4)))] = value
    _replace(handle, name, data)
    return f"put {value} into {name}"


def zero(handle: h5py.File, rng: np.random.Generator) -> str:
    """Zero a whole weight matrix, or one row (one output neuron's or channel's weights)."""
    names = [n for n in _objects(handle, h5py.Dataset) if n.endswith("weight") and handle[n].size > 1]
    if not names:
        return "no weight to zero"
    name = str(rng.choice(names))
    data = np.asarray(handle[name][()])
    if rng.random() < 0.5:
        data[...] = 0
        what = "all of"
    else:
        data[int(rng.integers(data.shape[0]))] = 0
        what = "a row of"
    _replace(handle, name, data)
    return f"zeroed {what} {name}"


def type_string(handle: h5py.File, rng: np.random.Generator) -> str:
    """Change a layer's or a neuron's type string."""
    name = str(rng.choice([n for n in _objects(handle, h5py.Dataset) if n.endswith("type")] or ["layer/0/type"]))
    text = TYPE_STRINGS[int(rng.integers(len(TYPE_STRINGS)))]
    if name in handle:
        del handle[name]
    handle.create_dataset(name, (1,), "S10", [text])
    return f"set {name} to {text!r}"


def add_key(handle: h5py.File, rng: np.random.Generator) -> str:
    """Add (or replace) a key of a random layer with random small integers of a random shape."""
    layers = [n for n in _objects(handle, h5py.Group) if n.count("/") == 1 and n.startswith("layer/")]
    if not layers:
        return "no layer to add to"
    key = f"{rng.choice(layers)}/{ADDED_KEYS[int(rng.integers(len(ADDED_KEYS)))]}"
    shape = tuple(int(s) for s in rng.integers(1, 6, size=int(rng.integers(0, 3))))
    data = rng.integers(-3, 70, size=shape)
    if key in handle:
        del handle[key]
    handle[key] = data
    return f"set {key} to shape {shape}"


def swap_kind(handle: h5py.File, rng: np.random.Generator) -> str:
    """Replace a dataset by a group, or a group by a dataset."""
    name = str(rng.choice(_objects(handle)))
    if isinstance(handle[name], h5py.Dataset):
        del handle[name]
        handle.create_group(name).create_dataset("x", data=1)
        return f"made {name} a group"
    del handle[name]
    handle[name] = np.arange(3)
    return f"made {name} a dataset"


def rename_layer(handle: h5py.File, rng: np.random.Generator) -> str:
    """Move ``layer/i`` to another name (a gap, a duplicate index or a non-number)."""
    if "layer" not in handle or not isinstance(handle["layer"], h5py.Group) or not len(handle["layer"]):
        return "no layer to rename"
    names = sorted(handle["layer"])
    old = str(rng.choice(names))
    new = str(rng.choice(["7", "x", "-1", "01", str(len(names))]))
    if new in handle["layer"]:
        return f"layer/{new} exists"
    handle.move(f"layer/{old}", f"layer/{new}")
    return f"moved layer/{old} to layer/{new}"


def truncate(path: Path, rng: np.random.Generator) -> str:
    """Cut the file's bytes short (an interrupted copy)."""
    data = path.read_bytes()
    size = int(rng.integers(0, len(data)))
    path.write_bytes(data[:size])
    return f"truncated to {size} of {len(data)} bytes"


def overwrite(path: Path, rng: np.random.Generator) -> str:
    """Overwrite a few random bytes, or a random run of bytes, with random values."""
    data = bytearray(path.read_bytes())
    if rng.random() < 0.5:
        for position in rng.integers(len(data), size=int(rng.integers(1, 9))):
            data[int(position)] = int(rng.integers(256))
        what = "a few bytes"
    else:
        start = int(rng.integers(len(data)))
        length = int(rng.integers(1, 512))
        data[start:start + length] = rng.integers(256, size=len(data[start:start + length]), dtype=np.uint8).tobytes()
        what = f"{length} bytes at {start}"
    path.write_bytes(bytes(data))
    return f"overwrote {what}"


HDF5_MUTATIONS: dict[str, Callable[[h5py.File, np.random.Generator], str]] = {
    "delete": delete, "retype": retype, "reshape": reshape, "bad_value": bad_value, "zero": zero,
    "type_string": type_string, "add_key": add_key, "swap_kind": swap_kind, "rename_layer": rename_layer,
}
BYTE_MUTATIONS: dict[str, Callable[[Path, np.random.Generator], str]] = {"truncate": truncate, "overwrite": overwrite}
MUTATIONS = (*HDF5_MUTATIONS, *BYTE_MUTATIONS)


def mutate(path: Path, kind: str, seed: int) -> str:
    """Apply mutation ``kind`` to the file at ``path`` in place; returns what it did."""
    rng = np.random.default_rng(seed)
    if kind in BYTE_MUTATIONS:
        return BYTE_MUTATIONS[kind](path, rng)
    with h5py.File(path, "r+") as handle:
        return HDF5_MUTATIONS[kind](handle, rng)
