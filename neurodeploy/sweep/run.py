"""``neurodeploy sweep``: run every point in parallel processes, resumably, then tabulate.

Layout of the sweep folder ``DIR``:

- ``dense/seed{S}.pt``: each seed's dense network (and rewind point);
- ``points/{name}.json``: one finished point, its row and the settings
  digest that made it; ``points/{name}.net``: its exported network;
- ``sweep.csv``, ``sweep.json``, ``accuracy_vs_sparsity.png``,
  ``accuracy_vs_synops.png``: the table and plots (``table``, ``plots``).

Every file is written atomically, so an interrupted sweep leaves only
finished points and networks behind. Running the same command again skips
every point whose file holds the digest of its current settings; a point
whose settings changed is run again.
"""
from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Callable, Sequence

from neurodeploy.fileio import atomic_path
from neurodeploy.limits import Limits
from neurodeploy.lock import folder_lock
from neurodeploy.preflight import check_recipe
from neurodeploy.pipeline import BY_NAME, settings_digest
from neurodeploy.prune.criteria import CRITERIA
from neurodeploy.recipe import Recipe
from neurodeploy.registry import UnknownNameError
from neurodeploy.sweep.plots import write_plots
from neurodeploy.sweep.point import Point, point_recipe, run_point, train_seed
from neurodeploy.sweep.table import write_table


class SweepError(ValueError):
    """Sweep options that cannot be used; names the option."""


def points(criteria: Sequence[str], sparsities: Sequence[float], seeds: Sequence[int]) -> list[Point]:
    """The dense network of every seed, then every criterion x sparsity x seed."""
    for criterion in criteria:
        try:
            CRITERIA.lookup(criterion, "--criteria:")
        except UnknownNameError as err:
            raise SweepError(str(err)) from None
    bad = [s for s in sparsities if not 0.0 < s < 1.0]
    if bad:
        raise SweepError(f"--sparsity: {bad[0]} is outside (0, 1)")
    if len(set(criteria)) != len(criteria) or len(set(sparsities)) != len(sparsities):
        raise SweepError("--criteria and --sparsity must not repeat a value")
    dense = [Point("dense", 0.0, seed) for seed in seeds]
    return dense + [Point(c, s, seed) for c in criteria for s in sparsities for seed in seeds]


def dense_digest(recipe: Recipe, seed: int) -> str:
    """What the seed's dense network depends on: the run pipeline's train-stage settings
    digest (seed, data, model, train, rewind epoch) with that seed."""
    return settings_digest(dataclasses.replace(recipe, seed=seed), BY_NAME["train"])


def _digest(recipe: Recipe, point: Point) -> str:
    """A point's settings digest: the dense network's, or with it the prune stage's
    settings digest of the point's recipe."""
    if point.sparsity == 0:
        return dense_digest(recipe, point.seed)
    return dense_digest(recipe, point.seed) + settings_digest(point_recipe(recipe, point), BY_NAME["prune"])


def _finished(path: Path, digest: str) -> dict[str, Any] | None:
    """The row saved at ``path`` if it was made with settings ``digest``."""
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return saved.get("row") if saved.get("digest") == digest else None


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def _train_task(recipe: Recipe, seed: int, path: Path, digest: str) -> None:
    train_seed(recipe, seed, path)
    with atomic_path(path.with_suffix(".digest")) as tmp:
        tmp.write_text(digest)


def _point_task(recipe: Recipe, point: Point, out_dir: Path, digest: str) -> dict[str, Any]:
    dense = out_dir / "dense" / f"seed{point.seed}.pt"
    row = run_point(recipe, point, dense, out_dir / "points" / f"{point.name}.net")
    with atomic_path(out_dir / "points" / f"{point.name}.json") as tmp:
        tmp.write_text(json.dumps({"digest": digest, "row": row}, indent=2))
    return row


def sweep(
    recipe: Recipe,
    criteria: Sequence[str],
    sparsities: Sequence[float],
    seeds: Sequence[int],
    out_dir: Path,
    workers: int | None = None,
    progress: Callable[[str], None] = lambda line: None,
    limits: Limits | None = None,
) -> Path:
    """Run (or resume) the sweep into ``out_dir``; returns the path of ``sweep.json``.

    Seeds' dense networks train first, then the points, each in one of
    ``workers`` processes (default: one per CPU). ``progress`` gets one line
    per finished task.
    """
    todo = points(criteria, sparsities, seeds)
    workers = max(1, workers or os.cpu_count() or 1)
    for sparsity in sparsities:  # every point's recipe, checked before any training
        check_recipe(dataclasses.replace(recipe, prune=dataclasses.replace(recipe.prune, sparsity=sparsity)),
                     limits or Limits(), lava=False)
    with folder_lock(out_dir):
        return _sweep(recipe, todo, seeds, out_dir, workers, progress)


def _sweep(recipe: Recipe, todo: list[Point], seeds: Sequence[int], out_dir: Path, workers: int,
           progress: Callable[[str], None]) -> Path:
    (out_dir / "points").mkdir(parents=True, exist_ok=True)
    (out_dir / "dense").mkdir(parents=True, exist_ok=True)
    # Lava sets the fork start method when it is imported and fails in a
    # process started any other way, so the workers are forked.
    context = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker)
    try:
        trainings = {}
        for seed in seeds:
            path = out_dir / "dense" / f"seed{seed}.pt"
            digest = dense_digest(recipe, seed)
            saved = path.with_suffix(".digest")
            if path.exists() and saved.exists() and saved.read_text() == digest:
                continue
            trainings[pool.submit(_train_task, recipe, seed, path, digest)] = seed
        for future in as_completed(trainings):
            future.result()
            progress(f"trained dense seed {trainings[future]}")
        rows: dict[Point, dict[str, Any]] = {}
        running = {}
        for point in todo:
            digest = _digest(recipe, point)
            row = _finished(out_dir / "points" / f"{point.name}.json", digest)
            if row is not None:
                rows[point] = row
                continue
            running[pool.submit(_point_task, recipe, point, out_dir, digest)] = point
        progress(f"{len(rows)} of {len(todo)} points already done, {len(running)} to run on {workers} workers")
        for future in as_completed(running):
            point = running[future]
            rows[point] = future.result()
            progress(f"{point.name}: accuracy {rows[point]['accuracy']:.4f}, "
                     f"synops/sample {rows[point]['synops_per_sample']:.0f}")
    except BaseException:
        # Ctrl-C, SIGTERM or a failed point: the workers stop now, not after their points
        for child in multiprocessing.active_children():
            child.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    ordered = [rows[point] for point in todo]
    path = write_table(ordered, recipe, out_dir)
    write_plots(ordered, out_dir)
    return path
