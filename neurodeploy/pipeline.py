"""The stages in order, each a function of the recipe and the run folder, and ``run`` composing them.

Hand-offs, all inside the run folder ``DIR``: train -> dense.pt; prune ->
pruned.pt; export -> dense.net, pruned.net; simulate -> simulation.npz;
compare -> comparison.json; report -> report.json, report.html.
``recipe.json`` is the folder's recipe: ``run`` and ``train`` write it, the
other stage commands read it. Every stage reads its settings from that
recipe, never from a copy inside a checkpoint.

``stages.json`` records every finished stage: a digest of the recipe
settings it reads (``Stage.settings``), the content digest (SHA-256) of
every file it read (``Stage.inputs``) and wrote (``Stage.outputs``), and
its seconds. A stage is up to date only when all three still match; so a
changed setting reruns the first stage that reads it, a file changed by
hand (or damaged) reruns the stage that wrote it, and every stage whose
input changed runs again after it. ``run`` skips what is up to date; a
stage command run by hand first checks that the stages before it are.

A command holds the folder's lock (``lock.folder_lock``) while it writes,
so two commands never write one folder at once; a folder deleted or
replaced under a running command stops it before the next stage writes
(``lock.HeldFolder.check``), since a second command may lock the new one.
"""
from __future__ import annotations

import functools
import hashlib
import json
import time
from pathlib import Path
from typing import Any, Callable

from neurodeploy.compare.stage import compare_stage
from neurodeploy.data.dataset import SpikeDataset, load_dataset
from neurodeploy.export.quantize import export_stage
from neurodeploy.fileio import PathError, file_digest, read_json, write_json
from neurodeploy.hardware.profile import HARDWARE_DIR, available_profiles
from neurodeploy.limits import Limits
from neurodeploy.lock import HeldFolder, folder_lock
from neurodeploy.preflight import check_recipe
from neurodeploy.prune.stage import prune_stage
from neurodeploy.simulate.chip import recipe_measure
from neurodeploy.recipe import Recipe, RecipeError, recipe_from_dict
from neurodeploy.report.stage import report_stage
from neurodeploy.simulate.stage import simulate_stage
from neurodeploy.stages import BY_NAME, STAGES, Stage
from neurodeploy.train.trainer import train_stage

RECIPE_FILE = "recipe.json"
RECORDS_FILE = "stages.json"
RECORDS_FORMAT = 2


class StageError(ValueError):
    """A stage command that cannot run: an earlier stage of the folder is not up to date."""




def folder_files(stages: tuple[Stage, ...]) -> tuple[str, ...]:
    """The files of a run folder that running ``stages`` writes: their outputs, the
    folder's recipe and its stage records."""
    return (RECIPE_FILE, RECORDS_FILE, *(name for stage in stages for name in stage.outputs))


def settings_digest(recipe: Recipe, stage: Stage) -> str:
    """Hex SHA-256 prefix of the recipe settings ``stage`` reads (of ``Recipe.identity``:
    an added key at its default is left out)."""
    settings = recipe.identity()
    picked = {}
    for key in stage.settings:
        section, _, field = key.partition(".")
        if not field:
            picked[key] = settings[section]
        elif field in settings[section]:
            picked[key] = settings[section][field]
    return hashlib.sha256(json.dumps(picked, sort_keys=True).encode()).hexdigest()[:16]


def _package_inputs(stage: Stage, recipe: Recipe) -> dict[str, Path]:
    """Files of neurodeploy itself a stage reads: compare reads the chip profiles, prune
    the objective's profile under a chip objective (``prune.objective``)."""
    if stage.name == "prune" and recipe.prune.objective != "synops":
        return {f"hardware/{recipe.prune.profile}.yaml": HARDWARE_DIR / f"{recipe.prune.profile}.yaml"}
    if stage.name != "compare":
        return {}
    return {f"hardware/{name}.yaml": HARDWARE_DIR / f"{name}.yaml" for name in available_profiles()}


class _Digests:
    """Content digests of files, each computed once while the file is unchanged."""

    def __init__(self) -> None:
        self._known: dict[tuple[Path, int, int], str] = {}

    def __call__(self, path: Path) -> str | None:
        try:
            info = path.stat()
        except OSError:
            return None
        key = (path.resolve(), info.st_size, info.st_mtime_ns)
        if key not in self._known:
            self._known[key] = file_digest(path)
        return self._known[key]


def _inputs(stage: Stage, out_dir: Path, recipe: Recipe) -> dict[str, Path]:
    return {**{name: out_dir / name for name in stage.inputs}, **_package_inputs(stage, recipe)}


def read_records(out_dir: Path) -> dict[str, dict[str, Any]]:
    """The finished stages recorded in ``DIR/stages.json``; empty when there is none, or
    it is damaged or from an older neurodeploy (nothing in it is trusted then)."""
    try:
        raw = json.loads((out_dir / RECORDS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(raw, dict) or raw.get("format") != RECORDS_FORMAT or not isinstance(raw.get("stages"), dict):
        return {}
    return {name: record for name, record in raw["stages"].items()
            if name in BY_NAME and isinstance(record, dict)}


def _write_records(out_dir: Path, records: dict[str, dict[str, Any]]) -> None:
    write_json(out_dir / RECORDS_FILE, {"format": RECORDS_FORMAT, "stages": records})


def stale_reason(stage: Stage, recipe: Recipe, out_dir: Path, records: dict[str, dict[str, Any]],
                 digest: Callable[[Path], str | None]) -> str | None:
    """Why ``stage`` is not up to date in ``out_dir`` (None when it is)."""
    record = records.get(stage.name)
    if record is None:
        return "not run yet"
    if record.get("settings") != settings_digest(recipe, stage):
        return "its recipe settings changed"
    for name, path in _inputs(stage, out_dir, recipe).items():
        if record.get("inputs", {}).get(name) != digest(path):
            return f"{name}, which it reads, changed since it ran"
    for name in stage.outputs:
        found = digest(out_dir / name)
        if found is None:
            return f"{name} is missing"
        if record.get("outputs", {}).get(name) != found:
            return f"{name} differs from the file it wrote"
    return None


def write_recipe(out_dir: Path, recipe: Recipe) -> None:
    """Record ``recipe`` as the run folder's recipe."""
    write_json(out_dir / RECIPE_FILE, recipe.to_dict())


def read_recipe(out_dir: Path) -> Recipe:
    """The run folder's recipe (``DIR/recipe.json``), validated like a YAML recipe."""
    path = out_dir / RECIPE_FILE
    if not path.exists():
        raise RecipeError(f"{out_dir}: no {RECIPE_FILE}, so not a run folder; make one with "
                          f"neurodeploy run RECIPE --out {out_dir} (or neurodeploy train RECIPE --out {out_dir})")
    try:
        raw = read_json(path, "run neurodeploy run or neurodeploy train with the recipe")
    except PathError as err:
        raise RecipeError(str(err)) from err
    try:
        return recipe_from_dict(raw)
    except RecipeError as err:
        raise RecipeError(f"{path}: {err}") from err


class _Runner:
    """Runs stages into one locked run folder (``held``) and records each one."""

    def __init__(self, recipe: Recipe, held: HeldFolder, limits: Limits, records: dict[str, dict[str, Any]]) -> None:
        self.recipe, self.held, self.out_dir, self.limits, self.records = recipe, held, held.path, limits, records
        self.digest = _Digests()
        self.dataset: Callable[[], SpikeDataset] = functools.cache(lambda: load_dataset(recipe.data, recipe.seed))

    def stale(self, stage: Stage) -> str | None:
        return stale_reason(stage, self.recipe, self.out_dir, self.records, self.digest)

    def seconds(self) -> dict[str, float]:
        return {name: record["seconds"] for name, record in self.records.items()
                if name != "report" and isinstance(record.get("seconds"), (int, float))}

    def run(self, stage: Stage, sweep_dir: Path | None = None) -> None:
        """Run ``stage`` and record it (its record is dropped first, so a stage killed
        half-way is never taken for done). Before each write the folder is checked to be
        the one locked (``FolderChangedError`` when it was deleted or replaced)."""
        recipe, out = self.recipe, self.out_dir
        actions: dict[str, Callable[[], object]] = {
            "train": lambda: train_stage(recipe, out, self.dataset()),
            "prune": lambda: prune_stage(recipe, out, self.dataset(), recipe_measure(recipe, self.dataset())),
            "export": lambda: export_stage(recipe, out),
            "simulate": lambda: simulate_stage(recipe, out, self.dataset()),
            "compare": lambda: compare_stage(recipe, out),
            "report": lambda: report_stage(recipe, out, self.seconds(), sweep_dir),
        }
        inputs = {name: self.digest(path) for name, path in _inputs(stage, out, recipe).items()}
        self.records.pop(stage.name, None)
        self.held.check()
        _write_records(out, self.records)
        start = time.perf_counter()
        actions[stage.name]()
        self.held.check()
        self.records[stage.name] = {
            "settings": settings_digest(recipe, stage),
            "inputs": inputs,
            "outputs": {name: self.digest(out / name) for name in stage.outputs},
            "seconds": round(time.perf_counter() - start, 3),
        }
        _write_records(out, self.records)


def run(recipe: Recipe, out_dir: Path, restart: bool = False,
        progress: Callable[[str], None] = lambda line: None, limits: Limits | None = None) -> Path:
    """Every stage on ``recipe`` into ``out_dir``; returns the report's path.

    First ``preflight.check_recipe``: nothing is written for a recipe that
    cannot run. Then each stage runs unless it is up to date
    (``stale_reason``); ``restart`` runs every stage. ``progress`` gets a
    line per stage saying why it runs or that it is skipped.
    """
    limits = limits or Limits()
    check_recipe(recipe, limits)
    with folder_lock(out_dir) as held:
        write_recipe(out_dir, recipe)
        runner = _Runner(recipe, held, limits, {} if restart else read_records(out_dir))
        for stage in STAGES:
            reason = "--restart" if restart else runner.stale(stage)
            if reason is None:
                progress(f"{stage.name}: up to date, skipped")
                continue
            progress(f"{stage.name}: running ({reason})")
            runner.run(stage)
    return out_dir / "report.json"


def run_stage(name: str, out_dir: Path, recipe: Recipe | None = None, limits: Limits | None = None,
              sweep_dir: Path | None = None) -> Path:
    """Run one stage by hand in ``out_dir``; returns the path of its first output.

    ``train`` takes ``recipe`` and makes it the folder's recipe; every other
    stage reads the folder's recipe and requires the stages before it to be
    up to date with it (``StageError`` naming the first that is not). The
    stage runs even when it is up to date itself. sweep_dir: the report's
    sweep curves.
    """
    stage = BY_NAME[name]
    limits = limits or Limits()
    if recipe is not None:
        check_recipe(recipe, limits)
    with folder_lock(out_dir) as held:
        if recipe is None:
            recipe = read_recipe(out_dir)
            check_recipe(recipe, limits)
        else:
            write_recipe(out_dir, recipe)
        runner = _Runner(recipe, held, limits, read_records(out_dir))
        for earlier in STAGES[: STAGES.index(stage)]:
            reason = runner.stale(earlier)
            if reason is not None:
                raise StageError(
                    f"{out_dir}: the {earlier.name} stage is not up to date with {out_dir / RECIPE_FILE} "
                    f"({reason}); run neurodeploy {earlier.name} --out {out_dir} (or neurodeploy run) first"
                )
        runner.run(stage, sweep_dir)
    return out_dir / stage.outputs[0]


def require_stages(out_dir: Path, last: str) -> Recipe:
    """The folder's recipe, after checking that every stage up to ``last`` is up to
    date with it (``StageError`` otherwise); for commands that read a run folder."""
    recipe = read_recipe(out_dir)
    records, digest = read_records(out_dir), _Digests()
    for stage in STAGES[: STAGES.index(BY_NAME[last]) + 1]:
        reason = stale_reason(stage, recipe, out_dir, records, digest)
        if reason is not None:
            raise StageError(f"{out_dir}: the {stage.name} stage is not up to date ({reason}); "
                             f"run neurodeploy run (or neurodeploy {stage.name} --out {out_dir}) first")
    return recipe
