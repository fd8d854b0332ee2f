"""Interrupted runs and exports: real processes killed at a chosen point, then resumed."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from neurodeploy.cli import main
from neurodeploy.netx import read_netx
from neurodeploy.pipeline import BY_NAME, read_records, settings_digest
from neurodeploy.recipe import load_recipe
from neurodeploy.train.checkpoint import load_checkpoint
from neurodeploy.simulate.stage import load_layers

TINY = Path(__file__).parent / "recipes" / "tiny.yaml"


def killed_python(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter that is expected to SIGKILL itself."""
    env = {**os.environ, "TQDM_DISABLE": "1"}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_a_run_killed_in_a_pruning_round_resumes_without_retraining(tmp_path):
    recipe = tmp_path / "imp.yaml"
    recipe.write_text(TINY.read_text().replace("  finetune_epochs: 1\n", "  finetune_epochs: 1\n  rounds: 2\n"))
    out = tmp_path / "run"
    result = killed_python(f"""
        import os, signal
        import neurodeploy.prune.imp as imp
        real_fit = imp.fit
        def fit(*args, **kwargs):
            if kwargs.get("desc", "").startswith("prune round 2"):
                os.kill(os.getpid(), signal.SIGKILL)  # in the middle of the second pruning round
            return real_fit(*args, **kwargs)
        imp.fit = fit
        from neurodeploy.cli import main
        main(["run", {str(recipe)!r}, "--out", {str(out)!r}])
    """)
    assert result.returncode == -9, result.stderr
    records = read_records(out)
    assert list(records) == ["train"]
    assert records["train"]["settings"] == settings_digest(load_recipe(recipe), BY_NAME["train"])
    assert not (out / "pruned.pt").exists()
    dense = (out / "dense.pt").read_bytes()
    assert main(["run", str(recipe), "--out", str(out)]) == 0
    assert (out / "dense.pt").read_bytes() == dense, "training was not redone"
    assert set(read_records(out)) == {"train", "prune", "export", "simulate", "compare", "report"}
    rounds = load_checkpoint(out / "pruned.pt").extra["rounds"]
    assert [r["round"] for r in rounds] == [1, 2]

    # A changed setting is never taken for a finished stage: prune and everything after it run again.
    changed = tmp_path / "changed.yaml"
    changed.write_text(recipe.read_text().replace("sparsity: 0.8", "sparsity: 0.7"))
    pruned = (out / "pruned.pt").read_bytes()
    assert main(["run", str(changed), "--out", str(out)]) == 0
    assert (out / "dense.pt").read_bytes() == dense
    assert (out / "pruned.pt").read_bytes() != pruned
    assert json.loads((out / "report.json").read_text())["recipe"]["prune"]["sparsity"] == 0.7


@pytest.mark.slow
def test_an_export_killed_mid_file_leaves_the_previous_file_whole(tmp_path):
    out = tmp_path / "run"
    assert main(["run", str(TINY), "--out", str(out)]) == 0
    before = read_netx(out / "pruned.net")
    conv = TINY.parent / "tiny_conv.yaml"
    assert main(["train", str(conv), "--out", str(out)]) == 0 and main(["prune", "--out", str(out)]) == 0
    result = killed_python(f"""
        import os, signal
        import h5py
        written = []
        real = h5py.Group.create_dataset
        def create_dataset(self, *args, **kwargs):
            if "pruned.net" in self.file.filename:
                written.append(args[0] if args else kwargs.get("name"))
                if len(written) == 4:
                    os.kill(os.getpid(), signal.SIGKILL)  # the 4th dataset of pruned.net: mid-file
            return real(self, *args, **kwargs)
        h5py.Group.create_dataset = create_dataset
        from neurodeploy.pipeline import run_stage
        from pathlib import Path
        run_stage("export", Path({str(out)!r}))
    """)
    assert result.returncode == -9, result.stderr
    leftovers = list(out.glob(".pruned.net.*.tmp"))
    assert leftovers and leftovers[0].stat().st_size > 0, "the kill came in the middle of writing the file"
    after = read_netx(out / "pruned.net")
    assert len(after.layers) == len(before.layers) == 2, "still the earlier dense network, not the new conv one"
    for a, b in zip(after.layers, before.layers):
        assert np.array_equal(a.weight, b.weight), "pruned.net is still the complete earlier file"


@pytest.mark.slow
@pytest.mark.lava
def test_same_recipe_and_seed_give_identical_masks_weights_and_spikes(tmp_path):
    runs = [tmp_path / "a", tmp_path / "b"]
    for out in runs:
        assert main(["run", str(TINY), "--out", str(out)]) == 0
    a, b = (load_checkpoint(out / "pruned.pt") for out in runs)
    assert a.masks.keys() == b.masks.keys()
    assert all(torch.equal(a.masks[k], b.masks[k]) for k in a.masks)
    assert all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in a.state_dict)
    for name in ("dense", "pruned"):
        net_a, net_b = (read_netx(out / f"{name}.net") for out in runs)
        assert all(np.array_equal(x.weight, y.weight) for x, y in zip(net_a.layers, net_b.layers))
    with np.load(runs[0] / "simulation.npz") as sim_a, np.load(runs[1] / "simulation.npz") as sim_b:
        for name in ("dense", "pruned"):
            for side in ("slayer", "golden", "lava"):
                layers_a, layers_b = load_layers(sim_a, name, side), load_layers(sim_b, name, side)
                assert layers_a and all(np.array_equal(x, y) for x, y in zip(layers_a, layers_b))
                assert sum(int(x.sum()) for x in layers_a) > 0
