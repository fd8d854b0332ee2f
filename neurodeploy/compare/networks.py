"""``neurodeploy compare A.net B.net``: two networks on one input set, golden model only.

Typically A is a dense network and B its pruned version. Each sample runs
alone from zero state for T + drain steps (``loihi.timing``), so every
spike it causes is counted.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from neurodeploy.compare.caveats import agreement_caveat, layer_caveats, prediction_caveats, silent_layers
from neurodeploy.compare.synops import network_synops
from neurodeploy.netx import Network, network_warnings, read_netx
from neurodeploy.netx.probe import probe_hdf5
from neurodeploy.limits import Limits
from neurodeploy.simulate.golden import GoldenModel, GoldenRun, message_bytes, run_bytes
from neurodeploy.loihi.timing import drain
from neurodeploy.simulate.input_options import (InputOptionError, InputOptions, check_input_shape,
                                                make_stimulus, recipe_test_set)
from neurodeploy.simulate.stimulus import Stimulus
from neurodeploy.train.model import classify


class NetworkMismatchError(ValueError):
    """Two networks that cannot be compared: their inputs or outputs differ."""


def run_batch(network: Network, stimulus: Stimulus) -> tuple[GoldenRun, np.ndarray, float]:
    """Golden run of every sample alone: spikes [N, n_l, T + drain] per layer,
    synaptic operations int64 [N, L], and wall seconds."""
    golden = GoldenModel(network)
    start = time.perf_counter()
    run = golden.run_samples(stimulus)
    seconds = time.perf_counter() - start
    return run, network_synops(network, stimulus.batch_spikes(golden.drain_steps), run.spikes), seconds


def _summary(network: Network, run: GoldenRun, synops: np.ndarray, seconds: float) -> dict[str, Any]:
    return {
        "network": str(network.path),
        "layers": [
            {"index": i, "type": kind, "neurons": int(s.shape[1]),
             "spikes_per_sample": float(s.sum(axis=(1, 2)).mean()),
             "synops_per_sample": float(synops[:, i].mean())}
            for i, (kind, s) in enumerate(zip(network.kinds, run.spikes))
        ],
        "synops_per_sample": float(synops.sum(axis=1).mean()),
        "golden_s": seconds,
    }


def check_compare_memory(networks: tuple[Network, ...], samples: int, steps: int, limits: Limits) -> None:
    """``LimitError`` unless running every network on ``samples`` x ``steps`` fits ``limits``."""
    length = steps + max(drain(len(n.layers), n.starts_with_input) for n in networks)
    needed = sum(run_bytes(int(np.prod(n.input_shape)), n.sizes, samples, length, message_size=message_bytes(n))
                 for n in networks)
    limits.check_memory(needed, f"compare ({samples} samples x {length} steps, {len(networks)} networks)")


def compare_networks(a: Network, b: Network, stimulus: Stimulus, labels: np.ndarray | None = None,
                     limits: Limits | None = None) -> dict[str, Any]:
    """Compare A and B on every sample of ``stimulus`` (JSON-ready).

    Keys: samples, steps, a and b (per-layer spikes and synops per sample,
    their totals, golden seconds), output_agreement (fraction of output
    (neuron, step) entries equal), output_identical_samples (fraction of
    samples whose output spikes are identical), class_agreement (fraction
    of samples with the same class, ``train.model.classify`` over the first
    T steps; null for a single output neuron), accuracy_a / accuracy_b when
    ``labels`` [N] are given, synops_ratio (B / A), and caveats: a line for
    each figure that rests on nothing (``caveats``: silent layers, silent
    outputs, a single predicted class).
    """
    if a.input_shape != b.input_shape or a.layers[-1].lava_shape != b.layers[-1].lava_shape:
        raise NetworkMismatchError(
            f"{a.path} and {b.path} differ in input {a.input_shape} / {b.input_shape} "
            f"or output {a.layers[-1].lava_shape} / {b.layers[-1].lava_shape}"
        )
    check_compare_memory((a, b), stimulus.num_samples, stimulus.steps, limits or Limits())
    run_a, synops_a, seconds_a = run_batch(a, stimulus)
    run_b, synops_b, seconds_b = run_batch(b, stimulus)
    out_a, out_b = run_a.spikes[-1], run_b.spikes[-1]
    common = min(out_a.shape[-1], out_b.shape[-1])
    out_a, out_b = out_a[..., :common], out_b[..., :common]
    report: dict[str, Any] = {
        "samples": stimulus.num_samples,
        "steps": stimulus.steps,
        "a": _summary(a, run_a, synops_a, seconds_a),
        "b": _summary(b, run_b, synops_b, seconds_b),
        "output_agreement": float((out_a == out_b).mean()),
        "output_identical_samples": float((out_a == out_b).all(axis=(1, 2)).mean()),
        "class_agreement": None,
    }
    caveats = [
        *layer_caveats("A", silent_layers(run_a.spikes), stimulus.num_samples),
        *layer_caveats("B", silent_layers(run_b.spikes), stimulus.num_samples),
    ]
    if out_a.shape[1] > 1:
        class_a, class_b = classify(out_a, stimulus.steps), classify(out_b, stimulus.steps)
        report["class_agreement"] = float((class_a == class_b).mean())
        caveats += [*prediction_caveats("A", out_a, class_a), *prediction_caveats("B", out_b, class_b),
                    *agreement_caveat(out_a, out_b)]
        if labels is not None:
            report["accuracy_a"] = float((class_a == labels).mean())
            report["accuracy_b"] = float((class_b == labels).mean())
    report["caveats"] = caveats
    total_a = report["a"]["synops_per_sample"]
    report["synops_ratio"] = report["b"]["synops_per_sample"] / total_a if total_a else None
    return report


def compare_files(paths: Sequence[Path], options: InputOptions, recipe: Path | None = None,
                  num_layers: int | None = None, input_shape: tuple[int, int, int] | None = None,
                  limits: Limits | None = None, warn: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
    """``compare_networks`` of the NetX files ``paths`` (A and B, their first ``num_layers``
    layer groups) on the input ``options`` name, or on the test set of the recipe at
    ``recipe`` with its labels. ``warn`` gets a line for what netx does to each file, for
    layers with all-zero weight rows and for notes on the input, before anything runs."""
    limits = limits or Limits()
    for path in paths:
        probe_hdf5(path)
    a, b = (read_netx(path, num_layers, input_shape) for path in paths)
    check_input_shape(a, input_shape)
    for line in (*network_warnings(a), *network_warnings(b)):
        warn(line)
    labels = None
    if recipe is not None:
        stimulus, labels = recipe_test_set(recipe, a, options.samples, limits)
    elif options.given:
        stimulus = make_stimulus(options, a, limits, lambda n, t: check_compare_memory((a, b), n, t, limits), warn)
    else:
        raise InputOptionError("give an input set (--spikes, --events, --bias, --random-rate or --recipe)")
    return compare_networks(a, b, stimulus, labels, limits)
