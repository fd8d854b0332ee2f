"""The ``simulate`` stage: SLAYER and the golden model on the whole test set, Lava on samples.

For each of ``dense`` and ``pruned``: SLAYER (the PyTorch network as
trained) and the golden model (the exported ``.net``) run every test sample
alone for T + drain steps; Lava (``harness.run_lava``) and the golden model
run the first ``simulate.samples`` of them as one stream with netx's resets.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from neurodeploy.data.dataset import SpikeDataset, load_dataset
from neurodeploy.fileio import atomic_path
from neurodeploy.netx import read_netx
from neurodeploy.recipe import Recipe
from neurodeploy.simulate.golden import GoldenModel, run_bytes
from neurodeploy.simulate.harness import run_lava
from neurodeploy.simulate.stimulus import Stimulus
from neurodeploy.simulate.torch_side import torch_layer_spikes
from neurodeploy.train.checkpoint import load_checkpoint

MODELS = ("dense", "pruned")
# The pruned network runs on Lava Sparse synapses, as it would be deployed.
SPARSE_SYNAPSES = {"dense": False, "pruned": True}


def simulate_bytes(input_size: int, sizes: list[int], test_samples: int, lava_samples: int, steps: int,
                   drain_steps: int) -> int:
    """An upper bound of the memory the stage takes, both networks kept: per network
    the golden model on the test set (``golden.run_bytes``), SLAYER's spikes of the
    same shape (uint8, and float32 batches of 256 with its internal traces), and the
    Lava samples as one stream in the golden model and in Lava."""
    length = steps + drain_steps
    whole = run_bytes(input_size, sizes, test_samples, length)
    slayer = test_samples * length * sum(sizes) + min(256, test_samples) * length * (input_size + sum(sizes)) * 16
    stream = lava_samples * steps + drain_steps
    lava = run_bytes(input_size, sizes, 1, stream) + stream * (8 * input_size + 2 * sum(sizes))
    return 2 * (whole + slayer + lava) + test_samples * input_size * steps


def simulate_stage(recipe: Recipe, out_dir: Path, data: SpikeDataset | None = None) -> Path:
    """Run both networks on every side; save ``simulation.npz``.

    Saved arrays: ``inputs`` [N, in, T] (the whole test set, each sample
    flattened in Lava's (W, H, C) order, as the golden model and Lava take
    it) and ``labels`` [N], ``lava_samples`` (how many of them went through Lava); per model
    ``{model}/slayer/{l}`` and ``{model}/golden/{l}`` [N, n_l, T + L],
    ``{model}/golden_stream/{l}`` and ``{model}/lava/{l}`` [n_l, M*T + L]
    for the M Lava samples, ``{model}/golden_seconds`` (whole test set),
    ``{model}/lava_seconds``, ``{model}/sparse``.
    """
    data = data if data is not None else load_dataset(recipe.data, recipe.seed)
    steps = recipe.data.steps
    count = min(recipe.simulate.samples, len(data.x_test))
    x = data.x_test.astype(np.uint8)
    arrays: dict[str, np.ndarray] = {"labels": data.y_test, "lava_samples": np.array(count)}
    for name in MODELS:
        model = load_checkpoint(out_dir / f"{name}.pt").model(recipe.model)
        network = read_netx(out_dir / f"{name}.net", input_shape=model.input_shape)
        test = Stimulus(network.to_lava_order(x), None, steps)
        samples = Stimulus(test.spikes[:count], None, steps)
        arrays["inputs"] = test.spikes
        golden = GoldenModel(network, sparse=SPARSE_SYNAPSES[name])
        start = time.perf_counter()
        whole = golden.run_samples(test)
        arrays[f"{name}/golden_seconds"] = np.array(time.perf_counter() - start)
        stream = golden.run_stream(samples)
        lava = run_lava(network, samples, sparse=SPARSE_SYNAPSES[name])
        arrays[f"{name}/lava_seconds"] = np.array(lava.seconds)
        arrays[f"{name}/sparse"] = np.array(SPARSE_SYNAPSES[name])
        slayer = torch_layer_spikes(model, x, golden.drain_steps)
        for layer in range(len(network.layers)):
            arrays[f"{name}/slayer/{layer}"] = slayer[layer]
            arrays[f"{name}/golden/{layer}"] = whole.spikes[layer]
            arrays[f"{name}/golden_stream/{layer}"] = stream.spikes[layer][0]
            arrays[f"{name}/lava/{layer}"] = lava.spikes[layer]
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
