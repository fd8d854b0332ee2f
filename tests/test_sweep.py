"""``neurodeploy sweep`` on the tiny recipe, on a local Ray with 2 workers: real training, pruning,
export and golden runs; killed and resumed; a failing point; stopped by SIGTERM; Ray gone after
each (counted), and its temporary folder with it."""
import contextlib
import csv
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from neurodeploy.cli import main
from neurodeploy.hardware.profile import load_profile
from neurodeploy.hardware.resources import estimate_resources
from neurodeploy.netx import read_netx
from neurodeploy.pipeline import BY_NAME, settings_digest
from neurodeploy.recipe import load_recipe
from neurodeploy.report.figures import energy_axis, pareto_front
from neurodeploy.sweep.plots import PLOTS, write_plots
from neurodeploy.sweep.point import CHIP_FIGURES, chip_keys, point_recipe, run_point, train_seed
from neurodeploy.sweep.run import SweepError, _digest, _finished, dense_digest, points
from neurodeploy.sweep.table import summarize, write_table
from process_tools import kill_session, session_processes, start_cli, wait_for

TINY = Path(__file__).parent / "recipes" / "tiny.yaml"


def test_points_cover_every_combination_and_reject_bad_options():
    todo = points(["magnitude", "sf"], [0.5, 0.9], [0, 1], ["synops"], "synops")
    assert [p.name for p in todo[:2]] == ["dense-s0", "dense-s1"]
    assert len(todo) == 2 + 2 * 2 * 2 and len({p.name for p in todo}) == len(todo)
    with pytest.raises(SweepError, match="--criteria: 'l1' is not one of"):
        points(["l1"], [0.5], [0], ["synops"], "synops")
    with pytest.raises(SweepError, match=r"--sparsity: 1.0 is outside \(0, 1\)"):
        points(["sf"], [1.0], [0], ["synops"], "synops")
    with pytest.raises(SweepError, match="--objectives: 'speed' is not one of: synops, cores, time, energy"):
        points(["sf"], [0.5], [0], ["cores", "speed"], "synops")
    with pytest.raises(SweepError, match="--objectives and --sparsity must not repeat a value"):
        points(["sf"], [0.5], [0], ["cores", "cores"], "synops")


def test_point_names_carry_the_objective_unless_the_recipes_own_is_swept_alone():
    recipe = load_recipe(TINY)
    alone = points(["magnitude"], [0.9], [1], ["synops"], "synops")
    assert [p.name for p in alone] == ["dense-s1", "magnitude-0.9-s1"]  # as before objectives were swept
    # the digest a sweep made before them gave the point: its folder resumes
    before = dataclasses.replace(recipe, prune=dataclasses.replace(recipe.prune, criterion="magnitude", sparsity=0.9))
    assert _digest(recipe, alone[1]) == dense_digest(recipe, 1) + settings_digest(before, BY_NAME["prune"])
    side_by_side = points(["magnitude"], [0.9], [1], ["synops", "cores", "energy"], "synops")
    assert [p.name for p in side_by_side] == ["dense-s1", "magnitude-synops-0.9-s1", "magnitude-cores-0.9-s1",
                                              "magnitude-energy-0.9-s1"]  # one dense network for all
    assert [p.name for p in points(["sf"], [0.5], [2], ["cores"], "synops")] == ["dense-s2", "sf-cores-0.5-s2"]
    assert [point_recipe(recipe, p).prune.objective for p in side_by_side] == ["synops", "synops", "cores", "energy"]
    digests = [_digest(recipe, p) for p in side_by_side]
    assert len(set(digests)) == 4 and all(d.startswith(digests[0]) for d in digests)


def test_objectives_are_checked_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "sweep"
    bound = tmp_path / "bound.yaml"
    bound.write_text(TINY.read_text().replace("  sparsity: 0.8", "  sparsity: 0.8\n  objective: cores\n"
                                              "  target_cores: 1"))
    cases = [
        (TINY, "speed", "--objectives: 'speed' is not one of: synops, cores, time, energy"),
        (TINY, "cores,synops,cores", "--criteria, --objectives and --sparsity must not repeat a value"),
        (bound, "cores,synops", "--objectives synops: prune.target_cores bounds the cores objective alone"),
    ]
    for recipe, objectives, message in cases:
        args = ["sweep", str(recipe), "--criteria", "magnitude", "--objectives", objectives, "--sparsity", "0.5",
                "--seeds", "1", "--out", str(out)]
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and err.count("\n") == 0, err
    assert not out.exists()


def _row(criterion: str, objective: str | None, sparsity: float, seed: int, accuracy: float, **chip) -> dict:
    """A row as ``run_point`` writes it, every chip figure 1 (loihi1: no static or total
    energy) unless ``chip`` says otherwise."""
    row = {"criterion": criterion, "objective": objective, "sparsity": sparsity, "seed": seed,
           "accuracy": accuracy, "synops_per_sample": 10.0 * seed, "spikes_per_sample": 1.0,
           "sparsity_reached": sparsity, "sparsity_all_layers": 0.8}
    row.update({key: None if key in ("static_uj_loihi1", "total_uj_loihi1") else 1.0 for key in chip_keys()})
    return {**row, **chip}


def test_summary_is_mean_and_sample_std_over_seeds_and_none_where_a_seed_has_none():
    rows = [_row("sf", "synops", 0.9, s, a, cores_loihi1=3 + s, cores_loihi2=2, total_uj_loihi2=t)
            for s, a, t in [(0, 0.5, 1.0), (1, 0.7, 2.0), (2, 0.9, None)]]
    rows.append(_row("sf", "cores", 0.9, 0, 0.6, total_uj_loihi2=4.0))
    summary = summarize(rows)
    assert [(e["criterion"], e["objective"], e["sparsity"], e["seeds"]) for e in summary] == \
        [("sf", "synops", 0.9, 3), ("sf", "cores", 0.9, 1)]
    entry = summary[0]
    assert entry["accuracy_mean"] == pytest.approx(0.7) and entry["accuracy_std"] == pytest.approx(0.2)
    assert entry["synops_per_sample_mean"] == pytest.approx(10.0)
    assert (entry["cores_loihi1_mean"], entry["cores_loihi2_mean"], entry["cores_loihi2_std"]) == (4.0, 2.0, 0.0)
    # one seed without a figure: neither mean nor std; a profile without it: the same
    assert entry["total_uj_loihi2_mean"] is None and entry["total_uj_loihi2_std"] is None
    assert entry["static_uj_loihi1_mean"] is None and entry["dynamic_uj_loihi1_mean"] == 1.0
    assert (summary[1]["total_uj_loihi2_mean"], summary[1]["total_uj_loihi2_std"]) == (4.0, 0.0)
    # the energy plot: the total where every entry has one, else the dynamic energy
    assert energy_axis(summary[1:], "loihi2")[0] == "total_uj_loihi2"
    assert energy_axis(summary, "loihi2")[0] == "dynamic_uj_loihi2"
    assert energy_axis(summary, "loihi1") == ("dynamic_uj_loihi1", "dynamic energy per inference (µJ, loihi1: no total)")


def test_a_saved_row_lacking_the_objective_or_a_chip_figure_is_run_again(tmp_path):
    path, row = tmp_path / "magnitude-0.9-s1.json", _row("magnitude", "synops", 0.9, 1, 0.8)
    path.write_text(json.dumps({"digest": "abc", "row": row}))
    assert _finished(path, "abc") == row and _finished(path, "abd") is None
    for key in ("objective", "total_uj_loihi2", "time_us_loihi1", "static_uj_loihi1"):
        path.write_text(json.dumps({"digest": "abc", "row": {k: v for k, v in row.items() if k != key}}))
        assert _finished(path, "abc") is None, key


def test_pareto_front_by_hand():
    # (cost, accuracy): 0 and 2 dominate 1 and 3; 4 equals 2 (neither dominates); 5 is the
    # cheapest; 6 the most accurate; 7 has 6's accuracy at a higher cost
    points_ = [(1.0, 0.9), (2.0, 0.8), (2.0, 0.95), (3.0, 0.95), (2.0, 0.95), (0.5, 0.1), (4.0, 0.99), (5.0, 0.99)]
    assert pareto_front(points_) == [0, 2, 4, 5, 6]
    assert pareto_front([]) == [] and pareto_front([(7.0, 0.5)]) == [0]


def test_a_points_row_table_and_plots_carry_the_chip_figures(tmp_path):
    """Two points run in this process (no Ray): every chip figure in the rows, the rows'
    figures those of the exported files, and the table's means the rows' (one seed)."""
    recipe = load_recipe(TINY)
    train_seed(recipe, 1, tmp_path / "seed1.pt")
    rows = [run_point(recipe, point, tmp_path / "seed1.pt", tmp_path / f"{point.name}.net")
            for point in points(["magnitude"], [0.9], [1], ["synops"], "synops")]
    dense, pruned = rows
    assert (dense["objective"], pruned["objective"]) == (None, "synops")
    for row, name, sparse in ((dense, "dense-s1", False), (pruned, "magnitude-0.9-s1", True)):
        assert set(chip_keys()) <= set(row) and len(chip_keys()) == 2 * len(CHIP_FIGURES)
        network = read_netx(tmp_path / f"{name}.net")
        for chip in ("loihi1", "loihi2"):
            assert row[f"cores_{chip}"] == estimate_resources(network, load_profile(chip), sparse=sparse).cores
            assert row[f"time_us_{chip}"] > 0 and row[f"dynamic_uj_{chip}"] > 0
        assert row["static_uj_loihi1"] is None and row["total_uj_loihi1"] is None  # no static power published
        assert row["total_uj_loihi2"] == pytest.approx(row["static_uj_loihi2"] + row["dynamic_uj_loihi2"])
    assert pruned["dynamic_uj_loihi2"] < dense["dynamic_uj_loihi2"]
    assert pruned["time_us_loihi2"] <= dense["time_us_loihi2"]

    write_table(rows, [], recipe, tmp_path)
    with open(tmp_path / "sweep.csv") as handle:
        table = list(csv.DictReader(handle))
    assert [(t["criterion"], t["objective"], t["sparsity"]) for t in table] == [("dense", "", "0.0"),
                                                                                ("magnitude", "synops", "0.9")]
    for line, row in zip(table, rows):
        for key in chip_keys():
            assert (line[f"{key}_mean"] == "") if row[key] is None else (float(line[f"{key}_mean"]) == row[key]), key
    write_plots(rows, tmp_path, recipe.prune.profile)
    for name in PLOTS:
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def temp_root(monkeypatch) -> Path:
    """An empty folder of this test as the sweeps' TMPDIR, where a local Ray keeps its session
    (short: Ray's socket paths inside it are limited to 107 bytes); no Ray folder may be left
    in it once a sweep has ended, however it ended."""
    root = Path(tempfile.mkdtemp(prefix="ndt-"))
    monkeypatch.setenv("TMPDIR", str(root))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _left_in(root: Path) -> list[str]:
    """The Ray folders a sweep left in its temporary folder: its local Ray's (``ndray-*``), or
    Ray's default (``ray``), after up to 10 s (a SIGKILLed sweep's watcher removes its Ray's
    folder once it has killed Ray's processes). Torch's ``torchinductor_*`` is not Ray's."""
    def left() -> list[str]:
        return sorted(path.name for path in root.iterdir() if path.name.startswith(("ndray-", "ray")))
    wait_for(lambda: not left(), 10)
    return left()


def _sweep_args(out: Path, criteria: str = "magnitude,random", *extra: str) -> list[str]:
    return ["sweep", str(TINY), "--criteria", criteria, "--sparsity", "0.5,0.9", "--seeds", "1",
            "--workers", "2", "--out", str(out), *extra]


def _finish(process: subprocess.Popen, timeout: float = 600) -> tuple[int, str, str]:
    """Wait for the sweep; then Ray must be gone: no process left in its session (counted)."""
    try:
        stdout, stderr = process.communicate(timeout=timeout)
        assert wait_for(lambda: not session_processes(process.pid), 10), \
            f"left behind: {[_name(pid) for pid in session_processes(process.pid)]}"
    finally:
        kill_session(process.pid)
    return process.returncode, stdout, stderr


def _name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")[:60]
    except OSError:
        return str(pid)


def _ray_task_process(sid: int, name: str) -> int | None:
    """The worker of session ``sid`` running the Ray task ``name`` (its title is ``ray::NAME``)."""
    return next((pid for pid in session_processes(sid) if _name(pid).startswith(f"ray::{name} ")), None)


def _check_completed_sweep(out: Path) -> None:
    """The 3 points of a completed ``_sweep_args(out, "magnitude")`` sweep: rows, networks,
    table, plots, and digests that a changed setting does not match."""
    result = json.loads((out / "sweep.json").read_text())
    assert len(result["rows"]) == 3 and result["failed"] == []
    by_point = {(r["criterion"], r["sparsity"]): r for r in result["rows"]}
    for (criterion, sparsity), row in by_point.items():
        assert 0.0 <= row["accuracy"] <= 1.0 and row["synops_per_sample"] > 0 and row["spikes_per_sample"] > 0
        assert row["sparsity_reached"] >= sparsity
        assert row["cores_loihi2"] >= 1 and row["cores_loihi1"] >= 1
        assert row["total_uj_loihi2"] > 0 and row["total_uj_loihi1"] is None
        assert row["objective"] == (None if criterion == "dense" else "synops")
        assert (out / "points" / f"{criterion if sparsity else 'dense'}-"
                f"{'' if not sparsity else f'{sparsity:g}-'}s1.net").exists()
    assert by_point[("magnitude", 0.9)]["synops_per_sample"] < by_point[("dense", 0.0)]["synops_per_sample"]
    assert by_point[("magnitude", 0.9)]["cores_loihi2"] <= by_point[("dense", 0.0)]["cores_loihi2"]
    with open(out / "sweep.csv") as handle:
        table = list(csv.DictReader(handle))
    assert [(t["criterion"], float(t["sparsity"])) for t in table] == list(by_point)
    assert {"objective", "accuracy_mean", "accuracy_std", "synops_per_sample_mean", "spikes_per_sample_std",
            "cores_loihi2_mean", "time_us_loihi2_mean", "total_uj_loihi2_std"} <= set(table[0])
    for name in PLOTS:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # A changed setting is never taken for a finished point: the files just written hold
    # the digests of the old settings, which only the dense point (it is not pruned) keeps.
    recipe = load_recipe(TINY)
    changed = dataclasses.replace(recipe, prune=dataclasses.replace(recipe.prune, finetune_epochs=2))
    for point in points(["magnitude"], [0.5, 0.9], [1], ["synops"], "synops"):
        saved = out / "points" / f"{point.name}.json"
        assert _finished(saved, _digest(recipe, point)) is not None
        assert (_finished(saved, _digest(changed, point)) is not None) == (point.sparsity == 0)
    # A row an older neurodeploy wrote, without the cores, is not finished either.
    saved = json.loads((out / "points" / "magnitude-0.9-s1.json").read_text())
    del saved["row"]["cores_loihi2"]
    older = out / "older.json"
    older.write_text(json.dumps(saved))
    assert _finished(older, saved["digest"]) is None
    older.unlink()


@pytest.mark.slow
def test_a_killed_sweep_resumes_running_only_the_unfinished_points(tmp_path, temp_root):
    out = tmp_path / "sweep"
    process = start_cli(*_sweep_args(out))
    try:
        assert wait_for(lambda: len(list((out / "points").glob("*.json"))) >= 2 or process.poll() is not None, 300)
        assert process.poll() is None, "the sweep ended before it could be killed"
        # the driver and the workers running points, at once; Ray's own processes (its
        # control store, raylet, agents) must then go by themselves
        workers = [pid for pid in session_processes(process.pid) if _name(pid).startswith(("ray::magnitude",
                                                                                           "ray::random"))]
        for pid in [process.pid, *workers]:
            os.kill(pid, signal.SIGKILL)
        process.wait()
        assert wait_for(lambda: not session_processes(process.pid), 10), \
            f"left behind: {[_name(pid) for pid in session_processes(process.pid)]}"
    finally:
        kill_session(process.pid)
        process.stdout.close()
        process.stderr.close()
    assert _left_in(temp_root) == []  # Ray's session folder, removed by the watcher
    finished = {p.name: p.stat().st_mtime_ns for p in (out / "points").glob("*.json")}
    assert 2 <= len(finished) < 5 and not (out / "sweep.json").exists()
    # what a write cut short would leave: a temporary file beside a point, and (from a
    # writer that was not atomic) a truncated result; neither is taken for a result
    unfinished = next(p for p in points(["magnitude", "random"], [0.5, 0.9], [1], ["synops"], "synops")
                      if f"{p.name}.json" not in finished)
    (out / "points" / f".{unfinished.name}.json.x1y2.tmp").write_text('{"digest": ')
    (out / "points" / f"{unfinished.name}.json").write_text('{"digest": "')
    # and a failure recorded by an earlier run, which its success removes
    (out / "points" / f"{unfinished.name}.failed.json").write_text('{"error": "PathError: earlier"}')
    code, stdout, stderr = _finish(start_cli(*_sweep_args(out)))
    assert code == 0, stderr
    assert f"{len(finished)} of 5 points already done, {5 - len(finished)} to run on a local Ray with 2 CPUs" in stdout
    assert {name: (out / "points" / name).stat().st_mtime_ns for name in finished} == finished
    ran = {line.split(":")[0] for line in stdout.splitlines() if ": accuracy" in line}
    assert ran == {f"{p.name}" for p in points(["magnitude", "random"], [0.5, 0.9], [1], ["synops"], "synops")} - \
        {name.removesuffix(".json") for name in finished}
    assert "trained dense seed" not in stdout  # the seed's network was finished: not trained again
    assert not list((out / "points").glob(".*.tmp")) and not list((out / "points").glob("*.failed.json"))
    result = json.loads((out / "sweep.json").read_text())
    assert len(result["rows"]) == 5 and result["failed"] == []
    assert _left_in(temp_root) == []


@pytest.mark.slow
def test_a_failing_point_is_recorded_and_the_rest_finish_and_a_killed_worker_is_retried(tmp_path, temp_root):
    out = tmp_path / "sweep"
    # a folder where magnitude-0.9-s1 must write its network: it fails every attempt
    (out / "points" / "magnitude-0.9-s1.net").mkdir(parents=True)
    process = start_cli(*_sweep_args(out, "magnitude", "--retries", "1"))
    killed = None
    try:
        # kill the worker running magnitude-0.5-s1 mid-point: Ray retries the task
        def running() -> bool:
            return _ray_task_process(process.pid, "magnitude-0.5-s1") is not None or process.poll() is not None
        assert wait_for(running, 300) and process.poll() is None
        killed = _ray_task_process(process.pid, "magnitude-0.5-s1")
        assert not (out / "points" / "magnitude-0.5-s1.json").exists()
        os.kill(killed, signal.SIGKILL)
    finally:
        code, stdout, stderr = _finish(process)
    assert killed is not None
    assert code == 1, stderr
    assert _left_in(temp_root) == []
    assert "1 point(s) failed" in stdout and "magnitude-0.9-s1: PathError:" in stdout
    # each retried attempt is one line of ours; Ray's own report of it (`(raylet) Task
    # point_task failed. There are 1 retries remaining ...` and a traceback) is not printed
    retries = [line for line in stdout.splitlines() if "retrying" in line]
    assert sorted(retries) == ["magnitude-0.5-s1: attempt 1 of 2 failed, retrying: worker died",
                               f"magnitude-0.9-s1: attempt 1 of 2 failed, retrying: PathError: "
                               f"{out.resolve() / 'points' / 'magnitude-0.9-s1.net'}: is a directory, not a file "
                               "to write"], stdout
    for text in ("(raylet)", "retries remaining", "Traceback", "point_task"):
        assert text not in stdout and text not in stderr, text
    result = json.loads((out / "sweep.json").read_text())
    assert sorted(r["criterion"] + str(r["sparsity"]) for r in result["rows"]) == ["dense0.0", "magnitude0.5"]
    (failure,) = result["failed"]
    assert failure["point"] == "magnitude-0.9-s1" and "is a directory" in failure["error"]
    record = json.loads((out / "points" / "magnitude-0.9-s1.failed.json").read_text())
    assert record["attempts"] == 2 and record["error"] == failure["error"] and "point_task" in record["details"]
    # a failed point is not finished: the same command runs it again (as the killed sweep's
    # unfinished points in the test above, which also shows its failure record go)
    assert _finished(out / "points" / "magnitude-0.9-s1.json", record["digest"]) is None


@pytest.mark.slow
def test_sigterm_to_ray_and_then_the_sweep_prints_one_line_and_leaves_nothing(tmp_path, temp_root):
    """A signal to the whole process group (``timeout``, a closed terminal) reaches Ray's
    processes too; here they get SIGTERM first and the command 1.5 s later, as a command busy
    elsewhere would see it. Before the fix Ray's core printed ``task_manager.cc:1545: Failed to
    push error to driver for task ...`` on stderr for each task it could not retry, and left
    its session folder."""
    process = start_cli(*_sweep_args(tmp_path / "sweep", "magnitude"))
    try:
        assert wait_for(lambda: _ray_task_process(process.pid, "train-s1") or process.poll() is not None, 300)
        assert process.poll() is None, "the sweep ended before it could be signalled"
        for pid in session_processes(process.pid):
            if pid != process.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
        time.sleep(1.5)
        process.send_signal(signal.SIGTERM)
    finally:
        code, stdout, stderr = _finish(process, timeout=60)
    assert code == 128 + signal.SIGTERM
    assert stderr == "neurodeploy: stopped by SIGTERM\n", stderr
    assert _left_in(temp_root) == []


def test_cluster_options_are_checked_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "sweep"
    cases = [
        (["--address", "127.0.0.1:1"], "--address 127.0.0.1:1: no Ray cluster answers there"),
        (["--address", "127.0.0.1:1", "--workers", "2"], "--workers sizes a local Ray"),
        (["--address", "nowhere"], "--address nowhere: expected HOST:PORT"),
        (["--device", "cuda:1"], "a sweep's points get their GPU from Ray; use cuda"),
        (["--retries", "-1"], "--retries must be 0 or more"),
    ]
    for extra, message in cases:
        args = ["sweep", str(TINY), "--criteria", "magnitude", "--sparsity", "0.5", "--seeds", "1",
                "--out", str(out), *extra]
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and err.count("\n") == 0, err
    assert not out.exists()


def _ray_processes() -> set[int]:
    """Pids of the processes of a Ray installed in this interpreter's environment (its
    binaries and scripts run from its package folder; workers are titled ``ray::``)."""
    import ray

    package = os.path.dirname(ray.__file__)
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_text()
            except OSError:
                continue
            if package in command or command.startswith("ray::"):
                found.add(int(entry.name))
    return found


@pytest.mark.slow
def test_a_sweep_joins_the_cluster_ray_address_names_and_completes(tmp_path):
    """A 3-point sweep on a `ray start --head` cluster named by RAY_ADDRESS writes its
    table, plots and points; a local Ray's sweeps (the tests above) leave no process."""
    before = _ray_processes()
    port = "6399"
    ray = [str(Path(sys.executable).parent / "ray")]
    started = subprocess.run([*ray, "start", "--head", "--port", port, "--num-cpus", "2", "--disable-usage-stats",
                              "--include-dashboard", "false"], capture_output=True, text=True, timeout=120)
    cluster = _ray_processes() - before  # stopped by pid below: `ray stop` would stop every Ray of the user
    try:
        assert started.returncode == 0, started.stderr
        out = tmp_path / "sweep"
        env = {**os.environ, "RAY_ADDRESS": f"127.0.0.1:{port}", "TQDM_DISABLE": "1"}
        arguments = [a for a in _sweep_args(out, "magnitude") if a not in ("--workers", "2")]  # the cluster's CPUs
        process = subprocess.run([sys.executable, "-m", "neurodeploy.cli", *arguments],
                                 capture_output=True, text=True, env=env, timeout=600)
        assert process.returncode == 0, process.stderr
        assert f"0 of 3 points already done, 3 to run on the Ray cluster at 127.0.0.1:{port} (2 CPUs)" \
            in process.stdout
        _check_completed_sweep(out)
        # the sweep leaves the cluster it joined running, with no task of its own
        assert _ray_processes() - before
    finally:
        # the cluster this test started, and what it started since (workers, agents)
        for pid in cluster | (_ray_processes() - before):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: not (_ray_processes() - before), 30), [_name(p) for p in _ray_processes() - before]


@pytest.mark.slow
def test_an_iterative_grid_runs_one_trajectory_per_criterion_and_seed(tmp_path, temp_root):
    """3 rounds to 0.875 reach 0.5, 0.75, 0.875: each criterion's 3 points come from one
    trajectory of 3 rounds (9 alone at 3 rounds each); the table is as a sweep of lone points'
    (one row per point), and each point's digest is that of the lone run with its rounds."""
    rounds = tmp_path / "rounds.yaml"
    rounds.write_text(TINY.read_text().replace("  sparsity: 0.8", "  sparsity: 0.8\n  rounds: 3\n  rewind_epoch: 1"))
    out = tmp_path / "sweep"
    args = ["sweep", str(rounds), "--criteria", "magnitude,random", "--sparsity", "0.5,0.75,0.875", "--seeds", "1",
            "--workers", "2", "--out", str(out)]
    code, stdout, stderr = _finish(start_cli(*args))
    assert code == 0, stderr
    assert "0 of 7 points already done, 7 to run" in stdout
    assert ("pruning in trajectories (sparsity at round: 0.5 at 1, 0.75 at 2, 0.875 at 3 of 3): 6 rounds in 2 "
            "trajectories where the same points pruned alone take 12, and 18 at 3 rounds each") in stdout, stdout
    result = json.loads((out / "sweep.json").read_text())
    assert result["failed"] == [] and len(result["rows"]) == 7
    with open(out / "sweep.csv") as handle:
        table = list(csv.DictReader(handle))
    assert [(t["criterion"], float(t["sparsity"])) for t in table] == \
        [("dense", 0.0)] + [(c, s) for c in ("magnitude", "random") for s in (0.5, 0.75, 0.875)]
    recipe = load_recipe(rounds)
    for point in points(["magnitude", "random"], [0.5, 0.75, 0.875], [1], ["synops"], "synops",
                        {0.5: 1, 0.75: 2, 0.875: 3})[1:]:
        saved = json.loads((out / "points" / f"{point.name}.json").read_text())
        assert saved["row"]["sparsity_reached"] == pytest.approx(point.sparsity, abs=0.01)
        alone = dataclasses.replace(recipe, prune=dataclasses.replace(recipe.prune, criterion=point.criterion,
                                                                      sparsity=point.sparsity, rounds=point.rounds))
        assert saved["digest"] == dense_digest(recipe, 1) + settings_digest(alone, BY_NAME["prune"])
        assert (out / "points" / f"{point.name}.net").exists()
    assert list((out / "trajectories").iterdir()) == []  # a finished trajectory's saved round goes
    assert _left_in(temp_root) == []
    code, stdout, stderr = _finish(start_cli(*args))
    assert code == 0 and "7 of 7 points already done, 0 to run" in stdout and "0 rounds in 0 trajectories" in stdout
