"""``neurodeploy sweep`` on the tiny recipe: real training, pruning, export and golden runs."""
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from neurodeploy.cli import main
from neurodeploy.recipe import load_recipe
from neurodeploy.sweep.run import SweepError, points
from neurodeploy.sweep.table import summarize

TINY = Path(__file__).parent / "recipes" / "tiny.yaml"


def test_points_cover_every_combination_and_reject_bad_options():
    todo = points(["magnitude", "sf"], [0.5, 0.9], [0, 1])
    assert [p.name for p in todo[:2]] == ["dense-s0", "dense-s1"]
    assert len(todo) == 2 + 2 * 2 * 2 and len({p.name for p in todo}) == len(todo)
    with pytest.raises(SweepError, match="--criteria: 'l1' is not one of"):
        points(["l1"], [0.5], [0])
    with pytest.raises(SweepError, match=r"--sparsity: 1.0 is outside \(0, 1\)"):
        points(["sf"], [1.0], [0])


def test_summary_is_mean_and_sample_std_over_seeds():
    rows = [
        {"criterion": "sf", "sparsity": 0.9, "seed": s, "accuracy": a, "synops_per_sample": 10.0 * s,
         "spikes_per_sample": 1.0, "sparsity_reached": 0.9, "sparsity_all_layers": 0.8}
        for s, a in [(0, 0.5), (1, 0.7), (2, 0.9)]
    ]
    (entry,) = summarize(rows)
    assert entry["seeds"] == 3 and entry["accuracy_mean"] == pytest.approx(0.7)
    assert entry["accuracy_std"] == pytest.approx(0.2)
    assert entry["synops_per_sample_mean"] == pytest.approx(10.0)


@pytest.mark.slow
def test_sweep_writes_table_and_plots_and_resumes(tmp_path, capsys):
    out = tmp_path / "sweep"
    args = ["sweep", str(TINY), "--criteria", "magnitude,random", "--sparsity", "0.5,0.9",
            "--seeds", "1", "--workers", "2", "--out", str(out)]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert "0 of 5 points already done, 5 to run" in first
    result = json.loads((out / "sweep.json").read_text())
    assert len(result["rows"]) == 5
    by_point = {(r["criterion"], r["sparsity"]): r for r in result["rows"]}
    for (criterion, sparsity), row in by_point.items():
        assert 0.0 <= row["accuracy"] <= 1.0 and row["synops_per_sample"] > 0 and row["spikes_per_sample"] > 0
        assert row["sparsity_reached"] >= sparsity
        assert (out / "points" / f"{criterion if sparsity else 'dense'}-"
                f"{'' if not sparsity else f'{sparsity:g}-'}s1.net").exists()
    assert by_point[("magnitude", 0.9)]["synops_per_sample"] < by_point[("dense", 0.0)]["synops_per_sample"]
    with open(out / "sweep.csv") as handle:
        table = list(csv.DictReader(handle))
    assert [(t["criterion"], float(t["sparsity"])) for t in table] == list(by_point)
    assert {"accuracy_mean", "accuracy_std", "synops_per_sample_mean", "spikes_per_sample_std"} <= set(table[0])
    for name in ("accuracy_vs_sparsity.png", "accuracy_vs_synops.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # Resume: delete one finished point, as if the sweep had been stopped before it.
    (out / "points" / "random-0.9-s1.json").unlink()
    stamps = {p.name: os.stat(p).st_mtime_ns for p in (out / "points").glob("*.json")}
    assert main(args) == 0
    assert "4 of 5 points already done, 1 to run" in capsys.readouterr().out
    assert {p.name: os.stat(p).st_mtime_ns for p in (out / "points").glob("*.json") if p.name in stamps} == stamps
    again = json.loads((out / "sweep.json").read_text())
    assert [r for r in again["rows"] if r["criterion"] != "random"] == [
        r for r in result["rows"] if r["criterion"] != "random"
    ]

    # A changed setting is never taken for a finished point: every point runs again.
    changed = tmp_path / "changed.yaml"
    changed.write_text(TINY.read_text().replace("finetune_epochs: 1", "finetune_epochs: 2"))
    assert load_recipe(changed).prune.finetune_epochs == 2
    assert main(["sweep", str(changed), *args[2:]]) == 0
    assert "1 of 5 points already done, 4 to run" in capsys.readouterr().out


@pytest.mark.slow
def test_a_killed_sweep_resumes_without_redoing_finished_points(tmp_path, capsys):
    out = tmp_path / "sweep"
    args = ["sweep", str(TINY), "--criteria", "magnitude,sf", "--sparsity", "0.5,0.9",
            "--seeds", "1", "--workers", "1", "--out", str(out)]
    env = {**os.environ, "TQDM_DISABLE": "1"}
    process = subprocess.Popen([sys.executable, "-m", "neurodeploy.cli", *args], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while len(list((out / "points").glob("*.json"))) < 2 and time.monotonic() < deadline:
        assert process.poll() is None, "the sweep ended before it could be interrupted"
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)  # the whole process group: the sweep and its workers
    process.wait()
    # the workers hold the folder lock (inherited) until they have exited too
    gone = time.monotonic() + 30
    while time.monotonic() < gone:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    finished = {p.name: p.stat().st_mtime_ns for p in (out / "points").glob("*.json")}
    assert 2 <= len(finished) < 5
    assert not (out / "sweep.json").exists()
    assert main(args) == 0
    assert f"{len(finished)} of 5 points already done, {5 - len(finished)} to run" in capsys.readouterr().out
    assert {name: (out / "points" / name).stat().st_mtime_ns for name in finished} == finished
    assert len(json.loads((out / "sweep.json").read_text())["rows"]) == 5
