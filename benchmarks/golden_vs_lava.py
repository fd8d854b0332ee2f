"""Benchmark: the golden model against Lava ``fixed_pt``, time per sample, on six networks.

What is measured, per case: the wall time per sample of simulating a
network in the golden model (``read_netx`` + ``GoldenModel`` + ``run`` of N
samples in batch mode, compiled path) and in Lava's ``fixed_pt`` CPU
simulator through the project's harness (``run_lava`` of the first K samples
as one stream: build, compilation, run and read-back of every layer
included), and the ratio Lava / golden. Targets (issue 15):

============== ============================================== ===== =====
case           network                                        N x T  ratio
============== ============================================== ===== =====
oxford-64x2000 lava-dl's oxford (CUBA dense 200-256-200)       64 x 2000 1000
oxford-8x500   the same, a user's quick ``verify``              8 x 500   300
pilotnet-lif   lava-dl's gts/pilotnet_lif, image as bias        8 x 16    300
pilotnet-sdnn  lava-dl's gts/pilotnet_sdnn, image as a_in       8 x 16    300
digits-sdnn    models/digits_sdnn.yaml's pruned network        64 x 16   300
digits-rec     models/digits_recurrent.yaml's pruned network   64 x 32   300
============== ============================================== ===== =====

How: every case runs ``--repeats`` times (default 5), each repeat side by
side in this one process: golden, Lava, golden again (the faster golden run
counts; both are printed); the case's figure is the median ratio of its
repeats. Before the first repeat an untimed golden run loads (or compiles)
the kernels and, once per process, an untimed 20-step Lava run pays Lava's
one-off set-up. The golden model in stream mode must give exactly Lava's
messages on the K samples, every layer and column, in every repeat; if not,
the script says where and exits 1 whatever the speed.

The work rate (oxford-64x2000): neuron updates (N x columns x neurons)
plus synaptic events (messages x fan-out, ``compare.synops``) per second of
the golden run, against the rate of a minimal compiled loop of the CUBA
update (``minimal_loop``, same neurons and columns, no synapses, one core),
measured in each repeat. Target: at least half.

First call and memory (oxford): a fresh Python process reads the network
and runs one sample of 2000 steps, (a) with an empty kernel cache (what a
new machine pays: compilation; target < 10 s) and (b) with the cache that
(a) wrote; and, in a fresh process each, the resident memory a golden run
of 64 x 2000 adds at its peak (``ru_maxrss`` against the resident size
before it: numba's allocations count too) at batch sizes 64 and 8, against
the bytes of the messages it returns.

Inputs: oxford's sample 0 is the fixture (``oxford/input_events.npy``),
the others Bernoulli spikes at its mean rate (seed 0); pilotnet's image
(lava-dl's ``image.npy`` / ``input.npy``) plus, for samples 1..N-1, uniform
noise of +-8 (seed 0); the digits networks get their first N test samples
(``benchmarks/networks/*.npz``, written by ``benchmarks/networks/README.md``'s
commands).

Exit status: 0 when every check passes and every target is met, 1
otherwise. ``--json OUT`` writes every figure. Run:
``.venv/bin/python benchmarks/golden_vs_lava.py`` (about 4 minutes on 2
shared cores; ``--cases oxford-8x500,digits-sdnn --repeats 1`` for a quick
look).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numba
import numpy as np

from neurodeploy.compare.equivalence import compare_recordings
from neurodeploy.compare.synops import network_synops
from neurodeploy.loihi.timing import drain
from neurodeploy.netx import Network, read_netx
from neurodeploy.reference import fixtures_dir, lava_dl_ground_truth
from neurodeploy.simulate.golden import GoldenModel, GoldenRun
from neurodeploy.simulate.harness import LavaRun, run_lava
from neurodeploy.simulate.inputs import load_events, random_spikes
from neurodeploy.simulate.stimulus import Stimulus

HERE = Path(__file__).resolve().parent
OXFORD = fixtures_dir() / "oxford"
WORK_RATE_TARGET = 0.5
FIRST_CALL_TARGET_S = 10.0


@dataclass(frozen=True)
class Case:
    """A network, its N samples (``inputs``) and the Lava subset size K; ``target``: the
    least ratio Lava / golden per sample."""

    name: str
    path: Path
    samples: int
    steps: int
    lava_samples: int
    target: float
    inputs: Callable[[Network, int, int], Stimulus]


def oxford_stimulus(network: Network, samples: int, steps: int) -> Stimulus:
    """The fixture input as sample 0, Bernoulli spikes at its mean rate after it (seed 0)."""
    size = int(np.prod(network.input_shape))
    fixture = load_events(OXFORD / "input_events.npy", size, steps)
    parts = [fixture] + ([random_spikes(samples - 1, size, steps, float(fixture.mean()), 0)] if samples > 1 else [])
    return Stimulus(np.concatenate(parts), None, steps)


def _noisy(image: np.ndarray, samples: int) -> np.ndarray:
    """[samples, n]: the image, then copies with uniform noise of +-8 (seed 0)."""
    noise = np.random.default_rng(0).integers(-8, 9, size=(samples, image.size))
    noise[0] = 0
    return image.reshape(1, -1).astype(np.int64) + noise


def pilotnet_lif_stimulus(network: Network, samples: int, steps: int) -> Stimulus:
    """lava-dl's image.npy (and noisy copies) as the input layer's bias."""
    image = np.load(lava_dl_ground_truth() / "pilotnet_lif" / "image.npy")
    return Stimulus(None, _noisy(image, samples), steps)


def pilotnet_sdnn_stimulus(network: Network, samples: int, steps: int) -> Stimulus:
    """lava-dl's input.npy (and noisy copies) into the input layer's a_in, the same every step."""
    image = np.load(lava_dl_ground_truth() / "pilotnet_sdnn" / "input.npy")[..., 0]
    values = _noisy(image, samples).astype(np.int32)
    return Stimulus(np.repeat(values[:, :, None], steps, axis=2), None, steps)


def digits_stimulus(name: str) -> Callable[[Network, int, int], Stimulus]:
    """The first N test samples stored beside the network (Lava order)."""
    def make(network: Network, samples: int, steps: int) -> Stimulus:
        stored = np.load(HERE / "networks" / f"{name}.npz")["inputs"][:samples]
        return Stimulus(stored if stored.dtype == np.uint8 else stored.astype(np.int32), None, steps)
    return make


CASES = {case.name: case for case in (
    Case("oxford-64x2000", OXFORD / "network.net", 64, 2000, 2, 1000.0, oxford_stimulus),
    Case("oxford-8x500", OXFORD / "network.net", 8, 500, 2, 300.0, oxford_stimulus),
    Case("pilotnet-lif", lava_dl_ground_truth() / "pilotnet_lif" / "network.net", 8, 16, 1, 300.0,
         pilotnet_lif_stimulus),
    Case("pilotnet-sdnn", lava_dl_ground_truth() / "pilotnet_sdnn" / "network.net", 8, 16, 1, 300.0,
         pilotnet_sdnn_stimulus),
    Case("digits-sdnn", HERE / "networks" / "digits_sdnn.net", 64, 16, 2, 300.0, digits_stimulus("digits_sdnn")),
    Case("digits-rec", HERE / "networks" / "digits_recurrent.net", 64, 32, 2, 300.0,
         digits_stimulus("digits_recurrent")),
)}


@numba.njit(cache=False)
def minimal_loop(rows: int, columns: int, size: int, drive: np.ndarray) -> int:
    """The CUBA update at its barest: u, v decay and add, threshold, reset; no synapse,
    no wrap. Returns the spike count (so that nothing is optimised away)."""
    count = 0
    u = np.zeros(size, np.int64)
    v = np.zeros(size, np.int64)
    for _ in range(rows):
        u[:] = 0
        v[:] = 0
        for t in range(columns):
            for j in range(size):
                u[j] = ((u[j] * 3072) >> 12) + drive[(t + j) & 1023]
                v[j] = ((v[j] * 4000) >> 12) + u[j]
                if v[j] > 100000:
                    v[j] = 0
                    count += 1
    return count


def time_golden(case: Case, stimulus: Stimulus, batch_size: int) -> tuple[float, GoldenRun]:
    """Seconds for read_netx + GoldenModel + one batch-mode run of every sample, and the run."""
    start = time.perf_counter()
    run = GoldenModel(read_netx(case.path)).run_samples(stimulus, batch_size=batch_size)
    return time.perf_counter() - start, run


def check_equal(network: Network, stimulus: Stimulus, lava: LavaRun) -> tuple[list[str], int]:
    """Golden stream mode against Lava, every layer (``compare_recordings``): the layers that
    differ, and the entries compared."""
    run = GoldenModel(network).run_stream(stimulus)
    result = compare_recordings({i: s[0] for i, s in enumerate(run.spikes)}, lava.spikes)
    problems = [f"layer {layer}: {count} entries differ (first at layer, neuron, column {result.first})"
                for layer, count in result.mismatches.items() if count]
    return problems, result.compared


def work(network: Network, stimulus: Stimulus, run: GoldenRun) -> tuple[int, int]:
    """(neuron updates, synaptic events) of a batch-mode run."""
    rows, _, columns = run.spikes[0].shape
    updates = rows * columns * sum(layer.size for layer in network.layers)
    inputs = None if stimulus.spikes is None else \
        stimulus.batch_spikes(drain(len(network.layers), network.starts_with_input))
    events = network_synops(network, inputs, run.spikes)
    return updates, int(events[events > 0].sum())


def minimal_rate(rows: int, columns: int, size: int) -> float:
    """Neuron updates per second of ``minimal_loop`` on these dimensions."""
    drive = np.random.default_rng(0).integers(-3000, 3000, 1024)
    minimal_loop(1, 4, 4, drive)
    start = time.perf_counter()
    minimal_loop(rows, columns, size, drive)
    return rows * columns * size / (time.perf_counter() - start)


def run_case(case: Case, repeats: int) -> dict[str, Any]:
    network = read_netx(case.path)
    stimulus = case.inputs(network, case.samples, case.steps)
    subset = Stimulus(None if stimulus.spikes is None else stimulus.spikes[: case.lava_samples],
                      None if stimulus.bias is None else stimulus.bias[: case.lava_samples], case.steps)
    time_golden(case, stimulus, case.samples)  # loads or compiles the kernels: not timed
    result: dict[str, Any] = {"case": case.name, "network": str(case.path), "samples": case.samples,
                              "steps": case.steps, "lava_samples": case.lava_samples, "target": case.target,
                              "repeats": []}
    for repeat in range(repeats):
        first, _ = time_golden(case, stimulus, case.samples)
        lava = run_lava(network, subset)
        second, run = time_golden(case, stimulus, case.samples)
        problems, compared = check_equal(network, subset, lava)
        golden_s = min(first, second) / case.samples
        lava_s = lava.seconds / case.lava_samples
        entry = {"golden_runs_s": [first, second], "golden_s_per_sample": golden_s, "lava_s": lava.seconds,
                 "lava_s_per_sample": lava_s, "ratio": lava_s / golden_s, "equal": not problems,
                 "compared_entries": compared, "problems": problems}
        if case.name == "oxford-64x2000":
            updates, events = work(network, stimulus, run)
            golden_rate = (updates + events) / min(first, second)
            loop_rate = minimal_rate(case.samples, run.spikes[0].shape[2], sum(l.size for l in network.layers))
            entry.update(neuron_updates=updates, synaptic_events=events, golden_ops_per_s=golden_rate,
                         minimal_loop_updates_per_s=loop_rate, work_rate_fraction=golden_rate / loop_rate)
        result["repeats"].append(entry)
        print(f"  {case.name} repeat {repeat + 1}: golden {golden_s * 1e3:.3f} ms/sample (runs {first:.3f}, "
              f"{second:.3f} s), Lava {lava_s:.3f} s/sample, ratio {entry['ratio']:.0f}"
              + (f", work rate {entry['work_rate_fraction']:.2f} of the minimal loop "
                 f"({entry['golden_ops_per_s'] / 1e6:.0f} vs {entry['minimal_loop_updates_per_s'] / 1e6:.0f} M/s)"
                 if "work_rate_fraction" in entry else "")
              + ("" if not problems else f"; NOT EQUAL: {problems}"), flush=True)
    ratios = [r["ratio"] for r in result["repeats"]]
    result["median_ratio"] = statistics.median(ratios)
    result["equal"] = all(r["equal"] for r in result["repeats"])
    result["pass"] = result["equal"] and result["median_ratio"] >= case.target
    if case.name == "oxford-64x2000":
        result["median_work_rate_fraction"] = statistics.median(r["work_rate_fraction"] for r in result["repeats"])
        result["pass"] = result["pass"] and result["median_work_rate_fraction"] >= WORK_RATE_TARGET
    return result


FIRST_CALL = """
import time
start = time.perf_counter()
from neurodeploy.netx import read_netx
from neurodeploy.simulate.golden import GoldenModel
from neurodeploy.simulate.stimulus import Stimulus
import numpy as np
network = read_netx({path!r})
spikes = (np.random.default_rng(0).random((1, 200, 2000)) < 0.005).astype(np.uint8)
GoldenModel(network).run_samples(Stimulus(spikes, None, 2000))
print(time.perf_counter() - start)
"""


def first_call() -> dict[str, float]:
    """Seconds of a fresh process's first oxford run, without and with a kernel cache."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NEURODEPLOY_JIT_CACHE=cache)
        times = {}
        for name in ("empty_cache_s", "warm_cache_s"):
            out = subprocess.run([sys.executable, "-c", FIRST_CALL.format(path=str(OXFORD / "network.net"))],
                                 env=env, capture_output=True, text=True, check=True)
            times[name] = float(out.stdout.strip().splitlines()[-1])
    return times


MEMORY = """
import resource, sys
sys.path.insert(0, {here!r})
from golden_vs_lava import OXFORD, oxford_stimulus
from neurodeploy.netx import read_netx
from neurodeploy.simulate.golden import GoldenModel
network = read_netx(OXFORD / "network.net")
stimulus = oxford_stimulus(network, 64, 2000)
model = GoldenModel(network)
model.run_samples(oxford_stimulus(network, 1, 20))  # kernels loaded: not part of the run
with open("/proc/self/statm") as statm:
    before = int(statm.read().split()[1]) * resource.getpagesize()
run = model.run_samples(stimulus, batch_size={batch})
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(before, peak, sum(s.nbytes for s in run.spikes), stimulus.spikes.nbytes)
"""


def peak_memory(batch_size: int) -> dict[str, float]:
    """Resident memory a golden run of oxford 64 x 2000 at ``batch_size`` adds at its peak, in
    a fresh process (every allocation counted, numba's included), and the bytes it returns."""
    out = subprocess.run([sys.executable, "-c", MEMORY.format(here=str(HERE), batch=batch_size)],
                         capture_output=True, text=True, check=True)
    before, peak, returned, given = (int(value) for value in out.stdout.split()[-4:])
    return {"batch_size": batch_size, "peak_added_mib": (peak - before) / 2**20, "returned_mib": returned / 2**20,
            "input_mib": given / 2**20}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Golden model against Lava fixed_pt, time per sample, on six "
                                     "networks; also the work rate, the first call and the memory (module doc).")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of {', '.join(CASES)}")
    parser.add_argument("--repeats", type=int, default=5, help="side-by-side repeats per case (default 5)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write every figure as JSON")
    args = parser.parse_args(argv)
    args.cases = [name.strip() for name in args.cases.split(",") if name.strip()]
    unknown = [name for name in args.cases if name not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(CASES)}")
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    oxford = read_netx(OXFORD / "network.net")
    run_lava(oxford, Stimulus(oxford_stimulus(oxford, 1, 20).spikes, None, 20))  # Lava's one-off set-up
    results: dict[str, Any] = {"benchmark": "golden_vs_lava", "date": datetime.date.today().isoformat(),
                               "cpus": os.cpu_count(), "cases": []}
    for name in args.cases:
        case = CASES[name]
        print(f"{case.name}: {case.path.name}, {case.samples} x {case.steps} golden, {case.lava_samples} in Lava, "
              f"target ratio >= {case.target:g}", flush=True)
        outcome = run_case(case, args.repeats)
        results["cases"].append(outcome)
        print(f"{case.name}: median ratio {outcome['median_ratio']:.0f} (target {case.target:g}), "
              f"{'equal' if outcome['equal'] else 'NOT EQUAL'} -> {'PASS' if outcome['pass'] else 'FAIL'}",
              flush=True)
    results["first_call"] = first_call()
    print(f"first call of a fresh process (oxford, 1 x 2000): {results['first_call']['empty_cache_s']:.2f} s with "
          f"an empty kernel cache (target < {FIRST_CALL_TARGET_S:g}), {results['first_call']['warm_cache_s']:.2f} s "
          "with the cache it wrote", flush=True)
    results["memory"] = [peak_memory(batch) for batch in (64, 8)]
    for entry in results["memory"]:
        print(f"memory, oxford 64 x 2000, batch {entry['batch_size']}: the run adds {entry['peak_added_mib']:.1f} MiB "
              f"resident at its peak and returns {entry['returned_mib']:.1f} MiB of messages (input "
              f"{entry['input_mib']:.1f} MiB, held before)")
    passed = all(c["pass"] for c in results["cases"]) and \
        results["first_call"]["empty_cache_s"] < FIRST_CALL_TARGET_S
    results["pass"] = passed
    print("PASS" if passed else "FAIL")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
