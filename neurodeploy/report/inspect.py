"""``neurodeploy inspect NET.net``: what a NetX file holds, what it costs on a chip, and what looks wrong.

Units: weights, biases and thresholds are reported in weight units, the
integers of the file (one unit is 1/64 of a SLAYER float weight), and as
SLAYER floats (/64): a neuron spikes when v > vThMant (weight units).
Decays are fractions per step: iDecay / 4096 of the current u and
vDecay / 4096 of the voltage v are lost each step.

Warnings: what netx does to the file that a user should know (clipped
weights or delays, ignored keys and parameters, a neuron type it loads as
another); an all-zero layer (netx cannot load it); neurons without a single
nonzero input weight; and neurons that can never send, by their neuron
model's bound (``NeuronModel.never_emits``: for CUBA, with every input
spiking at every step the voltage stays at most its threshold; the default
neuron of a dense layer without a neuron group has a threshold no 24-bit
voltage exceeds). A layer whose neurons all never send is named as one that
can never spike.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neurodeploy.hardware.profile import available_profiles, load_profile
from neurodeploy.hardware.resources import (LayerResources, estimate_resources, network_connections,
                                            weight_bits)
from neurodeploy.limits import Limits
from neurodeploy.netx import ConvLayer, Network, read_netx
from neurodeploy.netx.probe import probe_hdf5
from neurodeploy.simulate.input_options import check_at_least_one, check_input_shape

# What the JSON shows of a layer's ``LayerResources`` on a chip profile.
FIT_KEYS = ("index", "cores", "storage", "weight_bits", "synapse_words", "row", "problems")
# The compiler's columns of its per-core distribution (``CoreRow``'s fields; AxonMem is not modelled).
CORE_COLUMNS = (("AxonIn", "axon_in"), ("NeuronGr", "neuron_groups"), ("Neurons", "neurons"),
                ("Synapses", "synapses"), ("AxonMap", "axon_map"), ("AxonMem", None), ("Cores", "cores"))


@dataclass(frozen=True)
class ValueRange:
    """The smallest and largest of some integers (weight units)."""

    min: int
    max: int


@dataclass(frozen=True)
class SynapseFigures:
    """A layer's synapse (layers with weights): input_shape, NetX order (C, H, W) or (n,);
    weight_shape: the weight's shape, or one per weight matrix (a recurrent layer's
    two); weight_min, weight_max: integers (weight units, 1/64 of a SLAYER weight);
    weight_bits: the mantissa bits netx stores them in; weights, nonzero_weights:
    counts; sparsity: the zero fraction; synapses, nonzero_synapses: the connections
    (a conv layer's taps expanded), all and those with a nonzero weight; bias: the
    neurons' bias mantissas, None without one."""

    input_shape: tuple[int, ...]
    weight_shape: tuple[int, ...] | tuple[tuple[int, ...], ...]
    weight_min: int
    weight_max: int
    weight_bits: int
    weights: int
    nonzero_weights: int
    sparsity: float
    synapses: int
    nonzero_synapses: int
    bias: ValueRange | None


@dataclass(frozen=True)
class InspectedLayer:
    """One layer of a NetX file: index (among the layers with neurons), group (its
    ``layer/i``), NetX type, neuron count, shape (NetX order); neuron: the neuron
    model's parameters as stored and decoded to SLAYER units, with a one-line
    ``summary`` (``NeuronModel.describe``); facts: the layer kind's own (stride,
    padding, delays, ...: ``Layer.describe``); synapse: its weights, None for a layer
    without (an input layer); unreachable_threshold: neurons with input that can never
    send (``NeuronModel.never_emits``), None where the model gives no bound."""

    index: int
    group: int
    type: str
    neurons: int
    shape: tuple[int, ...]
    neuron: dict[str, Any]
    facts: dict[str, Any]
    synapse: SynapseFigures | None
    unreachable_threshold: int | None

    def to_dict(self) -> dict[str, Any]:
        """The layer as ``inspect --json`` writes it: one flat object, facts and synapse
        figures beside the rest, absent ones left out."""
        entry = asdict(self)
        facts, synapse, unreachable = entry.pop("facts"), entry.pop("synapse"), entry.pop("unreachable_threshold")
        return {**entry, **facts, **(synapse or {}),
                **({} if unreachable is None else {"unreachable_threshold": unreachable})}


@dataclass(frozen=True)
class ChipFit:
    """The network on one chip profile (``hardware.resources``, docs/hardware.md): cores,
    chips, synaptic memory (bits, as netx's default ``Dense`` synapses store it), per
    layer (``LayerResources``, with its line of the per-core distribution), problems
    (the network's and each layer's, ``layer/i:`` first, one line each) and the
    profile's figures that are estimates."""

    cores: int
    chips: int
    synaptic_bits: int
    layers: tuple[LayerResources, ...]
    problems: tuple[str, ...]
    estimated_figures: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """As ``inspect --json`` writes it: of each layer, the ``FIT_KEYS``."""
        fit = asdict(self)
        return {**fit, "layers": [{key: layer[key] for key in FIT_KEYS} for layer in fit["layers"]]}


@dataclass(frozen=True)
class Inspection:
    """What a NetX file holds, what it costs on each chip, and what looks wrong.

    file: the file; input_shape: the network's input, NetX order; layers: per layer
    (``InspectedLayer``); profiles: per chip profile in ``hardware/`` (``ChipFit``);
    warnings: one line each, naming the file and ``layer/i``.
    """

    file: str
    input_shape: tuple[int, ...]
    layers: tuple[InspectedLayer, ...]
    profiles: dict[str, ChipFit]
    warnings: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON ``neurodeploy inspect --json`` writes."""
        return {**asdict(self), "layers": [layer.to_dict() for layer in self.layers],
                "profiles": {name: fit.to_dict() for name, fit in self.profiles.items()}}


def _inspect_layer(network: Network, index: int, blocks: list, warnings: list[str], where: str) -> InspectedLayer:
    layer = network.layers[index]
    group = network.group_of(index)
    warnings.extend(f"{where}layer/{group}: {note}" for note in layer.notes())
    synapse, unreachable = None, None
    weights = layer.weights()
    if weights:
        nonzero = sum(int(np.count_nonzero(w)) for w in weights)
        size = sum(int(w.size) for w in weights)
        synapse = SynapseFigures(
            input_shape=tuple(reversed(network.previous(index))),
            weight_shape=tuple(tuple(w.shape) for w in weights) if len(weights) > 1 else tuple(weights[0].shape),
            weight_min=int(min(w.min() for w in weights)), weight_max=int(max(w.max() for w in weights)),
            weight_bits=max(weight_bits(w) for w in weights), weights=size, nonzero_weights=nonzero,
            sparsity=1 - nonzero / size, synapses=sum(int(b.structure.nnz) for b in blocks),
            nonzero_synapses=sum(int(b.weights.nnz) for b in blocks),
            bias=None if layer.bias is None else ValueRange(int(layer.bias.min()), int(layer.bias.max())),
        )
        if nonzero == 0:
            warnings.append(f"{where}layer/{group}: all weights are zero (netx cannot load an all-zero weight matrix)")
        else:
            inputs_per_neuron = sum(np.diff(b.weights.indptr) for b in blocks)
            dead = int(np.count_nonzero(inputs_per_neuron == 0))
            if dead:
                warnings.append(f"{where}layer/{group}: {dead} of {layer.size} neurons have no nonzero input weight")
            unreachable = _never(network, index, blocks, inputs_per_neuron, warnings, where)
    return InspectedLayer(index=index, group=group, type=layer.netx_type, neurons=layer.size,
                          shape=tuple(reversed(layer.lava_shape)), neuron=layer.neuron.describe(),
                          facts=layer.describe(), synapse=synapse, unreachable_threshold=unreachable)


def _never(network: Network, index: int, blocks: list, inputs_per_neuron: np.ndarray, warnings: list[str],
           where: str) -> int | None:
    """The number of neurons with input that can never send (and a warning about them),
    where the model can bound them (spiking input only: a graded message has no largest
    value); None where it cannot."""
    layer = network.layers[index]
    if network.graded_into(index) or layer.neuron.complex_input:
        return None
    bias = np.zeros(layer.size) if layer.bias is None else layer.bias.astype(float)
    positive = sum(np.asarray(b.weights.maximum(0).sum(axis=1)).ravel() for b in blocks).astype(float)
    never = layer.neuron.never_emits(positive, bias)
    if never is None:
        return None
    silent = never & (inputs_per_neuron > 0)  # the others are reported above
    group = network.group_of(index)
    if never.all():
        warnings.append(f"{where}layer/{group}: can never spike: none of its {layer.size} neurons can reach "
                        f"its threshold (vThMant {layer.neuron.describe().get('vThMant')})")
    elif silent.any():
        warnings.append(f"{where}layer/{group}: {int(silent.sum())} of {layer.size} neurons can never spike: with "
                        "every input spiking at every step their voltage stays at or below the threshold "
                        f"(vThMant {layer.neuron.describe().get('vThMant')})")
    return int(silent.sum())


CONNECTION_BYTES = 200  # measured: listing a conv layer's synapses takes about 150 bytes per tap
NEURON_BYTES = 16  # measured: the chip fit's arrays take about 7 bytes per neuron (an input layer of 3 M: 21 MB)


def synapse_taps(network: Network) -> int:
    """How many synapses inspect lists: every weight, a conv's at each output position."""
    return sum(int(weight.size) * (layer.shape[1] * layer.shape[2] if isinstance(layer, ConvLayer) else 1)
               for layer in network.layers for weight in layer.weights())


def inspect_network(path: str | Path, input_shape: tuple[int, int, int] | None = None,
                    num_layers: int | None = None, limits: Limits | None = None) -> Inspection:
    """Everything ``neurodeploy inspect`` reports about the NetX file ``path`` (its first
    ``num_layers`` layer groups; ``input_shape``: (C, H, W) of a conv layer 0's input).

    The file is read tolerantly: what netx would refuse to load but can be
    described (an all-zero weight matrix) is a warning. ``NetxError`` naming the
    file, layer and key for a file that cannot be read; ``InputOptionError`` for a
    ``num_layers`` below 1 or an ``input_shape`` for a network whose layer 0 is not
    a conv. limits: the memory the file's datasets and layers may take (``LimitError``).
    """
    check_at_least_one("--num-layers", num_layers)
    probe_hdf5(path, limits)
    network = read_netx(path, num_layers, input_shape, tolerant=True, limits=limits)
    check_input_shape(network, input_shape)
    taps, neurons = synapse_taps(network), sum(layer.size for layer in network.layers)
    (limits or Limits()).check_memory(CONNECTION_BYTES * taps + NEURON_BYTES * neurons,
                                      f"inspect of {path} ({taps} synapse taps, {neurons} neurons)")
    warnings: list[str] = list(network.warnings)
    connections = network_connections(network)
    layers = tuple(_inspect_layer(network, index, connections[index], warnings, f"{path}: ")
                   for index in range(len(network.layers)))
    profiles = {}
    for name in available_profiles():
        profile = load_profile(name)
        resources = estimate_resources(network, profile, connections)
        profiles[name] = ChipFit(
            cores=resources.cores, chips=resources.chips, synaptic_bits=resources.synaptic_bits,
            layers=resources.layers,
            problems=(*resources.problems, *(f"layer/{network.group_of(l.index)}: {p}"
                                             for l in resources.layers for p in l.problems)),
            estimated_figures=tuple(profile.estimates),
        )
    return Inspection(file=str(path), input_shape=tuple(reversed(network.input_shape)), layers=layers,
                      profiles=profiles, warnings=tuple(warnings))


def summary_lines(inspection: Inspection) -> list[str]:
    """The printed form of an ``Inspection``: a line per layer, per chip profile and per warning."""
    lines = [f"{inspection.file}: {len(inspection.layers)} layers, input {list(inspection.input_shape)}"]
    lines.append(f"{'layer':>5}  {'type':<9} {'shape':<14} {'neurons':>7}  {'weights':<12} {'bits':>4}  "
                 f"{'sparsity':>8}  {'synapses':>9}  neuron")
    for entry in inspection.layers:
        shape = "x".join(str(s) for s in entry.shape)
        synapse = entry.synapse
        if synapse is None:
            weights, bits, sparsity, synapses = "-", "-", "-", "-"
        else:
            weights = f"[{synapse.weight_min}, {synapse.weight_max}]"
            bits, sparsity = synapse.weight_bits, f"{synapse.sparsity:.3f}"
            synapses = synapse.nonzero_synapses
        lines.append(f"{entry.group:>5}  {entry.type:<9} {shape:<14} {entry.neurons:>7}  "
                     f"{weights:<12} {bits:>4}  {sparsity:>8}  {synapses:>9}  {entry.neuron['summary']}")
    lines.append("neuron: thresh = vThMant/64 (SLAYER float units); i_dec, v_dec = iDecay/4096, vDecay/4096; "
                 "synapses = nonzero")
    for name, fit in inspection.profiles.items():
        per_layer = ", ".join(str(layer.cores) for layer in fit.layers)
        estimated = f"; estimated figures: {len(fit.estimated_figures)}" if fit.estimated_figures else ""
        lines.append(f"{name}: {fit.cores} cores on {fit.chips} chip(s), synaptic memory "
                     f"{fit.synaptic_bits / 8192:.1f} KiB (cores per layer: {per_layer}){estimated}")
        lines.append("  |" + "|".join(f"{title:>8}" for title, _ in CORE_COLUMNS) + "| layer")
        for entry, layer in zip(inspection.layers, fit.layers):
            cells = "|".join(f"{'-' if key is None or getattr(layer.row, key) is None else getattr(layer.row, key):>8}"
                             for _, key in CORE_COLUMNS)
            lines.append(f"  |{cells}| layer/{entry.group} {entry.type} {layer.row.label}")
        lines.extend(f"  problem: {problem}" for problem in fit.problems)
    lines.extend(f"warning: {w}" for w in inspection.warnings)
    if not inspection.warnings:
        lines.append("no warnings")
    return lines
