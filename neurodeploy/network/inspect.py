"""``neurodeploy inspect NET.net``: what a NetX file holds, what it costs on a chip, and what looks wrong.

Units: weights, biases and thresholds are reported in weight units, the
integers of the file (one unit is 1/64 of a SLAYER float weight), and as
SLAYER floats (/64): a neuron spikes when v > vThMant (weight units).
Decays are fractions per step: iDecay / 4096 of the current u and
vDecay / 4096 of the voltage v are lost each step.

Warnings:

- weights outside [-256, 254] (the file is read tolerantly: netx clips them);
- an input layer's ``weight``/``bias`` keys, which netx ignores;
- an all-zero layer (netx cannot load it) and neurons without a single
  nonzero input weight;
- neurons that can never spike. Spikes are 0/1, so a neuron's input per step
  is at most a = sum of its positive weights; with di = iDecay/4096 and
  dv = vDecay/4096 (and bias b), u <= a / di and v <= (a / di + b) / dv,
  the limits of the geometric sums of the two filters (Lava's truncation
  toward zero only lowers them). When that bound is at most vThMant the
  neuron never spikes. With di = 0 and a > 0, or dv = 0 and a positive
  drive, v is unbounded and the neuron can spike.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from neurodeploy.hardware.connectivity import connections
from neurodeploy.hardware.profile import available_profiles, load_profile
from neurodeploy.hardware.resources import estimate_resources, weight_bits
from neurodeploy.network.netx import DECAY_MAX, ConvLayer, DenseLayer, InputLayer, Network, read_netx

WEIGHT_SCALE = 64


def _neuron(layer: InputLayer | DenseLayer | ConvLayer) -> dict[str, Any]:
    n = layer.neuron
    return {
        "vThMant": n.v_th_mant, "iDecay": n.i_decay, "vDecay": n.v_decay, "refDelay": n.ref_delay,
        "threshold": n.v_th_mant / WEIGHT_SCALE,
        "current_decay": n.i_decay / DECAY_MAX, "voltage_decay": n.v_decay / DECAY_MAX,
    }


def max_voltage(positive_drive: np.ndarray, bias: np.ndarray, i_decay: int, v_decay: int) -> np.ndarray:
    """Upper bound of v (weight units) per neuron for 0/1 input spikes: (a / di + b) / dv, inf when unbounded.

    positive_drive: a [n], the sum of each neuron's positive weights; bias: b [n].
    """
    di, dv = i_decay / DECAY_MAX, v_decay / DECAY_MAX
    with np.errstate(divide="ignore", invalid="ignore"):
        u_max = np.where(positive_drive > 0, positive_drive / di if di else np.inf, 0.0)
        drive = u_max + bias
        return np.where(drive > 0, drive / dv if dv else np.inf, drive)


def _layer_report(index: int, layer, previous: tuple[int, ...], warnings: list[str], where: str) -> dict[str, Any]:
    kind = {InputLayer: "input", DenseLayer: "dense", ConvLayer: "conv"}[type(layer)]
    neurons = int(np.prod(layer.lava_shape))
    entry: dict[str, Any] = {"index": index, "type": kind, "neurons": neurons, "neuron": _neuron(layer)}
    if isinstance(layer, InputLayer):
        entry["shape"] = list(layer.shape)
        return entry
    entry["shape"] = list(layer.shape) if isinstance(layer, ConvLayer) else [layer.shape[0]]
    entry["input_shape"] = list(reversed(previous))
    entry["weight_shape"] = list(layer.weight.shape)
    weight = layer.weight
    conn = connections(layer, previous)
    nonzero = int(np.count_nonzero(weight))
    entry.update({
        "weight_min": int(weight.min()), "weight_max": int(weight.max()), "weight_bits": weight_bits(weight),
        "weights": int(weight.size), "nonzero_weights": nonzero, "sparsity": 1 - nonzero / weight.size,
        "synapses": int(conn.structure.nnz), "nonzero_synapses": int(conn.weights.nnz),
        "bias": None if layer.bias is None else {"min": int(layer.bias.min()), "max": int(layer.bias.max())},
    })
    if isinstance(layer, ConvLayer):
        entry.update(stride=list(layer.stride), padding=list(layer.padding), dilation=list(layer.dilation),
                     groups=layer.groups)
    if nonzero == 0:
        warnings.append(f"{where}layer/{index}: all weights are zero (netx cannot load an all-zero weight matrix)")
        return entry
    inputs_per_neuron = np.diff(conn.weights.indptr)
    dead = int(np.count_nonzero(inputs_per_neuron == 0))
    if dead:
        warnings.append(f"{where}layer/{index}: {dead} of {neurons} neurons have no nonzero input weight")
    bias = np.zeros(neurons)
    if layer.bias is not None:
        # a conv bias is per output channel, the channel is the fastest Lava axis
        bias = np.resize(layer.bias, neurons).astype(float) if isinstance(layer, ConvLayer) else layer.bias.astype(float)
    positive = np.asarray(conn.weights.maximum(0).sum(axis=1)).ravel().astype(float)
    bound = max_voltage(positive, bias, layer.neuron.i_decay, layer.neuron.v_decay)
    silent = (bound <= layer.neuron.v_th_mant) & (inputs_per_neuron > 0)  # the others are reported above
    entry["unreachable_threshold"] = int(silent.sum())
    if silent.any():
        warnings.append(
            f"{where}layer/{index}: {int(silent.sum())} of {neurons} neurons can never spike: with every input "
            f"spiking at every step their voltage stays at most {float(bound[silent].max()):.1f} "
            f"(<= threshold vThMant {layer.neuron.v_th_mant}, weight units)"
        )
    return entry


def inspect_network(path: str | Path, input_shape: tuple[int, int, int] | None = None,
                    num_layers: int | None = None) -> dict[str, Any]:
    """Everything ``neurodeploy inspect`` reports about the NetX file ``path`` (JSON-ready).

    Keys: file, input_shape (NetX order), layers (per layer: type, shapes,
    neuron parameters raw and decoded, weight range, bits, sparsity, synapses),
    profiles (per chip profile in ``hardware/``: cores, chips, synaptic memory
    per layer and in total, storage format, problems, estimated figures) and
    warnings (one line each).
    """
    warnings: list[str] = []
    network: Network = read_netx(path, num_layers, input_shape, warnings=warnings)
    layers = []
    previous = network.input_shape
    for index, layer in enumerate(network.layers):
        layers.append(_layer_report(index, layer, previous, warnings, f"{path}: "))
        previous = layer.lava_shape
    profiles = {}
    for name in available_profiles():
        profile = load_profile(name)
        resources = estimate_resources(network, profile)
        profiles[name] = {
            "cores": resources.cores, "chips": resources.chips, "synaptic_bits": resources.synaptic_bits,
            "layers": [{"index": l.index, "cores": l.cores, "storage": l.storage, "dense_bits": l.dense_bits,
                        "sparse_bits": l.sparse_bits, "max_fan_in": l.max_fan_in, "max_fan_out": l.max_fan_out,
                        "problems": list(l.problems)} for l in resources.layers],
            "problems": list(resources.problems) + [f"layer/{l.index}: {p}" for l in resources.layers
                                                     for p in l.problems],
            "estimated_figures": profile.estimates,
        }
    return {"file": str(path), "input_shape": list(reversed(network.input_shape)), "layers": layers,
            "profiles": profiles, "warnings": warnings}


def summary_lines(report: dict[str, Any]) -> list[str]:
    """The printed form of ``inspect_network``'s report."""
    lines = [f"{report['file']}: {len(report['layers'])} layers, input {report['input_shape']}"]
    lines.append(f"{'layer':>5}  {'type':<6} {'shape':<14} {'neurons':>7}  {'thresh':>7} {'i_dec':>6} {'v_dec':>6}  "
                 f"{'weights':<12} {'bits':>4}  {'sparsity':>8}  {'synapses':>9}")
    for entry in report["layers"]:
        n = entry["neuron"]
        shape = "x".join(str(s) for s in entry["shape"])
        if entry["type"] == "input":
            weights, bits, sparsity, synapses = "-", "-", "-", "-"
        else:
            weights = f"[{entry['weight_min']}, {entry['weight_max']}]"
            bits, sparsity = entry["weight_bits"], f"{entry['sparsity']:.3f}"
            synapses = entry["nonzero_synapses"]
        lines.append(f"{entry['index']:>5}  {entry['type']:<6} {shape:<14} {entry['neurons']:>7}  "
                     f"{n['threshold']:>7.3f} {n['current_decay']:>6.3f} {n['voltage_decay']:>6.3f}  "
                     f"{weights:<12} {bits:>4}  {sparsity:>8}  {synapses:>9}")
    lines.append("thresh = vThMant/64, i_dec = iDecay/4096, v_dec = vDecay/4096 (SLAYER float units); "
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
