"""The ``simulate`` stage: SLAYER and the golden model on the whole test set, Lava on samples.

For each of ``dense`` and ``pruned``: SLAYER (the PyTorch network as
trained) and the golden model (the exported ``.net``, measured by
``measure.measure_file``) run every test sample alone for T + drain steps; Lava (``harness.run_lava``) and the golden model
run the first ``simulate.samples`` of them as one stream with netx's resets.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from neurodeploy.data.dataset import SpikeDataset, load_dataset
from neurodeploy.export.removal import removed_by_layer, split_removed
from neurodeploy.fileio import atomic_path
from neurodeploy.recipe import Recipe
from neurodeploy.simulate.golden import GoldenModel, run_bytes
from neurodeploy.simulate.harness import run_lava
from neurodeploy.simulate.measure import measure_file
from neurodeploy.simulate.stimulus import Stimulus
from neurodeploy.simulate.torch_side import torch_layer_spikes
from neurodeploy.train.checkpoint import load_checkpoint

from neurodeploy.variants import VARIANTS


def simulate_bytes(input_size: int, sizes: list[int], test_samples: int, lava_samples: int, steps: int,
                   drain_steps: int, message_bytes: int = 1) -> int:
    """An upper bound of the memory the stage takes, both networks kept: per network
    the golden model on the test set (``golden.run_bytes`` with ``message_bytes``: 4
    for graded messages), SLAYER's messages of the same shape (and float32 batches of
    256 with its internal traces), and the Lava samples as one stream in the golden
    model and in Lava."""
    length = steps + drain_steps
    whole = run_bytes(input_size, sizes, test_samples, length, message_size=message_bytes)
    slayer = (message_bytes * test_samples * length * sum(sizes)
              + min(256, test_samples) * length * (input_size + sum(sizes)) * 16)
    stream = lava_samples * steps + drain_steps
    lava = run_bytes(input_size, sizes, 1, stream) + stream * (8 * input_size + 2 * sum(sizes))
    return 2 * (whole + slayer + message_bytes * lava) + 4 * test_samples * input_size * steps


def simulate_stage(recipe: Recipe, out_dir: Path, data: SpikeDataset | None = None) -> Path:
    """Run both networks on every side; save ``simulation.npz``.

    Saved arrays: ``inputs`` [N, in, T] (the whole test set, each sample
    flattened in Lava's (W, H, C) order, as the golden model and Lava take
    it) and ``labels`` [N], ``lava_samples`` (how many of them went through Lava); per model
    ``{model}/slayer/{l}`` and ``{model}/golden/{l}`` [N, n_l, T + L],
    ``{model}/golden_stream/{l}`` and ``{model}/lava/{l}`` [n_l, M*T + L]
    for the M Lava samples, ``{model}/golden_seconds`` (whole test set),
    ``{model}/lava_seconds``, ``{model}/sparse``. n_l is the exported layer's:
    SLAYER runs the whole model, so where the export removed units (the
    checkpoint's ``extra["removed"]``, ``export.removal``) ``slayer`` keeps the
    neurons that stay and ``{model}/slayer_removed_messages/{l}`` int64 [N]
    counts the messages each sample sent from the removed ones (0 for every
    layer without removed units, and for every layer when all is right).
    """
    data = data if data is not None else load_dataset(recipe.data, recipe.seed)
    steps = recipe.data.steps
    count = min(recipe.simulate.samples, len(data.x_test))
    arrays: dict[str, np.ndarray] = {"labels": data.y_test, "lava_samples": np.array(count)}
    for name, variant in VARIANTS.items():
        sparse = variant.sparse_synapses
        checkpoint = load_checkpoint(out_dir / variant.checkpoint)
        model = checkpoint.model(recipe.model)
        start = time.perf_counter()
        measured = measure_file(out_dir / variant.network, model.input_shape, model.chip_input(data.x_test), steps,
                                sparse, model.output_lag)
        arrays[f"{name}/golden_seconds"] = np.array(time.perf_counter() - start)
        network, whole = measured.network, measured.run
        samples = Stimulus(measured.stimulus.spikes[:count], None, steps)
        arrays["inputs"] = measured.stimulus.spikes
        golden = GoldenModel(network, sparse=sparse)
        stream = golden.run_stream(samples)
        lava = run_lava(network, samples, sparse=sparse)
        arrays[f"{name}/lava_seconds"] = np.array(lava.seconds)
        arrays[f"{name}/sparse"] = np.array(sparse)
        slayer = torch_layer_spikes(model, data.x_test, golden.drain_steps)
        removed = removed_by_layer(network.layers, checkpoint.extra.get("removed", {}))
        for layer in range(len(network.layers)):
            kept, sent = split_removed(slayer[layer], network.layers[layer], removed.get(layer, []))
            arrays[f"{name}/slayer/{layer}"] = kept
            arrays[f"{name}/slayer_removed_messages/{layer}"] = sent
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
