"""The ``compare`` stage: accuracy, sparsity, synaptic operations, equivalence."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from neurodeploy.compare.equivalence import compare_streams
from neurodeploy.compare.synops import network_synops
from neurodeploy.data.dataset import SpikeDataset, load_dataset
from neurodeploy.export.netx import read_netx
from neurodeploy.fileio import atomic_path
from neurodeploy.simulate.alignment import split_stream
from neurodeploy.simulate.stage import MODELS, load_layers
from neurodeploy.simulate.torch_side import torch_layer_spikes
from neurodeploy.train.checkpoint import load_checkpoint
from neurodeploy.train.model import SpikingMLP, classify


def compare_stage(out_dir: Path, data: SpikeDataset | None = None) -> Path:
    """Compare dense and pruned; write ``comparison.json``.

    PyTorch figures cover the whole test set; Lava figures the simulated
    samples. Synaptic operations count each sample's whole response (its T
    input steps and the L steps its spikes take to leave the network).
    """
    _, recipe, _ = load_checkpoint(out_dir / "dense.pt")
    data = data if data is not None else load_dataset(recipe.data, recipe.seed)
    steps = recipe.data.steps
    result: dict[str, Any] = {}
    with np.load(out_dir / "simulation.npz") as sim:
        inputs, labels = sim["inputs"], sim["labels"]
        for name in MODELS:
            model, _, masks = load_checkpoint(out_dir / f"{name}.pt")
            weights = [layer.weight for layer in read_netx(out_dir / f"{name}.net")]
            result[name] = {
                **_torch_figures(model, data, weights, steps),
                **_sparsity(weights, masks, model.weight_names()),
                "lava": _lava_figures(sim, name, inputs, labels, weights, steps),
            }
    result["synops_ratio"] = result["pruned"]["synops_per_sample"] / result["dense"]["synops_per_sample"]
    path = out_dir / "comparison.json"
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(result, indent=2))
    return path


def _torch_figures(model: SpikingMLP, data: SpikeDataset, weights: list[np.ndarray], steps: int) -> dict[str, Any]:
    """Accuracy, synaptic operations and spikes over the whole test set.

    Classes come from the first T steps (``classify``); the padding after
    them cannot change those steps.
    """
    layers = torch_layer_spikes(model, data.x_test, len(weights))
    synops = network_synops(data.x_test, layers, weights)
    predicted = classify(layers[-1], steps)
    return {
        "accuracy": float((predicted == data.y_test).mean()),
        "test_samples": int(len(data.y_test)),
        "synops_per_sample": float(synops.sum(axis=1).mean()),
        "synops_per_layer": synops.mean(axis=0).tolist(),
        "spikes_per_layer": [float(s.sum(axis=(1, 2)).mean()) for s in layers],
    }


def _sparsity(weights: list[np.ndarray], masks, names: list[str]) -> dict[str, Any]:
    """Zero fractions of the exported integer weights."""
    zeros = [int((w == 0).sum()) for w in weights]
    sizes = [int(w.size) for w in weights]
    pruned = [i for i, n in enumerate(names) if masks is not None and n in masks]
    over = pruned or list(range(len(weights)))
    return {
        "sparsity": sum(zeros[i] for i in over) / sum(sizes[i] for i in over),
        "sparsity_all_layers": sum(zeros) / sum(sizes),
        "sparsity_per_layer": [z / s for z, s in zip(zeros, sizes)],
        "pruned_layers": pruned,
    }


def _lava_figures(sim, name: str, inputs: np.ndarray, labels: np.ndarray, weights, steps: int) -> dict[str, Any]:
    torch_spikes = load_layers(sim, name, "torch")
    streams = load_layers(sim, name, "lava")
    eq = compare_streams(torch_spikes, streams, steps)
    num_layers = len(streams)
    per_sample = [split_stream(s, l, len(labels), steps, num_layers) for l, s in enumerate(streams)]
    predicted = classify(per_sample[-1], steps)
    synops = network_synops(inputs, per_sample, weights)
    return {
        "samples": int(len(labels)),
        "sparse_synapses": bool(sim[f"{name}/sparse"]),
        "exact_fraction": float(eq.sample_exact.mean()),
        "output_exact_fraction": float(eq.output_exact.mean()),
        "mismatches_per_layer": eq.mismatches.tolist(),
        "compared_entries": eq.compared,
        "accuracy": float((predicted == labels).mean()),
        "synops_per_sample": float(synops.sum(axis=1).mean()),
        "seconds": float(sim[f"{name}/lava_seconds"]),
    }
