"""The NetX HDF5 format, defined once: typed layer records, a writer, a reader.

A NetX file holds groups ``layer/0``, ``layer/1``, ... in order. A dense layer
has ``type`` (``b"dense"``), ``shape`` [out], ``inFeatures``, ``outFeatures``,
``weight`` [out, in] and a ``neuron`` group with ``type`` (``CUBA``),
``iDecay``, ``vDecay``, ``vThMant``, ``refDelay`` and ``gradedSpike``: the same
keys and values lava-dl's ``block.export_hdf5`` writes, which
``lava.lib.dl.netx.hdf5.Network`` loads.

Units (Loihi fixed point): weights are integers (SLAYER float weight x 64),
even and in [-256, 254]; ``vThMant = int(threshold x 64)``; decays are
``round(decay x 4096)`` with 4096 meaning full decay.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from neurodeploy.fileio import atomic_path

WEIGHT_MIN = -256
WEIGHT_MAX = 254
DECAY_MAX = 4096
NEURON_KEYS = ("type", "iDecay", "vDecay", "vThMant", "refDelay", "gradedSpike")


class NetxError(ValueError):
    """A NetX file or record that cannot be used; names the file, layer and key."""


@dataclass(frozen=True)
class CubaNeuron:
    """Loihi CUBA neuron parameters as stored in NetX.

    Dynamics per step, all integers (Lava ``fixed_pt``)::

        u[t] = trunc0(u[t-1] * (4096 - i_decay) / 4096) + (a_in[t] << 6)
        v[t] = trunc0(v[t-1] * (4096 - v_decay) / 4096) + u[t]
        spike when v[t] > v_th_mant << 6, then v[t] = 0
    """

    v_th_mant: int
    i_decay: int
    v_decay: int
    ref_delay: int = 1
    graded_spike: bool = False

    def __post_init__(self) -> None:
        for name in ("i_decay", "v_decay"):
            value = getattr(self, name)
            if not 0 <= value <= DECAY_MAX:
                raise NetxError(f"neuron {name} = {value} is outside [0, {DECAY_MAX}]")
        if self.v_th_mant <= 0:
            raise NetxError(f"neuron v_th_mant = {self.v_th_mant} must be positive")


@dataclass(frozen=True)
class DenseLayer:
    """A fully connected layer of CUBA neurons.

    weight: int16 [out, in], Loihi weight integers in [-256, 254]; a pruned
    synapse is a zero.
    """

    weight: np.ndarray
    neuron: CubaNeuron

    def __post_init__(self) -> None:
        w = self.weight
        if w.ndim != 2 or min(w.shape) == 0:
            raise NetxError(f"dense weight must be a non-empty 2-D array, got shape {w.shape}")
        if not np.issubdtype(w.dtype, np.integer):
            raise NetxError(f"dense weight must be integers, got dtype {w.dtype}")
        if w.min() < WEIGHT_MIN or w.max() > WEIGHT_MAX:
            raise NetxError(
                f"dense weight range [{w.min()}, {w.max()}] is outside "
                f"[{WEIGHT_MIN}, {WEIGHT_MAX}]"
            )

    @property
    def shape(self) -> tuple[int, int]:
        """(out, in)."""
        return self.weight.shape


def write_netx(path: str | Path, layers: list[DenseLayer]) -> None:
    """Write ``layers`` as a NetX HDF5 file, atomically."""
    if not layers:
        raise NetxError(f"{path}: no layers to write")
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as handle:
        group = handle.create_group("layer")
        for index, layer in enumerate(layers):
            _write_dense(group.create_group(str(index)), layer)


def _write_dense(handle: h5py.Group, layer: DenseLayer) -> None:
    out_features, in_features = layer.shape
    handle.create_dataset("type", (1,), "S10", [b"dense"])
    handle.create_dataset("shape", data=np.array([out_features]))
    handle.create_dataset("inFeatures", data=in_features)
    handle.create_dataset("outFeatures", data=out_features)
    handle.create_dataset("weight", data=layer.weight.astype(np.int16))
    neuron = layer.neuron
    handle.create_dataset("neuron/type", data="CUBA")
    handle.create_dataset("neuron/iDecay", data=neuron.i_decay)
    handle.create_dataset("neuron/vDecay", data=neuron.v_decay)
    handle.create_dataset("neuron/vThMant", data=neuron.v_th_mant)
    handle.create_dataset("neuron/refDelay", data=neuron.ref_delay)
    handle.create_dataset("neuron/gradedSpike", data=neuron.graded_spike)


def read_netx(path: str | Path) -> list[DenseLayer]:
    """Read a NetX file of dense CUBA layers back into records.

    Raises ``NetxError`` naming the file, layer and key for anything missing,
    malformed or of a layer type this reader does not handle.
    """
    path = Path(path)
    try:
        handle = h5py.File(path, "r")
    except OSError as err:
        raise NetxError(f"{path}: not a readable HDF5 file ({err})") from err
    with handle:
        if "layer" not in handle:
            raise NetxError(f"{path}: missing group 'layer'")
        group = handle["layer"]
        names = sorted(group, key=lambda n: int(n) if n.isdigit() else -1)
        if names != [str(i) for i in range(len(names))] or not names:
            raise NetxError(f"{path}: layers must be named 0..N-1, found {list(group)}")
        return [_read_dense(path, index, group[name]) for index, name in enumerate(names)]


def _dataset(path: Path, index: int, handle: h5py.Group, key: str) -> np.ndarray:
    if key not in handle:
        raise NetxError(f"{path}: layer/{index}: missing key '{key}'")
    return np.asarray(handle[key][()])


def _read_dense(path: Path, index: int, handle: h5py.Group) -> DenseLayer:
    kind = _dataset(path, index, handle, "type").reshape(-1)[0]
    kind = kind.decode() if isinstance(kind, bytes) else str(kind)
    if kind != "dense":
        raise NetxError(f"{path}: layer/{index}: layer type '{kind}' is not supported (dense only)")
    weight = _dataset(path, index, handle, "weight")
    if weight.ndim != 2:
        raise NetxError(f"{path}: layer/{index}: key 'weight' must be 2-D, got shape {weight.shape}")
    if not np.all(np.isfinite(weight)) or not np.all(weight == np.round(weight)):
        raise NetxError(f"{path}: layer/{index}: key 'weight' holds non-integer values")
    raw = {key: _dataset(path, index, handle, f"neuron/{key}") for key in NEURON_KEYS}
    neuron_type = raw["type"].item()
    neuron_type = neuron_type.decode() if isinstance(neuron_type, bytes) else str(neuron_type)
    if neuron_type not in ("CUBA", "LOIHI"):
        raise NetxError(f"{path}: layer/{index}: key 'neuron/type' is '{neuron_type}', not CUBA")
    try:
        return DenseLayer(
            weight=weight.astype(np.int64),
            neuron=CubaNeuron(
                v_th_mant=int(raw["vThMant"]),
                i_decay=int(raw["iDecay"]),
                v_decay=int(raw["vDecay"]),
                ref_delay=int(raw["refDelay"]),
                graded_spike=bool(raw["gradedSpike"]),
            ),
        )
    except NetxError as err:
        raise NetxError(f"{path}: layer/{index}: {err}") from err
