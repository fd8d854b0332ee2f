"""No command writes over one of its inputs, or one output over another, by any name:
the same file by device and inode (through symbolic and hard links), or the same new
path; refused in one line naming both, exit code 2, before any work."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import neurodeploy
from neurodeploy.cli import main
from neurodeploy.fileio import PathError, check_distinct
from netx_builders import FIXTURES

OXFORD = FIXTURES / "oxford" / "network.net"
TINY = Path(__file__).parent / "recipes" / "tiny.yaml"


def refused(capsys, argv: list[str], *named: Path) -> str:
    """Run ``argv``; assert exit code 2 and one line naming every path of ``named``."""
    code = main([str(part) for part in argv])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0, err
    assert "same file" in err or "inside" in err, err
    for path in named:
        assert str(path) in err, (path, err)
    return err


@pytest.fixture(scope="module")
def graph(tmp_path_factory) -> Path:
    """A real NIR graph (oxford's network, exported)."""
    path = tmp_path_factory.mktemp("nir") / "g.nir"
    assert main(["export", str(OXFORD), "--format", "nir", "--out", str(path)]) == 0
    return path


@pytest.fixture
def net(tmp_path) -> Path:
    path = tmp_path / "self.net"
    shutil.copy(OXFORD, path)
    return path


def test_check_distinct_knows_a_file_by_every_name(tmp_path):
    real = tmp_path / "real"
    real.write_text("x")
    (tmp_path / "soft").symlink_to(real)
    os.link(real, tmp_path / "hard")
    for name in ("real", "soft", "hard"):
        with pytest.raises(PathError, match="same file"):
            check_distinct([("IN", tmp_path / name)], [("--out", real)])
    with pytest.raises(PathError, match="--json is the same file as --out"):  # two new paths, one file
        check_distinct([], [("--out", tmp_path / "new.json"), ("--json", tmp_path / "sub" / ".." / "new.json")])
    with pytest.raises(PathError, match="inside"):
        check_distinct([("RECIPE", tmp_path / "points" / "r.yaml")], [], [("points/", tmp_path / "points")])
    check_distinct([("IN", real), ("IN2", tmp_path / "hard")], [("--out", tmp_path / "other"), ("--json", None)])


def test_export_refuses_its_input_as_out_by_any_name(tmp_path, net, capsys):
    before = net.read_bytes()
    (tmp_path / "link.net").symlink_to(net)
    os.link(net, tmp_path / "hard.net")
    for source in (net, tmp_path / "link.net", tmp_path / "hard.net"):
        refused(capsys, ["export", source, "--format", "onnx", "--out", net], source, net)
    assert net.read_bytes() == before
    with pytest.raises(PathError, match="same file"):
        neurodeploy.export_network(tmp_path / "hard.net", "nir", net)
    assert net.read_bytes() == before


def test_json_equal_to_an_input_is_refused_by_verify_compare_and_inspect(tmp_path, net, capsys):
    before = net.read_bytes()
    os.link(net, tmp_path / "b.net")
    refused(capsys, ["inspect", net, "--json", net], net)
    refused(capsys, ["compare", net, net, "--random-rate", "0.1", "--steps", "2", "--json", net], net)
    refused(capsys, ["compare", net, tmp_path / "other.net", "--random-rate", "0.1", "--steps", "2",
                     "--json", tmp_path / "b.net"], tmp_path / "b.net", net)
    refused(capsys, ["verify", net, "--random-rate", "0.1", "--steps", "2", "--json", tmp_path / "b.net"],
            tmp_path / "b.net", net)
    spikes = tmp_path / "s.npy"
    spikes.write_bytes(b"spikes")
    refused(capsys, ["verify", net, "--spikes", spikes, "--json", spikes], spikes)
    assert net.read_bytes() == before and spikes.read_bytes() == b"spikes"


def test_import_refuses_out_equal_to_the_graph_or_to_json(tmp_path, graph, capsys):
    own = tmp_path / "self.nir"
    shutil.copy(graph, own)
    before = own.read_bytes()
    refused(capsys, ["import", own, "--out", own], own)
    assert own.read_bytes() == before
    refused(capsys, ["import", graph, "--out", tmp_path / "a.net", "--json", tmp_path / "a.net"], tmp_path / "a.net")
    refused(capsys, ["import", graph, "--out", tmp_path / "a.net", "--json", tmp_path / "x" / ".." / "a.net"])
    assert not (tmp_path / "a.net").exists(), "nothing is written"


def test_run_folder_commands_refuse_a_recipe_or_sweep_file_they_would_overwrite(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    for name in ("recipe.json", "dense.pt", "stages.json"):
        recipe = out / name
        shutil.copy(TINY, recipe)
        for command in ("run", "train"):
            refused(capsys, [command, recipe, "--out", out], recipe)
        assert recipe.read_bytes() == TINY.read_bytes()
        recipe.unlink()
    with pytest.raises(PathError, match="same file"):
        neurodeploy.run(shutil.copy(TINY, out / "report.html"), out)
    assert sorted(path.name for path in out.iterdir()) == ["report.html"], "nothing else is written"
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (out / "report.json").write_text("{}")
    (sweep / "sweep.json").symlink_to(out / "report.json")
    refused(capsys, ["report", "--out", out, "--sweep", sweep], sweep / "sweep.json")


def test_sweep_supermask_and_analyze_refuse_an_input_they_would_overwrite(tmp_path, capsys):
    out = tmp_path / "out"
    for folder, command in (("points", "sweep"), ("dense", "sweep"), ("supermask", "supermask")):
        (out / folder).mkdir(parents=True)
        recipe = out / folder / "r.yaml"
        shutil.copy(TINY, recipe)
        refused(capsys, [command, recipe, "--out", out], recipe)
    shutil.copy(TINY, out / "sweep.json")
    refused(capsys, ["sweep", out / "sweep.json", "--out", out], out / "sweep.json")
    (out / "dense.pt").write_text("weights")
    os.link(out / "dense.pt", out / "analysis_prune.json")
    refused(capsys, ["analyze", "--out", out], out / "analysis_prune.json", out / "dense.pt")
    assert (out / "dense.pt").read_text() == "weights"
