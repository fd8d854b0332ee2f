"""The stages in order, each a function of the run folder, and ``run`` composing them.

Hand-offs, all inside the run folder ``DIR``:
train -> dense.pt; prune -> pruned.pt; export -> dense.net, pruned.net;
simulate -> simulation.npz; compare -> comparison.json; report -> report.json.
``recipe.json`` records the recipe; ``seconds.json`` the time each stage took.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from neurodeploy.compare.stage import compare_stage
from neurodeploy.data.dataset import load_dataset
from neurodeploy.export.quantize import export_stage
from neurodeploy.fileio import atomic_path
from neurodeploy.prune.stage import prune_stage
from neurodeploy.recipe import Recipe
from neurodeploy.report.stage import report_stage
from neurodeploy.simulate.stage import simulate_stage
from neurodeploy.train.trainer import train_stage

STAGES = ("train", "prune", "export", "simulate", "compare", "report")


def record_seconds(out_dir: Path, stage: str, seconds: float) -> None:
    """Add ``stage: seconds`` to ``DIR/seconds.json``."""
    path = out_dir / "seconds.json"
    table = json.loads(path.read_text()) if path.exists() else {}
    table[stage] = round(seconds, 3)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(table, indent=2))


def timed(out_dir: Path, stage: str, fn: Callable[[], object]) -> None:
    """Run one stage and record how long it took."""
    start = time.perf_counter()
    fn()
    record_seconds(out_dir, stage, time.perf_counter() - start)


def write_recipe(out_dir: Path, recipe: Recipe) -> None:
    """Record the recipe a run folder was made with."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / "recipe.json") as tmp:
        tmp.write_text(json.dumps(recipe.to_dict(), indent=2))


def run(recipe: Recipe, out_dir: Path) -> Path:
    """Every stage on ``recipe`` into ``out_dir``; returns the report's path."""
    write_recipe(out_dir, recipe)
    (out_dir / "seconds.json").unlink(missing_ok=True)
    data = load_dataset(recipe.data, recipe.seed)
    timed(out_dir, "train", lambda: train_stage(recipe, out_dir, data))
    timed(out_dir, "prune", lambda: prune_stage(out_dir, data))
    timed(out_dir, "export", lambda: export_stage(out_dir))
    timed(out_dir, "simulate", lambda: simulate_stage(out_dir, data))
    timed(out_dir, "compare", lambda: compare_stage(out_dir))
    return report_stage(out_dir)
