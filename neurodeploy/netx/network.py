"""A NetX network: its layers in order, read from and written to HDF5.

A NetX file holds groups ``layer/0``, ``layer/1``, ... in order, each with
a ``type`` (``registry.LAYER_KINDS``); a layer with neurons has a ``neuron``
group whose ``type`` picks the neuron model (``registry.NEURON_MODELS``).
Each kind's module says which keys it reads and writes, and how netx treats
them; docs/netx.md tabulates all of them. Units (Loihi fixed point):
weights are integers (SLAYER float weight x 64) in [-256, 254]; thresholds
and biases are mantissas that Lava shifts left by 6; decays are 12-bit.

Shapes in Lava are the NetX shapes reversed: [C, H, W] becomes (W, H, C).
Every array of neuron values in this project is flattened in that order
(``loihi.order``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from neurodeploy.fileio import PathError, atomic_path, check_input
from neurodeploy.limits import Limits
from neurodeploy.loihi.order import chw_to_lava, lava_shape
from neurodeploy.netx.base import GroupWriter, Layer, ReadContext
from neurodeploy.netx.keys import HDF5_ERRORS, Keys, NetxError
from neurodeploy.netx.registry import layer_kind


@dataclass(frozen=True)
class Network:
    """A NetX network.

    layers: its layers with neurons, in order. input_shape: Lava shape of
    what feeds layer 0 (an input layer's own neurons, a conv layer's input
    image (W, H, C), a dense layer's (n,)). path: the file read (None when
    built in memory). group_count: how many ``layer/i`` groups were read (netx's
    ``num_layers`` for the same network); group_indices: the group of each
    layer (for messages); warnings: what netx does to the file that a user
    should know, one line each.
    """

    layers: tuple[Layer, ...]
    input_shape: tuple[int, ...] | None = None
    path: Path | None = field(default=None, compare=False)
    group_count: int = field(default=0, compare=False)
    group_indices: tuple[int, ...] = field(default=(), compare=False)
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        """A network built in memory without ``input_shape`` gets it from layer 0: an input
        layer's own shape, a dense layer's input count, a conv layer's input inferred
        (stride 1). A given one is checked against a conv layer 0."""
        if not self.layers:
            raise NetxError(f"{self.path or 'network'}: a network needs at least one layer")
        try:
            shape = self.layers[0].network_input(None if self.input_shape is None else tuple(self.input_shape))
        except NetxError as err:
            first = self.group_indices[0] if self.group_indices else 0
            raise NetxError(f"{self.path or 'network'}: layer/{first}: {err}") from err
        object.__setattr__(self, "input_shape", tuple(int(s) for s in shape))

    @property
    def starts_with_input(self) -> bool:
        """Whether layer 0 is an input layer (fed through its neurons, not a synapse)."""
        return not self.layers[0].has_synapse

    @property
    def kinds(self) -> list[str]:
        """The NetX type of every layer."""
        return [layer.netx_type for layer in self.layers]

    @property
    def sizes(self) -> list[int]:
        """The number of neurons of every layer."""
        return [layer.size for layer in self.layers]

    def previous(self, index: int) -> tuple[int, ...]:
        """Lava shape of what feeds layer ``index``."""
        return self.input_shape if index == 0 else self.layers[index - 1].lava_shape

    def graded_into(self, index: int) -> bool:
        """Whether the messages into layer ``index``'s synapse carry values: its previous
        layer's are graded; the network's input is binary (netx's default
        ``input_message_bits = 0``)."""
        return index > 0 and self.layers[index - 1].neuron.message_bits > 0

    def group_of(self, index: int) -> int:
        """The ``layer/i`` group layer ``index`` was read from."""
        return self.group_indices[index] if self.group_indices else index

    def to_lava_order(self, x: np.ndarray) -> np.ndarray:
        """Input [N, n_in, S] from a trained model's (C, H, W) order to layer 0's Lava order
        (unchanged for a flat input)."""
        shape = self.input_shape
        return chw_to_lava(x, lava_shape(shape)) if len(shape) == 3 else x


def read_netx(path: str | Path, num_layers: int | None = None, input_shape: tuple[int, ...] | None = None,
              tolerant: bool = False, limits: Limits | None = None) -> Network:
    """Read a NetX file into records (``Network``).

    num_layers: read only the first ``num_layers`` groups (as netx's
    ``num_layers``), for a file that ends in a type netx cannot load.
    input_shape: NetX shape (C, H, W) of the network's input: needed for a
    conv layer 0 with a stride (otherwise inferred), checked against an
    input layer's shape or a dense layer's input count.

    Raises ``NetxError`` naming the file, the layer and the key for a file
    that is not HDF5 or is damaged, a missing group or key, a wrong dtype,
    NaN, infinite, fractional or huge values, wrong shapes, a layer or
    neuron type netx cannot build, and an all-zero dense weight matrix
    (netx cannot load it). What netx does that a user should know (clipped
    weights or delays, ignored keys) is in ``Network.warnings``.
    tolerant (for ``inspect``): an all-zero dense matrix is read too.
    limits: the memory a layer's arrays may take (default ``Limits()``): a layer
    whose declared shape needs more is a ``LimitError`` before its arrays are made.
    The datasets themselves are bounded by ``probe_hdf5``, which every reader of a
    user's file calls first.
    """
    path = Path(path)
    try:
        check_input(path, "network file")
        handle = h5py.File(path, "r")
    except PathError as err:
        raise NetxError(str(err)) from err
    except OSError as err:
        raise NetxError(f"{path}: not a readable HDF5 file ({err})") from err
    try:
        with handle:
            return _read_layers(path, handle, num_layers, input_shape, tolerant, limits or Limits())
    except HDF5_ERRORS as err:
        # damage below the keys the layer readers name (the group structure itself)
        raise NetxError(f"{path}: damaged HDF5 file ({type(err).__name__}: {err})") from err


def _read_layers(path: Path, handle: h5py.File, num_layers: int | None, input_shape: tuple[int, ...] | None,
                 tolerant: bool, limits: Limits) -> Network:
    if "layer" not in handle:
        raise NetxError(f"{path}: missing group 'layer'")
    group = handle["layer"]
    if not isinstance(group, h5py.Group):
        raise NetxError(f"{path}: 'layer' must be a group, found a dataset")
    names = sorted(group, key=lambda n: int(n) if n.isdigit() else -1)
    if names != [str(i) for i in range(len(names))] or not names:
        raise NetxError(f"{path}: layers must be named 0..N-1, found {list(group)}")
    if num_layers is not None:
        if not 1 <= num_layers <= len(names):
            raise NetxError(f"{path}: num_layers = {num_layers}, but the file has {len(names)} layer groups")
        names = names[:num_layers]
    given = None if input_shape is None else lava_shape(tuple(int(s) for s in input_shape))
    context = ReadContext(path=path, warnings=[], given_shape=given, limits=limits)
    layers: list[Layer] = []
    indices: list[int] = []
    for index, name in enumerate(names):
        try:
            if not isinstance(group[name], h5py.Group):
                raise NetxError("must be a group, found a dataset")
            keys = Keys(path, index, group[name], context.warnings, tolerant)
            layer = layer_kind(keys.text("type")).read(keys, context)
        except NetxError as err:
            raise NetxError(f"{path}: layer/{index}: {err}") from err
        except HDF5_ERRORS as err:
            raise NetxError(f"{path}: layer/{index}: damaged HDF5 data ({type(err).__name__}: {err})") from err
        if layer is None:
            continue
        if not layers:
            first_index = index
        layers.append(layer)
        indices.append(index)
        context.blocks += 1
        context.previous = layer.lava_shape
    if not layers:
        raise NetxError(f"{path}: no layers with neurons among the first {len(names)} groups")
    _check_message_bits(path, group, indices, context.warnings)
    given, found = context.given_shape, context.input_shape
    if given is not None and found is not None and given != found:
        raise NetxError(f"{path}: input shape {list(reversed(given))} differs from the file's input "
                        f"{list(reversed(found))}")
    try:
        shape = layers[0].network_input(found or given)
    except NetxError as err:
        raise NetxError(f"{path}: layer/{first_index}: {err}") from err
    return Network(tuple(layers), tuple(shape), path, len(names), tuple(indices), tuple(context.warnings))


def _check_message_bits(path: Path, group: h5py.Group, indices: list[int], warnings: list[str]) -> None:
    """A ``neuron/messageBits`` key: netx reads it as a wrapper object, not a number, and
    passes it to the next layer's synapse, which Lava then cannot run (``TypeError: '>'
    not supported between instances of 'NetDict' and 'int'``, measured for CUBA and
    SDNN); the neuron itself never reads it. So it is an error before another layer and
    a warning on the last one. Without it CUBA and RF send 0/1 spikes, SDNN 16-bit
    messages."""
    for position, index in enumerate(indices):
        if "messageBits" not in group[str(index)].get("neuron", {}):
            continue
        if position < len(indices) - 1:
            raise NetxError(f"{path}: layer/{index}: key 'neuron/messageBits': netx reads it as an object, not a "
                            f"number, and Lava cannot run the synapse of layer/{indices[position + 1]} with it; "
                            "remove the key (CUBA sends spikes, SDNN 16-bit messages)")
        warnings.append(f"{path}: layer/{index}: key 'neuron/messageBits' is ignored: netx reads it as an object "
                        "that only a following synapse would use, and none follows")


def write_netx(path: str | Path, layers: list[Layer]) -> None:
    """Write ``layers`` as a NetX file, atomically (each kind writes its own groups)."""
    if not layers:
        raise NetxError(f"{path}: no layers to write")
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as handle:
        writer = GroupWriter(handle.create_group("layer"))
        for layer in layers:
            layer.write(writer)


def zero_row_warnings(network: Network) -> list[str]:
    """One line per layer with weight rows that are all zero (a neuron, or a conv output
    channel, that gets no synaptic input, only its bias). Pruning makes them on purpose,
    so this is a warning, never an error. Names the file and the ``layer/i`` group."""
    lines = []
    for index, layer in enumerate(network.layers):
        matrices = [w.reshape(w.shape[0], -1) for w in layer.weights()]
        if not matrices or not any(np.any(w) for w in matrices):
            continue  # an input layer; an all-zero dense matrix is read_netx's error (or inspect's warning)
        empty = ~np.any(np.hstack(matrices), axis=1)
        if empty.any():
            lines.append(f"{network.path}: layer/{network.group_of(index)}: {int(empty.sum())} of {empty.size} "
                         f"{layer.weight_rows} have an all-zero weight row: they get no synaptic input "
                         "(pruning can do this)")
    return lines


def network_warnings(network: Network) -> list[str]:
    """Everything a user of ``network`` should be told, one line each, naming the file and
    the ``layer/i`` group: what netx did to the file's values (``Network.warnings``), what
    each layer notes about how netx runs it, and the all-zero weight rows."""
    notes = [f"{network.path}: layer/{network.group_of(index)}: {note}"
             for index, layer in enumerate(network.layers) for note in layer.notes()]
    return [*network.warnings, *notes, *zero_row_warnings(network)]
