"""Read a NIR graph into NetX layers, quantized to Loihi's fixed point (``neurodeploy import``).

The graph must be one chain from its ``Input`` to its ``Output`` of layers
``[Flatten] (Linear | Affine | Conv2d) (CubaLIF | LIF)``; each becomes a NetX
``dense`` or ``conv`` layer of CUBA neurons. Anything else (a loop, a branch,
a neuron without a weight node before it, another node type) is refused in
one line naming the node.

Equations (NIR, forward Euler with the graph's step dt, current first; see
docs/nir.md), with k_syn = dt / tau_syn and k_mem = dt / tau_mem::

    CubaLIF: I[t] = (1 - k_syn) I[t-1] + k_syn w_in (W s[t] + c)
             v[t] = (1 - k_mem) v[t-1] + k_mem (v_leak + r I[t])
    LIF:     v[t] = (1 - k_mem) v[t-1] + k_mem (v_leak + r (W s[t] + c))

(c: an Affine or Conv2d bias). With u = k_mem r I this is Loihi's CUBA
neuron (``netx.neurons.cuba``)::

    u[t] = (1 - di) u[t-1] + W' s[t]      di = k_syn (CubaLIF), 1 (LIF)
    v[t] = (1 - dv) v[t-1] + u[t] + b     dv = k_mem

with W' = g W row by row, g = k_syn w_in k_mem r (CubaLIF) or k_mem r (LIF),
and b = k_mem v_leak + g c / di. A constant current c reaches the voltage
through the synaptic filter, which Loihi's bias (added to the voltage) cannot
express: with di = 1 (a LIF) g c is exact; with di < 1, g c / di is the
voltage bias the current settles to, and the first ~1 / di steps after a reset
differ (``ImportedLayer.notes`` says so). Spikes do not change when a neuron's voltage is
scaled, so each row is divided by its threshold; then the layer's scale S =
vThMant (an integer, the largest that keeps every weight within 8 bits, at most
2^17 - 1) gives weights ``2 round(S W' / (2 theta))`` (even, in [-254, 254], as
SLAYER's quantizer makes them), bias mantissas ``round(S b / theta)``,
``iDecay = round(4096 di)`` and ``vDecay = round(4096 dv)``.

Not carried over: v_reset other than 0 (Loihi resets to 0), decays, thresholds
or gains that differ within a layer where NetX has one value (per layer for
decays, per output channel for a conv), dt / tau > 1. Each is refused naming
the node.

Every parameter is checked a real, finite number of the right size before it
is used (``nir_params``), and every derived quantity finite before it is
rounded, so that nothing out of range becomes an integer silently; the
conversion's arithmetic raises no NumPy warning.
"""
from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import h5py
import nir
import numpy as np
from nir.serialization import hdf2dict

from neurodeploy.export.nir_params import NirImportError, check_stored, finite, integers, numbers
from neurodeploy.fileio import atomic_path
from neurodeploy.limits import Limits
from neurodeploy.loihi.arithmetic import DECAY_UNITY, STATE_LIMIT, VTH_SHIFT
from neurodeploy.loihi.geometry import conv_output_size
from neurodeploy.loihi.weights import WEIGHT_MAX
from neurodeploy.netx import ConvLayer, CubaNeuron, DenseLayer, Network, NetxError, read_netx, write_netx
from neurodeploy.netx.probe import probe_hdf5

VTH_MAX = (STATE_LIMIT >> VTH_SHIFT) - 1  # vThMant << 6 must stay below the 24-bit state limit
BIAS_LIMIT = 1 << 15                       # Lava wraps bias mantissas to 16 bits
WEIGHT_NODES = (nir.Linear, nir.Affine, nir.Conv2d)
NEURON_NODES = (nir.CubaLIF, nir.LIF)
NIR_TYPES = frozenset(name for name in nir.ir.__all__ if name != "NIRNode" and isinstance(getattr(nir.ir, name), type)
                      and issubclass(getattr(nir.ir, name), nir.NIRNode))  # the node types nir's reader builds
__all__ = ["ImportedLayer", "NirImport", "NirImportError", "graph_dt", "graph_to_layers", "read_graph", "read_nir"]


@dataclass(frozen=True)
class ImportedLayer:
    """One NetX layer made from NIR nodes: ``layer`` (the record written; its vThMant is the
    scale S, NetX integers per threshold), ``nodes`` (the names of its weight and neuron
    nodes), ``notes`` (what was approximated, one line each)."""

    layer: DenseLayer | ConvLayer
    nodes: tuple[str, str]
    notes: tuple[str, ...] = ()


def _nir_says(err: Exception) -> str:
    """What nir raised, in one line (its bare ``assert``s have no message)."""
    return " ".join(f"{type(err).__name__}: {err}".split()).rstrip(": ")


def read_graph(path: Path, limits: Limits | None = None) -> nir.NIRGraph:
    """The graph at ``path`` as ``nir.read`` makes it (type-checked), its failures as one
    line naming the file, and the node (and parameter) where nir cannot build one; read
    first in a forked child (``probe_hdf5``, with ``limits``), so that a file that crashes
    libhdf5 or would not fit in memory is one line too."""
    path = Path(path)
    probe_hdf5(path, limits)
    try:
        with h5py.File(path, "r") as handle:
            tree = hdf2dict(handle["node"])
    except Exception as err:  # h5py and nir raise KeyError, OSError, TypeError... for a file that is not NIR
        raise NirImportError(f"{path}: not a NIR graph nir {nir.__version__} reads ({_nir_says(err)})") from err
    nodes = tree.get("nodes") if isinstance(tree, dict) and tree.get("type") == "NIRGraph" else None
    if not isinstance(nodes, dict) or not isinstance(tree.get("metadata", {}), dict):
        raise NirImportError(f"{path}: not a NIR graph nir {nir.__version__} reads (its 'node' is not a NIRGraph "
                             "with a group 'nodes' and, if any, a group 'metadata')")
    for name, node in nodes.items():
        kind = node.get("type") if isinstance(node, dict) else None
        if kind not in NIR_TYPES:
            raise NirImportError(f"{path}: node '{name}' has type {kind!r}, which nir {nir.__version__} does not know")
        check_stored(node, f"{path}: node '{name}' ({kind})")
        try:
            nir.dict2NIRNode(dict(node))  # a copy: from_dict edits the dict it is given
        except Exception as err:
            raise NirImportError(f"{path}: node '{name}' ({kind}): nir {nir.__version__} cannot build it "
                                 f"({_nir_says(err)})") from err
    try:
        return nir.dict2NIRNode({**tree, "type_check": True})
    except Exception as err:
        raise NirImportError(f"{path}: the graph's nodes do not fit together (nir {nir.__version__}: "
                             f"{_nir_says(err)})") from err


def graph_dt(graph: nir.NIRGraph, dt: float | None, source: str) -> float:
    """The step to discretise ``graph`` with: ``dt`` when given, else the graph's
    ``metadata['dt']`` (neurodeploy's graphs state it; snnTorch's and many others do not)."""
    where = f"{source}: --dt"
    if dt is None:
        dt = (graph.metadata or {}).get("dt")
        where = f"{source}: the graph's metadata 'dt'"
        if dt is None:
            raise NirImportError(f"{source}: the graph states no dt (metadata 'dt'); give the time step "
                                 "it was trained with (--dt)")
    values = np.asarray(dt)
    if values.dtype.kind == "c":
        raise NirImportError(f"{where} is complex ({values.dtype}); a time step is a real number of seconds")
    if values.dtype.kind not in "iuf":
        raise NirImportError(f"{where} is {'text' if values.dtype.kind in 'SUO' else values.dtype} ({repr(dt)[:40]}), not a "
                             "number; give the time step in seconds (--dt)")
    if values.size != 1:
        raise NirImportError(f"{where} holds {values.size} values; one time step in seconds is needed (--dt)")
    value = float(values.reshape(-1)[0])
    if not 0 < value < np.inf:
        raise NirImportError(f"{where} must be a positive number of seconds, got {value}")
    return value


def chain(graph: nir.NIRGraph, source: str) -> list[str]:
    """The node names from the graph's single ``Input`` to its ``Output``, refusing
    branches, merges and loops (naming the node)."""
    inputs = [name for name, node in graph.nodes.items() if isinstance(node, nir.Input)]
    if len(inputs) != 1:
        raise NirImportError(f"{source}: the graph has {len(inputs)} Input nodes; one chain from one Input "
                             "is imported")
    successors: dict[str, list[str]] = {name: [] for name in graph.nodes}
    predecessors: dict[str, list[str]] = {name: [] for name in graph.nodes}
    for pre, post in graph.edges:
        for name in (pre, post):
            if name not in graph.nodes:
                raise NirImportError(f"{source}: an edge names node '{name}', which the graph does not have")
        successors[pre].append(post)
        predecessors[post].append(pre)
    names = [inputs[0]]
    while not isinstance(graph.nodes[names[-1]], nir.Output):
        name = names[-1]
        following = successors[name]
        if len(following) != 1:
            raise NirImportError(f"{source}: node '{name}' leads to {len(following)} nodes "
                                 f"({', '.join(following) or 'none'}); one chain is imported (no branches, loops "
                                 "or recurrent connections)")
        if following[0] in names or len(predecessors[following[0]]) != 1:
            raise NirImportError(f"{source}: node '{following[0]}' has {len(predecessors[following[0]])} inputs "
                                 "(a loop or a merge); one chain is imported (no recurrent connections)")
        names.append(following[0])
    if len(names) != len(graph.nodes):
        rest = sorted(set(graph.nodes) - set(names))
        raise NirImportError(f"{source}: node(s) {', '.join(rest)} are not on the chain from the Input to the Output")
    return names


def _per_neuron(node: Any, key: str, size: int, where: str) -> np.ndarray:
    """Parameter ``key`` of ``node`` as float64 [size] (a scalar broadcast), checked real,
    finite numbers (``nir_params.numbers``)."""
    value = numbers(getattr(node, key), key, where).reshape(-1)
    if value.size not in (1, size):
        raise NirImportError(f"{where}: {key} has {value.size} values for {size} neurons")
    return np.broadcast_to(value, (size,))


def _one_value(values: np.ndarray, what: str, where: str, groups: int = 1) -> np.ndarray:
    """``values`` [size] as one value per group of size / groups consecutive neurons
    (per layer: groups = 1; per conv channel: groups = C); refused when a group differs."""
    grouped = values.reshape(groups, -1)
    if not np.allclose(grouped, grouped[:, :1], rtol=1e-6, atol=0):
        per = "layer" if groups == 1 else "output channel"
        raise NirImportError(f"{where}: {what} differs between neurons of one {per}; NetX holds one per {per}")
    return grouped[:, 0]


def _rate(node: Any, key: str, size: int, dt: float, where: str) -> np.ndarray:
    """dt / tau [size] of the time constant ``key``: refused unless tau > 0 and dt <= tau
    (forward Euler), checked before dividing."""
    tau = _per_neuron(node, key, size, where)
    shortest = float(tau.min())
    if not shortest > 0:
        raise NirImportError(f"{where}: {key} must be positive (a time constant in seconds), got {shortest:g}")
    if shortest < dt:
        raise NirImportError(f"{where}: dt / {key} = {dt / shortest:.6g} (dt {dt:g} s, {key} {shortest:g} s); "
                             f"forward Euler needs 0 < dt / {key} <= 1 (is dt the step the graph was made for?)")
    return dt / tau


def _decay(fraction: float) -> int:
    """A decay fraction dt / tau (in (0, 1], ``_rate``) as NetX's 0..4096 integer."""
    return int(round(fraction * DECAY_UNITY))


def _neuron_terms(node: Any, size: int, dt: float, where: str) -> tuple[np.ndarray, np.ndarray, float, float, np.ndarray]:
    """(gain g [size], voltage bias b [size], di, dv, threshold [size]) of a CubaLIF or LIF
    node; ``where`` names the node. g and b are checked finite."""
    reset = _per_neuron(node, "v_reset", size, where)
    if np.any(reset != 0):
        raise NirImportError(f"{where}: v_reset is not 0; Loihi resets the voltage to 0")
    threshold = _per_neuron(node, "v_threshold", size, where)
    if np.any(threshold <= 0):
        raise NirImportError(f"{where}: v_threshold must be positive (Loihi's vThMant is)")
    r = _per_neuron(node, "r", size, where)
    v_leak = _per_neuron(node, "v_leak", size, where)
    if isinstance(node, nir.CubaLIF):
        k_syn = _rate(node, "tau_syn", size, dt, where)
        k_mem = _rate(node, "tau_mem", size, dt, where)
        gain = k_syn * _per_neuron(node, "w_in", size, where) * k_mem * r
        gain_terms = "w_in r dt^2 / (tau_syn tau_mem)"
    else:
        k_syn = np.ones(size)
        k_mem = _rate(node, "tau", size, dt, where)
        gain = k_mem * r
        gain_terms = "r dt / tau"
    di = float(_one_value(k_syn, "tau_syn", where)[0])
    dv = float(_one_value(k_mem, "tau_mem" if isinstance(node, nir.CubaLIF) else "tau", where)[0])
    return (finite(gain, gain_terms, where), finite(k_mem * v_leak, "v_leak dt / tau_mem", where), di, dv,
            threshold)


def _quantize(weight: np.ndarray, bias: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray, int]:
    """(even integer weights, bias mantissas, vThMant) of threshold-normalised ``weight``
    [out, ...] and ``bias`` [out or size] (threshold 1), both finite; every limit is
    checked in float before a cast to int64 (which would make NaN INT64_MIN)."""
    largest = float(np.abs(weight).max())
    if largest == 0:
        raise NirImportError(f"{where}: every weight is 0 (netx cannot load an all-zero weight matrix)")
    scale = VTH_MAX if largest * VTH_MAX <= WEIGHT_MAX else int(WEIGHT_MAX / largest)
    if scale < 1:
        raise NirImportError(f"{where}: a weight is {largest:.4g} times the threshold; Loihi's 8-bit weights "
                             f"reach at most {WEIGHT_MAX} times vThMant >= 1")
    w_int = 2 * np.rint(weight * scale / 2).astype(np.int64)
    if not np.any(w_int):
        raise NirImportError(f"{where}: every weight rounds to 0 (the largest is {largest:.4g} times the threshold, "
                             f"below 1 / {VTH_MAX}, the finest step at the largest vThMant)")
    scaled = bias * scale
    if not np.all(np.abs(scaled) < BIAS_LIMIT - 0.5):
        raise NirImportError(f"{where}: a voltage bias (v_leak dt / tau_mem, plus the weight node's bias) of "
                             f"{float(np.abs(bias).max()):.4g} thresholds needs a mantissa beyond Loihi's 16 bits at "
                             f"vThMant {scale}")
    return w_int, np.rint(scaled).astype(np.int64), scale


def _layer(synapse_name: str, synapse: Any, neuron_name: str, neuron: Any, shape: tuple[int, ...], flatten: bool,
           dt: float, source: str) -> tuple[ImportedLayer, tuple[int, ...]]:
    """The NetX layer of a weight node and the neuron node after it; returns it and its
    NIR output shape. ``shape``: the NIR shape the weight node receives. A parameter's
    failure names its node; a failure of what both make, the two nodes."""
    where = f"{source}: node '{synapse_name}' -> '{neuron_name}'"
    at_synapse = f"{source}: node '{synapse_name}'"
    weight = numbers(synapse.weight, "weight", at_synapse)
    conv = isinstance(synapse, nir.Conv2d)
    if conv:
        if isinstance(synapse.padding, str):
            raise NirImportError(f"{at_synapse}: padding '{synapse.padding}' is not imported; give it as numbers")
        (groups,) = integers(synapse.groups, "groups", at_synapse, 1, 1)
        if len(shape) != 3 or weight.ndim != 4 or weight.shape[1] * groups != shape[0] or weight.shape[0] % groups:
            raise NirImportError(f"{at_synapse}: Conv2d weight {weight.shape} (groups {groups}) does not take "
                                 f"the (C, H, W) input {shape}")
        stride = integers(synapse.stride, "stride", at_synapse, 1, 2)
        padding = integers(synapse.padding, "padding", at_synapse, 0, 2)
        dilation = integers(synapse.dilation, "dilation", at_synapse, 1, 2)
        out_shape = (weight.shape[0],) + tuple(conv_output_size(
            shape[1 + axis], weight.shape[2 + axis], stride[axis], padding[axis], dilation[axis]) for axis in (0, 1))
        if min(out_shape) < 1:
            raise NirImportError(f"{at_synapse}: its {weight.shape[2]} x {weight.shape[3]} kernel (dilation "
                                 f"{dilation}) does not fit the {shape[1]} x {shape[2]} input with padding {padding}")
    else:
        if weight.ndim != 2 or weight.shape[1] != int(np.prod(shape)):
            raise NirImportError(f"{at_synapse}: weight {weight.shape} does not take the {int(np.prod(shape))} inputs "
                                 f"of shape {shape} (is a Flatten missing?)")
        out_shape = (weight.shape[0],)
    size = int(np.prod(out_shape))
    gain, bias, di, dv, threshold = _neuron_terms(neuron, size, dt, f"{source}: node '{neuron_name}'")
    channels = out_shape[0] if conv else size
    current_bias = np.zeros(1) if getattr(synapse, "bias", None) is None else numbers(
        synapse.bias, "bias", at_synapse).reshape(-1)
    if current_bias.size not in (1, channels):
        raise NirImportError(f"{at_synapse}: bias has {current_bias.size} values for {channels} "
                             f"{'output channels' if conv else 'rows of the weight'}")
    # per weight row (a dense neuron, a conv output channel): what one unit of W adds to v, in thresholds
    row_gain = _one_value(finite(gain / threshold, "w_in r / (tau_syn tau_mem v_threshold)", where),
                          "w_in r / (tau_syn tau_mem v_threshold)", where, channels)
    row_bias = _one_value(finite(bias / threshold, "v_leak / (tau_mem v_threshold)", where),
                          "v_leak / (tau_mem v_threshold)", where, channels)
    notes: tuple[str, ...] = ()
    if np.any(current_bias != 0):
        # exact when di = 1; otherwise the current's steady state, reached after ~1 / di steps
        row_bias = finite(row_bias + row_gain * current_bias / di, "the bias in thresholds", where)
        if di != 1:
            notes = (f"node '{synapse_name}': its bias feeds the synaptic current, which Loihi cannot; it is "
                     f"carried as the voltage bias it settles to (current bias / {di:.4g}), so the first "
                     f"~{1 / di:.0f} steps after a reset differ",)
    normalised = finite(weight * row_gain.reshape((-1,) + (1,) * (weight.ndim - 1)), "a weight in thresholds", where)
    w_int, b_int, scale = _quantize(normalised, row_bias, where)
    cuba = CubaNeuron(v_th_mant=scale, i_decay=_decay(di), v_decay=_decay(dv))
    bias_arg = b_int if np.any(b_int) else None
    try:
        if conv:
            layer: DenseLayer | ConvLayer = ConvLayer(w_int, cuba, shape=out_shape, stride=stride, padding=padding,
                                                      dilation=dilation, groups=groups, bias=bias_arg)
        else:
            layer = DenseLayer(w_int, cuba, bias=bias_arg, flatten_input=flatten or len(shape) > 1)
    except NetxError as err:  # the records' own checks, which name no file
        raise NirImportError(f"{where}: {err}") from err
    return ImportedLayer(layer, (synapse_name, neuron_name), notes), out_shape


def graph_to_layers(graph: nir.NIRGraph, dt: float, source: str) -> tuple[list[ImportedLayer], tuple[int, ...]]:
    """The NetX layers of ``graph`` discretised with step ``dt``, and the NIR input shape."""
    names = chain(graph, source)
    input_node = graph.nodes[names[0]]
    shape = integers(next(iter(input_node.input_type.values())), "shape", f"{source}: node '{names[0]}'", 1)
    input_shape = shape
    layers: list[ImportedLayer] = []
    flatten = False
    pending: str | None = None
    for name in names[1:-1]:
        node = graph.nodes[name]
        if isinstance(node, nir.Flatten):
            if pending is not None or flatten:
                raise NirImportError(f"{source}: node '{name}' (Flatten) must come right before a Linear or Affine")
            flatten, shape = True, (int(np.prod(shape)),)
        elif isinstance(node, WEIGHT_NODES):
            if pending is not None:
                raise NirImportError(f"{source}: node '{name}' follows weight node '{pending}' with no neuron between")
            if flatten and isinstance(node, nir.Conv2d):
                raise NirImportError(f"{source}: node '{name}' (Conv2d) follows a Flatten")
            pending = name
        elif isinstance(node, NEURON_NODES):
            if pending is None:
                raise NirImportError(f"{source}: node '{name}' ({type(node).__name__}) has no Linear, Affine or "
                                     "Conv2d before it; each imported layer is a weight node then a neuron node")
            with np.errstate(all="ignore"):  # every result that matters is checked finite instead
                imported, shape = _layer(pending, graph.nodes[pending], name, node, shape, flatten, dt, source)
            layers.append(imported)
            flatten, pending = False, None
        else:
            raise NirImportError(f"{source}: node '{name}' is a NIR {type(node).__name__}, which is not imported "
                                 "(imported: Linear, Affine, Conv2d, Flatten, CubaLIF, LIF)")
    if pending is not None or flatten:
        raise NirImportError(f"{source}: the graph ends in '{names[-2]}' without a neuron node after it")
    if not layers:
        raise NirImportError(f"{source}: the graph has no layer (weight node then neuron node)")
    return layers, input_shape


@dataclass(frozen=True)
class NirImport:
    """A NIR graph read and converted, not yet written: ``graph``, ``dt`` (seconds),
    ``layers`` (``ImportedLayer``, in order), ``input_shape`` (NIR's, (C, H, W) or (n,))
    and ``source`` (the graph's file, for messages)."""

    graph: nir.NIRGraph
    dt: float
    layers: tuple[ImportedLayer, ...]
    input_shape: tuple[int, ...]
    source: str

    @contextlib.contextmanager
    def written(self, out: Path) -> Iterator[Network]:
        """Write the layers as NetX to a temporary file beside ``out``, read it back with
        ``read_netx``'s checks and yield the network (with its (C, H, W) input shape for a
        conv layer 0, and ``path`` = ``out``). The file replaces ``out`` when the block ends
        without an exception; otherwise ``out`` keeps its bytes and the temporary file
        is removed. A network that does not read back is a ``NirImportError`` naming
        ``out`` and the graph."""
        out = Path(out)
        conv_input = self.input_shape if isinstance(self.layers[0].layer, ConvLayer) else None
        with atomic_path(out) as tmp:
            write_netx(tmp, [imported.layer for imported in self.layers])
            try:
                network = read_netx(tmp, input_shape=conv_input)
            except NetxError as err:
                reason = str(err).replace(str(tmp), str(out))
                raise NirImportError(f"{out}: not written: the NetX network made from {self.source} does not read "
                                     f"back ({reason})") from err
            yield dataclasses.replace(network, path=out)


def read_nir(path: Path, dt: float | None = None, limits: Limits | None = None) -> NirImport:
    """Read the NIR graph at ``path`` (its datasets checked against ``limits`` first) and
    convert it with step ``dt`` (default: the graph's metadata ``dt``); ``NirImportError``
    naming the file and node for what cannot be converted. Nothing is written."""
    graph = read_graph(path, limits)
    dt = graph_dt(graph, dt, str(path))
    layers, input_shape = graph_to_layers(graph, dt, str(path))
    return NirImport(graph, dt, tuple(layers), input_shape, str(path))
