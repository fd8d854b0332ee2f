"""The NetX HDF5 format, defined once: typed layer records, a writer, a reader.

A NetX file holds groups ``layer/0``, ``layer/1``, ... in order, each with a
``type``:

- ``input``: ``shape`` (NetX order: [C, H, W] or [n]) and a ``neuron`` group.
  netx drives it through its neurons' bias (``bias_mant``) or their ``a_in``
  port; its ``weight`` and ``bias`` keys, if present, are not used by netx.
- ``dense``: ``weight`` [out, in], optional ``bias`` [out], optional ``delay``
  (axonal delay in steps: a scalar, [out], [in] or [out, in]), ``neuron``.
  A dense layer that follows a ``flatten`` reads its input flattened in
  (C, H, W) order.
- ``conv``: ``shape`` [C, H, W] of its output, ``weight`` [out, in/groups,
  kH, kW] (as lava-dl 0.6 writes it; a trailing singleton axis is read
  too), ``stride``, ``padding``, ``dilation`` (each 2 values in (H, W)
  order, or a scalar), ``groups``, optional ``bias`` [out], ``neuron``.
  Nothing stores the input shape of a conv layer 0: netx needs it as
  ``input_shape`` (Lava order), this reader infers it or takes it
  (``conv_input_shape``).
- ``flatten``: ``shape`` [n, 1, 1] (n = C*H*W, as lava-dl writes it; netx
  reads only the type); it is folded into the next dense layer.

A ``neuron`` group holds ``type`` (``CUBA``; ``LOIHI`` reads the same),
``iDecay``, ``vDecay``, ``vThMant``, ``refDelay`` and optionally
``gradedSpike``. These are the keys lava-dl's ``export_hdf5`` writes and
``lava.lib.dl.netx.hdf5.Network`` loads.

Units (Loihi fixed point): weights are integers (SLAYER float weight x 64)
in [-256, 254]; ``vThMant = int(threshold x 64)``; decays are
``round(decay x 4096)`` with 4096 meaning full decay; biases are mantissas
that netx shifts left by 6.

Shapes in Lava are the NetX shapes reversed: [C, H, W] becomes (W, H, C) =
(x, y, channel). Every array of neuron values in this project is flattened
in that Lava order (``lava_shape``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

import h5py
import numpy as np

from neurodeploy.fileio import PathError, atomic_path, check_input

WEIGHT_MIN = -256
WEIGHT_MAX = 254
DECAY_MAX = 4096
MAX_DELAY = 62
INT_LIMIT = 2**31 - 1  # no integer key of a NetX file may exceed it (Lava holds them in int32)
NEURON_KEYS = ("type", "iDecay", "vDecay", "vThMant", "refDelay")
SUPPORTED_TYPES = ("input", "dense", "conv", "flatten")


class NetxError(ValueError):
    """A NetX file or record that cannot be used; names the file, layer and key."""


@dataclass(frozen=True)
class CubaNeuron:
    """Loihi CUBA neuron parameters as stored in NetX.

    Dynamics per step, all integers (Lava ``fixed_pt``, see
    ``simulate.fixed_point``)::

        u[t] = trunc0(u[t-1] * (4096 - i_decay) / 4096) + (a_in[t] << 6)
        v[t] = trunc0(v[t-1] * (4096 - v_decay) / 4096) + u[t] + (bias << 6)
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
        if self.graded_spike:
            raise NetxError("neuron gradedSpike = True: graded spikes are not supported")


# netx's neuron for a dense layer without a neuron group: a non-leaky
# integrator with threshold 1 << 17 (``hdf5.Network.create_dense``).
DEFAULT_DENSE_NEURON = CubaNeuron(v_th_mant=1 << 17, i_decay=0, v_decay=DECAY_MAX)


def chw_to_lava(x: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Neurons of a (C, H, W) layer from (C, H, W) order to Lava's (W, H, C) order.

    x: [N, C*H*W, ...] with neuron ``c*H*W + h*W + w`` on axis 1 (a row-major
    image, SLAYER's [N, C, H, W, ...] flattened). shape: (C, H, W), NetX
    order. Returns a new array [N, W*H*C, ...] with that neuron at
    ``w*H*C + h*C + c``, the order golden and Lava arrays use; the inverse
    of ``x[:, whc_to_chw((W, H, C))]``.
    """
    channels, height, width = shape
    if x.ndim < 2 or x.shape[1] != channels * height * width:
        raise ValueError(f"array of shape {x.shape} does not hold {channels}x{height}x{width} neurons on axis 1")
    rest = tuple(range(4, x.ndim + 2))
    return np.ascontiguousarray(
        x.reshape(x.shape[0], channels, height, width, *x.shape[2:]).transpose(0, 3, 2, 1, *rest)
    ).reshape(x.shape)


def whc_to_chw(lava_shape: tuple[int, int, int]) -> np.ndarray:
    """Index map for a (W, H, C) layer: ``x_chw = x_whc[..., perm]``.

    x_whc is flattened in Lava's order, x_chw in (C, H, W) order, the order
    in which a dense layer after ``flatten`` reads it.
    """
    width, height, channels = lava_shape
    return np.arange(width * height * channels).reshape(width, height, channels).transpose(2, 1, 0).reshape(-1)


def _check_weight(weight: np.ndarray, ndim: int) -> None:
    if weight.ndim != ndim or min(weight.shape) == 0:
        raise NetxError(f"key 'weight' must be a non-empty {ndim}-D array, got shape {weight.shape}")
    if not np.issubdtype(weight.dtype, np.integer):
        raise NetxError(f"key 'weight' must be integers, got dtype {weight.dtype}")
    if weight.min() < WEIGHT_MIN or weight.max() > WEIGHT_MAX:
        raise NetxError(
            f"key 'weight' range [{weight.min()}, {weight.max()}] is outside "
            f"[{WEIGHT_MIN}, {WEIGHT_MAX}]"
        )


@dataclass(frozen=True)
class InputLayer:
    """Neurons driven by their bias or by spikes on ``a_in``; no synapse.

    shape: NetX order, [C, H, W] or [n].
    """

    shape: tuple[int, ...]
    neuron: CubaNeuron

    @property
    def lava_shape(self) -> tuple[int, ...]:
        """The shape of this layer's neurons in Lava: (W, H, C) or (n,)."""
        return tuple(reversed(self.shape))


@dataclass(frozen=True)
class DenseLayer:
    """A fully connected layer of CUBA neurons.

    weight: int [out, in], Loihi weight integers; a pruned synapse is a zero.
    bias: int [out] bias mantissas, or None. delay: int [out, in] axonal
    delays in steps (0 = the next step, as without delays), or None.
    flatten_input: the input is a (W, H, C) layer read in (C, H, W) order.
    """

    weight: np.ndarray
    neuron: CubaNeuron
    bias: np.ndarray | None = None
    delay: np.ndarray | None = None
    flatten_input: bool = False

    def __post_init__(self) -> None:
        _check_weight(self.weight, 2)
        if self.bias is not None and self.bias.shape != (self.weight.shape[0],):
            raise NetxError(f"key 'bias' has shape {self.bias.shape}, expected ({self.weight.shape[0]},)")
        if self.delay is not None:
            if self.delay.shape != self.weight.shape:
                raise NetxError(f"key 'delay' has shape {self.delay.shape}, expected {self.weight.shape}")
            if self.delay.min() < 0 or self.delay.max() > MAX_DELAY:
                raise NetxError(
                    f"key 'delay' range [{self.delay.min()}, {self.delay.max()}] is outside [0, {MAX_DELAY}]"
                )

    @property
    def shape(self) -> tuple[int, int]:
        """(out, in)."""
        return self.weight.shape

    @property
    def lava_shape(self) -> tuple[int]:
        """(out,)."""
        return (self.weight.shape[0],)


@dataclass(frozen=True)
class ConvLayer:
    """A 2-D convolution of CUBA neurons (PyTorch conv2d semantics).

    weight: int [out, in/groups, kH, kW]. shape: output [C, H, W] (NetX order).
    stride, padding, dilation: (H, W) pairs. bias: int [out] per output
    channel, or None.
    """

    weight: np.ndarray
    neuron: CubaNeuron
    shape: tuple[int, int, int]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    bias: np.ndarray | None = None

    def __post_init__(self) -> None:
        _check_weight(self.weight, 4)
        if self.weight.shape[0] != self.shape[0]:
            raise NetxError(f"key 'weight' has {self.weight.shape[0]} output channels, 'shape' says {self.shape[0]}")
        if self.groups < 1 or self.shape[0] % self.groups:
            raise NetxError(f"key 'groups' = {self.groups} does not divide {self.shape[0]} output channels")
        if min(self.stride) < 1 or min(self.dilation) < 1 or min(self.padding) < 0:
            raise NetxError(f"stride {self.stride}, padding {self.padding} or dilation {self.dilation} out of range")
        if self.bias is not None and self.bias.shape != (self.shape[0],):
            raise NetxError(f"key 'bias' has shape {self.bias.shape}, expected ({self.shape[0]},)")

    @property
    def lava_shape(self) -> tuple[int, int, int]:
        """(W, H, C)."""
        return tuple(reversed(self.shape))

    def output_hw(self, input_hw: tuple[int, int]) -> tuple[int, int]:
        """Output (H, W) for an input (H, W): floor((H + 2p - d(k-1) - 1) / s) + 1."""
        kernel = self.weight.shape[2:]
        return tuple(
            (size + 2 * p - d * (k - 1) - 1) // s + 1
            for size, p, d, k, s in zip(input_hw, self.padding, self.dilation, kernel, self.stride)
        )


Layer = Union[InputLayer, DenseLayer, ConvLayer]


def _check_conv_input(layer: ConvLayer, shape: tuple[int, int, int]) -> None:
    """Raise ``NetxError`` unless ``layer`` maps an input of NetX ``shape`` (C, H, W) to its own."""
    channels, height, width = shape
    expected = layer.weight.shape[1] * layer.groups
    if channels != expected:
        raise NetxError(f"key 'weight' expects {expected} input channels, its input has {channels}")
    if layer.output_hw((height, width)) != tuple(layer.shape[1:]):
        raise NetxError(
            f"key 'shape' {list(layer.shape)} differs from the convolution's output "
            f"{list(layer.output_hw((height, width)))} for input {list(shape)}"
        )


def conv_input_shape(layer: ConvLayer, given: tuple[int, int, int] | None = None) -> tuple[int, int, int]:
    """NetX shape (C, H, W) of what feeds ``layer``, a network's first layer.

    NetX files do not store it. ``given`` is checked against the layer; when
    None, it is inferred where unambiguous: with stride 1 in both axes,
    ``H_in = H_out - 2 p + d (k - 1)`` (likewise W). A larger stride maps
    several input sizes to one output size, so ``given`` is then required.
    """
    if given is None:
        if layer.stride != (1, 1):
            raise NetxError(
                f"conv layer with stride {list(layer.stride)}: its input shape cannot be inferred "
                "(several input sizes give the same output); give the input shape [C, H, W] "
                "(read_netx(..., input_shape=), --input-shape C,H,W)"
            )
        kernel = layer.weight.shape[2:]
        height, width = (
            size - 2 * p + d * (k - 1)
            for size, p, d, k in zip(layer.shape[1:], layer.padding, layer.dilation, kernel)
        )
        if min(height, width) < 1:
            raise NetxError(f"no input gives conv output {list(layer.shape)} with padding {list(layer.padding)}")
        given = (layer.weight.shape[1] * layer.groups, height, width)
    given = tuple(int(s) for s in given)
    if len(given) != 3 or min(given) < 1:
        raise NetxError(f"input shape {list(given)} must be [C, H, W], three positive integers")
    _check_conv_input(layer, given)
    return given


@dataclass(frozen=True)
class Network:
    """A NetX network: its layers in order and the file it came from.

    groups: how many ``layer/i`` groups of the file the layers were read
    from (flatten groups included), the ``num_layers`` netx needs to build
    the same network. conv_input: NetX shape (C, H, W) of what feeds a conv
    layer 0 (None otherwise); the file does not store it, netx needs it
    (``hdf5.Network(input_shape=)`` in Lava order). When None for a conv
    layer 0 it is inferred if unambiguous (``conv_input_shape``), else
    ``NetxError``. group_indices: the ``layer/i`` group each layer was read
    from (the index error messages and warnings name; empty when the layers
    were not read from a file).
    """

    layers: tuple[Layer, ...]
    path: Path | None = field(default=None, compare=False)
    groups: int = field(default=0, compare=False)
    conv_input: tuple[int, int, int] | None = None
    group_indices: tuple[int, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if not self.layers:
            raise NetxError(f"{self.path or 'network'}: a network needs at least one layer")
        if not isinstance(self.layers[0], ConvLayer):
            if self.conv_input is not None:
                raise NetxError(f"{self.path or 'network'}: conv_input is only for a network whose layer 0 is conv")
            return
        try:
            shape = conv_input_shape(self.layers[0], self.conv_input)
        except NetxError as err:
            raise NetxError(f"{self.path or 'network'}: layer/0: {err}") from err
        object.__setattr__(self, "conv_input", shape)

    @property
    def starts_with_input(self) -> bool:
        """Whether layer 0 is an input layer (driven through a_in or its bias)."""
        return isinstance(self.layers[0], InputLayer)

    @property
    def starts_with_conv(self) -> bool:
        """Whether layer 0 is a conv layer (netx then needs ``input_shape``)."""
        return isinstance(self.layers[0], ConvLayer)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Lava shape of what feeds layer 0 through ``a_in``: an input layer's own
        (W, H, C), a conv layer's input (W, H, C), a dense layer's (in,)."""
        first = self.layers[0]
        if isinstance(first, DenseLayer):
            return (first.weight.shape[1],)
        if isinstance(first, ConvLayer):
            return tuple(reversed(self.conv_input))
        return first.lava_shape

    def to_lava_order(self, x: np.ndarray) -> np.ndarray:
        """Input spikes [N, n_in, S] from the trained model's order to layer 0's Lava order.

        An image input (a conv or input layer 0) goes from (C, H, W) order to
        (W, H, C) (``chw_to_lava``); a dense layer 0 reads its input as it
        is, so ``x`` comes back unchanged.
        """
        shape = self.input_shape
        return chw_to_lava(x, tuple(reversed(shape))) if len(shape) == 3 else x

    @property
    def kinds(self) -> list[str]:
        """The NetX type of every layer: input, dense or conv."""
        return [_KIND[type(layer)] for layer in self.layers]

    @property
    def sizes(self) -> list[int]:
        """The number of neurons of every layer."""
        return [int(np.prod(layer.lava_shape)) for layer in self.layers]


_KIND = {InputLayer: "input", DenseLayer: "dense", ConvLayer: "conv"}


def write_netx(path: str | Path, layers: list[Layer] | tuple[Layer, ...]) -> None:
    """Write ``layers`` as a NetX HDF5 file, atomically.

    A dense layer with ``flatten_input`` is preceded by a ``flatten`` group.
    """
    if not layers:
        raise NetxError(f"{path}: no layers to write")
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as handle:
        group = handle.create_group("layer")
        index = 0
        for layer in layers:
            if isinstance(layer, DenseLayer) and layer.flatten_input:
                flatten = group.create_group(str(index))
                flatten.create_dataset("type", (1,), "S10", [b"flatten"])
                flatten.create_dataset("shape", data=np.array([layer.weight.shape[1], 1, 1]))
                index += 1
            _WRITERS[type(layer)](group.create_group(str(index)), layer)
            index += 1


def _write_neuron(handle: h5py.Group, neuron: CubaNeuron) -> None:
    handle.create_dataset("neuron/type", data="CUBA")
    handle.create_dataset("neuron/iDecay", data=neuron.i_decay)
    handle.create_dataset("neuron/vDecay", data=neuron.v_decay)
    handle.create_dataset("neuron/vThMant", data=neuron.v_th_mant)
    handle.create_dataset("neuron/refDelay", data=neuron.ref_delay)
    handle.create_dataset("neuron/gradedSpike", data=neuron.graded_spike)


def _write_input(handle: h5py.Group, layer: InputLayer) -> None:
    handle.create_dataset("type", (1,), "S10", [b"input"])
    handle.create_dataset("shape", data=np.array(layer.shape))
    _write_neuron(handle, layer.neuron)


def _write_dense(handle: h5py.Group, layer: DenseLayer) -> None:
    out_features, in_features = layer.shape
    handle.create_dataset("type", (1,), "S10", [b"dense"])
    handle.create_dataset("shape", data=np.array([out_features]))
    handle.create_dataset("inFeatures", data=in_features)
    handle.create_dataset("outFeatures", data=out_features)
    handle.create_dataset("weight", data=layer.weight.astype(np.int16))
    if layer.bias is not None:
        handle.create_dataset("bias", data=layer.bias.astype(np.int32))
    if layer.delay is not None:
        handle.create_dataset("delay", data=layer.delay.astype(np.int32))
    _write_neuron(handle, layer.neuron)


def _write_conv(handle: h5py.Group, layer: ConvLayer) -> None:
    handle.create_dataset("type", (1,), "S10", [b"conv"])
    handle.create_dataset("shape", data=np.array(layer.shape))
    handle.create_dataset("inChannels", data=layer.weight.shape[1] * layer.groups)
    handle.create_dataset("outChannels", data=layer.weight.shape[0])
    handle.create_dataset("kernelSize", data=np.array(layer.weight.shape[2:]))
    handle.create_dataset("weight", data=layer.weight.astype(np.int16))
    for key in ("stride", "padding", "dilation"):
        handle.create_dataset(key, data=np.array(getattr(layer, key)))
    handle.create_dataset("groups", data=layer.groups)
    if layer.bias is not None:
        handle.create_dataset("bias", data=layer.bias.astype(np.int32))
    _write_neuron(handle, layer.neuron)


_WRITERS = {InputLayer: _write_input, DenseLayer: _write_dense, ConvLayer: _write_conv}


def read_netx(
    path: str | Path, num_layers: int | None = None, input_shape: tuple[int, int, int] | None = None,
    warnings: list[str] | None = None,
) -> Network:
    """Read a NetX file into records.

    num_layers: read only the first ``num_layers`` groups of the file (as
    ``netx.hdf5.Network(num_layers=...)`` does), for files that end in a
    layer type this reader does not handle. input_shape: NetX shape
    (C, H, W) of the network's input. The file does not store it for a conv
    layer 0; it is then inferred when the layer's stride is 1 and required
    otherwise (``conv_input_shape``). For an input layer 0 it must equal the
    layer's shape, for a dense layer 0 hold its input count (which reads it
    flat, as given).

    Raises ``NetxError`` naming the file, the layer and the key for anything
    missing, malformed or unsupported: a file that is not HDF5 or is
    truncated or damaged, a missing group or key, a group where a dataset
    belongs (or the reverse), text where numbers belong, NaN, infinite,
    fractional or huge (beyond +-2^31) values, wrong shapes, an unknown layer
    or neuron type, weights outside [WEIGHT_MIN, WEIGHT_MAX] (netx would clip
    them) and an all-zero dense weight matrix (netx cannot load it: it takes
    log2 of infinity). Neurons whose weight row is all zero are legitimate
    (pruning makes them) and not an error: ``zero_row_warnings`` lists them.

    warnings: when a list, read tolerantly (for ``inspect``): weights outside
    [WEIGHT_MIN, WEIGHT_MAX] are clipped into it, as netx clips them, instead
    of raising, and a line saying so is appended; so is one for an input
    layer's ``weight`` or ``bias`` keys, which netx ignores. An all-zero
    dense weight matrix is then read too (the caller reports it).
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
            return _read_layers(path, handle, num_layers, input_shape, warnings)
    except _HDF5_ERRORS as err:
        # damage below the keys the layer readers name (the group structure itself)
        raise NetxError(f"{path}: damaged HDF5 file ({type(err).__name__}: {err})") from err


# What h5py raises for a file that opens but is damaged inside (bad object
# headers, heaps or links); NetxError is a ValueError and passes through.
_HDF5_ERRORS = (OSError, RuntimeError, KeyError)


def _read_layers(
    path: Path, handle: h5py.File, num_layers: int | None, input_shape: tuple[int, int, int] | None,
    warnings: list[str] | None,
) -> Network:
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
    layers: list[Layer] = []
    indices: list[int] = []
    flatten_next = False
    previous_shape: tuple[int, ...] | None = None
    for index, name in enumerate(names):
        try:
            if not isinstance(group[name], h5py.Group):
                raise NetxError("must be a group, found a dataset")
            reader = _LayerReader(path, index, group[name], warnings)
            kind = reader.kind()
            if kind == "flatten":
                flatten_next = True
                continue
            layer = reader.read(kind, flatten_next, previous_shape)
            if not layers:
                _check_first_input(layer, input_shape)
            if kind == "input" and layers:
                raise NetxError("an input layer must be the first layer")
        except NetxError as err:
            raise NetxError(f"{path}: layer/{index}: {err}") from err
        except _HDF5_ERRORS as err:
            raise NetxError(f"{path}: layer/{index}: damaged HDF5 data ({type(err).__name__}: {err})") from err
        flatten_next = False
        previous_shape = layer.lava_shape
        layers.append(layer)
        indices.append(index)
    if not layers:
        raise NetxError(f"{path}: no neuron layers among the first {len(names)} groups")
    conv_input = tuple(input_shape) if input_shape is not None and isinstance(layers[0], ConvLayer) else None
    return Network(tuple(layers), path, len(names), conv_input, tuple(indices))


def zero_row_warnings(network: Network) -> list[str]:
    """One line per layer with neurons whose weights are all zero (a dense row, a conv
    output channel's kernel): they get no synaptic input, only their bias. Pruning
    makes such neurons on purpose, so this is a warning, never an error.
    Names the file and the ``layer/i`` group."""
    lines = []
    for index, layer in zip(network.group_indices or range(len(network.layers)), network.layers):
        if isinstance(layer, InputLayer) or (isinstance(layer, DenseLayer) and not np.any(layer.weight)):
            continue  # an all-zero dense matrix is read_netx's error (or inspect's warning)
        empty = ~np.any(layer.weight.reshape(layer.weight.shape[0], -1), axis=1)
        if empty.any():
            what = "neurons" if isinstance(layer, DenseLayer) else "output channels"
            lines.append(f"{network.path}: layer/{index}: {int(empty.sum())} of {empty.size} {what} have an "
                         "all-zero weight row: they get no synaptic input (pruning can do this)")
    return lines


def _check_first_input(layer: Layer, shape: tuple[int, int, int] | None) -> None:
    """Check the input shape (C, H, W) given for layer 0 (or, for a conv layer 0
    without one, that it can be inferred)."""
    if isinstance(layer, ConvLayer):
        conv_input_shape(layer, shape)
    elif shape is None:
        return
    elif isinstance(layer, InputLayer) and tuple(shape) != tuple(layer.shape):
        raise NetxError(f"input shape {list(shape)} differs from the input layer's key 'shape' {list(layer.shape)}")
    elif isinstance(layer, DenseLayer) and int(np.prod(shape)) != layer.weight.shape[1]:
        raise NetxError(f"input shape {list(shape)} does not hold the {layer.weight.shape[1]} inputs of key 'weight'")


class _LayerReader:
    """Reads one ``layer/i`` group; error messages name the key."""

    def __init__(self, path: Path, index: int, handle: h5py.Group, warnings: list[str] | None = None) -> None:
        self.path, self.index, self.handle, self.warnings = path, index, handle, warnings

    def warn(self, message: str) -> None:
        self.warnings.append(f"{self.path}: layer/{self.index}: {message}")

    def weight(self) -> np.ndarray:
        """Key 'weight'; when reading tolerantly, clipped into the NetX range (with a warning)."""
        weight = self.integers("weight")
        outside = int(np.count_nonzero((weight < WEIGHT_MIN) | (weight > WEIGHT_MAX)))
        if self.warnings is None or not outside:
            return weight
        self.warn(f"{outside} weight(s) outside [{WEIGHT_MIN}, {WEIGHT_MAX}] (range [{weight.min()}, "
                  f"{weight.max()}]): netx clips them; read as clipped")
        return np.clip(weight, WEIGHT_MIN, WEIGHT_MAX)

    def has(self, key: str) -> bool:
        """Whether ``key`` (a path below this layer, e.g. ``neuron/vThMant``) exists;
        a path through a dataset (``neuron`` stored as a dataset) does not."""
        parent, _, leaf = key.rpartition("/")
        if parent and not self.has(parent):
            return False
        try:
            node = self.handle[parent] if parent else self.handle
            if not isinstance(node, h5py.Group):
                raise NetxError(f"key '{parent}' must be a group, found a dataset")
            return leaf in node
        except _HDF5_ERRORS as err:
            raise NetxError(f"key '{key}' cannot be read, the file is damaged ({err})") from err

    def raw(self, key: str) -> np.ndarray:
        if not self.has(key):
            raise NetxError(f"missing key '{key}'")
        try:
            node = self.handle[key]
            value = np.asarray(node[()]) if isinstance(node, h5py.Dataset) else None
        except _HDF5_ERRORS as err:
            raise NetxError(f"key '{key}' cannot be read, the file is damaged ({err})") from err
        if value is None:
            raise NetxError(f"key '{key}' must be a dataset, found a group")
        return value

    def text(self, key: str) -> str:
        value = self.raw(key).reshape(-1)
        if value.size != 1:
            raise NetxError(f"key '{key}' must hold one string, got shape {self.raw(key).shape}")
        value = value[0]
        return value.decode(errors="replace") if isinstance(value, bytes) else str(value)

    def integers(self, key: str) -> np.ndarray:
        """Key ``key`` as int64; NetxError unless every value is a finite integer within +-2^31."""
        value = self.raw(key)
        if not np.issubdtype(value.dtype, np.number) or np.issubdtype(value.dtype, np.complexfloating):
            raise NetxError(f"key '{key}' must be numeric, got dtype {value.dtype}")
        finite = np.isfinite(value)
        if not finite.all():
            bad = value[~finite].reshape(-1)[0]
            raise NetxError(f"key '{key}' holds {int((~finite).sum())} NaN or infinite value(s) (e.g. {bad})")
        huge = np.abs(value.astype(np.float64)) > INT_LIMIT
        if huge.any():
            raise NetxError(f"key '{key}' holds {int(huge.sum())} value(s) beyond +-2^31 "
                            f"(e.g. {value[huge].reshape(-1)[0]})")
        fractional = value != np.round(value)
        if fractional.any():
            raise NetxError(f"key '{key}' holds {int(fractional.sum())} non-integer value(s) "
                            f"(e.g. {value[fractional].reshape(-1)[0]}); NetX stores integers")
        return value.astype(np.int64)

    def integer(self, key: str) -> int:
        value = self.integers(key)
        if value.size != 1:
            raise NetxError(f"key '{key}' must be a single number, got shape {value.shape}")
        return int(value.reshape(-1)[0])

    def flag(self, key: str) -> bool:
        """A boolean key (stored as bool or as 0/1)."""
        value = self.raw(key)
        if value.dtype != np.bool_:
            return bool(self.integer(key))
        if value.size != 1:
            raise NetxError(f"key '{key}' must be a single boolean, got shape {value.shape}")
        return bool(value.reshape(-1)[0])

    def positive_shape(self, key: str, lengths: tuple[int, ...]) -> tuple[int, ...]:
        """Key ``key`` as a shape: ``lengths`` says how many values it may hold, each at least 1."""
        shape = tuple(int(s) for s in self.integers(key).reshape(-1))
        if len(shape) not in lengths or min(shape) < 1:
            allowed = " or ".join(str(n) for n in lengths)
            raise NetxError(f"key '{key}' must hold {allowed} positive integers, got {list(shape)}")
        return shape

    def pair(self, key: str, default: int) -> tuple[int, int]:
        if not self.has(key):
            return (default, default)
        value = self.integers(key).reshape(-1)
        if value.size == 1:
            return (int(value[0]), int(value[0]))
        if value.size != 2:
            raise NetxError(f"key '{key}' must hold 1 or 2 numbers, got {value.size}")
        return (int(value[0]), int(value[1]))

    def kind(self) -> str:
        kind = self.text("type")
        if kind not in SUPPORTED_TYPES:
            raise NetxError(
                f"layer type '{kind}' is not supported "
                f"(supported: {', '.join(SUPPORTED_TYPES)}); "
                "--num-layers can stop before it"
            )
        return kind

    def neuron(self) -> CubaNeuron:
        if not self.has("neuron"):
            raise NetxError("missing group 'neuron'")
        if not isinstance(self.handle["neuron"], h5py.Group):
            raise NetxError("key 'neuron' must be a group, found a dataset")
        neuron_type = self.text("neuron/type")
        if neuron_type not in ("CUBA", "LOIHI"):
            raise NetxError(f"key 'neuron/type' is '{neuron_type}'; only CUBA (LOIHI) neurons are supported")
        if self.has("neuron/messageBits") and self.integer("neuron/messageBits") > 0:
            raise NetxError("key 'neuron/messageBits' > 0: graded spikes are not supported")
        graded = self.has("neuron/gradedSpike") and self.flag("neuron/gradedSpike")
        return CubaNeuron(
            v_th_mant=self.integer("neuron/vThMant"),
            i_decay=self.integer("neuron/iDecay"),
            v_decay=self.integer("neuron/vDecay"),
            ref_delay=self.integer("neuron/refDelay"),
            graded_spike=graded,
        )

    def read(self, kind: str, flatten_input: bool, previous: tuple[int, ...] | None) -> Layer:
        if kind == "input":
            ignored = [key for key in ("weight", "bias") if self.has(key)]
            if self.warnings is not None and ignored:
                self.warn(f"input layer has key(s) {', '.join(repr(k) for k in ignored)}, which netx ignores "
                          "(it drives an input layer through its neurons' bias or a_in)")
            return InputLayer(shape=self.positive_shape("shape", (1, 3)), neuron=self.neuron())
        if kind == "dense":
            return self.dense(flatten_input, previous)
        return self.conv(previous)

    def dense(self, flatten_input: bool, previous: tuple[int, ...] | None) -> DenseLayer:
        weight = self.weight()
        if weight.ndim == 1 and self.has("shape"):
            out_features = int(np.prod(self.positive_shape("shape", (1,))))
            if weight.size % out_features:
                raise NetxError(f"key 'weight' holds {weight.size} values, not a multiple of key 'shape' "
                                f"{out_features}")
            weight = weight.reshape(out_features, -1)
        if weight.ndim != 2:
            raise NetxError(f"key 'weight' of a dense layer must be 2-D [out, in], got shape {weight.shape}")
        neuron = self.neuron() if self.has("neuron") else DEFAULT_DENSE_NEURON
        bias = self.integers("bias").reshape(-1) if self.has("bias") else None
        delay = self.delay(weight.shape) if self.has("delay") else None
        layer = DenseLayer(weight=weight, neuron=neuron, bias=bias, delay=delay,
                           flatten_input=flatten_input and previous is not None and len(previous) == 3)
        if previous is not None and int(np.prod(previous)) != weight.shape[1]:
            raise NetxError(f"key 'weight' has {weight.shape[1]} inputs, the layer before has {int(np.prod(previous))} neurons")
        if not np.any(weight) and self.warnings is None:
            raise NetxError(f"key 'weight' {list(weight.shape)} is all zero: netx cannot load an all-zero "
                            "dense weight matrix (it takes log2 of infinity)")
        return layer

    def delay(self, shape: tuple[int, int]) -> np.ndarray:
        """Delays broadcast to [out, in] as netx does: [out] per output neuron, [in] per input."""
        delay = self.integers("delay")
        if delay.size == 1:
            return np.full(shape, int(delay.reshape(-1)[0]), dtype=np.int64)
        if delay.ndim == 1 and delay.size == shape[0]:
            return np.repeat(delay.reshape(-1, 1), shape[1], axis=1)
        if delay.ndim == 1 and delay.size == shape[1]:
            return np.repeat(delay.reshape(1, -1), shape[0], axis=0)
        if delay.shape == shape:
            return delay
        raise NetxError(f"key 'delay' of shape {delay.shape} does not fit weight {shape}")

    def conv(self, previous: tuple[int, ...] | None) -> ConvLayer:
        weight = self.weight()
        if weight.ndim == 5 and weight.shape[4] == 1:
            weight = weight[..., 0]
        if weight.ndim != 4:
            raise NetxError(f"key 'weight' of a conv layer must be 4-D [out, in/groups, kH, kW], "
                            f"got shape {weight.shape}")
        shape = self.positive_shape("shape", (3,))
        layer = ConvLayer(
            weight=weight, neuron=self.neuron(), shape=shape,
            stride=self.pair("stride", 1), padding=self.pair("padding", 0),
            dilation=self.pair("dilation", 1),
            groups=self.integer("groups") if self.has("groups") else 1,
            bias=self.integers("bias").reshape(-1) if self.has("bias") else None,
        )
        if previous is None:
            return layer  # layer 0: its input shape is checked by read_netx
        if len(previous) != 3:
            raise NetxError("a conv layer needs a (C, H, W) layer before it (an input or conv layer)")
        _check_conv_input(layer, tuple(reversed(previous)))
        return layer
