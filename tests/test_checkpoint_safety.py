"""No file neurodeploy reads can execute code: a malicious checkpoint for every command that reads one.

The checkpoint's pickle calls ``os.system`` to create a marker file. An
attacker who can write a shared run folder can also rewrite its
``stages.json`` to vouch for the planted file, so every case does that too:
the restricted unpickler is what must refuse it. Each command must exit 2
with one line naming the file, and the marker must not exist.
"""
from __future__ import annotations

import collections
import json
import os
import shutil
from pathlib import Path

import pytest
import torch

from neurodeploy.cli import main
from neurodeploy.fileio import file_digest
from neurodeploy.recipe import load_recipe
from neurodeploy.sweep.run import dense_digest
from neurodeploy.train.checkpoint import CheckpointError, load_checkpoint
from neurodeploy.train.model import build_model

TINY = Path(__file__).parent / "recipes" / "tiny.yaml"


class _Payload:
    """Pickles as a call of os.system: what a hostile checkpoint holds."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def plant(path: Path, marker: Path) -> None:
    """Replace the checkpoint at ``path`` with one whose unpickling runs ``touch marker``."""
    torch.save({"recipe": {}, "input_shape": [1, 8, 8], "num_classes": 10,
                "state_dict": _Payload(f"touch {marker}"), "masks": None, "losses": [], "extra": {}}, path)


def vouch(run_dir: Path, name: str) -> None:
    """Rewrite stages.json so that every record naming ``name`` carries its new digest."""
    path = run_dir / "stages.json"
    records = json.loads(path.read_text())
    digest = file_digest(run_dir / name)
    for record in records["stages"].values():
        for kind in ("inputs", "outputs"):
            if name in record[kind]:
                record[kind][name] = digest
    path.write_text(json.dumps(records))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert main(["run", str(TINY), "--out", str(out)]) == 0
    return out


def _changed_recipe(folder: Path) -> Path:
    """The run's recipe with simulate.samples changed: the simulate stage, which reads both
    checkpoints, must run again on resume."""
    path = folder.parent / "changed.yaml"
    path.write_text(TINY.read_text().replace("samples: 6", "samples: 5"))
    return path


COMMANDS = {
    "run": lambda d: ["run", str(_changed_recipe(d)), "--out", str(d)],
    "prune": lambda d: ["prune", "--out", str(d)],
    "export": lambda d: ["export", "--out", str(d)],
    "simulate": lambda d: ["simulate", "--out", str(d)],
    "compare": lambda d: ["compare", "--out", str(d)],
    "analyze": lambda d: ["analyze", "--out", str(d), "--samples", "8"],
}


# every command with every checkpoint it reads (prune writes pruned.pt, it does not read it)
READS = [(command, checkpoint) for command in COMMANDS for checkpoint in ("dense.pt", "pruned.pt")
         if (command, checkpoint) != ("prune", "pruned.pt")]


@pytest.mark.slow
@pytest.mark.parametrize("command, checkpoint", READS)
def test_a_planted_checkpoint_runs_nothing_for_any_command(run_dir, tmp_path, capsys, command, checkpoint):
    folder = tmp_path / "run"
    shutil.copytree(run_dir, folder)
    marker = tmp_path / "PWNED"
    plant(folder / checkpoint, marker)
    vouch(folder, checkpoint)
    code = main(COMMANDS[command](folder))
    err = capsys.readouterr().err.strip()
    assert not marker.exists(), "the checkpoint's code ran"
    assert code == 2, err
    assert err.count("\n") == 0 and checkpoint in err and "refused" in err and "nothing in it was run" in err, err


@pytest.mark.slow
def test_a_planted_seed_checkpoint_runs_nothing_in_a_sweep(tmp_path, capsys):
    recipe = load_recipe(TINY)
    out = tmp_path / "sweep"
    (out / "dense").mkdir(parents=True)
    marker = tmp_path / "PWNED"
    path = out / "dense" / f"seed{recipe.seed}.pt"
    plant(path, marker)
    path.with_suffix(".digest").write_text(dense_digest(recipe, recipe.seed))
    code = main(["sweep", str(TINY), "--criteria", "magnitude", "--sparsity", "0.5", "--seeds", "1",
                 "--workers", "1", "--retries", "0", "--out", str(out)])
    printed = capsys.readouterr().out
    assert not marker.exists()
    # every point (a Ray task) refused the checkpoint and was recorded as failed
    assert code == 1 and "2 point(s) failed" in printed, printed
    for name in ("dense-s1", "magnitude-0.5-s1"):
        error = json.loads((out / "points" / f"{name}.failed.json").read_text())["error"]
        assert error.startswith("CheckpointError: ") and "refused" in error and "\n" not in error


def test_load_checkpoint_refuses_globals_in_one_line(tmp_path):
    marker = tmp_path / "PWNED"
    plant(tmp_path / "evil.pt", marker)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(tmp_path / "evil.pt")
    assert not marker.exists()
    assert "\n" not in str(info.value) and "evil.pt: refused" in str(info.value)


def test_a_checkpoint_in_the_format_of_the_previous_main_still_loads(tmp_path):
    # exactly what save_checkpoint wrote before weights_only: tuples, an OrderedDict, nested extras
    recipe = load_recipe(TINY)
    model = build_model((1, 8, 8), 10, recipe.model)
    masks = {name: torch.rand(p.shape) > 0.5 for name, p in model.named_parameters() if name.endswith("weight")}
    payload = {
        "recipe": recipe.to_dict(), "input_shape": (1, 8, 8), "num_classes": 10,
        "state_dict": collections.OrderedDict(model.state_dict()), "masks": masks, "losses": [1.5, 0.9],
        "extra": {"rewind_state": model.state_dict(), "rewind_epoch": 1, "rounds": [{"round": 1, "sparsity": 0.5}]},
    }
    torch.save(payload, tmp_path / "old.pt")
    checkpoint = load_checkpoint(tmp_path / "old.pt")
    rebuilt = checkpoint.model(recipe.model)
    assert all(torch.equal(rebuilt.state_dict()[k], v) for k, v in model.state_dict().items())
    assert checkpoint.extra["rounds"][0]["round"] == 1 and checkpoint.masks.keys() == masks.keys()


def test_a_checkpoint_that_does_not_fit_the_recipe_is_one_line_saying_what_to_redo(tmp_path):
    recipe = load_recipe(TINY)
    model = build_model((1, 8, 8), 10, recipe.model)
    torch.save({"input_shape": [1, 8, 8], "num_classes": 10, "state_dict": model.state_dict()}, tmp_path / "a.pt")
    wider = recipe.model.__class__(hidden=(40,), neuron=recipe.model.neuron)
    with pytest.raises(CheckpointError, match=r"a.pt: its weights do not fit the recipe's model settings .*run the stage"):
        load_checkpoint(tmp_path / "a.pt").model(wider)
    (tmp_path / "b.pt").write_bytes(b"not a zip at all")
    with pytest.raises(CheckpointError, match="b.pt: not a readable checkpoint"):
        load_checkpoint(tmp_path / "b.pt")
