"""The stages in order, each a function of the run folder, and ``run`` composing them.

Hand-offs, all inside the run folder ``DIR``:
train -> dense.pt; prune -> pruned.pt; export -> dense.net, pruned.net;
simulate -> simulation.npz; compare -> comparison.json; report -> report.json,
report.html. ``recipe.json`` records the recipe; ``seconds.json`` the time
each stage took; ``stages.json`` the stages finished and the digest of the
settings each was made with (``run`` resumes from it).
"""
from __future__ import annotations

import functools
import hashlib
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


# What each stage writes, and the recipe settings it reads beyond the stages before it.
OUTPUTS = {
    "train": ("dense.pt",), "prune": ("pruned.pt",), "export": ("dense.net", "pruned.net"),
    "simulate": ("simulation.npz",), "compare": ("comparison.json",), "report": ("report.json", "report.html"),
}
SETTINGS = {
    "train": ("seed", "data", "model", "train", "prune.rewind_epoch"), "prune": ("prune",), "export": (),
    "simulate": ("simulate",), "compare": (), "report": (),
}
DONE_FILE = "stages.json"


def stage_digests(recipe: Recipe) -> dict[str, str]:
    """Per stage, a digest of every setting its outputs depend on: its own settings
    (``SETTINGS``) chained with the digest of the stage before it."""
    settings = recipe.to_dict()
    digests, previous = {}, ""
    for stage in STAGES:
        picked = {}
        for key in SETTINGS[stage]:
            section, _, field = key.partition(".")
            picked[key] = settings[section][field] if field else settings[section]
        text = previous + json.dumps(picked, sort_keys=True)
        previous = digests[stage] = hashlib.sha256(text.encode()).hexdigest()[:16]
    return digests


def _read_done(out_dir: Path) -> dict[str, str]:
    try:
        done = json.loads((out_dir / DONE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return done if isinstance(done, dict) else {}


def _write_done(out_dir: Path, done: dict[str, str]) -> None:
    with atomic_path(out_dir / DONE_FILE) as tmp:
        tmp.write_text(json.dumps(done, indent=2))


def forget(out_dir: Path, stage: str) -> None:
    """Mark ``stage`` and every later stage of ``out_dir`` as not done (a stage run by hand)."""
    done = _read_done(out_dir)
    later = STAGES[STAGES.index(stage):]
    if any(s in done for s in later):
        _write_done(out_dir, {s: d for s, d in done.items() if s not in later})


def run(recipe: Recipe, out_dir: Path, restart: bool = False,
        progress: Callable[[str], None] = lambda line: None) -> Path:
    """Every stage on ``recipe`` into ``out_dir``; returns the report's path.

    Resumes: a stage is skipped when ``DIR/stages.json`` records it as
    finished with the digest of the settings it depends on
    (``stage_digests``), its outputs exist, and no stage before it ran
    again. A stage killed half-way is not recorded, so it runs again; a
    changed setting reruns the first stage that reads it and all after it.
    ``restart`` runs everything. ``progress`` gets a line per skipped stage.
    """
    write_recipe(out_dir, recipe)
    done = {} if restart else _read_done(out_dir)
    digests = stage_digests(recipe)
    dataset = functools.cache(lambda: load_dataset(recipe.data, recipe.seed))
    actions = {
        "train": lambda: train_stage(recipe, out_dir, dataset()),
        "prune": lambda: prune_stage(out_dir, dataset()),
        "export": lambda: export_stage(out_dir),
        "simulate": lambda: simulate_stage(out_dir, dataset()),
        "compare": lambda: compare_stage(out_dir),
        "report": lambda: report_stage(out_dir),
    }
    rerun = False
    for stage in STAGES:
        finished = done.get(stage) == digests[stage] and all((out_dir / f).exists() for f in OUTPUTS[stage])
        if finished and not rerun:
            progress(f"{stage}: done already with these settings, skipped")
            continue
        rerun = True
        done.pop(stage, None)
        _write_done(out_dir, done)
        timed(out_dir, stage, actions[stage])
        done[stage] = digests[stage]
        _write_done(out_dir, done)
    return out_dir / "report.json"
