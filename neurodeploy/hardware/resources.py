"""How a NetX network maps onto a chip's cores, by the rules Intel's Loihi 2 compiler follows.

The rules are read out of the compiler's printed output (its per-core
distribution tables and its ``Violation ... reg_name='SynMem'`` log lines in
lava-dl's notebooks, docs/loihi2-published.md section 3), with the limits of
the chip profile; docs/hardware.md gives the derivation and how far each
rule is confirmed. Per layer with neurons (a ``flatten`` has none):

1. Layers do not share cores (netx builds one Lava process per layer).
2. A layer with a spatial shape (W, H, C), an input image or a conv, is cut
   into slices along W that hold all of H and C: the slice width is the
   largest power of two w with w H C <= ``neurons_per_core`` (where one
   column is too many, H and then C are cut the same way), and the layer
   takes ceil(W / w) ceil(H / h) ceil(C / c) cores. A conv slice stores the
   layer's kernel once (shared weights): kh kw Cin / groups kernel rows of
   ``ceil(c b_w / word_bits) + 1`` words each (b_w the layer's weight bits;
   an approximation that fits 7 of the 10 published conv rows, never below
   the others by more than one word per row); while that exceeds
   ``synapse_words_per_core``, c is halved.
3. Any other layer (dense, recurrent, complex, a flat input) holds its
   neurons in Lava's order, in chunks of ceil(n / r) neurons per core, r
   starting at 1. Each input axon stores an entry of ``weight_bits +
   synapse_index_bits`` bits per synapse into the core's neurons, after an
   ``axon_header_bits`` header, in words of ``synapse_word_bits``: an axon
   with k entries on a core takes ceil((k b + header) / word_bits) words,
   one with none is not routed there. The entries are every synapse of the
   connectivity, zero weights included (netx's ``Dense``), or only the
   nonzero ones (netx's ``Sparse``: ``sparse=True``). While the busiest
   core's words exceed ``synapse_words_per_core``, r is multiplied by
   ceil(words / limit) (the compiler's ``max_ratio``). That loop is not
   monotone in the weights (a pruned layer's first ratio can be smaller and
   need multiplying again: 9 of 1200 random prunings ended with more cores
   than their dense layer). Intel printed no mapping of Sparse synapses; on
   them a layer takes the fewest cores r (chunks of ceil(n / r), r counted up
   from the neurons' minimum) whose busiest core fits, at most the ``Dense``
   loop's: as weights are pruned the cores never grow, and never exceed the
   same layer's on ``Dense``.
4. Input axons of a non-conv core (AxonIn): its distinct presynaptic
   neurons; more than ``fan_in_per_core`` is a problem. A conv core's input
   arrives through the compiler's conv axons (it prints 1 or 2 of them for
   every PilotNet conv slice, whatever its receptive field), which this model
   does not count (AxonIn None). Output axons (AxonMap): one per
   neuron, except a conv layer feeding a conv layer, one per (x, y) position
   of the slice; more than ``fan_out_per_core`` is a problem.
5. ``weight_bits`` of a layer is the mantissa width netx gives its weights;
   more than the profile's ``weight_bits`` is a problem. Chips =
   ceil(cores / ``cores_per_chip``).

The per-core distribution (``LayerResources.row``) is printed in the
compiler's columns: AxonIn and Neurons of the largest core, Synapses and
AxonMap averaged over the layer's cores and rounded down (as the compiler
prints them), NeuronGr 1; AxonMem is not modelled.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse

from neurodeploy.hardware.profile import ChipProfile
from neurodeploy.netx import ConvLayer, Network
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
class CoreRow:
    """A layer's line of the compiler's per-core distribution: axon_in and neurons of
    its largest core (axon_in None for a conv, rule 4), synapses (words) and axon_map
    averaged over its cores and rounded down, cores, and label (the slice,
    ``Conv(w, h, c)``, ``Dense(n)`` or ``Input(n)``)."""

    axon_in: int | None
    neuron_groups: int
    neurons: int
    synapses: int
    axon_map: int
    cores: int
    label: str


@dataclass(frozen=True)
class LayerResources:
    """One layer on one chip profile: neurons, weight_bits, storage (``dense``,
    ``sparse``, ``shared`` for a conv's kernel, ``none``), cores, synapse_words (all its
    cores), entries (the synapse entries stored, all its cores: a conv's kernel counts
    none, it is not stored per synapse), row (the compiler's columns), core_of (the core,
    within the layer, of each neuron in Lava order), problems."""

    index: int
    kind: str
    neurons: int
    weight_bits: int
    storage: str
    cores: int
    synapse_words: int
    entries: int
    row: CoreRow
    core_of: np.ndarray = field(repr=False, compare=False)
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class NetworkResources:
    """A network on one chip profile: per layer, and the totals."""

    profile: str
    layers: tuple[LayerResources, ...]
    cores_per_chip: int
    word_bits: int
    problems: tuple[str, ...] = field(default=())

    @property
    def cores(self) -> int:
        return sum(layer.cores for layer in self.layers)

    @property
    def chips(self) -> int:
        return math.ceil(self.cores / self.cores_per_chip)

    @property
    def synaptic_bits(self) -> int:
        return sum(layer.synapse_words for layer in self.layers) * self.word_bits


def network_connections(network: Network) -> list[list[Connections]]:
    """Every layer's synapse matrices (``Layer.connections``), computed once for several
    profiles."""
    return [layer.connections(network.previous(index)) for index, layer in enumerate(network.layers)]


def _largest_power(size: int, per_unit: int, limit: int) -> int:
    """The largest power of two p <= ``size`` with p * ``per_unit`` <= ``limit`` (1 if none)."""
    power = 1
    while power * 2 <= size and power * 2 * per_unit <= limit:
        power *= 2
    return power


def _slices(shape: tuple[int, int, int], limit: int) -> tuple[int, int, int]:
    """Slice (w, h, c) of a (W, H, C) layer: all of H and C in the widest power-of-two
    columns that fit ``limit`` neurons; H, then C, cut the same way where one column
    does not fit (rule 2)."""
    width, height, channels = shape
    if height * channels <= limit:
        return _largest_power(width, height * channels, limit), height, channels
    if channels <= limit:
        return 1, _largest_power(height, channels, limit), channels
    return 1, 1, _largest_power(channels, 1, limit)


def _slice_cores(shape: tuple[int, int, int], piece: tuple[int, int, int]) -> np.ndarray:
    """The slice of each neuron of a (W, H, C) layer in Lava's flat order (C fastest)."""
    width, height, channels = shape
    x, y, c = np.unravel_index(np.arange(width * height * channels), shape)
    per_x = math.ceil(height / piece[1]) * math.ceil(channels / piece[2])
    return (x // piece[0]) * per_x + (y // piece[1]) * math.ceil(channels / piece[2]) + c // piece[2]


def _kernel_words(layer: ConvLayer, channels: int, bits: int, word_bits: int) -> int:
    """Words a conv slice of ``channels`` output channels stores (rule 2)."""
    _, per_group, kh, kw = layer.weight.shape
    return kh * kw * per_group * (math.ceil(channels * bits / word_bits) + 1)


def core_entries(stored: scipy.sparse.csr_matrix, core_of: np.ndarray) -> scipy.sparse.csr_matrix:
    """CSR [cores, axons]: the entries each input axon (column of ``stored`` [n, axons])
    has on each core, ``core_of`` [n] the core of each neuron (rule 3); its row lengths
    are the cores' distinct presynaptic neurons (rule 4)."""
    coo = stored.tocoo()
    pairs = scipy.sparse.csr_matrix((np.ones(coo.nnz, dtype=np.int64), (core_of[coo.row], coo.col)),
                                    shape=(int(core_of.max()) + 1, stored.shape[1]))
    pairs.sum_duplicates()
    return pairs


def _words(entries: scipy.sparse.csr_matrix, entry_bits: int, header: int, word_bits: int) -> np.ndarray:
    """int64 [cores]: words each core stores (rule 3): per (core, axon) with k entries,
    ceil((k entry_bits + header) / word_bits)."""
    words = -(-(entries.data * entry_bits + header) // word_bits)
    cores = entries.shape[0]
    return np.bincount(np.repeat(np.arange(cores), np.diff(entries.indptr)), weights=words,
                       minlength=cores).astype(np.int64)


Split = tuple[np.ndarray, scipy.sparse.csr_matrix, np.ndarray]


def _split(stored: scipy.sparse.csr_matrix, profile: ChipProfile, entry_bits: int, ratio: int) -> Split:
    """The neurons dealt in chunks of ceil(n / ratio): the core of each neuron, the entries
    of each (core, axon) and the words of each core (rule 3)."""
    neurons = stored.shape[0]
    core_of = np.arange(neurons) // math.ceil(neurons / ratio)
    entries = core_entries(stored, core_of)
    return core_of, entries, _words(entries, entry_bits, profile.value("axon_header_bits"),
                                    profile.value("synapse_word_bits"))


def _chunks(stored: scipy.sparse.csr_matrix, profile: ChipProfile, entry_bits: int) -> Split:
    """Rule 3, the compiler's loop: ``_split`` at r = ceil(n / neurons_per_core), r
    multiplied by the busiest core's excess over the limit until it fits (or one neuron
    per core)."""
    neurons = stored.shape[0]
    limit = profile.value("synapse_words_per_core")
    ratio = math.ceil(neurons / profile.value("neurons_per_core"))
    while True:
        split = _split(stored, profile, entry_bits, ratio)
        busiest = int(split[2].max(initial=0))
        if busiest <= limit or math.ceil(neurons / ratio) == 1:
            return split
        ratio *= math.ceil(busiest / limit)


def _fewest(stored: scipy.sparse.csr_matrix, profile: ChipProfile, entry_bits: int, upto: int) -> Split:
    """Rule 3 on Sparse synapses: the split of the fewest cores that fits, r from
    ceil(n / neurons_per_core) up to ``upto`` (a split known to fit, returned if none
    before it does)."""
    neurons = stored.shape[0]
    for ratio in range(math.ceil(neurons / profile.value("neurons_per_core")), upto):
        split = _split(stored, profile, entry_bits, ratio)
        if int(split[2].max(initial=0)) <= profile.value("synapse_words_per_core"):
            return split
    return _split(stored, profile, entry_bits, upto)


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


def _spatial(layer: Layer) -> bool:
    """Whether the layer is cut into (w, h, c) slices (rule 2): a conv, or an input image."""
    return isinstance(layer, ConvLayer) or (not layer.has_synapse and len(layer.lava_shape) == 3)


def _map_layer(index: int, network: Network, connections: list[Connections] | None, profile: ChipProfile,
               sparse: bool) -> LayerResources:
    """Rules 2 to 5 for layer ``index``; ``connections``: its synapse matrices, computed
    here when None and needed (a conv's are not: its kernel is stored once)."""
    layer = network.layers[index]
    limit = profile.value("neurons_per_core")
    word_bits = profile.value("synapse_word_bits")
    bits = max((weight_bits(w) for w in layer.weights()), default=0)
    problems = _message_problems(layer, profile)
    axon_in: int | None = None  # a conv's (rule 4)
    if _spatial(layer):
        shape = tuple(int(s) for s in layer.lava_shape)
        piece = _slices(shape, limit)
        words_per_core = 0
        if isinstance(layer, ConvLayer):
            while (_kernel_words(layer, piece[2], bits, word_bits) > profile.value("synapse_words_per_core")
                   and piece[2] > 1):
                piece = (piece[0], piece[1], math.ceil(piece[2] / 2))
            words_per_core = _kernel_words(layer, piece[2], bits, word_bits)
        else:
            axon_in = 1
        core_of = _slice_cores(shape, piece)
        words = np.full(int(core_of.max()) + 1, words_per_core, dtype=np.int64)
        stored = 0
        storage = "shared" if isinstance(layer, ConvLayer) else "none"
        label, channels = f"Conv({piece[0]}, {piece[1]}, {piece[2]})", piece[2]
    else:
        blocks = layer.connections(network.previous(index)) if connections is None else connections
        channels = 1
        if blocks:
            entry_bits = bits + profile.value("synapse_index_bits")
            structure = scipy.sparse.hstack([block.structure for block in blocks], format="csr")
            core_of, entries, words = _chunks(structure, profile, entry_bits)
            if sparse:  # rule 3: the fewest cores that fit the nonzero weights, at most the dense split's
                nonzero = scipy.sparse.hstack([block.weights for block in blocks], format="csr")
                core_of, entries, words = _fewest(nonzero, profile, entry_bits, words.size)
            axon_in = int(np.diff(entries.indptr).max())
            stored = int(entries.data.sum())
            storage, kind = ("sparse" if sparse else "dense"), "Dense"
        else:
            core_of = np.arange(layer.size) // limit
            words = np.zeros(int(core_of.max()) + 1, dtype=np.int64)
            axon_in, storage, kind, stored = 1, "none", "Input", 0
        label = f"{kind}({int(np.bincount(core_of).max())})"
    cores = words.size
    if axon_in is not None and axon_in > profile.value("fan_in_per_core"):
        problems.append(f"a core needs {axon_in} input axons, the limit is {profile.value('fan_in_per_core')}")
    if int(words.max(initial=0)) > profile.value("synapse_words_per_core"):
        problems.append(f"a core needs {int(words.max())} synaptic memory words, the limit is "
                        f"{profile.value('synapse_words_per_core')} (one neuron's synapses do not fit a core)")
    if bits > profile.value("weight_bits"):
        problems.append(f"weights need {bits} bits, the chip stores {profile.value('weight_bits')}")
    per_core = np.bincount(core_of, minlength=cores)
    following = network.layers[index + 1] if index + 1 < len(network.layers) else None
    axon_map = per_core // channels if isinstance(following, ConvLayer) else per_core  # positions of a slice
    if int(axon_map.max()) > profile.value("fan_out_per_core"):
        problems.append(f"a core needs {int(axon_map.max())} output axons, the limit is "
                        f"{profile.value('fan_out_per_core')}")
    row = CoreRow(axon_in=axon_in, neuron_groups=1, neurons=int(per_core.max()),
                  synapses=int(words.sum()) // cores, axon_map=int(axon_map.sum()) // cores, cores=cores,
                  label=label)
    return LayerResources(index=index, kind=layer.netx_type, neurons=layer.size, weight_bits=bits, storage=storage,
                          cores=cores, synapse_words=int(words.sum()), entries=stored, row=row, core_of=core_of,
                          problems=tuple(problems))


def estimate_resources(network: Network, profile: ChipProfile, connections: list[list[Connections]] | None = None,
                       sparse: bool = False) -> NetworkResources:
    """The cores of every layer of ``network`` on ``profile`` (module docstring), its
    synaptic memory, and what does not fit; ``connections``:
    ``network_connections(network)``, when already computed (else each non-conv
    layer's are); ``sparse``: dense layers on netx's ``Sparse`` synapses (only nonzero
    weights stored)."""
    layers = tuple(_map_layer(index, network, None if connections is None else connections[index], profile,
                              sparse)
                   for index in range(len(network.layers)))
    cores = sum(layer.cores for layer in layers)
    chip_problems = () if cores <= profile.value("cores_per_chip") else (
        f"{cores} cores exceed one chip's {profile.value('cores_per_chip')}",)
    return NetworkResources(profile.name, layers, profile.value("cores_per_chip"),
                            profile.value("synapse_word_bits"), chip_problems)
