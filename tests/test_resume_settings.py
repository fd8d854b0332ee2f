"""A resumed run reports what it did: every recipe key, changed alone between two runs into
one folder, gives the report a fresh run of that recipe gives; a file changed by hand reruns
the stages that depend on it.

Before the fix, prune, simulate and compare read the recipe stored inside
``dense.pt``: a resumed run with ``prune.sparsity`` 0.8 -> 0.3 pruned to 0.8
and reported 0.3, and ``simulate.samples`` 6 -> 3 ran 6 Lava samples and
reported 3.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
import typing
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from neurodeploy.cli import main
from neurodeploy.pipeline import STAGES, settings_digest
from neurodeploy.recipe import Recipe, load_recipe, recipe_from_dict

BASE = Path(__file__).parent / "recipes" / "keys.yaml"
BASE_CONV = Path(__file__).parent / "recipes" / "keys_conv.yaml"  # for the keys of a conv layer
CONV_KEYS = ("model.conv.channels", "model.conv.kernel", "model.conv.stride", "model.conv.padding")

# Every key of a recipe, and a valid value other than the base recipe's.
CHANGES: dict[str, Any] = {
    "name": "other",
    "seed": 2,
    "data.dataset": "digits",  # the only dataset that needs no files; see test_every_key_is_listed
    "data.test_fraction": 0.75,
    "data.split_seed": 1,
    "data.encoding": "latency",
    "data.steps": 5,
    "data.max_rate": 0.8,
    "data.path": "/nonexistent",
    "data.step_us": 500,
    "data.train_samples": 7,
    "data.test_samples": 7,
    "data.canvas": 12,
    "data.trajectories": 2,
    "data.levels": 3,
    "data.frames": "spikes",
    "model.blocks": "sigma_delta",
    "model.recurrent": True,
    "model.dropout": 0.1,
    "model.conv": [{"channels": 2, "kernel": 3, "stride": 2, "padding": 1}],
    "model.conv.channels": 3,
    "model.conv.kernel": 2,
    "model.conv.stride": 1,
    "model.conv.padding": 0,
    "model.hidden": [6],
    "model.neuron.threshold": 0.75,
    "model.neuron.current_decay": 0.3,
    "model.neuron.voltage_decay": 0.05,
    "model.neuron.tau_grad": 0.05,
    "model.neuron.scale_grad": 2.0,
    "train.epochs": 2,
    "train.batch_size": 16,
    "train.lr": 0.02,
    "train.device": "cuda",
    "prune.criterion": "sf",
    "prune.scope": "layerwise",
    "prune.exclude": [-1],
    "prune.magnitude_layers": [0],
    "prune.dynamic_layers": [0],
    "prune.sparsity": 0.3,
    "prune.rounds": 2,
    "prune.rewind_epoch": 0,
    "prune.finetune_epochs": 2,
    "prune.lr": 0.003,
    "prune.stats_samples": 32,
    "prune.objective": "cores",
    "prune.profile": "loihi1",
    "prune.target_cores": 3,
    "prune.target_time": 5.0,
    "supermask.epochs": 3,
    "supermask.batch_size": 8,
    "supermask.lr": 0.01,
    "supermask.optimizer": "sgd",
    "supermask.momentum": 0.5,
    "supermask.weight_decay": 0.001,
    "supermask.weight_scale": 2.0,
    "simulate.samples": 1,
}


def _leaf_keys(cls: type, prefix: str = "") -> list[str]:
    """Every dotted key of a recipe dataclass (a tuple of dataclasses, ``model.conv``, counts
    itself and its items' keys)."""
    keys = []
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        key, default = f"{prefix}{field.name}", getattr(cls(), field.name)
        if dataclasses.is_dataclass(default):
            keys += _leaf_keys(type(default), f"{key}.")
            continue
        keys.append(key)
        item = typing.get_args(hints[field.name])
        if item and dataclasses.is_dataclass(item[0]):
            keys += _leaf_keys(item[0], f"{key}.")
    return keys


def test_every_key_is_listed():
    assert set(_leaf_keys(Recipe)) == set(CHANGES)


# Keys valid only with another set too: the objective a target bounds.
NEEDS = {"prune.target_cores": ("prune.objective", "cores"), "prune.target_time": ("prune.objective", "time")}


def changed(base: Path, key: str, value: Any) -> dict:
    """The recipe ``base`` (as a dict) with ``key`` set to ``value`` (and what ``NEEDS`` says
    it needs); ``model.conv.K`` is K of its first conv layer."""
    recipe = load_recipe(base).to_dict()
    for name, setting in ((key, value), *([NEEDS[key]] if key in NEEDS else [])):
        target, parts = recipe, name.split(".")
        for part in parts[:-1]:
            target = target[part][0] if isinstance(target[part], list) else target[part]
        target[parts[-1]] = setting
    return recipe


def figures(report: dict) -> dict:
    """The report without what differs between identical runs: times."""
    if isinstance(report, dict):
        return {k: figures(v) for k, v in report.items() if "seconds" not in k}
    if isinstance(report, list):
        return [figures(v) for v in report]
    return report


@pytest.fixture(scope="module")
def base_runs(tmp_path_factory):
    """A run of each base recipe: {recipe: run folder}."""
    runs = {}
    for recipe in (BASE, BASE_CONV):
        runs[recipe] = tmp_path_factory.mktemp("base") / "run"
        assert main(["run", str(recipe), "--out", str(runs[recipe])]) == 0
    return runs


def _run(recipe: dict, out: Path, capsys) -> tuple[dict, str]:
    path = out.parent / f"{out.name}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    assert main(["run", str(path), "--out", str(out)]) == 0
    return json.loads((out / "report.json").read_text()), capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.lava
@pytest.mark.parametrize("key", [k for k in CHANGES if k != "data.dataset"])
def test_a_key_changed_alone_reports_what_a_fresh_run_of_that_recipe_reports(base_runs, tmp_path, capsys, key):
    base = BASE_CONV if key in CONV_KEYS else BASE
    recipe = changed(base, key, CHANGES[key])
    if key.startswith("supermask.") and key != ECHOED_RUN:
        # read by no stage but the report's echo, as ECHOED_RUN shows by a run: every other
        # stage's settings digest is unchanged, which is what skips it
        for stage in STAGES:
            same = settings_digest(load_recipe(base), stage) == settings_digest(recipe_from_dict(recipe), stage)
            assert same == (stage.name != "report"), (key, stage.name)
        return
    if key.startswith("prune.") and key not in PRUNE_RUNS and not _is_training_setting(key):
        # the prune stage reads every prune key from the recipe it is given, as PRUNE_RUNS
        # show by runs: the prune stage's settings digest changes and training's does not,
        # which is what reruns pruning (and, through its files, the stages after it)
        digests = {stage.name: (settings_digest(load_recipe(base), stage),
                                settings_digest(recipe_from_dict(recipe), stage)) for stage in STAGES}
        assert digests["train"][0] == digests["train"][1] and digests["prune"][0] != digests["prune"][1], key
        return
    if _is_training_setting(key):
        # every stage reads what training wrote, so a changed training setting reruns them all:
        # the resumed run is a fresh run of this recipe in a used folder, reading only files it
        # rewrote first (runs are deterministic: test_resume.py), which the train stage's
        # settings digest decides, as it does for data.dataset below
        train = next(stage for stage in STAGES if stage.name == "train")
        assert settings_digest(load_recipe(base), train) != settings_digest(recipe_from_dict(recipe), train), key
        return
    resumed = tmp_path / "resumed"
    shutil.copytree(base_runs[base], resumed)
    report, printed = _run(recipe, resumed, capsys)
    assert report["recipe"] == load_recipe(tmp_path / "resumed.yaml").to_dict()
    skipped = [line.split(":")[0] for line in printed.splitlines() if line.endswith("up to date, skipped")]
    if key.startswith(("supermask.", "name")):  # read by no stage but the report's echo
        assert skipped == ["train", "prune", "export", "simulate", "compare"], printed
    else:
        assert skipped[:1] == ["train"], f"{key} is not a training setting: {printed}"
    fresh, _ = _run(recipe, tmp_path / "fresh", capsys)
    assert figures(report) == figures(fresh)


# The one supermask key whose change is run through the pipeline; the others are checked
# by their settings digests alone (the same path, and 30 s less of the suite).
ECHOED_RUN = "supermask.epochs"
# The prune keys whose change is run through the pipeline (a magnitude and a firing-based
# criterion); the others are checked by their settings digests (60 s less of the suite).
PRUNE_RUNS = ("prune.sparsity", "prune.criterion")


def _is_training_setting(key: str) -> bool:
    return not key.startswith(("prune.", "simulate.", "supermask.", "name")) or key == "prune.rewind_epoch"


@pytest.mark.slow
@pytest.mark.lava
def test_a_run_reruns_every_stage_after_a_training_setting_changes(base_runs, tmp_path, capsys):
    """What the digest check above stands for, run once: seed changed, nothing skipped."""
    resumed = tmp_path / "resumed"
    shutil.copytree(base_runs[BASE], resumed)
    _, printed = _run(changed(BASE, "seed", CHANGES["seed"]), resumed, capsys)
    assert not [line for line in printed.splitlines() if line.endswith("up to date, skipped")], printed


def test_data_dataset_is_a_training_setting():
    # data.dataset can only change to an event dataset, which needs its files: a changed
    # dataset changes the settings digest of every stage that reads data, train first
    base = load_recipe(BASE)
    other = dataclasses.replace(base, data=dataclasses.replace(base.data, dataset="shd", path="/x"))
    for stage in STAGES:
        reads_data = "data" in stage.settings  # the whole section (compare reads data.steps only)
        assert (settings_digest(base, stage) != settings_digest(other, stage)) == reads_data, stage.name


@pytest.mark.slow
@pytest.mark.lava
def test_a_file_changed_by_hand_reruns_its_stage_and_the_stages_below_it(base_runs, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(base_runs[BASE], out)
    recipe = load_recipe(BASE).to_dict()
    # simulation.npz changed by hand: simulate, which wrote it, runs again; its new file (a zip
    # with new timestamps) is not the one compare and report read, so they run again too
    (out / "simulation.npz").write_bytes(b"changed by hand")
    _, printed = _run(recipe, out, capsys)
    assert [line for line in printed.splitlines() if ": " in line and "(" in line or "skipped" in line][:6] == [
        "train: up to date, skipped", "prune: up to date, skipped", "export: up to date, skipped",
        "simulate: running (simulation.npz differs from the file it wrote)",
        "compare: running (simulation.npz, which it reads, changed since it ran)",
        "report: running (comparison.json, which it reads, changed since it ran)",
    ], printed
    # pruned.net replaced by the dense network: export writes it again, the same bytes, so the
    # stages that read it find their input as it was
    (out / "pruned.net").write_bytes((out / "dense.net").read_bytes())
    _, printed = _run(recipe, out, capsys)
    assert "export: running (pruned.net differs from the file it wrote)" in printed
    assert "simulate: up to date, skipped" in printed
    # a stage run by hand records itself: run then reruns what reads its output if it changed
    assert main(["simulate", "--out", str(out)]) == 0
    _, printed = _run(recipe, out, capsys)
    assert "simulate: up to date, skipped" in printed
    assert "compare: running (simulation.npz, which it reads, changed since it ran)" in printed


@pytest.mark.slow
@pytest.mark.lava
def test_the_issue_cases_sparsity_and_lava_samples(tmp_path, capsys):
    tiny = Path(__file__).parent / "recipes" / "tiny.yaml"
    out = tmp_path / "run"
    assert main(["run", str(tiny), "--out", str(out)]) == 0
    recipe = load_recipe(tiny).to_dict()
    recipe["prune"]["sparsity"], recipe["simulate"]["samples"] = 0.3, 3
    report, printed = _run(recipe, out, capsys)
    assert "train: up to date, skipped" in printed
    assert report["pruned"]["sparsity"] == pytest.approx(0.3, abs=0.01)
    assert report["lava"]["samples"] == 3
    with np.load(out / "simulation.npz") as sim:
        assert int(sim["lava_samples"]) == 3
        assert sim["pruned/lava/0"].shape[1] == 3 * 8 + 2, "Lava ran 3 samples of 8 steps, plus the drain"
