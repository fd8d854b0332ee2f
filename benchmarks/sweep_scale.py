"""Benchmark: what running a sweep on Ray costs and how it scales, against the same points run
one after another in one process.

What is measured, in one invocation, on one grid (default: ``models/digits_mlp.yaml``,
criteria magnitude and sf, sparsities 0.8 and 0.95, 2 seeds: 2 trainings and 10
points):

1. serial, the baseline: every seed's training and every point, run by the
   same functions the Ray tasks call (``sweep.point.train_seed``,
   ``run_point``), one after another in this process with one torch
   thread (as each Ray task has); each task's seconds are the per-task cost;
2. ``neurodeploy sweep --workers 1`` and ``--workers 2``, each a fresh
   process and a fresh output folder (every point computed), wall time;
3. Ray's start-up and shutdown alone: a local Ray started, one empty task
   run on it, Ray shut down (``sweep.cluster.ray_cluster``), 3 times.

Figures: the overhead ratio (1 worker / serial: what the engine adds to the
same work) and the speed-up (1 worker / 2 workers). A shared machine makes
absolute times noisy: the runs are back to back, and the ratios are the
figures. The result goes to docs/benchmarks.md.

Run: ``.venv/bin/python benchmarks/sweep_scale.py [--json OUT]`` (about 10
minutes on 2 cores, nothing else running).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("TQDM_DISABLE", "1")  # the training bars, here and in the sweeps' processes


def serial(recipe_path: Path, criteria: list[str], sparsities: list[float], seeds: int, folder: Path) -> dict:
    """Every training and point of the grid in this process, one torch thread; seconds each."""
    import torch

    from neurodeploy.recipe import load_recipe
    from neurodeploy.sweep.point import run_point, train_seed
    from neurodeploy.sweep.run import points

    torch.set_num_threads(1)
    recipe = load_recipe(recipe_path)
    seed_list = list(range(recipe.seed, recipe.seed + seeds))
    trainings, runs = {}, {}
    start = time.perf_counter()
    for seed in seed_list:
        began = time.perf_counter()
        train_seed(recipe, seed, folder / f"seed{seed}.pt")
        trainings[seed] = time.perf_counter() - began
    for point in points(criteria, sparsities, seed_list, [recipe.prune.objective], recipe.prune.objective):
        began = time.perf_counter()
        run_point(recipe, point, folder / f"seed{point.seed}.pt", folder / f"{point.name}.net")
        runs[point.name] = time.perf_counter() - began
    return {"wall_s": time.perf_counter() - start, "training_s": trainings, "point_s": runs}


def ray_sweep(recipe_path: Path, criteria: list[str], sparsities: list[float], seeds: int, workers: int,
              folder: Path) -> float:
    """Wall seconds of ``neurodeploy sweep`` on a local Ray of ``workers`` CPUs, a fresh process."""
    command = [sys.executable, "-m", "neurodeploy.cli", "sweep", str(recipe_path), "--criteria", ",".join(criteria),
               "--sparsity", ",".join(f"{s:g}" for s in sparsities), "--seeds", str(seeds),
               "--workers", str(workers), "--out", str(folder)]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def ray_start_up(repeats: int) -> list[dict[str, float]]:
    """Seconds to start a local Ray of 2 CPUs, run one empty task, and shut it down."""
    import ray

    from neurodeploy.sweep.cluster import check_cluster, ray_cluster

    found = []
    for _ in range(repeats):
        check_cluster(None, 2)
        began = time.perf_counter()
        with ray_cluster(None, 2, oom_retries=0):
            up = time.perf_counter()
            ray.get(ray.remote(num_cpus=1)(_nothing).remote())
            task = time.perf_counter()
        found.append({"start_s": up - began, "first_task_s": task - up, "shutdown_s": time.perf_counter() - task})
    return found


def _nothing() -> None:
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", type=Path, default=REPO / "models" / "digits_mlp.yaml")
    parser.add_argument("--criteria", default="magnitude,sf")
    parser.add_argument("--sparsity", default="0.8,0.95")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    criteria = args.criteria.split(",")
    sparsities = [float(s) for s in args.sparsity.split(",")]
    result: dict[str, Any] = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
                              "recipe": str(args.recipe.relative_to(REPO) if args.recipe.is_relative_to(REPO)
                                            else args.recipe),
                              "criteria": criteria, "sparsities": sparsities, "seeds": args.seeds,
                              "cores": len(os.sched_getaffinity(0))}
    with tempfile.TemporaryDirectory(prefix="sweep_scale_") as tmp:
        tmp_path = Path(tmp)
        result["serial"] = serial(args.recipe, criteria, sparsities, args.seeds, tmp_path / "serial")
        print(f"serial: {result['serial']['wall_s']:.1f} s", flush=True)
        for workers in (1, 2):
            wall = ray_sweep(args.recipe, criteria, sparsities, args.seeds, workers, tmp_path / f"ray{workers}")
            result[f"ray_{workers}_workers_s"] = wall
            print(f"ray, {workers} worker(s): {wall:.1f} s", flush=True)
    result["ray_start_up"] = ray_start_up(3)
    tasks = list(result["serial"]["training_s"].values()) + list(result["serial"]["point_s"].values())
    result["tasks"] = len(tasks)
    result["overhead_ratio"] = result["ray_1_workers_s"] / result["serial"]["wall_s"]
    result["speed_up_2_workers"] = result["ray_1_workers_s"] / result["ray_2_workers_s"]
    pruned = [s for name, s in result["serial"]["point_s"].items() if not name.startswith("dense")]
    result["mean_training_s"] = sum(result["serial"]["training_s"].values()) / args.seeds
    result["mean_pruned_point_s"] = sum(pruned) / len(pruned)
    print(json.dumps({key: value for key, value in result.items() if key != "serial"}, indent=2))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
