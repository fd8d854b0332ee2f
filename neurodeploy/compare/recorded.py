"""Recorded messages to check the golden model against instead of running Lava.

Two forms, read by ``read_reference``:

- a recording (``.npz``) that ``neurodeploy deploy``'s script wrote on Loihi 2
  or in Lava's simulator: ``meta`` (JSON: the network's SHA-256, samples,
  steps, columns, reset interval, what it ran on, the chip's figures), the
  input it fed (``input_spikes`` [n_in, L], ``input_bias`` [N, n_in]), and
  ``layer_<i>`` [n_i, L], every recorded layer's messages, column for column
  the stream the golden model runs (no shift). A recording of another
  network, another input or another length is refused.
- a folder of per-layer arrays laid out as lava-dl's ground truth
  (``tests/lava/lib/dl/netx/gts/*``): one ``.npy`` per layer, [..., T], in
  Lava's (W, H, C, T) order, flat [n, T], or SLAYER's [1, C, H, W, T] or
  [C, H, W, T]. File names say the layer: ``output`` (the last layer),
  ``input`` (layer 0 when it is an input layer), ``conv-K`` and ``fc-K`` or
  ``dense-K`` (the K-th conv or dense layer, from 0), ``layerN`` and ``actN``
  (the layer read from group ``layer/N``), each optionally with ``-s``
  (spikes; the plain name wins when both exist). State files (``-u``,
  ``-v``, ``current``, ``sigma*``), the input the command was given, and
  other names are listed as not compared, with the reason. Producers of such
  folders (SLAYER, Lava with its own reset schedule, the chip) do not share
  one time origin, so a folder's columns are aligned per file by
  ``verify_reference`` (``lag``: None), which says the shift it found.
"""
from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neurodeploy.fileio import file_digest
from neurodeploy.loihi.timing import drain
from neurodeploy.netx import Network
from neurodeploy.simulate.input_options import InputOptionError
from neurodeploy.simulate.stimulus import Stimulus

RECORDING_FORMAT = "neurodeploy-recording"
RECORDING_VERSION = 1
_MESSAGES = re.compile(r"(?P<name>output|input|(?P<kind>conv|fc|dense)-(?P<k>\d+)|(?:layer-?|act)(?P<group>\d+))"
                       r"(?P<spikes>-s)?")
_STATE = re.compile(r".*-[uv]|current|sigma.*")
_KINDS = {"conv": "conv", "fc": "dense", "dense": "dense"}


class ReferenceError(InputOptionError):
    """A reference that cannot be compared with this network and input: one line naming
    the file (or key) and why."""


@dataclass(frozen=True)
class ReferenceLayer:
    """One layer's recorded messages.

    layer: its index among the network's layers with neurons; source: the file (or
    ``FILE:key``) it came from; messages: int64 [n_l, T_ref] in Lava's flat neuron
    order, column t being stream column t + lag; lag: 0 for a recording, None for a
    folder's file (found by ``verify_reference``)."""

    layer: int
    source: str
    messages: np.ndarray
    lag: int | None


@dataclass(frozen=True)
class Reference:
    """What ``read_reference`` found.

    path: the file or folder; kind: ``recording`` or ``folder``; layers: the
    references, at most one per layer, in layer order; unused: ``name: reason`` of
    every file (or key) not compared; meta: a recording's ``meta`` (empty for a
    folder); chip: a recording's chip figures (``meta["chip"]`` scalars and the
    ``chip_*`` arrays; empty when the profilers did not run)."""

    path: Path
    kind: str
    layers: tuple[ReferenceLayer, ...]
    unused: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)
    chip: dict[str, Any] = field(default_factory=dict)

    @property
    def ran_on(self) -> str:
        """What produced it, in a few words."""
        if self.kind == "folder":
            return f"reference arrays in {self.path}"
        system = self.meta.get("system", {})
        where = f", partition {system['partition']}" if system.get("partition") else ""
        return f"{self.meta.get('run_config', 'an unknown run')}{where} ({self.path})"


def read_reference(path: Path, network: Network, stimulus: Stimulus, reset_interval: int | None = None,
                   given_inputs: tuple[Path, ...] = ()) -> Reference:
    """The reference at ``path`` (a recording file or a folder, see the module doc) for
    ``network`` run on ``stimulus`` as one stream with netx's ``reset_interval``
    (default T). given_inputs: the input files the command was given (a folder's copy
    of one is the input, not a layer). ``ReferenceError`` (one line) for a reference
    that does not fit."""
    path = Path(path)
    if path.is_dir():
        return _read_folder(path, network, stimulus, given_inputs)
    if not path.is_file():
        raise ReferenceError(f"{path}: no such file or folder (--reference)", path)
    return _read_recording(path, network, stimulus, reset_interval or stimulus.steps)


def _read_recording(path: Path, network: Network, stimulus: Stimulus, reset_interval: int) -> Reference:
    """A ``deploy`` recording, checked against the network, the input and the run."""
    try:
        with np.load(path, allow_pickle=False) as handle:
            arrays = {key: handle[key] for key in handle.files}
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise ReferenceError(f"{path}: not a recording (.npz) that numpy can read: {err}", path) from None
    if "meta" not in arrays:
        raise ReferenceError(f"{path}: has no 'meta' (not a recording written by neurodeploy deploy's script)", path)
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except json.JSONDecodeError as err:
        raise ReferenceError(f"{path}: 'meta' is not JSON ({err})", path) from None
    if meta.get("format") != RECORDING_FORMAT or meta.get("version") != RECORDING_VERSION:
        raise ReferenceError(f"{path}: 'meta' says format {meta.get('format')!r} version {meta.get('version')!r}, "
                             f"not {RECORDING_FORMAT} {RECORDING_VERSION}", path)
    digest = file_digest(network.path)
    if meta.get("network_sha256") != digest:
        raise ReferenceError(f"{path}: recorded from another network (SHA-256 {str(meta.get('network_sha256'))[:12]}"
                             f"..., {network.path} is {digest[:12]}...)", path)
    if meta.get("num_layers") not in (None, network.group_count):
        raise ReferenceError(f"{path}: recorded with {meta['num_layers']} layer groups, this run reads "
                             f"{network.group_count} (--num-layers)", path)
    drain_steps = drain(len(network.layers), network.starts_with_input)
    length = stimulus.stream_length(drain_steps)
    recorded = (meta.get("samples"), meta.get("steps"), meta.get("columns"))
    if recorded != (stimulus.num_samples, stimulus.steps, length):
        raise ReferenceError(f"{path}: recorded {recorded[0]} sample(s) x {recorded[1]} steps ({recorded[2]} "
                             f"columns), this input is {stimulus.num_samples} x {stimulus.steps} ({length} columns)",
                             path)
    if meta.get("reset_interval") != reset_interval:
        raise ReferenceError(f"{path}: recorded with reset interval {meta.get('reset_interval')}, this run uses "
                             f"{reset_interval} (--reset-interval)", path)
    _check_input(path, arrays, stimulus, drain_steps)
    layers = []
    for key in sorted((key for key in arrays if key.startswith("layer_")), key=lambda key: int(key[6:])):
        index = int(key[6:])
        if not 0 <= index < len(network.layers):
            raise ReferenceError(f"{path}:{key}: the network has {len(network.layers)} layers", path)
        expected = (network.layers[index].size, length)
        if arrays[key].shape != expected:
            raise ReferenceError(f"{path}:{key}: shape {arrays[key].shape}, layer {index} gives {expected}", path)
        messages = _integers(arrays[key], f"{path}:{key}", path)
        layers.append(ReferenceLayer(index, f"{path.name}:{key}", messages, 0))
    if not layers:
        raise ReferenceError(f"{path}: records no layer (no layer_<i> array)", path)
    chip = dict(meta.get("chip") or {})  # the profilers' scalars win over the per-step arrays of the same name
    for key, value in arrays.items():
        if key.startswith("chip_"):
            chip.setdefault(key[5:], value)
    return Reference(path, "recording", tuple(layers), meta=meta, chip=chip)


def _check_input(path: Path, arrays: dict[str, np.ndarray], stimulus: Stimulus, drain_steps: int) -> None:
    """``ReferenceError`` unless the recording fed exactly ``stimulus`` (its stream with
    ``drain_steps`` silent columns)."""
    spikes = stimulus.stream_spikes(drain_steps)
    for key, ours in (("input_spikes", spikes), ("input_bias", stimulus.bias)):
        theirs = arrays.get(key)
        if (theirs is None) != (ours is None):
            raise ReferenceError(f"{path}: recorded {'no' if theirs is None else 'an'} {key}, this input has "
                                 f"{'one' if ours is not None else 'none'}", path)
        if ours is None:
            continue
        theirs = _integers(theirs, f"{path}:{key}", path)
        if theirs.shape != ours.shape or not np.array_equal(theirs, ours):
            differ = "a different shape" if theirs.shape != ours.shape else \
                f"{int(np.count_nonzero(theirs != ours))} entries that differ"
            raise ReferenceError(f"{path}: recorded another input ({key} has {differ})", path)


def _read_folder(path: Path, network: Network, stimulus: Stimulus, given_inputs: tuple[Path, ...]) -> Reference:
    """A folder of per-layer arrays (module doc)."""
    given = {item.resolve() for item in given_inputs}
    chosen: dict[int, tuple[bool, Path]] = {}
    unused: list[str] = []
    for file in sorted(path.glob("*.npy")):
        found = _MESSAGES.fullmatch(file.stem)
        if file.resolve() in given:
            unused.append(f"{file.name}: the input given")
        elif found is None:
            unused.append(f"{file.name}: " + ("a state, not messages" if _STATE.fullmatch(file.stem) else
                                             "not a layer's name (output, input, conv-K, fc-K, layerN, actN)"))
        else:
            layer, reason = _layer_named(found, network)
            if layer is None:
                unused.append(f"{file.name}: {reason}")
                continue
            plain = found["spikes"] is None
            if layer in chosen and (chosen[layer][0] or not plain):
                unused.append(f"{file.name}: {chosen[layer][1].name} is compared for layer {layer}")
                continue
            if layer in chosen:
                unused.append(f"{chosen[layer][1].name}: {file.name} is compared for layer {layer}")
            chosen[layer] = (plain, file)
    if not chosen:
        raise ReferenceError(f"{path}: no file names a layer of {network.path} (" +
                             ("; ".join(unused) if unused else "no .npy files") + ")", path)
    length = stimulus.stream_length(drain(len(network.layers), network.starts_with_input))
    layers = []
    for layer in sorted(chosen):
        file = chosen[layer][1]
        messages = _layer_array(file, network, layer)
        if messages.shape[1] > length:
            raise ReferenceError(f"{file}: holds {messages.shape[1]} steps, this run only {length} columns (give "
                                 "--steps or --samples that cover them)", file)
        layers.append(ReferenceLayer(layer, file.name, messages, None))
    return Reference(path, "folder", tuple(layers), tuple(unused))


def _layer_named(found: re.Match, network: Network) -> tuple[int | None, str]:
    """The layer index a file's name gives, or None and why not."""
    name = found["name"]
    if name == "output":
        return len(network.layers) - 1, ""
    if name == "input":
        return (0, "") if network.starts_with_input else (None, "the network's input (it has no input layer)")
    if found["kind"]:
        kind = _KINDS[found["kind"]]
        of_kind = [i for i, layer_kind in enumerate(network.kinds) if layer_kind == kind]
        k = int(found["k"])
        return (of_kind[k], "") if k < len(of_kind) else (None, f"the network has {len(of_kind)} {kind} layers")
    group = int(found["group"])
    for index in range(len(network.layers)):
        if network.group_of(index) == group:
            return index, ""
    return None, f"no layer with neurons was read from layer/{group}"


def _layer_array(file: Path, network: Network, layer: int) -> np.ndarray:
    """``file``'s array as int64 [n_l, T] in Lava's flat order (module doc's layouts)."""
    try:
        array = np.load(file, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise ReferenceError(f"{file}: not a .npy array numpy can read: {err}", file) from None
    shape = network.layers[layer].lava_shape
    size = int(np.prod(shape))
    chw = tuple(reversed(shape)) if len(shape) == 3 else (size, 1, 1)
    where = f"layer {layer} ({network.kinds[layer]}, Lava shape {shape})"
    if array.ndim < 2 or int(np.prod(array.shape[:-1])) != size:
        raise ReferenceError(f"{file}: shape {array.shape} does not fit {where}", file)
    if array.ndim == 5 and array.shape[0] == 1 and array.shape[1:4] == chw and chw != tuple(shape):
        array = array[0].transpose(2, 1, 0, 3)
    elif array.ndim == 4 and array.shape[:3] == chw and chw != tuple(shape):
        array = array.transpose(2, 1, 0, 3)
    elif not (array.ndim == 2 or array.shape[:-1] == tuple(shape) or
              (array.ndim == 5 and array.shape[0] == 1 and array.shape[1:4] == chw)):
        raise ReferenceError(f"{file}: shape {array.shape} is neither Lava's {(*shape, 'T')} nor SLAYER's "
                             f"{(1, *chw, 'T')} for {where}", file)
    return np.ascontiguousarray(_integers(array, str(file), file).reshape(size, array.shape[-1]))


def _integers(array: np.ndarray, where: str, path: Path) -> np.ndarray:
    """``array`` as int64, checked first: numbers that are whole and within int32 (Lava's
    messages and inputs are int32); ``ReferenceError`` naming ``where`` otherwise."""
    if not (np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.bool_)):
        raise ReferenceError(f"{where}: holds {array.dtype} values, not numbers", path)
    if not np.issubdtype(array.dtype, np.integer) and not np.issubdtype(array.dtype, np.bool_):
        if not np.all(np.isfinite(array)) or not np.array_equal(array, np.round(array)):
            raise ReferenceError(f"{where}: holds values that are not integers (messages are)", path)
    if array.size and (array.min() < np.iinfo(np.int32).min or array.max() > np.iinfo(np.int32).max):
        raise ReferenceError(f"{where}: holds values beyond int32, which no message or input is", path)
    return array.astype(np.int64)
