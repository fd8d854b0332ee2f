"""The ``compare`` stage: accuracy, sparsity, synaptic operations and equivalence.

Three sides, each compared exactly, every spike of every layer at every
step: SLAYER (the trained PyTorch network) against the golden model (the
exported ``.net``) on the whole test set, and the golden model against
Lava ``fixed_pt`` on the Lava samples. Accuracy and synaptic operations
come from the golden model, i.e. from the network that was exported, and
so do NeuroBench's metrics (``compare.neurobench``): the golden model runs
the test set again, ``NEUROBENCH_BATCH`` samples at a time, with its state
recorded (membrane updates need it; ``simulation.npz`` holds messages only).
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from neurodeploy.compare.caveats import layer_caveats, prediction_caveats, silent_layers, silent_outputs
from neurodeploy.compare.equivalence import compare_recordings, exact_samples
from neurodeploy.compare.neurobench import NeuroBenchTally
from neurodeploy.compare.synops import network_synops, saving_shares, synops_terms
from neurodeploy.export.removal import removed_by_layer
from neurodeploy.fileio import REDO, PathError, atomic_path, open_npz
from neurodeploy.hardware.cost import NetworkCost
from neurodeploy.hardware.profile import available_profiles, load_profile
from neurodeploy.netx import Network, read_netx
from neurodeploy.simulate.golden import GoldenModel, run_bytes
from neurodeploy.simulate.stage import load_layers
from neurodeploy.simulate.stimulus import Stimulus
from neurodeploy.loihi.timing import arrival, drain, split_stream
from neurodeploy.recipe import Recipe
from neurodeploy.train.checkpoint import load_checkpoint
from neurodeploy.train.model import classify
from neurodeploy.variants import DENSE, PRUNED, VARIANTS

NEUROBENCH_BATCH = 64  # test samples the golden model reruns at a time, state recorded, for NeuroBench's metrics


def compare_bytes(input_size: int, sizes: list[int], test_samples: int, lava_samples: int, steps: int,
                  drain_steps: int, message_bytes: int = 1) -> int:
    """An upper bound of the memory the stage takes, one network at a time: the test set's
    inputs (up to 4 B an entry) as saved, T steps, and as its layer 0 takes them, T + drain;
    the golden model's and SLAYER's messages of the test set ([N, n_l, T + drain] each,
    ``message_bytes`` an entry: 4 for graded messages); the Lava samples' streams, golden
    and Lava; and the NeuroBench run, ``NEUROBENCH_BATCH`` samples with their state
    (``golden.run_bytes``)."""
    length = steps + drain_steps
    stream = lava_samples * steps + drain_steps
    neurobench = run_bytes(input_size, sizes, min(test_samples, NEUROBENCH_BATCH), length, record_state=True,
                           message_size=message_bytes)
    return (4 * test_samples * input_size * (steps + length)
            + message_bytes * (2 * test_samples * length + 2 * stream) * sum(sizes) + neurobench)


def compare_stage(recipe: Recipe, out_dir: Path) -> Path:
    """Compare dense and pruned from ``simulation.npz``; write ``comparison.json``.

    Synaptic operations count each sample's whole response (its T input
    steps and the L steps its spikes take to leave the network).
    """
    steps = recipe.data.steps
    result: dict[str, Any] = {}
    terms = {}
    with open_npz(out_dir / "simulation.npz", REDO) as sim:
        inputs, labels, count = sim["inputs"], sim["labels"], int(sim["lava_samples"])
        for name, variant in VARIANTS.items():
            checkpoint = load_checkpoint(out_dir / variant.checkpoint)
            model, masks = checkpoint.model(recipe.model), checkpoint.masks
            network = read_netx(out_dir / variant.network, input_shape=model.input_shape)
            lag = model.output_lag
            weighted = [layer for layer in network.layers if layer.has_synapse]
            removed = removed_by_layer(network.layers, checkpoint.extra.get("removed", {}))
            figures, terms[name] = _golden_figures(sim, name, network, inputs, labels, steps, lag, removed)
            sizes = [sum(checkpoint.state_dict[n].numel() for n in names) for names in model.weight_layers()]
            result[name] = {
                **figures,
                **_sparsity([np.concatenate([w.reshape(-1) for w in layer.weights()]) for layer in weighted],
                            sizes, masks, model.weight_layers()),
                "lava": _lava_figures(sim, name, network, inputs[:count], labels[:count], steps),
            }
            result[name]["caveats"] = _caveats(sim, name, steps, len(labels), count, lag)
    result["synops_ratio"] = result[PRUNED.name]["synops_per_sample"] / result[DENSE.name]["synops_per_sample"]
    result["saving"] = saving_shares(terms[DENSE.name], terms[PRUNED.name])
    path = out_dir / "comparison.json"
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(result, indent=2))
    return path


def _golden_figures(sim, name: str, network: Network, inputs: np.ndarray, labels: np.ndarray, steps: int, lag: int,
                    removed: dict[int, list[int]]) -> tuple[dict[str, Any], list[tuple[np.ndarray, np.ndarray]]]:
    """Accuracy, synaptic operations, messages and NeuroBench's metrics of the exported
    network on the whole test set, and its exact equivalence with SLAYER there; and its
    ``synops_terms`` over the model's neurons (``removed``: the units the export removed,
    by layer).

    Classes come from T steps from the output's ``lag`` (``classify``), the steps SLAYER
    classifies by. A message is a spike or a nonzero graded value; activity is messages
    per neuron per step over the sample's whole response (T + drain steps).
    """
    golden = load_layers(sim, name, "golden")
    slayer = load_layers(sim, name, "slayer")
    removed_messages = load_layers(sim, name, "slayer_removed_messages")
    if len(removed_messages) != len(golden):
        raise PathError(f"simulation.npz has no '{name}/slayer_removed_messages' for each layer (an older "
                        f"simulate stage wrote it); {REDO}")
    drain_steps = drain(len(network.layers), network.starts_with_input)
    layer_inputs = Stimulus(inputs, None, steps).batch_spikes(drain_steps)
    synops = network_synops(network, layer_inputs, golden)
    messages = [np.count_nonzero(g, axis=(1, 2)).mean() for g in golden]
    columns = steps + drain_steps
    return {
        "accuracy": float((classify(golden[-1], steps, lag) == labels).mean()),
        "slayer_accuracy": float((classify(slayer[-1], steps, lag) == labels).mean()),
        "test_samples": int(len(labels)),
        "synops_per_sample": float(synops.sum(axis=1).mean()),
        "synops_per_layer": synops.mean(axis=0).tolist(),
        "spikes_per_layer": [float(m) for m in messages],
        "messages_per_sample": float(sum(messages)),
        "activity_per_layer": [float(m / (g.shape[1] * columns)) for m, g in zip(messages, golden)],
        "activity": float(sum(messages) / (sum(g.shape[1] for g in golden) * columns)),
        "golden_vs_slayer": slayer_equivalence(golden, slayer, removed_messages),
        "golden_seconds": float(sim[f"{name}/golden_seconds"]),
        "hardware": hardware_figures(network, layer_inputs, golden, bool(sim[f"{name}/sparse"]), steps),
        "neurobench": neurobench_figures(network, inputs, steps, bool(sim[f"{name}/sparse"])),
    }, synops_terms(network, layer_inputs, golden, removed)


def neurobench_figures(network: Network, inputs: np.ndarray, steps: int, sparse: bool) -> dict[str, Any]:
    """NeuroBench 2.3's metrics of ``network`` (``compare.neurobench.NeuroBenchFigures`` as a
    dict, per sample where per sample) on the test samples ``inputs`` [N, n_in, T], each
    alone for T + drain steps: the golden model (``sparse`` as Lava ran it) runs them
    ``NEUROBENCH_BATCH`` at a time with its state recorded, so what is held is one batch's
    messages and state (``compare_bytes``)."""
    golden = GoldenModel(network, sparse=sparse)
    tally = NeuroBenchTally(network)
    for _, batch in Stimulus(inputs, None, steps).batches(NEUROBENCH_BATCH):
        run = golden.run_samples(batch, record_state=True)
        tally.add(batch.batch_spikes(golden.drain_steps), run.spikes, run.state)
    return asdict(tally.figures())


def slayer_equivalence(golden: list[np.ndarray], slayer: list[np.ndarray],
                       removed: list[np.ndarray]) -> dict[str, Any]:
    """The golden model against SLAYER, entry for entry: golden[l] and slayer[l] [N, n_l, S]
    (the exported layer's neurons), removed[l] int64 [N] the messages SLAYER's neurons of
    units the export removed sent in each sample, each one a mismatch of layer l (a
    removed unit never sends when all is right). A sample is exact when no layer has one."""
    differs = [g != s for g, s in zip(golden, slayer)]
    inexact = [d.any(axis=(1, 2)) | (r != 0) for d, r in zip(differs, removed)]
    return {
        "compared": "every message (value included) of every layer at every step of every test sample; a message "
                    "SLAYER sent from a unit the export removed is a mismatch",
        "compared_entries": int(sum(d.size for d in differs)),
        "mismatches_per_layer": [int(d.sum()) + int(r.sum()) for d, r in zip(differs, removed)],
        "max_difference_per_layer": [int(np.abs(g.astype(np.int64) - s.astype(np.int64)).max(initial=0))
                                     for g, s in zip(golden, slayer)],
        "exact_fraction": float(np.logical_not(np.any(inexact, axis=0)).mean()),
    }


def _caveats(sim, name: str, steps: int, test_samples: int, lava_samples: int, lag: int) -> list[str]:
    """The figures of ``name`` that rest on nothing (``caveats``): layers silent on the whole
    test set, layers silent on both sides of the Lava comparison, silent outputs and a
    single predicted class."""
    golden = load_layers(sim, name, "golden")
    lava_silent = silent_layers(load_layers(sim, name, "golden_stream"), load_layers(sim, name, "lava"))
    return [
        *layer_caveats(name, silent_layers(golden), test_samples, "test"),
        *layer_caveats(f"{name} (Lava = golden)", lava_silent, lava_samples, "Lava"),
        *prediction_caveats(name, silent_outputs(golden[-1][..., lag : lag + steps]),
                           classify(golden[-1], steps, lag)),
    ]


def hardware_figures(network: Network, inputs: np.ndarray | None, spikes: list[np.ndarray], sparse: bool,
                     steps: int) -> dict[str, Any]:
    """Per chip profile in ``hardware/`` (``hardware.cost.NetworkCost.figures``): the cores
    the network needs (its dense layers on ``Sparse`` synapses where ``sparse``, as Lava ran
    it), its time per step, energy per inference and activity per core from the golden
    model's messages of N samples (inputs [N, n_in, S] into layer 0's synapse or None,
    spikes[l] [N, n_l, S]), an inference being ``steps`` steps; docs/hardware.md."""
    cost = NetworkCost(network, [load_profile(name) for name in available_profiles()], sparse)
    cost.add(inputs, spikes)
    return cost.figures(steps)


def _sparsity(weights: list[np.ndarray], sizes: list[int], masks, layers: list[tuple[str, ...]]) -> dict[str, Any]:
    """Zero fractions of every layer with weights: ``weights`` its exported integer weights
    (flat), ``sizes`` the model's count of them (``layers``: the model's weight names per
    such layer; pruned: those with a mask), so that a weight the export removed with its
    unit counts as pruned."""
    zeros = [size - int(np.count_nonzero(w)) for w, size in zip(weights, sizes)]
    pruned = [i for i, names in enumerate(layers) if masks is not None and any(n in masks for n in names)]
    over = pruned or list(range(len(weights)))
    return {
        "sparsity": sum(zeros[i] for i in over) / sum(sizes[i] for i in over),
        "sparsity_all_layers": sum(zeros) / sum(sizes),
        "sparsity_per_layer": [z / s for z, s in zip(zeros, sizes)],
        "pruned_layers": pruned,
    }


def _lava_figures(sim, name: str, network: Network, inputs: np.ndarray, labels: np.ndarray,
                  steps: int) -> dict[str, Any]:
    """Golden stream against Lava stream on the Lava samples, column for column."""
    golden = dict(enumerate(load_layers(sim, name, "golden_stream")))
    lava = dict(enumerate(load_layers(sim, name, "lava")))
    result = compare_recordings(golden, lava)
    count = len(network.layers)
    arrivals = {i: arrival(i, network.starts_with_input) for i in range(count)}
    exact = exact_samples(golden, lava, arrivals, len(labels), steps)
    drain_steps = drain(count, network.starts_with_input)
    output = split_stream(lava[count - 1], arrivals[count - 1], len(labels), steps, drain_steps)
    stream_inputs = Stimulus(inputs, None, steps).stream_spikes(drain_steps)[None]
    synops_lava = network_synops(network, stream_inputs, [lava[i][None] for i in range(count)])
    synops_golden = network_synops(network, stream_inputs, [golden[i][None] for i in range(count)])
    return {
        "samples": int(len(labels)),
        "sparse_synapses": bool(sim[f"{name}/sparse"]),
        "equivalent": result.equivalent,
        "exact_fraction": float(exact.mean()),
        "mismatches_per_layer": [result.mismatches[i] for i in range(count)],
        "compared_entries": result.compared,
        "accuracy": float((classify(output, steps) == labels).mean()),
        "synops_per_sample": float(synops_lava.sum() / len(labels)),
        "synops_equal_golden": bool(np.array_equal(synops_lava, synops_golden)),
        "seconds": float(sim[f"{name}/lava_seconds"]),
    }
