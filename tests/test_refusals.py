"""Bad input, impossible requests and empty comparisons: one line, before work starts.

One test per finding of the review that tried neurodeploy as a hostile and a
careless user (issue 11, "Found" items 5 to 12); each failed on the main of
that day with a traceback, a hang, a silent wrong figure or an exhausted
machine.
"""
from __future__ import annotations

import dataclasses
import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neurodeploy.cli import main
from neurodeploy.limits import GIB, LimitError, Limits
from neurodeploy.netx import CubaNeuron, read_netx, write_netx
from neurodeploy.preflight import check_recipe
from neurodeploy.recipe import RecipeError, load_recipe, recipe_from_dict
from neurodeploy.reference import fixtures_dir

RECIPES = Path(__file__).parent / "recipes"
TINY = RECIPES / "tiny.yaml"
OXFORD = fixtures_dir() / "oxford"


def one_line(capsys, code: int, expected: int = 2) -> str:
    """stderr of a command that returned ``code``: one line, and the code was ``expected``."""
    err = capsys.readouterr().err.strip()
    assert code == expected, err
    assert err and err.count("\n") == 0, err
    return err


def recipe_file(tmp_path: Path, text: str, name: str = "r.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ---- 5. empty comparisons do not pass ----

@pytest.mark.lava
def test_verify_on_silent_input_is_exit_3_naming_the_silent_layers(tmp_path, capsys):
    zeros = tmp_path / "zeros.npy"
    np.save(zeros, np.zeros((200, 40), dtype=np.uint8))
    report = tmp_path / "v.json"
    code = main(["verify", str(OXFORD / "network.net"), "--spikes", str(zeros), "--json", str(report)])
    out = capsys.readouterr().out
    assert code == 3, out
    assert "EQUIVALENT" in out and "layer(s) 0, 1 had no spike on either side" in out
    assert json.loads(report.read_text())["silent_layers"] == [0, 1]


def test_steps_that_drop_events_say_so_and_dropping_all_is_an_error(tmp_path, capsys):
    code = main(["verify", str(OXFORD / "network.net"), "--events", str(OXFORD / "input_events.npy"),
                 "--steps", "1"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "warning: --steps 1 keeps 1 of the 1889 events of" in captured.err
    late = tmp_path / "late.npy"
    np.save(late, np.array([[0, 0, 5.0], [1, 0, 9.0]]))
    code = main(["verify", str(OXFORD / "network.net"), "--events", str(late), "--steps", "3"])
    assert "--steps 3 drops every one of its 2 events (the first is at step 5)" in one_line(capsys, code)


def test_compare_says_when_class_agreement_rests_on_silent_networks(tmp_path, capsys):
    network = read_netx(OXFORD / "network.net")
    deaf = CubaNeuron(v_th_mant=(1 << 17), i_decay=4096, v_decay=4096)  # cannot reach its threshold
    silent = tmp_path / "silent.net"
    write_netx(silent, [dataclasses.replace(layer, neuron=deaf) for layer in network.layers])
    report = tmp_path / "c.json"
    assert main(["compare", str(silent), str(OXFORD / "network.net"), "--random-rate", "0.1", "--steps", "50",
                 "--samples", "3", "--json", str(report)]) == 0
    out = capsys.readouterr().out
    caveats = json.loads(report.read_text())["caveats"]
    assert "A: layer 0 never spiked on the 3 sample(s)" in " ".join(caveats)
    assert any("A: the output layer is silent on 3 of 3" in line for line in caveats)
    assert any(line.startswith("A: predicts class 0 for every one") for line in caveats)
    assert "caveat: A: layer 1 never spiked" in out


@pytest.mark.slow
@pytest.mark.lava
def test_a_report_on_a_silent_network_says_so(tmp_path, capsys):
    recipe = recipe_file(tmp_path, TINY.read_text().replace("steps: 8", "steps: 1"))
    assert main(["run", str(recipe), "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["caveats"], "a one-step network is silent somewhere"
    assert any("never spiked" in line or "output layer is silent" in line for line in report["caveats"])
    assert "caveat: " in out
    assert "Caveats: figures that rest on nothing" in (tmp_path / "run" / "report.html").read_text()


# ---- 6, 7, 9. limits before work starts ----

def test_a_recipe_of_300_layers_is_refused_before_anything_is_written(tmp_path, capsys):
    recipe = recipe_file(tmp_path, "model:\n  hidden: [" + ", ".join(["4"] * 300) + "]\n")
    code = main(["run", str(recipe), "--out", str(tmp_path / "run")])
    assert "301 layers (conv, hidden and output) exceed the limit of 64" in one_line(capsys, code)
    assert not (tmp_path / "run").exists()


def test_a_recipe_whose_lava_stage_forks_too_many_processes_is_refused_before_training(tmp_path, capsys):
    recipe = recipe_file(tmp_path, "model:\n  hidden: [" + ", ".join(["4"] * 50) + "]\n")
    code = main(["run", str(recipe), "--out", str(tmp_path / "run")])
    err = one_line(capsys, code)
    assert "the simulate stage (51 layers) would start 157 Lava processes, more than the limit of 128" in err
    assert "--max-lava-processes" in err and not (tmp_path / "run").exists()


def test_verify_refuses_more_lava_processes_than_allowed(capsys):
    code = main(["verify", str(OXFORD / "network.net"), "--random-rate", "0.1", "--steps", "10",
                 "--max-lava-processes", "5"])
    assert "(2 layers) would start 10 Lava processes, more than the limit of 5" in one_line(capsys, code)


def test_unbounded_allocations_are_refused_in_one_line(tmp_path, capsys):
    code = main(["compare", str(OXFORD / "network.net"), str(OXFORD / "network.net"), "--random-rate", "0.1",
                 "--steps", "10000000", "--max-memory", "4"])
    assert "more than the limit of 4.0 GiB" in one_line(capsys, code)
    late = tmp_path / "late.npy"
    np.save(late, np.array([[0, 0, 1e12]]))
    code = main(["verify", str(OXFORD / "network.net"), "--events", str(late)])
    assert "late.npy: events up to t = 1000000000000.0 ms" in one_line(capsys, code)
    huge = tmp_path / "huge.npy"
    with open(huge, "wb") as handle:  # a header that claims 200 x 1e12 entries, and no data
        np.lib.format.write_array_header_1_0(handle, {"descr": "|u1", "fortran_order": False,
                                                      "shape": (200, 10**12)})
    code = main(["verify", str(OXFORD / "network.net"), "--spikes", str(huge)])
    assert "huge.npy: truncated: its header says shape (200, 1000000000000)" in one_line(capsys, code)


def test_limits_are_checked_for_recipes_before_the_dataset_is_read():
    recipe = load_recipe(TINY)
    with pytest.raises(LimitError, match=r"the dataset \(digits, data.steps = 100000\) needs about"):
        check_recipe(dataclasses.replace(recipe, data=dataclasses.replace(recipe.data, steps=100_000)),
                     Limits(memory=GIB))
    check_recipe(recipe, Limits(memory=GIB))


@pytest.mark.parametrize("sparsity, scope, message", [
    (0.999999, "global", "would leave a layer without weights"),
    (0.999999, "layerwise", "layer 0: sparsity 0.999999 prunes 1536 of 1536 weights"),
])
def test_a_sparsity_that_empties_a_layer_fails_before_training(tmp_path, capsys, sparsity, scope, message):
    recipe = recipe_file(tmp_path, TINY.read_text().replace("sparsity: 0.8", f"sparsity: {sparsity}\n  scope: {scope}"))
    code = main(["run", str(recipe), "--out", str(tmp_path / "run")])
    err = one_line(capsys, code)
    assert message in err and "prune.sparsity = 0.999999" in err
    assert not (tmp_path / "run").exists()


# ---- 8. tracebacks become one line ----

@pytest.mark.parametrize("text, message", [
    (b"seed: \xff\xfe\n", "not a UTF-8 text file"),
    (b"seed: -1\n", "seed = -1 is outside [0, 4294967295]"),
    (b"seed: 1e20\n", "seed must be int"),
    (b"data: {test_fraction: 0.999}\n", "data.test_fraction = 0.999 leaves 1 training and 1796 test samples"),
    (b"data: {test_fraction: 0.0001}\n", "data.test_fraction = 0.0001 leaves 1796 training and 1 test samples"),
    (b"model: {conv: [{channels: 2, kernel: 64}]}\n", "model.conv[0]: kernel 64 with padding 1 does not fit"),
    (b"prune: {exclude: [5]}\n", "prune.exclude: layer 5 does not exist (the model has 2 layers with weights)"),
    (b"prune: {exclude: [0, 1]}\n", "prune.exclude leaves no layer to prune"),
    (b"", "the recipe is empty"),
    (b"# only a comment\n", "the recipe is empty"),
    (b"seed: 1\nseed: 2\n", "key 'seed' appears twice (line 2)"),
    (b"train:\n  lr: 0.1\n  lr: 0.2\n", "key 'lr' appears twice (line 3)"),
])
def test_bad_recipes_are_one_line_before_anything_is_written(tmp_path, capsys, text, message):
    recipe = tmp_path / "r.yaml"
    recipe.write_bytes(text)
    code = main(["run", str(recipe), "--out", str(tmp_path / "run")])
    assert message in one_line(capsys, code)
    assert not (tmp_path / "run").exists()


def test_conv_strides_and_paddings_as_large_as_the_ranges_allow_are_planned_not_crashed():
    for conv in ({"channels": 2, "kernel": 3, "stride": 64}, {"channels": 2, "kernel": 3, "padding": 64}):
        check_recipe(recipe_from_dict({"model": {"conv": [conv]}}), Limits())


@pytest.mark.parametrize("events, message", [
    (np.array([[1e20, 0, 1]]), "an event's x or channel is 1e+20, beyond 2^31"),
    (np.array([[2**63 + 5, 0, 1]], dtype=np.uint64), "beyond 2^31"),
])
def test_huge_event_coordinates_are_one_line(tmp_path, capsys, events, message):
    path = tmp_path / "e.npy"
    np.save(path, events)
    code = main(["verify", str(OXFORD / "network.net"), "--events", str(path)])
    assert message in one_line(capsys, code)


def test_verify_seed_must_be_used_and_not_negative(capsys):
    code = main(["verify", str(OXFORD / "network.net"), "--random-rate", "0.1", "--steps", "5", "--seed", "-1"])
    assert "--seed must be at least 0, got -1" in one_line(capsys, code)
    code = main(["verify", str(OXFORD / "network.net"), "--events", str(OXFORD / "input_events.npy"),
                 "--seed", "3"])
    assert "--seed applies to --random-rate only" in one_line(capsys, code)


def _run_limited(args: list[str], file_size: int) -> subprocess.CompletedProcess:
    """neurodeploy in a child that cannot write files beyond ``file_size`` bytes (the write
    fails with EFBIG as it fails with ENOSPC on a full disk)."""
    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))

    env = {**os.environ, "TQDM_DISABLE": "1"}
    return subprocess.run([sys.executable, "-m", "neurodeploy.cli", *args], preexec_fn=limit, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_a_write_that_fails_for_lack_of_space_is_one_line_and_leaves_no_file(tmp_path):
    out = tmp_path / "run"
    result = _run_limited(["train", str(TINY), "--out", str(out)], 4000)
    assert result.returncode == 2, result.stderr
    err = result.stderr.strip()
    assert err.count("\n") == 0 and "File too large" in err, err
    assert not (out / "dense.pt").exists() and not list(out.glob(".dense.pt.*")), "no half-written checkpoint"


@pytest.mark.slow
def test_damaged_run_files_are_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(TINY), "--out", str(out)]) == 0
    capsys.readouterr()
    (out / "comparison.json").write_text("{broken")
    code = main(["report", "--out", str(out)])
    err = one_line(capsys, code)
    assert "the compare stage is not up to date" in err and "(comparison.json differs from the file it wrote)" in err
    simulation = (out / "simulation.npz").read_bytes()
    (out / "simulation.npz").write_bytes(simulation[: len(simulation) // 2])
    code = main(["compare", "--out", str(out)])
    assert "simulation.npz differs from the file it wrote" in one_line(capsys, code)
    (out / "recipe.json").write_text("{broken")
    code = main(["export", "--out", str(out)])
    assert "recipe.json: damaged JSON" in one_line(capsys, code)


# ---- 10. options are used or refused ----

@pytest.mark.parametrize("extra, message", [
    (["--recipe", str(TINY), "--samples", "0"], "--samples must be at least 1, got 0"),
    (["--recipe", str(TINY), "--samples", "-5"], "--samples must be at least 1, got -5"),
    (["--recipe", str(TINY), "--steps", "4"], "--steps does not apply to --recipe"),
    (["--recipe", str(TINY), "--samples", "5000"], "--samples 5000 exceeds the 360 test samples"),
])
def test_compare_options_are_used_or_refused(tmp_path, capsys, extra, message):
    net = tmp_path / "n.net"
    write_netx(net, [dataclasses.replace(layer, weight=np.ones((10, 64), dtype=np.int64))
                     for layer in read_netx(OXFORD / "network.net").layers[1:]])
    code = main(["compare", str(net), str(net), *extra])
    assert message in one_line(capsys, code)


@pytest.mark.parametrize("extra, message", [
    (["--num-layers", "5"], "num_layers = 5, but the file has 2 layer groups"),
    (["--input-shape", "1,10,20"], "--input-shape is only for a network whose layer 0 is conv"),
])
def test_verify_options_that_do_not_fit_the_network_are_errors(capsys, extra, message):
    code = main(["verify", str(OXFORD / "network.net"), "--random-rate", "0.1", "--steps", "5", *extra])
    assert message in one_line(capsys, code)


def test_compare_stage_refuses_the_options_of_compare_a_b(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    code = main(["compare", "--out", str(tmp_path / "run"), "--samples", "3", "--json", "x.json"])
    assert "--samples, --json apply to A.net B.net only" in one_line(capsys, code)


# ---- 12. files that are not files ----

def test_fifos_are_refused_without_blocking(tmp_path, capsys):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for args, message in (
        (["run", str(fifo), "--out", str(tmp_path / "run")], "is a FIFO; a recipe must be a regular file"),
        (["verify", str(fifo), "--random-rate", "0.1", "--steps", "5"], "is a FIFO; a network file must be"),
        (["inspect", str(fifo)], "is a FIFO; a network file must be"),
        (["verify", str(OXFORD / "network.net"), "--spikes", str(fifo)], "is a FIFO; a .npy file must be"),
    ):
        assert message in one_line(capsys, main(args))
