"""``train.device`` / ``--device``: training, pruning and statistics on a CUDA device where there is
one, a one-line refusal where there is none, and digests that stay what they were at ``cpu``."""
import dataclasses
import json
from pathlib import Path

import pytest
import torch

from devices import needs_cuda
from neurodeploy.cli import main
from neurodeploy.data.dataset import load_dataset
from neurodeploy.pipeline import BY_NAME, settings_digest
from neurodeploy.prune.stage import prune_checkpoint
from neurodeploy.recipe import RecipeError, load_recipe
from neurodeploy.train.checkpoint import load_checkpoint, save_checkpoint
from neurodeploy.train.trainer import train_dense

TINY = Path(__file__).parent / "recipes" / "tiny.yaml"


def test_digests_at_cpu_are_those_of_folders_written_before_train_device_existed():
    # computed by the code before train.device (0afceeb) for tests/recipes/tiny.yaml
    before = {"train": "bbbfdb4fe69041cd", "prune": "778c8ca6158e76a5", "export": "69730944829a07e8",
              "simulate": "cf4023b550807607", "compare": "dda312f5c623a284", "report": "fe0675b288747dae"}
    recipe = load_recipe(TINY)
    assert recipe.train.device == "cpu" and recipe.digest() == "fe0675b28874"
    assert {name: settings_digest(recipe, stage) for name, stage in BY_NAME.items()} == before
    cuda = dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, device="cuda"))
    changed = {name for name, stage in BY_NAME.items() if settings_digest(cuda, stage) != before[name]}
    assert changed == {"train", "prune", "report"}  # what a network trained elsewhere changes


def test_a_device_that_is_not_one_is_refused_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  device: gpu\n")
    with pytest.raises(RecipeError, match=r"train.device = 'gpu' is not a torch device this can train on"):
        load_recipe(bad)
    assert main(["run", "--device", "tpu", "--out", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err.strip() == "neurodeploy run: --device 'tpu' is not cpu, cuda or cuda:N"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("command", ["run", "train", "sweep", "supermask"])
def test_cuda_where_there_is_none_is_one_line_before_any_work(command, tmp_path, capsys):
    out = tmp_path / "out"
    assert main([command, str(TINY), "--device", "cuda", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "device 'cuda' (train.device or --device)" in err and \
        "finds no CUDA device on this machine" in err, err
    assert not out.exists()
    recipe = tmp_path / "cuda.yaml"
    text = TINY.read_text().replace("train:\n  epochs: 2\n", "train:\n  epochs: 2\n  device: cuda\n")
    recipe.write_text(text)
    assert main([command, str(recipe), "--out", str(out)]) == 2
    assert "finds no CUDA device" in capsys.readouterr().err and not out.exists()


@needs_cuda
def test_training_pruning_and_statistics_run_on_cuda_and_checkpoints_hold_cpu_tensors(tmp_path):
    recipe = load_recipe(TINY)
    recipe = dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, device="cuda"),
                                 prune=dataclasses.replace(recipe.prune, criterion="sf"))
    data = load_dataset(recipe.data, recipe.seed)
    model, losses, _ = train_dense(recipe, data)
    assert all(p.is_cuda for p in model.parameters()) and losses[-1] < losses[0]
    save_checkpoint(tmp_path / "dense.pt", model, recipe, masks=None, losses=losses)
    pruned, result = prune_checkpoint(tmp_path / "dense.pt", data, recipe)
    assert all(p.is_cuda for p in pruned.parameters())
    save_checkpoint(tmp_path / "pruned.pt", pruned, recipe, masks=result.masks, losses=result.losses)
    saved = load_checkpoint(tmp_path / "pruned.pt")
    assert not any(t.is_cuda for t in saved.state_dict.values())


@needs_cuda
@pytest.mark.slow
def test_run_on_cuda_exports_and_verifies_on_the_cpu(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(TINY), "--device", "cuda", "--out", str(out)]) == 0
    assert json.loads((out / "recipe.json").read_text())["train"]["device"] == "cuda"
    comparison = json.loads((out / "comparison.json").read_text())
    assert "golden model" in capsys.readouterr().out and comparison


@needs_cuda
@pytest.mark.slow
def test_a_sweep_on_cuda_asks_ray_for_a_gpu_per_point(tmp_path, capsys):
    out = tmp_path / "sweep"
    assert main(["sweep", str(TINY), "--device", "cuda", "--criteria", "magnitude", "--sparsity", "0.5",
                 "--seeds", "1", "--workers", "2", "--out", str(out)]) == 0
    assert len(json.loads((out / "sweep.json").read_text())["rows"]) == 2
