"""Read a NIR graph into NetX layers, quantized to Loihi's fixed point (``neurodeploy import``).

The graph (subgraphs flattened, ``nir_walk``) must be a chain of layers from
its ``Input`` to its ``Output``: each layer a path of linear nodes folded into
one synapse (``nir_synapse``: Linear, Affine, Conv1d, Conv2d, with pools,
scales, flattens and delays around the weight), then a neuron node
(``nir_neurons``: CubaLIF, CubaLI, LIF, LI, IF, I, Threshold; or none at the
end of the graph, a readout of the weighted sum), and at most one loop from
the neuron back to itself through a dense weight (NetX ``dense_rec``). Each
becomes a NetX ``dense``, ``dense_rec`` or ``conv`` layer of CUBA neurons.
Anything else (a branch, a merge, another node type) is refused in one line
naming the node.

Equations (docs/nir.md): each neuron node is Loihi's CUBA neuron::

    u[t] = (1 - di) u[t-1] + W' s[t]
    v[t] = (1 - dv) v[t-1] + u[t] + b

with W' = g W row by row and b = b_node + g c / di (``nir_neurons`` gives di,
dv, g and b_node per node type; c is the weight nodes' bias, feedforward and
recurrent). A constant current c reaches the voltage through the synaptic
filter, which Loihi's bias (added to the voltage) cannot express: with di = 1
(LIF, IF, ...) g c is exact; with di < 1, g c / di is the voltage bias the
current settles to, and the first ~1 / di steps after a reset differ
(``ImportedLayer.notes`` says so). Spikes do not change when a neuron's
voltage is scaled, so each row is divided by its threshold; then the layer's
scale S = vThMant (an integer: here the largest that keeps every weight,
feedforward and recurrent, within 8 bits, at most 2^17 - 1, the finest
rounding of weights and biases relative to the threshold; ``ImportedLayer.at_scale``
requantizes at one of its halvings, ``ImportedLayer.scales``, which
``compare.nir_scale`` chooses among by measuring) gives weights
``2 round(S W' / (2 theta))`` (even, in [-254, 254], as SLAYER's quantizer
makes them), bias mantissas ``round(S b / theta)``, ``iDecay = round(4096
di)`` and ``vDecay = round(4096 dv)``. A readout (no threshold) has theta = 1,
the same S, and vThMant 2^17, netx's own never-reached threshold: its
voltage is S times NIR's, x 64 in Lava.

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
import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import h5py
import nir
import numpy as np
from nir.serialization import hdf2dict

from neurodeploy.export.nir_neurons import NEURONS, neuron_terms, one_value
from neurodeploy.export.nir_params import NirImportError, check_stored, finite, integers
from neurodeploy.export.nir_synapse import PRE_TYPES, WEIGHT_TYPES, fold
from neurodeploy.export.nir_walk import FlatGraph, LayerNodes, flat, layers
from neurodeploy.fileio import atomic_path
from neurodeploy.limits import Limits
from neurodeploy.loihi.arithmetic import DECAY_UNITY, STATE_LIMIT, VTH_SHIFT
from neurodeploy.loihi.weights import WEIGHT_MAX
from neurodeploy.netx import (
    ConvLayer, CubaNeuron, DenseLayer, Network, NetxError, RecurrentDenseLayer, read_netx, write_netx,
)
from neurodeploy.netx.probe import probe_hdf5

VTH_MAX = (STATE_LIMIT >> VTH_SHIFT) - 1  # vThMant << 6 must stay below the 24-bit state limit
READOUT_VTH = 1 << 17                      # vThMant << 6 = 2^23, above the saturated voltage: never reached (netx's own)
BIAS_LIMIT = 1 << 15                       # Lava wraps bias mantissas to 16 bits
HALVINGS = 3  # candidate scales: the largest that fits, then halved up to 3 times (weights keep >= 5 of 8 bits)
IMPORTED = tuple(sorted(cls.__name__ for cls in (*NEURONS, *WEIGHT_TYPES, *PRE_TYPES)))
NIR_TYPES = frozenset(name for name in nir.ir.__all__ if name != "NIRNode" and isinstance(getattr(nir.ir, name), type)
                      and issubclass(getattr(nir.ir, name), nir.NIRNode))  # the node types nir's reader builds
__all__ = ["ImportedLayer", "NirImport", "NirImportError", "graph_dt", "graph_to_layers", "read_graph", "read_nir"]


@dataclass(frozen=True)
class ImportedLayer:
    """One NetX layer made from NIR nodes: ``layer`` (the record written), ``nodes`` (its
    ``LayerNodes``), ``scale`` S (NetX integers per threshold, or per NIR voltage unit for
    a readout: a spiking layer's vThMant), ``spiking`` (False: a readout, whose voltage is
    read and whose threshold is never reached), ``notes`` (what was approximated, one line
    each). To quantize it again at another scale (``at_scale``): ``weights`` (float, in
    thresholds: the feedforward one, then any recurrent [out, out]), ``bias`` (float, in
    thresholds, per weight row), ``largest`` (the largest S that keeps every weight within
    8 bits) and ``where`` (its nodes, for messages)."""

    layer: DenseLayer | ConvLayer
    nodes: LayerNodes
    scale: int
    spiking: bool = True
    notes: tuple[str, ...] = ()
    weights: tuple[np.ndarray, ...] = field(default=(), repr=False, compare=False)
    bias: np.ndarray | None = field(default=None, repr=False, compare=False)
    largest: int = 0
    where: str = ""

    @property
    def name(self) -> str:
        """The node its output is read from: its neuron node, or its last synapse node."""
        return self.nodes.neuron if self.nodes.neuron is not None else self.nodes.synapse[-1]

    @property
    def scales(self) -> tuple[int, ...]:
        """The scales worth trying, largest first: ``largest`` halved 0 .. ``HALVINGS`` times
        (floored, distinct), those at which some weight stays nonzero. Each halving gives the
        24-bit current and voltage one more bit of headroom (a layer of many inputs at the
        largest scale can saturate them) and costs every weight and bias one bit of
        resolution; after 3 the largest weight is about 31 of 254, 5 bits."""
        largest = float(max(np.abs(weight).max() for weight in self.weights))
        candidates = dict.fromkeys(self.largest >> k for k in range(HALVINGS + 1))
        return tuple(scale for scale in candidates if scale >= 1 and largest * scale > 1)  # 2 rint(x / 2) != 0

    def at_scale(self, scale: int) -> "ImportedLayer":
        """This layer quantized at ``scale`` (weights ``2 round(S w / 2)``, bias mantissas
        ``round(S b)``, a spiking layer's vThMant S); ``scale`` at most ``largest``."""
        if not 1 <= scale <= self.largest:
            raise ValueError(f"{self.where}: scale {scale} is outside 1 .. {self.largest}")
        w_ints, b_int = _quantize(list(self.weights), self.bias, self.spiking, scale, self.where)
        changes: dict = {"weight": w_ints[0], "bias": b_int if np.any(b_int) else None}
        if self.spiking:
            changes["neuron"] = dataclasses.replace(self.layer.neuron, v_th_mant=scale)
        if len(w_ints) > 1:
            changes["weight_rec"] = w_ints[1]
        try:
            layer = dataclasses.replace(self.layer, **changes)
        except NetxError as err:
            raise NirImportError(f"{self.where}: {err}") from err
        return dataclasses.replace(self, layer=layer, scale=scale)


def _nir_says(err: Exception) -> str:
    """What nir raised, in one line (its bare ``assert``s have no message)."""
    return " ".join(f"{type(err).__name__}: {err}".split()).rstrip(": ")


def _check_nodes(nodes: dict, prefix: str, path: Path) -> None:
    """Every stored node (and every node of a subgraph, named ``sub.node``) of a known
    type, its parameters checked (``check_stored``) and buildable by nir."""
    for name, node in nodes.items():
        kind = node.get("type") if isinstance(node, dict) else None
        if kind not in NIR_TYPES:
            raise NirImportError(f"{path}: node '{prefix}{name}' has type {kind!r}, which nir {nir.__version__} "
                                 "does not know")
        if kind == "NIRGraph" and isinstance(node.get("nodes"), dict):
            _check_nodes(node["nodes"], f"{prefix}{name}.", path)
        check_stored(node, f"{path}: node '{prefix}{name}' ({kind})")
        try:
            nir.dict2NIRNode(copy.deepcopy(node))  # a copy: from_dict edits the dicts it is given
        except Exception as err:
            raise NirImportError(f"{path}: node '{prefix}{name}' ({kind}): nir {nir.__version__} cannot build it "
                                 f"({_nir_says(err)})") from err


def read_graph(path: Path, limits: Limits | None = None, notes: list[str] | None = None) -> nir.NIRGraph:
    """The graph at ``path`` as ``nir.read`` makes it (type-checked), its failures as one
    line naming the file, and the node (and parameter) where nir cannot build one; read
    first in a forked child (``probe_hdf5``, with ``limits``), so that a file that crashes
    libhdf5 or would not fit in memory is one line too. A (sub)graph whose edges name one
    node it does not have while exactly one of its nodes is on no edge (the NIR paper's
    published Braille subgraph: edges name ``lif``, the node is ``lif1``) is read with that
    node for the name, and ``notes`` gets a line saying so."""
    path = Path(path)
    probe_hdf5(path, limits)
    try:
        with h5py.File(path, "r") as handle:
            tree = hdf2dict(handle["node"])
    except Exception as err:  # h5py and nir raise KeyError, OSError, TypeError... for a file that is not NIR
        raise NirImportError(f"{path}: not a NIR graph nir {nir.__version__} reads ({_nir_says(err)})") from err
    if isinstance(tree, dict):  # only a graph nir would refuse (an edge naming no node) is renamed
        renamed: list[str] = []
        tree = _renamed_edges(tree, "", renamed)
        (notes if notes is not None else []).extend(f"{path}: {line}" for line in renamed)
    nodes = tree.get("nodes") if isinstance(tree, dict) and tree.get("type") == "NIRGraph" else None
    if not isinstance(nodes, dict) or not isinstance(tree.get("metadata", {}), dict):
        raise NirImportError(f"{path}: not a NIR graph nir {nir.__version__} reads (its 'node' is not a NIRGraph "
                             "with a group 'nodes' and, if any, a group 'metadata')")
    _check_nodes(nodes, "", path)
    try:
        return nir.dict2NIRNode({**copy.deepcopy(tree), "type_check": True})  # from_dict edits what it is given
    except Exception as err:
        try:  # Rockpool writes its Input and Output with extra unit dimensions ([1, n], [1, 1, n])
            return nir.dict2NIRNode({**copy.deepcopy(tree), "nodes": _squeezed_ends(copy.deepcopy(nodes)), "type_check": True})
        except Exception:
            pass
        if _grouped(nodes):  # nir 1.0.8 takes a conv's input channels from its weight, ignoring groups
            return nir.dict2NIRNode({**tree, "type_check": False})  # our walk checks every shape instead
        raise NirImportError(f"{path}: the graph's nodes do not fit together (nir {nir.__version__}: "
                             f"{_nir_says(err)})") from err


def _renamed_edges(tree: dict, where: str, renamed: list[str]) -> dict:
    """``tree`` (a stored graph, edited in place) with each (sub)graph's edges renamed where
    they name exactly one node it does not have and exactly one of its nodes is on no
    edge; one line per renaming into ``renamed``."""
    nodes = tree.get("nodes")
    if not isinstance(nodes, dict):
        return tree
    for name, node in nodes.items():
        if isinstance(node, dict) and isinstance(node.get("nodes"), dict):
            _renamed_edges(node, f"{where}{name}.", renamed)
    edges = tree.get("edges")
    if edges is None:
        return tree
    edges = np.asarray(edges)
    text = [[str(end, "utf-8") if isinstance(end, bytes) else str(end) for end in edge] for edge in edges]
    named = {end for edge in text for end in edge}
    missing, unnamed = named - set(nodes), set(nodes) - named
    if len(missing) == 1 and len(unnamed) == 1:
        (old,), (new,) = missing, unnamed
        tree["edges"] = np.array([[new if end == old else end for end in edge] for edge in text])
        renamed.append(f"the edges of {where.rstrip('.') or 'the graph'} name '{old}', which it does not have; its "
                       f"one node on no edge, '{new}', was taken for it")
    return tree


def _grouped(nodes: dict) -> bool:
    """Whether a stored conv (in a subgraph too) has groups > 1."""
    return any(_grouped(node["nodes"]) if isinstance(node.get("nodes"), dict)
               else node.get("type") in ("Conv1d", "Conv2d") and np.any(np.asarray(node.get("groups", 1)) > 1)
               for node in nodes.values())


def _squeezed_ends(nodes: dict) -> dict:
    """The stored ``nodes`` with their Input and Output shapes rid of unit dimensions."""
    squeezed = {}
    for name, node in nodes.items():
        if node.get("type") in ("Input", "Output") and node.get("shape") is not None:
            shape = np.asarray(node["shape"]).reshape(-1)
            node = {**node, "shape": shape[shape != 1] if np.any(shape != 1) else shape[-1:]}
        squeezed[name] = node
    return squeezed


def graph_dt(graph: nir.NIRGraph, dt: float | None, source: str) -> float | None:
    """The step to discretise ``graph`` with: ``dt`` when given, else the graph's
    ``metadata['dt']`` (neurodeploy's graphs state it; snnTorch's and many others do not),
    else None (a node with a time constant or a delay then asks for --dt)."""
    where = f"{source}: --dt"
    if dt is None:
        dt = (graph.metadata or {}).get("dt")
        where = f"{source}: the graph's metadata 'dt'"
        if dt is None:
            return None
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


def _largest_scale(weights: list[np.ndarray], where: str) -> int:
    """The largest integer S that keeps every one of the threshold-normalised ``weights``
    (finite) within 8 bits (|S w| <= 254), at most ``VTH_MAX``."""
    largest = max(float(np.abs(weight).max()) for weight in weights)
    if largest == 0:
        raise NirImportError(f"{where}: every weight is 0 (netx cannot load an all-zero weight matrix)")
    scale = VTH_MAX if largest * VTH_MAX <= WEIGHT_MAX else int(WEIGHT_MAX / largest)
    if scale < 1:
        raise NirImportError(f"{where}: a weight is {largest:.4g} times the threshold; Loihi's 8-bit weights "
                             f"reach at most {WEIGHT_MAX} times vThMant >= 1")
    return scale


def _quantize(weights: list[np.ndarray], bias: np.ndarray, spiking: bool, scale: int,
              where: str) -> tuple[list[np.ndarray], np.ndarray]:
    """(even integer weights, bias mantissas) of threshold-normalised ``weights`` (the
    feedforward [out, ...] and any recurrent [out, out], sharing their neurons) and
    ``bias`` [out or size], all finite, at ``scale`` S (at most ``_largest_scale``; for a
    spiking layer S is vThMant). Every limit is checked in float before a cast to int64
    (which would make NaN INT64_MIN)."""
    integers_ = [2 * np.rint(weight * scale / 2).astype(np.int64) for weight in weights]
    if not any(np.any(weight) for weight in integers_):
        largest = max(float(np.abs(weight).max()) for weight in weights)
        raise NirImportError(f"{where}: every weight rounds to 0 at scale {scale} (the largest is {largest:.4g} "
                             f"times the threshold; the finest step at the largest vThMant is 1 / {VTH_MAX})")
    scaled = bias * scale
    if not np.all(np.abs(scaled) < BIAS_LIMIT - 0.5):
        unit = "thresholds" if spiking else "units"
        raise NirImportError(f"{where}: a voltage bias (v_leak dt / tau_mem, plus the weight node's bias) of "
                             f"{float(np.abs(bias).max()):.4g} {unit} needs a mantissa beyond Loihi's 16 bits at "
                             f"scale {scale}")
    return integers_, np.rint(scaled).astype(np.int64)


def _layer(nodes: LayerNodes, graph: FlatGraph, shape: tuple[int, ...], dt: float | None,
           source: str) -> tuple[ImportedLayer, tuple[int, ...]]:
    """The NetX layer of one ``LayerNodes`` and its NIR output shape. ``shape``: the NIR
    shape its synapse receives. A parameter's failure names its node; a failure of what
    several make, the nodes."""
    neuron = graph.nodes[nodes.neuron] if nodes.neuron is not None else None
    if not any(isinstance(graph.nodes[name], WEIGHT_TYPES) for name in nodes.synapse) and neuron is not None:
        why = (" (a Threshold on a neuron's voltage would make that neuron spike, but NIR's neurons before it do not "
               "reset when it fires, while a Loihi neuron resets at its spike)" if isinstance(neuron, nir.Threshold)
               else "")
        raise NirImportError(f"{source}: node '{nodes.neuron}' ({type(neuron).__name__}) has no Linear, Affine, "
                             f"Conv1d or Conv2d before it: each NetX layer is a synapse into neurons{why}")
    synapse = fold(nodes.synapse, graph.nodes, shape, dt, source)
    names = (*nodes.synapse, *([nodes.neuron] if nodes.neuron else []))
    where = f"{source}: node {' -> '.join(repr(name) for name in names)}"
    conv = synapse.conv is not None
    size = int(np.prod(synapse.out_shape))
    terms = neuron_terms(neuron, size, dt, f"{source}: node '{nodes.neuron}'")
    spiking = terms.threshold is not None
    threshold = terms.threshold if spiking else np.ones(size)
    channels = synapse.rows
    recurrent = None
    current = synapse.bias
    if nodes.recurrent:
        if conv:
            raise NirImportError(f"{where}: a conv layer fed by itself; netx has no recurrent conv layer")
        recurrent = fold(nodes.recurrent, graph.nodes, synapse.out_shape, dt, source)
        if recurrent.conv is not None or recurrent.weight.shape != (size, size):
            raise NirImportError(f"{source}: nodes {', '.join(nodes.recurrent)}: the loop of '{nodes.neuron}' "
                                 f"must be a dense [{size}, {size}] weight (NetX dense_rec)")
        if recurrent.delay is not None:
            raise NirImportError(f"{source}: nodes {', '.join(nodes.recurrent)}: a delay on a recurrent loop; netx "
                                 "gives a dense_rec's loop the feedforward delays and drops its weight exponent")
        current = current + recurrent.bias
    # per weight row (a dense neuron, a conv output channel): what one unit of W adds to v, in thresholds
    what = "the gain per threshold (docs/nir.md)"
    row_gain = one_value(finite(terms.gain / threshold, what, where), what, where, channels)
    row_bias = one_value(finite(terms.bias / threshold, "v_leak dt / (tau v_threshold)", where),
                         "v_leak dt / (tau v_threshold)", where, channels)
    notes: tuple[str, ...] = ()
    if np.any(current != 0):
        # exact when di = 1; otherwise the current's steady state, reached after ~1 / di steps
        row_bias = finite(row_bias + row_gain * current / terms.di, "the bias in thresholds", where)
        if terms.di != 1:
            notes = (f"nodes {', '.join(synapse.nodes + (recurrent.nodes if recurrent else ()))}: a bias that feeds "
                     f"the synaptic current, which Loihi cannot; it is carried as the voltage bias it settles to "
                     f"(current bias / {terms.di:.4g}), so the first ~{1 / terms.di:.0f} steps after a reset differ",)
    rows = (-1,) + (1,) * (synapse.weight.ndim - 1)
    weights = [finite(synapse.weight * row_gain.reshape(rows), "a weight in thresholds", where)]
    if recurrent is not None:
        weights.append(finite(recurrent.weight * row_gain.reshape(-1, 1), "a recurrent weight in thresholds", where))
    scale = _largest_scale(weights, where)
    w_ints, b_int = _quantize(weights, row_bias, spiking, scale, where)
    cuba = CubaNeuron(v_th_mant=scale if spiking else READOUT_VTH, i_decay=_decay(terms.di), v_decay=_decay(terms.dv))
    bias_arg = b_int if np.any(b_int) else None
    try:
        if conv:
            stride, padding, dilation, groups = synapse.conv
            out_shape = synapse.out_shape if len(synapse.out_shape) == 3 else (synapse.out_shape[0], 1, size // channels)
            layer: DenseLayer | ConvLayer = ConvLayer(w_ints[0], cuba, shape=out_shape, stride=stride,
                                                      padding=padding, dilation=dilation, groups=groups, bias=bias_arg)
        elif recurrent is not None:
            layer = RecurrentDenseLayer(w_ints[0], cuba, bias=bias_arg, delay=synapse.delay,
                                        flatten_input=synapse.flatten, weight_rec=w_ints[1])
        else:
            layer = DenseLayer(w_ints[0], cuba, bias=bias_arg, delay=synapse.delay, flatten_input=synapse.flatten)
    except NetxError as err:  # the records' own checks, which name no file
        raise NirImportError(f"{where}: {err}") from err
    return ImportedLayer(layer, nodes, scale, spiking, notes, tuple(weights), row_bias, scale, where), synapse.out_shape


def _decay(fraction: float) -> int:
    """A decay fraction dt / tau (in [0, 1], ``_rate``) as NetX's 0..4096 integer."""
    return int(round(fraction * DECAY_UNITY))


def graph_to_layers(graph: nir.NIRGraph, dt: float | None,
                    source: str) -> tuple[list[ImportedLayer], tuple[int, ...]]:
    """The NetX layers of ``graph`` discretised with step ``dt`` (None: the graph has
    none; a node that needs one is refused naming it), and the NIR input shape."""
    flat_graph = flat(graph, source)
    found = layers(flat_graph, source)
    input_node = flat_graph.nodes[flat_graph.input]
    shape = integers(next(iter(input_node.input_type.values())), "shape", f"{source}: node '{flat_graph.input}'", 1)
    input_shape = shape
    imported: list[ImportedLayer] = []
    for nodes in found:
        for name in (*nodes.synapse, *nodes.recurrent):
            node = flat_graph.nodes[name]
            if not isinstance(node, WEIGHT_TYPES + PRE_TYPES):
                raise NirImportError(f"{source}: node '{name}' is a NIR {type(node).__name__}, which is not "
                                     f"imported (imported: {', '.join(IMPORTED)})")
        with np.errstate(all="ignore"):  # every result that matters is checked finite instead
            layer, shape = _layer(nodes, flat_graph, shape, dt, source)
        imported.append(layer)
    if not imported:
        raise NirImportError(f"{source}: the graph has no layer (weight node then neuron node)")
    return imported, input_shape


@dataclass(frozen=True)
class NirImport:
    """A NIR graph read and converted, not yet written: ``graph``, ``dt`` (seconds),
    ``layers`` (``ImportedLayer``, in order), ``input_shape`` (NIR's, (C, H, W) or (n,)),
    ``source`` (the graph's file, for messages) and ``notes`` (what was read leniently,
    one line each)."""

    graph: nir.NIRGraph
    dt: float
    layers: tuple[ImportedLayer, ...]
    input_shape: tuple[int, ...]
    source: str
    notes: tuple[str, ...] = ()

    @property
    def conv_input(self) -> tuple[int, int, int] | None:
        """NetX's (C, H, W) input of a conv layer 0 (a Conv1d's (C, N) is (C, 1, N)); None
        for a dense layer 0."""
        if not isinstance(self.layers[0].layer, ConvLayer):
            return None
        shape = self.input_shape
        return shape if len(shape) == 3 else (shape[0], 1, shape[-1])  # type: ignore[return-value]

    def network(self, layers: tuple[ImportedLayer, ...] | None = None) -> Network:
        """``layers`` (default: all of this import's) as a NetX network in memory, without
        writing it: the records ``written`` writes and reads back."""
        chosen = self.layers if layers is None else layers
        shape = self.conv_input
        return Network(tuple(imported.layer for imported in chosen),
                       input_shape=None if shape is None else tuple(reversed(shape)))

    @contextlib.contextmanager
    def written(self, out: Path) -> Iterator[Network]:
        """Write the layers as NetX to a temporary file beside ``out``, read it back with
        ``read_netx``'s checks and yield the network (with its (C, H, W) input shape for a
        conv layer 0, and ``path`` = ``out``). The file replaces ``out`` when the block ends
        without an exception; otherwise ``out`` keeps its bytes and the temporary file
        is removed. A network that does not read back is a ``NirImportError`` naming
        ``out`` and the graph."""
        out = Path(out)
        with atomic_path(out) as tmp:
            write_netx(tmp, [imported.layer for imported in self.layers])
            try:
                network = read_netx(tmp, input_shape=self.conv_input)
            except NetxError as err:
                reason = str(err).replace(str(tmp), str(out))
                raise NirImportError(f"{out}: not written: the NetX network made from {self.source} does not read "
                                     f"back ({reason})") from err
            yield dataclasses.replace(network, path=out)


def read_nir(path: Path, dt: float | None = None, limits: Limits | None = None) -> NirImport:
    """Read the NIR graph at ``path`` (its datasets checked against ``limits`` first) and
    convert it with step ``dt`` (default: the graph's metadata ``dt``); ``NirImportError``
    naming the file and node for what cannot be converted. Nothing is written."""
    notes: list[str] = []
    graph = read_graph(path, limits, notes)
    dt = graph_dt(graph, dt, str(path))
    layers, input_shape = graph_to_layers(graph, dt, str(path))
    return NirImport(graph, dt, tuple(layers), input_shape, str(path), tuple(notes))
