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

from pathlib import Path
from typing import Any

import numpy as np

from neurodeploy.hardware.profile import available_profiles, load_profile
from neurodeploy.hardware.resources import estimate_resources, network_connections, weight_bits
from neurodeploy.netx import Network, read_netx
from neurodeploy.netx.base import Layer


def _netx_shape(layer: Layer) -> list[int]:
    """The layer's shape in NetX order: (C, H, W) or (n,)."""
    return list(reversed(layer.lava_shape))


def _layer_report(network: Network, index: int, blocks: list, warnings: list[str], where: str) -> dict[str, Any]:
    layer = network.layers[index]
    group = network.group_of(index)
    entry: dict[str, Any] = {"index": index, "group": group, "type": layer.netx_type, "neurons": layer.size,
                             "shape": _netx_shape(layer), "neuron": layer.neuron.describe(), **layer.describe()}
    warnings.extend(f"{where}layer/{group}: {note}" for note in layer.notes())
    weights = layer.weights()
    if not weights:
        return entry
    previous = network.previous(index)
    entry["input_shape"] = list(reversed(previous))
    entry["weight_shape"] = [list(w.shape) for w in weights] if len(weights) > 1 else list(weights[0].shape)
    nonzero = sum(int(np.count_nonzero(w)) for w in weights)
    size = sum(int(w.size) for w in weights)
    entry.update({
        "weight_min": int(min(w.min() for w in weights)), "weight_max": int(max(w.max() for w in weights)),
        "weight_bits": max(weight_bits(w) for w in weights), "weights": size, "nonzero_weights": nonzero,
        "sparsity": 1 - nonzero / size, "synapses": sum(int(b.structure.nnz) for b in blocks),
        "nonzero_synapses": sum(int(b.weights.nnz) for b in blocks),
        "bias": None if layer.bias is None else {"min": int(layer.bias.min()), "max": int(layer.bias.max())},
    })
    if nonzero == 0:
        warnings.append(f"{where}layer/{group}: all weights are zero (netx cannot load an all-zero weight matrix)")
        return entry
    inputs_per_neuron = sum(np.diff(b.weights.indptr) for b in blocks)
    dead = int(np.count_nonzero(inputs_per_neuron == 0))
    if dead:
        warnings.append(f"{where}layer/{group}: {dead} of {layer.size} neurons have no nonzero input weight")
    _never(network, index, blocks, inputs_per_neuron, entry, warnings, where)
    return entry


def _never(network: Network, index: int, blocks: list, inputs_per_neuron: np.ndarray, entry: dict[str, Any],
           warnings: list[str], where: str) -> None:
    """Count (and warn about) the neurons that can never send, where the model can bound them
    (spiking input only: a graded message has no largest value)."""
    layer = network.layers[index]
    if network.graded_into(index) or layer.neuron.complex_input:
        return
    bias = np.zeros(layer.size) if layer.bias is None else layer.bias.astype(float)
    positive = sum(np.asarray(b.weights.maximum(0).sum(axis=1)).ravel() for b in blocks).astype(float)
    never = layer.neuron.never_emits(positive, bias)
    if never is None:
        return
    silent = never & (inputs_per_neuron > 0)  # the others are reported above
    entry["unreachable_threshold"] = int(silent.sum())
    group = network.group_of(index)
    if never.all():
        warnings.append(f"{where}layer/{group}: can never spike: none of its {layer.size} neurons can reach "
                        f"its threshold (vThMant {layer.neuron.describe().get('vThMant')})")
    elif silent.any():
        warnings.append(f"{where}layer/{group}: {int(silent.sum())} of {layer.size} neurons can never spike: with "
                        "every input spiking at every step their voltage stays at or below the threshold "
                        f"(vThMant {layer.neuron.describe().get('vThMant')})")


def inspect_network(path: str | Path, input_shape: tuple[int, int, int] | None = None,
                    num_layers: int | None = None) -> dict[str, Any]:
    """Everything ``neurodeploy inspect`` reports about the NetX file ``path`` (JSON-ready).

    Keys: file, input_shape (NetX order), layers (per layer: type, shapes,
    neuron parameters raw and decoded, weight range, bits, sparsity, synapses),
    profiles (per chip profile in ``hardware/``: cores, chips, synaptic memory
    per layer and in total, storage format, problems, estimated figures) and
    warnings (one line each).
    """
    network = read_netx(path, num_layers, input_shape, tolerant=True)
    warnings: list[str] = list(network.warnings)
    connections = network_connections(network)
    layers = [_layer_report(network, index, connections[index], warnings, f"{path}: ")
              for index in range(len(network.layers))]
    profiles = {}
    for name in available_profiles():
        profile = load_profile(name)
        resources = estimate_resources(network, profile, connections)
        profiles[name] = {
            "cores": resources.cores, "chips": resources.chips, "synaptic_bits": resources.synaptic_bits,
            "layers": [{"index": l.index, "cores": l.cores, "storage": l.storage, "dense_bits": l.dense_bits,
                        "sparse_bits": l.sparse_bits, "max_fan_in": l.max_fan_in, "max_fan_out": l.max_fan_out,
                        "problems": list(l.problems)} for l in resources.layers],
            "problems": list(resources.problems) + [f"layer/{network.group_of(l.index)}: {p}"
                                                     for l in resources.layers for p in l.problems],
            "estimated_figures": profile.estimates,
        }
    return {"file": str(path), "input_shape": list(reversed(network.input_shape)), "layers": layers,
            "profiles": profiles, "warnings": warnings}


def summary_lines(report: dict[str, Any]) -> list[str]:
    """The printed form of ``inspect_network``'s report."""
    lines = [f"{report['file']}: {len(report['layers'])} layers, input {report['input_shape']}"]
    lines.append(f"{'layer':>5}  {'type':<9} {'shape':<14} {'neurons':>7}  {'weights':<12} {'bits':>4}  "
                 f"{'sparsity':>8}  {'synapses':>9}  neuron")
    for entry in report["layers"]:
        shape = "x".join(str(s) for s in entry["shape"])
        if "weight_min" not in entry:
            weights, bits, sparsity, synapses = "-", "-", "-", "-"
        else:
            weights = f"[{entry['weight_min']}, {entry['weight_max']}]"
            bits, sparsity = entry["weight_bits"], f"{entry['sparsity']:.3f}"
            synapses = entry["nonzero_synapses"]
        lines.append(f"{entry['group']:>5}  {entry['type']:<9} {shape:<14} {entry['neurons']:>7}  "
                     f"{weights:<12} {bits:>4}  {sparsity:>8}  {synapses:>9}  {entry['neuron']['summary']}")
    lines.append("neuron: thresh = vThMant/64 (SLAYER float units); i_dec, v_dec = iDecay/4096, vDecay/4096; "
                 "synapses = nonzero")
    for name, entry in report["profiles"].items():
        per_layer = ", ".join(f"{l['cores']} {l['storage']}" for l in entry["layers"])
        estimated = f"; estimated figures: {len(entry['estimated_figures'])}" if entry["estimated_figures"] else ""
        lines.append(f"{name}: {entry['cores']} cores on {entry['chips']} chip(s), synaptic memory "
                     f"{entry['synaptic_bits'] / 8192:.1f} KiB (per layer: {per_layer}){estimated}")
        lines.extend(f"  problem: {problem}" for problem in entry["problems"])
    lines.extend(f"warning: {w}" for w in report["warnings"])
    if not report["warnings"]:
        lines.append("no warnings")
    return lines
