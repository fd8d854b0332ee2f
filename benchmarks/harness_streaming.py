"""Benchmark: the streaming Lava harness against one Lava compilation per sample.

What is measured: the wall time per sample of running N test samples of the
digits network (the project's default recipe, ``models/digits_mlp.yaml``:
dense 64-256-10, 16 steps per sample) in Lava ``fixed_pt``, (a) with the
harness, all N samples as one stream in one compiled network with netx
resets between samples (one ``run_lava`` call), and (b) one compilation per
sample (N ``run_lava`` calls with a 1-sample ``Stimulus`` each), and the
ratio (b) / (a). Target: the harness is at least 5 times faster per sample
(ratio >= 5).

How:

* Network: ``--net PATH`` (a NetX file such as a run folder's
  ``dense.net``); without it ``runs/demo/dense.net`` when that exists, else
  the default recipe is trained (``train_stage``) and its dense network
  exported (``export_model``) into a temporary folder first (about 30 s,
  not part of the measurement).
* Inputs: the first N (``--samples``, default 32) test samples of the
  recipe's dataset (``load_dataset(recipe.data, recipe.seed).x_test``).
* Times are ``LavaRun.seconds`` (network build, compilation, run and
  read-back of every layer's spikes); (b) is the sum over its N calls.
  Order in this one process: an untimed 1-sample warm-up run (the first
  Lava run of a process pays one-off set-up), (a), (b), (a) again; the
  faster (a) is used
  and both are printed, with the ratio each gives. A shared machine makes
  absolute times noisy; the ratio of measurements taken side by side is the
  figure that means something.
* Correctness check: for every sample k and layer l, (b)'s spikes of sample
  k equal (a)'s stream columns that belong to sample k (both cut with
  ``timing.split_stream``, compared over the layer's window of the sample,
  steps [arrival(l), T + arrival(l))); and the golden model in stream mode
  equals (a) column for column. A mismatch exits 1 whatever the speed.

Exit status: 0 when the checks pass and the ratio meets the target, 1
otherwise. ``--json OUT`` also writes the figures as JSON.

Run: ``.venv/bin/python benchmarks/harness_streaming.py`` (about 1 to 2
minutes on 2 shared cores, training included).
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from neurodeploy.compare.equivalence import compare_recordings
from neurodeploy.netx import Network, read_netx
from neurodeploy.recipe import Recipe, load_recipe
from neurodeploy.simulate.golden import GoldenModel
from neurodeploy.simulate.harness import LavaRun, run_lava
from neurodeploy.simulate.stimulus import Stimulus
from neurodeploy.loihi.timing import arrival, drain, split_stream

ROOT = Path(__file__).resolve().parents[1]
DEMO_NET = ROOT / "runs" / "demo" / "dense.net"
SAMPLES = 32
TARGET = 5.0


@contextlib.contextmanager
def digits_network(net: Path | None, recipe: Recipe) -> Iterator[tuple[Path, str]]:
    """The network file to use and where it came from; a trained one lives in a temporary folder."""
    if net is not None:
        yield net, "given with --net"
        return
    if DEMO_NET.exists():
        yield DEMO_NET, "runs/demo/dense.net (existing run folder)"
        return
    from neurodeploy.export.quantize import export_model
    from neurodeploy.train.checkpoint import load_checkpoint
    from neurodeploy.train.trainer import train_stage

    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        folder = Path(tmp)
        print(f"training the default recipe ({recipe.name}, {recipe.train.epochs} epochs) into {folder} ...")
        model, _, _ = load_checkpoint(train_stage(recipe, folder))
        path = folder / "dense.net"
        export_model(model, path)
        yield path, "trained now from the default recipe (train_stage + export_model, dense network)"


def window_mismatches(network: Network, stream: LavaRun, singles: list[LavaRun], count: int, steps: int, extra: int) -> list[str]:
    """(b)'s sample k against the columns of (a)'s stream that belong to sample k, every layer."""
    problems = []
    for layer in range(len(network.layers)):
        first = arrival(layer, network.starts_with_input)
        window = slice(first, steps + first)
        together = split_stream(stream.spikes[layer], first, count, steps, extra)[:, :, window]
        for k, single in enumerate(singles):
            alone = split_stream(single.spikes[layer], first, 1, steps, extra)[0, :, window]
            differ = int((alone != together[k]).sum())
            if differ:
                problems.append(f"layer {layer} sample {k}: {differ} of {alone.size} spike entries differ")
    return problems


def golden_mismatches(network: Network, stimulus: Stimulus, stream: LavaRun) -> list[str]:
    """The golden model in stream mode against (a), every layer, every column (``compare_recordings``)."""
    run = GoldenModel(network).run_stream(stimulus)
    result = compare_recordings({i: s[0] for i, s in enumerate(run.spikes)}, stream.spikes)
    return [f"layer {layer}: golden and the harness differ in {count} entries"
            for layer, count in result.mismatches.items() if count]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time per sample of the Lava harness (N samples, one stream, one compilation) against "
        f"one Lava compilation per sample, on the digits network; target ratio >= {TARGET:g}. Also checks "
        "that both give the same spikes, and that the golden model matches the harness.",
    )
    parser.add_argument("--net", type=Path, metavar="PATH",
                        help="digits NetX network (default: runs/demo/dense.net if it exists, else train the "
                        "default recipe now)")
    parser.add_argument("--recipe", type=Path, metavar="RECIPE",
                        help="recipe whose test set is the input (and which is trained without --net); "
                        "default models/digits_mlp.yaml")
    parser.add_argument("--samples", type=int, default=SAMPLES, metavar="N",
                        help=f"test samples (default {SAMPLES})")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    if args.samples < 1:
        parser.error("--samples must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    recipe = load_recipe(args.recipe)
    from neurodeploy.data.dataset import load_dataset

    data = load_dataset(recipe.data, recipe.seed)
    if args.samples > len(data.x_test):
        print(f"--samples {args.samples}: the test set has {len(data.x_test)} samples", file=sys.stderr)
        return 2
    steps = recipe.data.steps
    stimulus = Stimulus(data.x_test[: args.samples].astype(np.uint8), None, steps)
    count = stimulus.num_samples
    with digits_network(args.net, recipe) as (path, origin):
        network = read_netx(path)
        if int(np.prod(network.input_shape)) != data.num_inputs:
            print(f"{path}: {np.prod(network.input_shape)} inputs, the dataset has {data.num_inputs}", file=sys.stderr)
            return 2
        extra = drain(len(network.layers), network.starts_with_input)
        shape = "-".join(str(n) for n in [data.num_inputs, *(layer.lava_shape[0] for layer in network.layers)])
        print(f"network {path} ({origin}): {shape}; {count} test samples x {steps} steps")

        run_lava(network, Stimulus(stimulus.spikes[:1], None, steps))  # warm-up, not timed
        first = run_lava(network, stimulus)
        print(f"(a) harness, 1 call: {first.seconds:.3f} s for {count} samples")
        singles = [run_lava(network, Stimulus(stimulus.spikes[k : k + 1], None, steps)) for k in range(count)]
        single_s = sum(run.seconds for run in singles)
        print(f"(b) one compilation per sample, {count} calls: {single_s:.3f} s "
              f"(per call: min {min(r.seconds for r in singles):.3f} s, max {max(r.seconds for r in singles):.3f} s)")
        second = run_lava(network, stimulus)
        print(f"(a) harness again: {second.seconds:.3f} s")

        problems = window_mismatches(network, first, singles, count, steps, extra)
        problems += window_mismatches(network, second, singles, count, steps, extra)
        problems += golden_mismatches(network, stimulus, first)
    if problems:
        print("FAIL: spikes disagree:", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
    else:
        print(f"check: per-sample runs == the harness's stream, per sample and layer; golden == harness "
              f"on all {sum(s.size for s in first.spikes.values())} spike entries")

    harness_runs = [first.seconds, second.seconds]
    harness_s = min(harness_runs) / count
    single_per_sample = single_s / count
    ratio = single_per_sample / harness_s
    ratio_slower = single_per_sample / (max(harness_runs) / count)
    passed = not problems and ratio >= TARGET
    result: dict[str, Any] = {
        "benchmark": "harness_streaming",
        "date": datetime.date.today().isoformat(),
        "network": str(path),
        "network_origin": origin,
        "samples": count,
        "steps": steps,
        "drain": extra,
        "harness_runs_s": harness_runs,
        "harness_s_per_sample": harness_s,
        "per_sample_compile_s": single_s,
        "per_sample_compile_s_per_sample": single_per_sample,
        "ratio": ratio,
        "ratio_with_slower_harness_run": ratio_slower,
        "target": TARGET,
        "spikes_equal": not problems,
        "pass": passed,
    }
    print(f"harness {harness_s * 1e3:.1f} ms/sample (faster of 2 runs), one compilation per sample "
          f"{single_per_sample * 1e3:.1f} ms/sample: ratio {ratio:.1f} (with the slower harness run "
          f"{ratio_slower:.1f}; target >= {TARGET:g}) -> {'PASS' if passed else 'FAIL'}")
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
