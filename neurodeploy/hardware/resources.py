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

from neurodeploy.hardware.connectivity import connections
from neurodeploy.hardware.profile import ChipProfile
from neurodeploy.network.netx import InputLayer, Network


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


def _fan_out(stored_next: scipy.sparse.csr_matrix, core_of_next: np.ndarray, core_of: np.ndarray) -> np.ndarray:
    """Output axons per core of a layer: distinct (neuron, destination core) pairs, summed per core."""
    coo = stored_next.tocoo()
    per_neuron = _distinct_per_row(coo.col, core_of_next[coo.row], (core_of.size, int(core_of_next.max()) + 1))
    return np.bincount(core_of, weights=per_neuron, minlength=int(core_of.max()) + 1).astype(np.int64)


def estimate_resources(network: Network, profile: ChipProfile) -> NetworkResources:
    """Cores, synaptic memory, fan-in and fan-out of ``network`` on ``profile`` (module docstring)."""
    previous = network.input_shape
    rows = []  # per layer: (neurons, connections or None, stored matrix or None, row bits, storage, weight bits)
    for layer in network.layers:
        neurons = int(np.prod(layer.lava_shape))
        if isinstance(layer, InputLayer):
            rows.append((neurons, None, None, np.zeros(neurons, dtype=np.int64), "none", 0))
        else:
            conn = connections(layer, previous)
            bits = weight_bits(layer.weight)
            dense_rows = np.diff(conn.structure.indptr) * bits
            sparse_rows = np.diff(conn.weights.indptr) * (bits + index_bits(profile))
            dense = int(dense_rows.sum()) <= int(sparse_rows.sum())
            stored = conn.structure if dense else conn.weights
            rows.append((neurons, conn, stored, dense_rows if dense else sparse_rows,
                         "dense" if dense else "sparse", bits))
        previous = layer.lava_shape
    placements = []
    for neurons, conn, stored, row_bits, _, _ in rows:
        if conn is None:
            placements.append((np.arange(neurons) // profile.value("neurons_per_core"), []))
        else:
            placements.append(_place(stored, row_bits, profile))
    layers = []
    for index, (kind, (neurons, conn, stored, row_bits, storage, bits), (core_of, problems)) in enumerate(
            zip(network.kinds, rows, placements)):
        problems = list(problems)
        if bits > profile.value("weight_bits"):
            problems.append(f"weights need {bits} bits, the chip stores {profile.value('weight_bits')}")
        fan_out = np.zeros(1, dtype=np.int64)
        if index + 1 < len(rows):
            stored_next, core_of_next = rows[index + 1][2], placements[index + 1][0]
            if stored_next is not None:
                fan_out = _fan_out(stored_next, core_of_next, core_of)
        if fan_out.max() > profile.value("fan_out_per_core"):
            problems.append(f"a core needs {int(fan_out.max())} output axons, the limit is "
                            f"{profile.value('fan_out_per_core')}")
        max_fan_in = 0
        if stored is not None:
            coo = stored.tocoo()
            per_core = _distinct_per_row(core_of[coo.row], coo.col, (int(core_of.max()) + 1, stored.shape[1]))
            max_fan_in = int(per_core.max()) if coo.nnz else 0
        layers.append(LayerResources(
            index=index, kind=kind, neurons=neurons,
            synapses=0 if conn is None else int(conn.structure.nnz),
            nonzero=0 if conn is None else int(conn.weights.nnz),
            weight_bits=bits,
            dense_bits=0 if conn is None else int(conn.structure.nnz) * bits,
            sparse_bits=0 if conn is None else int(conn.weights.nnz) * (bits + index_bits(profile)),
            storage=storage, cores=int(core_of.max()) + 1, max_fan_in=max_fan_in,
            max_fan_out=int(fan_out.max()), problems=tuple(problems),
        ))
    cores = sum(layer.cores for layer in layers)
    chip_problems = () if cores <= profile.value("cores_per_chip") else (
        f"{cores} cores exceed one chip's {profile.value('cores_per_chip')}",)
    return NetworkResources(profile.name, tuple(layers), profile.value("cores_per_chip"), chip_problems)
