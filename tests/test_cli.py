import subprocess
import sys
from pathlib import Path

import pytest

from neurodeploy.cli import build_parser, main

COMMANDS = ["run", "train", "prune", "export", "simulate", "compare", "report"]


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "neurodeploy.cli", *args], capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_explains_every_command(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(([command] if command else []) + ["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "--out" in text or command is None
    if command is None:
        for name in COMMANDS:
            assert name in text


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["fly"], "invalid choice: 'fly'"),
        (["run"], "--out"),
        (["prune", "--out"], "--out: expected one argument"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(args, fragment, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and "\n" not in err


def test_missing_recipe_file_is_one_line_not_a_traceback(tmp_path):
    result = run_cli("run", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "nope.yaml: no such recipe" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_recipe_names_the_key(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("prune:\n  sparsity: 1.5\n")
    result = run_cli("train", str(recipe), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"neurodeploy: error: {recipe}: prune.sparsity = 1.5 is outside [0, 1)"


def test_stage_on_missing_folder_or_artifact(tmp_path, capsys):
    assert main(["export", "--out", str(tmp_path / "none")]) == 2
    assert "run folder" in capsys.readouterr().err
    assert main(["export", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "no recipe.json, so not a run folder" in err and "\n" not in err


OXFORD = str(Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "oxford" / "network.net")


@pytest.mark.parametrize(
    "args, message",
    [
        (["sweep", "--seeds", "0", "--out", "X"], "neurodeploy sweep: --seeds and --workers must be at least 1"),
        (["sweep", "--sparsity", "0.5,1.2", "--out", "X"], "--sparsity: 1.2 is outside (0, 1)"),
        (["sweep", "--criteria", "sf,l1", "--out", "X"], "--criteria: 'l1' is not one of: magnitude, random, sf"),
        (["sweep", "--sparsity", "0.5,half", "--out", "X"], "expected a comma-separated list of float, got '0.5,half'"),
        (["supermask", "--k", "0", "--out", "X"], "neurodeploy supermask: --k 0.0 is outside (0, 1]"),
        (["verify", "NET", "--random-rate", "1.5", "--steps", "4"], "--random-rate: must be in [0, 1], got 1.5"),
        (["verify", "NET", "--random-rate", "0.1", "--steps", "-4"], "--steps must be at least 1, got -4"),
        (["compare", "NET", "NET", "--random-rate", "0.1", "--steps", "4", "--samples", "0"],
         "--samples must be at least 1, got 0"),
        (["inspect", "NET", "--num-layers", "0"], "--num-layers must be at least 1, got 0"),
    ],
)
def test_bad_options_name_the_option_and_its_range(args, message, tmp_path, capsys):
    args = [OXFORD if a == "NET" else str(tmp_path / "x") if a == "X" else a for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not (tmp_path / "x").exists(), "nothing is written for a bad option"


@pytest.mark.parametrize(
    "command, option",
    [("verify", "--random-rate"), ("inspect", "--input-shape"), ("analyze", "--perturbation"),
     ("sweep", "--criteria"), ("supermask", "--k"), ("export", "--format"), ("report", "--sweep")],
)
def test_help_of_the_other_commands_names_their_options(command, option, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([command, "--help"])
    assert exit_info.value.code == 0
    assert option in capsys.readouterr().out
    assert command in build_parser().format_help()


@pytest.mark.parametrize("argv, option", [(["analyze", "--out", "x"], False), (["inspect", "x.net"], True)])
def test_out_of_memory_names_only_an_option_the_command_has(argv, option, monkeypatch, capsys):
    from neurodeploy.cli import analyze, inspect

    def exhausted(args):
        raise MemoryError

    monkeypatch.setattr({"analyze": analyze, "inspect": inspect}[argv[0]], "run", exhausted)
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "out of memory" in error
    assert ("--max-memory" in error) == option == hasattr(build_parser().parse_args(argv), "max_memory")
