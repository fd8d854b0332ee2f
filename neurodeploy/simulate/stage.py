"""The ``simulate`` stage: dense and pruned, in PyTorch and in Lava, same samples."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from neurodeploy.data.dataset import SpikeDataset, load_dataset
from neurodeploy.fileio import atomic_path
from neurodeploy.simulate.lava_side import lava_layer_streams
from neurodeploy.simulate.torch_side import torch_layer_spikes
from neurodeploy.train.checkpoint import load_checkpoint

MODELS = ("dense", "pruned")
# The pruned network runs on Lava Sparse synapses, as it would be deployed.
SPARSE_SYNAPSES = {"dense": False, "pruned": True}


def simulate_stage(out_dir: Path, data: SpikeDataset | None = None) -> Path:
    """Run the first ``simulate.samples`` test samples; save ``simulation.npz``.

    Saved arrays: ``inputs`` [N, in, T], ``labels`` [N]; per model
    ``{model}/torch/{l}`` [N, n_l, T + L] and ``{model}/lava/{l}``
    [n_l, N*T + L]; ``{model}/lava_seconds`` and ``{model}/sparse``.
    """
    _, recipe, _ = load_checkpoint(out_dir / "dense.pt")
    data = data if data is not None else load_dataset(recipe.data, recipe.seed)
    count = min(recipe.simulate.samples, len(data.x_test))
    arrays: dict[str, np.ndarray] = {
        "inputs": data.x_test[:count].astype(np.uint8),
        "labels": data.y_test[:count],
    }
    for name in MODELS:
        model, _, _ = load_checkpoint(out_dir / f"{name}.pt")
        num_layers = len(model.blocks)
        for layer, spikes in enumerate(torch_layer_spikes(model, data.x_test[:count], num_layers)):
            arrays[f"{name}/torch/{layer}"] = spikes
        start = time.perf_counter()
        streams = lava_layer_streams(out_dir / f"{name}.net", data.x_test[:count], SPARSE_SYNAPSES[name])
        arrays[f"{name}/lava_seconds"] = np.array(time.perf_counter() - start)
        arrays[f"{name}/sparse"] = np.array(SPARSE_SYNAPSES[name])
        for layer, stream in enumerate(streams):
            arrays[f"{name}/lava/{layer}"] = stream
    path = out_dir / "simulation.npz"
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)
    return path


def load_layers(sim: np.lib.npyio.NpzFile, model: str, side: str) -> list[np.ndarray]:
    """The per-layer arrays ``{model}/{side}/0..L-1`` of a loaded simulation."""
    layers = []
    while f"{model}/{side}/{len(layers)}" in sim:
        layers.append(sim[f"{model}/{side}/{len(layers)}"])
    return layers
