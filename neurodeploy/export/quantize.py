"""From a trained SLAYER network to NetX records, and the ``export`` stage."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from neurodeploy.network.netx import CubaNeuron, DenseLayer, write_netx
from neurodeploy.train.checkpoint import load_checkpoint
from neurodeploy.train.model import SpikingMLP


def block_to_layer(block: torch.nn.Module) -> DenseLayer:
    """One ``slayer.block.cuba.Dense`` as a NetX dense record.

    Weights go through the block's own 8-bit quantizer (``pre_hook_fx`` with
    ``descale=True``): ``w_int = round(w / (2/64)) * 2`` clipped to [-256, 254],
    the integers SLAYER's forward pass uses, times 64. Neuron parameters are
    the block's ``device_params`` (vThMant, iDecay, vDecay, refDelay, gradedSpike).
    """
    synapse = block.synapse
    with torch.no_grad():
        weight = synapse.pre_hook_fx(synapse.weight, descale=True)
    weight = weight.reshape(synapse.weight.shape[:2]).numpy()
    w_int = np.rint(weight).astype(np.int64)
    if not np.array_equal(w_int, weight):
        raise ValueError("the quantizer gave non-integer weights; is pre_hook_fx the 8-bit quantizer?")
    params = block.neuron.device_params
    neuron = CubaNeuron(
        v_th_mant=int(params["vThMant"]),
        i_decay=int(params["iDecay"]),
        v_decay=int(params["vDecay"]),
        ref_delay=int(params["refDelay"]),
        graded_spike=bool(params["gradedSpike"]),
    )
    return DenseLayer(weight=w_int, neuron=neuron)


def network_to_layers(model: SpikingMLP) -> list[DenseLayer]:
    """Every block of ``model`` as a NetX record, in order."""
    return [block_to_layer(block) for block in model.blocks]


def export_model(model: SpikingMLP, path: Path) -> list[DenseLayer]:
    """Quantize ``model`` and write it to ``path``; returns the records written."""
    layers = network_to_layers(model)
    write_netx(path, layers)
    return layers


def export_stage(out_dir: Path) -> tuple[Path, Path]:
    """Write ``dense.net`` and ``pruned.net`` from the two checkpoints in ``out_dir``."""
    paths = []
    for name in ("dense", "pruned"):
        model, _, _ = load_checkpoint(out_dir / f"{name}.pt")
        path = out_dir / f"{name}.net"
        export_model(model, path)
        paths.append(path)
    return paths[0], paths[1]
