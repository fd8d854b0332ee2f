"""How many cores of a chip a NetX network needs: neurons, synaptic memory, fan-in, fan-out.

Model (each point is an assumption; docs/hardware.md says why):

1. Layers do not share cores (netx builds one Lava process per layer and
   each is placed on cores of its own). An input layer takes cores for its
   neurons only.
2. A layer's neurons are placed on cores in Lava's flat order, greedily: a
   core takes the next neuron unless that would exceed the profile's
   ``neurons_per_core``, ``synaptic_memory_bits_per_core`` or
   ``fan_in_per_core``; then a new core is opened. A neuron that alone
   exceeds a limit gets a core of its own and the layer reports it.
3. Synapses are stored on the core of their postsynaptic neuron, one entry
   per synapse (a conv layer is expanded, no weight sharing), in one of two
   formats chosen per layer, whichever needs fewer bits in total:

   - dense: every synapse of the connectivity (``connectivity.structure``),
     zero weights included, ``weight_bits`` bits each, no index;
   - sparse: only the nonzero weights, ``weight_bits + index_bits`` bits
     each, ``index_bits = ceil(log2(neurons_per_core))``, the index of the
     postsynaptic neuron within its core.

4. ``weight_bits`` of a layer is the mantissa width netx gives its weights
   (``weight_bits``); a layer needing more than the profile's
   ``weight_bits`` is reported.
5. Fan-in of a core: the distinct presynaptic neurons with a stored synapse
   into it (all connected ones for dense storage, nonzero ones for sparse).
   Fan-out of a core: one output axon per (neuron, destination core) pair
   that holds a stored synapse from that neuron; the last layer's spikes go
   to the host and use none. Fan-out is checked after placement, not
   placed around.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse

from neurodeploy.hardware.profile import ChipProfile
from neurodeploy.netx import Network
from neurodeploy.netx.base import Connections, Layer


def weight_bits(weight: np.ndarray) -> int:
    """Bits of the signed mantissa that stores a layer's nonzero integer weights.

    With s the number of trailing zero bits all nonzero weights share (the
    shared exponent) and m = w >> s: mixed signs need two's complement,
    ``max(bitlen(max m), bitlen(-min m - 1)) + 1`` bits; weights of one sign
    store magnitudes, ``bitlen(max |m|)`` bits (netx's
    ``optimize_weight_bits`` sign modes). 0 for an all-zero layer.
    """
    values = np.asarray(weight, dtype=np.int64)
    values = values[values != 0]
    if values.size == 0:
        return 0
    shift = int(min((int(v) & -int(v)).bit_length() - 1 for v in np.unique(np.abs(values))))
    mantissa = values >> shift
    low, high = int(mantissa.min()), int(mantissa.max())
    if low < 0 < high:
        return max(high.bit_length(), (-low - 1).bit_length()) + 1
    return max(abs(low), abs(high)).bit_length()


@dataclass(frozen=True)
class LayerResources:
    """One layer on one chip profile. Bits are synaptic memory; fan-in/out are per core, the largest."""

    index: int
    kind: str
    neurons: int
    synapses: int
    nonzero: int
    weight_bits: int
    dense_bits: int
    sparse_bits: int
    storage: str
    cores: int
    max_fan_in: int
    max_fan_out: int
    problems: tuple[str, ...] = ()

    @property
    def bits(self) -> int:
        """Synaptic memory of the chosen storage format."""
        return self.dense_bits if self.storage == "dense" else self.sparse_bits


@dataclass(frozen=True)
class NetworkResources:
    """A network on one chip profile: per layer, and the totals."""

    profile: str
    layers: tuple[LayerResources, ...]
    cores_per_chip: int
    problems: tuple[str, ...] = field(default=())

    @property
    def cores(self) -> int:
        return sum(layer.cores for layer in self.layers)

    @property
    def chips(self) -> int:
        return math.ceil(self.cores / self.cores_per_chip)

    @property
    def synaptic_bits(self) -> int:
        return sum(layer.bits for layer in self.layers)


def index_bits(profile: ChipProfile) -> int:
    """Bits of a sparse synapse's postsynaptic index: ceil(log2(neurons_per_core))."""
    return max(1, math.ceil(math.log2(profile.value("neurons_per_core"))))


def _place(stored: scipy.sparse.csr_matrix, row_bits: np.ndarray, profile: ChipProfile) -> tuple[np.ndarray, list[str]]:
    """Greedy placement (model point 2): the core of every neuron, int64 [n_out], and any problems."""
    max_neurons = profile.value("neurons_per_core")
    max_bits = profile.value("synaptic_memory_bits_per_core")
    max_fan_in = profile.value("fan_in_per_core")
    core_of = np.empty(stored.shape[0], dtype=np.int64)
    seen = np.zeros(stored.shape[1], dtype=bool)
    members: list[np.ndarray] = []
    core, neurons, bits, fan_in = 0, 0, 0, 0
    problems = []
    for row in range(stored.shape[0]):
        cols = stored.indices[stored.indptr[row]:stored.indptr[row + 1]]
        new = cols[~seen[cols]]
        if neurons and (neurons + 1 > max_neurons or bits + row_bits[row] > max_bits
                        or fan_in + new.size > max_fan_in):
            for previous in members:
                seen[previous] = False
            members, core, neurons, bits, fan_in = [], core + 1, 0, 0, 0
            new = cols
        if row_bits[row] > max_bits or cols.size > max_fan_in:
            problems.append(f"neuron {row} alone needs {row_bits[row]} synapse bits and fan-in {cols.size} "
                            f"(core limits {max_bits} bits, fan-in {max_fan_in})")
        seen[new] = True
        members.append(new)
        core_of[row] = core
        neurons, bits, fan_in = neurons + 1, bits + int(row_bits[row]), fan_in + new.size
    return core_of, problems


def _distinct_per_row(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """int64 [shape[0]]: how many distinct ``cols`` each row has among the (row, col) pairs
    (a CSR matrix sums duplicate pairs into one entry: linear time, where np.unique sorts)."""
    matrix = scipy.sparse.csr_matrix((np.ones(len(rows), dtype=np.int64), (rows, cols)), shape=shape)
    matrix.sum_duplicates()
    return np.diff(matrix.indptr).astype(np.int64)


def _blocks(blocks: list[Connections], bits: int, profile: ChipProfile
            ) -> tuple[list[Connections], scipy.sparse.csr_matrix, np.ndarray, str]:
    """A layer's synapse matrices (``Layer.connections``), stacked side by side as stored
    (model point 3, one format for all of them), the bits of each neuron's row, and the
    format."""
    dense_rows = sum(np.diff(b.structure.indptr) for b in blocks) * bits
    sparse_rows = sum(np.diff(b.weights.indptr) for b in blocks) * (bits + index_bits(profile))
    dense = int(dense_rows.sum()) <= int(sparse_rows.sum())
    stored = scipy.sparse.hstack([b.structure if dense else b.weights for b in blocks], format="csr")
    return blocks, stored, dense_rows if dense else sparse_rows, "dense" if dense else "sparse"


def _message_problems(layer: Layer, profile: ChipProfile) -> list[str]:
    """What the chip cannot carry of the layer's messages."""
    bits = layer.neuron.message_bits
    if not bits:
        return []
    if not profile.has("graded_message_bits"):
        return [f"it sends {bits}-bit graded messages; {profile.name} sends spikes only"]
    if bits > profile.value("graded_message_bits"):
        return [f"it sends {bits}-bit graded messages; {profile.name} carries at most "
                f"{profile.value('graded_message_bits')} bits"]
    return []


def network_connections(network: Network) -> list[list[Connections]]:
    """Every layer's synapse matrices (``Layer.connections``), computed once for several
    profiles."""
    return [layer.connections(network.previous(index)) for index, layer in enumerate(network.layers)]


def estimate_resources(network: Network, profile: ChipProfile,
                       connections: list[list[Connections]] | None = None) -> NetworkResources:
    """Cores, synaptic memory, fan-in and fan-out of ``network`` on ``profile`` (module
    docstring); ``connections``: ``network_connections(network)``, when already computed."""
    connections = network_connections(network) if connections is None else connections
    plans = []  # per layer: (blocks, stored matrix or None, row bits, storage, weight bits)
    for index, layer in enumerate(network.layers):
        if not layer.has_synapse:
            plans.append(([], None, np.zeros(layer.size, dtype=np.int64), "none", 0))
            continue
        bits = max(weight_bits(w) for w in layer.weights())
        blocks, stored, row_bits, storage = _blocks(connections[index], bits, profile)
        plans.append((blocks, stored, row_bits, storage, bits))
    placements = []
    for layer, (_, stored, row_bits, _, _) in zip(network.layers, plans):
        if stored is None:
            placements.append((np.arange(layer.size) // profile.value("neurons_per_core"), []))
        else:
            placements.append(_place(stored, row_bits, profile))
    layers = []
    for index, (layer, (blocks, stored, row_bits, storage, bits), (core_of, problems)) in enumerate(
            zip(network.layers, plans, placements)):
        problems = list(problems) + _message_problems(layer, profile)
        if bits > profile.value("weight_bits"):
            problems.append(f"weights need {bits} bits, the chip stores {profile.value('weight_bits')}")
        fan_out = _fan_out(index, network, plans, placements)
        if fan_out.max() > profile.value("fan_out_per_core"):
            problems.append(f"a core needs {int(fan_out.max())} output axons, the limit is "
                            f"{profile.value('fan_out_per_core')}")
        max_fan_in = 0
        if stored is not None and stored.nnz:
            coo = stored.tocoo()
            per_core = _distinct_per_row(core_of[coo.row], coo.col, (int(core_of.max()) + 1, stored.shape[1]))
            max_fan_in = int(per_core.max())
        synapses = sum(int(b.structure.nnz) for b in blocks)
        nonzero = sum(int(b.weights.nnz) for b in blocks)
        layers.append(LayerResources(
            index=index, kind=layer.netx_type, neurons=layer.size, synapses=synapses, nonzero=nonzero,
            weight_bits=bits, dense_bits=synapses * bits, sparse_bits=nonzero * (bits + index_bits(profile)),
            storage=storage, cores=int(core_of.max()) + 1, max_fan_in=max_fan_in,
            max_fan_out=int(fan_out.max()), problems=tuple(problems),
        ))
    cores = sum(layer.cores for layer in layers)
    chip_problems = () if cores <= profile.value("cores_per_chip") else (
        f"{cores} cores exceed one chip's {profile.value('cores_per_chip')}",)
    return NetworkResources(profile.name, tuple(layers), profile.value("cores_per_chip"), chip_problems)


def _fan_out(index: int, network: Network, plans: list, placements: list) -> np.ndarray:
    """Output axons per core of layer ``index``: distinct (neuron, destination core) pairs
    over every stored synapse from its neurons (the next layer's feedforward blocks and
    its own recurrent block), summed per core; none for the last layer's outputs."""
    core_of = placements[index][0]
    columns, destinations = [], []
    targets = [(index + 1, False)] if index + 1 < len(network.layers) else []
    targets.append((index, True))
    for target, recurrent in targets:
        blocks, stored = plans[target][0], plans[target][1]
        if stored is None:
            continue
        offset = 0
        for block in blocks:
            width = block.structure.shape[1]
            if block.recurrent == recurrent:
                part = stored[:, offset:offset + width].tocoo()
                columns.append(part.col)
                destinations.append(placements[target][0][part.row])
            offset += width
    if not columns:
        return np.zeros(1, dtype=np.int64)
    cols, dest = np.concatenate(columns), np.concatenate(destinations)
    per_neuron = _distinct_per_row(cols, dest, (core_of.size, int(dest.max(initial=0)) + 1))
    return np.bincount(core_of, weights=per_neuron, minlength=int(core_of.max()) + 1).astype(np.int64)
