"""Benchmark: the golden model against Lava ``fixed_pt`` on the oxford network, time per sample.

What is measured: the wall time per sample of simulating lava-dl's oxford
network (``shared/fixtures/oxford/network.net``, CUBA dense 200-256-200) for
2000 steps, (a) in the golden model (``GoldenModel``, numpy, batched) and
(b) in Lava's ``fixed_pt`` CPU simulator through the project's harness
(``run_lava``), and the ratio (b) / (a). Target: the golden model is at
least 100 times faster per sample (ratio >= 100).

How:

* Input: 64 samples of 2000 steps. Sample 0 is the fixture's input
  (``oxford/input_events.npy`` binned as lava-dl bins it); samples 1..63 are
  Bernoulli spikes with the same mean rate as sample 0 (seed 0).
* Golden: from the file to spikes, i.e. ``read_netx`` + ``GoldenModel`` +
  ``run`` on all 64 samples as one batch (batch mode: each row from zero
  state, followed by ``drain`` silent steps; ``batch_size=64``, i.e. one
  batch, unless ``--batch-size`` says otherwise). Time per sample =
  total / 64.
* Lava: ``run_lava`` on the first K samples (``--lava-samples``, default 2)
  as one stream in one compiled network with netx resets between samples;
  time per sample = ``LavaRun.seconds / K`` (network build, compilation,
  run and read-back of every layer's spikes, all included).
* Both run in this one process, interleaved after an untimed 20-step Lava
  warm-up (the first Lava run of a process pays one-off set-up): golden,
  Lava, golden again; the faster of the two golden runs is used (it is the
  one less disturbed by other load on the machine; both are printed). A
  shared machine makes absolute times noisy; the ratio of two measurements
  taken side by side is the figure that means something.
* Correctness check: the golden model in stream mode on the same K samples
  must give exactly Lava's spikes, every layer, every column; if not, the
  script says where and exits 1 whatever the speed.

Exit status: 0 when the check passes and the ratio meets the target, 1
otherwise. ``--json OUT`` also writes the figures as JSON.

Run: ``.venv/bin/python benchmarks/golden_vs_lava.py`` (about 20 s on 2
shared cores).
"""
from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from neurodeploy.compare.equivalence import compare_recordings
from neurodeploy.netx import Network, read_netx
from neurodeploy.simulate.golden import GoldenModel
from neurodeploy.simulate.harness import LavaRun, run_lava
from neurodeploy.simulate.inputs import load_events, random_spikes
from neurodeploy.simulate.stimulus import Stimulus
from neurodeploy.reference import fixtures_dir

FIXTURES = fixtures_dir()
NETWORK = FIXTURES / "oxford" / "network.net"
EVENTS = FIXTURES / "oxford" / "input_events.npy"
SAMPLES = 64
STEPS = 2000
TARGET = 100.0


def build_stimulus(network: Network, samples: int, steps: int, seed: int) -> tuple[Stimulus, float]:
    """The fixture input as sample 0 and ``samples - 1`` random samples at its mean rate; returns (stimulus, rate)."""
    size = int(np.prod(network.input_shape))
    fixture = load_events(EVENTS, size, steps)
    rate = float(fixture.mean())
    spikes = [fixture]
    if samples > 1:
        spikes.append(random_spikes(samples - 1, size, steps, rate, seed))
    return Stimulus(np.concatenate(spikes), None, steps), rate


def time_golden(path: Path, stimulus: Stimulus, batch_size: int) -> float:
    """Seconds for read_netx + GoldenModel + one batch-mode run of every sample."""
    start = time.perf_counter()
    model = GoldenModel(read_netx(path))
    model.run_samples(stimulus, batch_size=batch_size)
    return time.perf_counter() - start


def check_equal(network: Network, stimulus: Stimulus, lava: LavaRun) -> list[str]:
    """Golden stream mode against Lava's spikes, every layer (``compare_recordings``); one line per layer that differs."""
    run = GoldenModel(network).run_stream(stimulus)
    result = compare_recordings({i: s[0] for i, s in enumerate(run.spikes)}, lava.spikes)
    return [
        f"layer {layer}: {count} entries differ (first divergence at layer, neuron, column {result.first})"
        for layer, count in result.mismatches.items() if count
    ]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time per sample of the golden model (64 samples, batch mode) against Lava fixed_pt "
        f"(K samples, one stream) on the oxford network, 2000 steps per sample; target ratio >= {TARGET:g}. "
        "Also checks golden == Lava spike for spike on the K samples.",
    )
    parser.add_argument("--lava-samples", type=int, default=2, metavar="K",
                        help="samples Lava runs (the first K; default 2)")
    parser.add_argument("--samples", type=int, default=SAMPLES, metavar="N",
                        help=f"samples the golden model runs (default {SAMPLES})")
    parser.add_argument("--batch-size", type=int, metavar="B",
                        help="rows the golden model runs at a time (default: all samples in one batch)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random samples (default 0)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    if args.batch_size is None:
        args.batch_size = args.samples
    if args.batch_size < 1:
        parser.error("--batch-size must be at least 1")
    if args.samples < 1 or not 1 <= args.lava_samples <= args.samples:
        parser.error("need 1 <= --lava-samples <= --samples")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    network = read_netx(NETWORK)
    stimulus, rate = build_stimulus(network, args.samples, STEPS, args.seed)
    subset = Stimulus(stimulus.spikes[: args.lava_samples], None, STEPS)
    print(f"oxford network {NETWORK}: {args.samples} samples x {STEPS} steps, input rate {rate:.4f} "
          f"spikes/neuron/step; golden runs all {args.samples} in batches of {args.batch_size}, Lava the first {args.lava_samples}")

    run_lava(network, Stimulus(stimulus.spikes[:1, :, :20], None, 20))  # warm-up, not timed
    golden_first = time_golden(NETWORK, stimulus, batch_size=args.batch_size)
    print(f"golden run 1: {golden_first:.3f} s for {args.samples} samples")
    lava = run_lava(network, subset)
    print(f"Lava: {lava.seconds:.3f} s for {args.lava_samples} samples")
    golden_second = time_golden(NETWORK, stimulus, batch_size=args.batch_size)
    print(f"golden run 2: {golden_second:.3f} s for {args.samples} samples")

    problems = check_equal(network, subset, lava)
    compared = sum(s.size for s in lava.spikes.values())
    if problems:
        print(f"FAIL: golden (stream mode) != Lava on the {args.lava_samples} samples:", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
    else:
        print(f"check: golden == Lava on {args.lava_samples} samples, every layer, {compared} spike entries")

    golden_s = min(golden_first, golden_second) / args.samples
    lava_s = lava.seconds / args.lava_samples
    ratio = lava_s / golden_s
    passed = not problems and ratio >= TARGET
    result: dict[str, Any] = {
        "benchmark": "golden_vs_lava",
        "date": datetime.date.today().isoformat(),
        "network": str(NETWORK),
        "samples": args.samples,
        "lava_samples": args.lava_samples,
        "golden_batch_size": args.batch_size,
        "steps": STEPS,
        "input_rate": rate,
        "golden_runs_s": [golden_first, golden_second],
        "golden_s_per_sample": golden_s,
        "lava_s": lava.seconds,
        "lava_s_per_sample": lava_s,
        "ratio": ratio,
        "target": TARGET,
        "spikes_equal": not problems,
        "compared_entries": compared,
        "pass": passed,
    }
    print(f"golden {golden_s * 1e3:.2f} ms/sample (faster of 2 runs), Lava {lava_s:.3f} s/sample: "
          f"ratio {ratio:.1f} (target >= {TARGET:g}) -> {'PASS' if passed else 'FAIL'}")
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
