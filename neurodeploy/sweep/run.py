"""``neurodeploy sweep``: run every point as a Ray task, resumably, then tabulate.

Layout of the sweep folder ``DIR``:

- ``dense/seed{S}.pt``: each seed's dense network (and rewind point), with
  ``dense/seed{S}.digest`` (its settings digest) written after it;
- ``points/{name}.json``: one finished point, its row and the settings
  digest that made it; ``points/{name}.net``: its exported network;
  ``points/{name}.failed.json``: the error of a point that failed every
  attempt (removed when a later attempt succeeds);
- ``trajectories/{name}.pt``: a running trajectory's last finished round
  (``trajectory``), removed when it ends;
- ``sweep.csv``, ``sweep.json``, ``accuracy_vs_sparsity.png``,
  ``accuracy_vs_synops.png``, ``accuracy_vs_cores.png``,
  ``accuracy_vs_energy.png``: the table and plots (``table``, ``plots``) of
  the finished points; ``sweep.json`` also lists the failed ones.

A point is a criterion, a pruning objective (``prune.objective``), a
sparsity and a seed; its name carries the objective unless the sweep runs
the recipe's own objective alone (``Point.name``), so folders of sweeps
made before objectives were swept resume.

Every seed's training and every point is a Ray task (``tasks``) on a local
Ray or a cluster (``cluster``), asking for one CPU, and a GPU when
``train.device`` is cuda; a point starts once its seed's network is
trained. When the recipe prunes in rounds and every sparsity is a round of
the schedule to the top one (``trajectory.grid_rounds``), the pruned points
of a criterion, objective and seed are one task instead, a trajectory that
reads each point from its round. A task that raises or whose worker dies is
retried ``retries`` times, with a line of ours per retried attempt; a point
that fails every attempt is recorded as failed and the others go on. Every file is written atomically, so a sweep killed at any
moment leaves only finished points and networks behind. Running the same
command again skips every point whose file holds the digest of its current
settings; a point whose settings changed, or that failed, is run again.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from neurodeploy.fileio import atomic_path
from neurodeploy.limits import Limits
from neurodeploy.lock import folder_lock
from neurodeploy.preflight import check_recipe
from neurodeploy.pipeline import BY_NAME, settings_digest
from neurodeploy.prune.criteria import CRITERIA
from neurodeploy.prune.objectives import OBJECTIVES
from neurodeploy.recipe import Recipe
from neurodeploy.registry import UnknownNameError
from neurodeploy.sweep.cluster import (DEFAULT_RETRIES, Cluster, ClusterError, check_cluster, cluster_address,
                                       ray_cluster)
from neurodeploy.sweep.plots import PLOTS, write_plots
from neurodeploy.sweep.point import Point, point_recipe
from neurodeploy.sweep.progress import SweepProgress
from neurodeploy.sweep.table import figures, write_table
from neurodeploy.sweep.tasks import (TaskLog, dense_path, one_line, point_paths, point_task, train_task,
                                     trajectory_task)
from neurodeploy.sweep.trajectory import grid_rounds, schedule, trajectories


class SweepError(ValueError):
    """Sweep options that cannot be used; names the option."""


def check_sparsities(sparsities: Sequence[float]) -> None:
    """``SweepError`` for a sparsity outside (0, 1)."""
    bad = [s for s in sparsities if not 0.0 < s < 1.0]
    if bad:
        raise SweepError(f"--sparsity: {bad[0]} is outside (0, 1)")


def points(criteria: Sequence[str], sparsities: Sequence[float], seeds: Sequence[int], objectives: Sequence[str],
           own: str, rounds: dict[float, int] | None = None) -> list[Point]:
    """The dense network of every seed, then every criterion x objective x sparsity x seed;
    the objective is in the points' names unless ``objectives`` is the recipe's own
    objective ``own`` alone. rounds: each sparsity's pruning rounds, for a grid of
    trajectories (``trajectory.grid_rounds``); None: the recipe's."""
    for option, names, registry in (("--criteria", criteria, CRITERIA), ("--objectives", objectives, OBJECTIVES)):
        for name in names:
            try:
                registry.lookup(name, f"{option}:")
            except UnknownNameError as err:
                raise SweepError(str(err)) from None
    check_sparsities(sparsities)
    if any(len(set(values)) != len(values) for values in (criteria, objectives, sparsities)):
        raise SweepError("--criteria, --objectives and --sparsity must not repeat a value")
    named = list(objectives) != [own]
    dense = [Point("dense", None, 0.0, seed) for seed in seeds]
    return dense + [Point(c, o, s, seed, named, rounds[s] if rounds else None) for c in criteria for o in objectives
                    for s in sparsities for seed in seeds]


def check_targets(recipe: Recipe, objectives: Sequence[str]) -> None:
    """``SweepError`` naming --objectives for an objective other than the one a target of
    the recipe's (``prune.target_cores``, ``prune.target_time``) bounds."""
    for key, bounded in (("target_cores", "cores"), ("target_time", "time")):
        other = [objective for objective in objectives if objective != bounded]
        if getattr(recipe.prune, key) is not None and other:
            raise SweepError(f"--objectives {other[0]}: prune.{key} bounds the {bounded} objective alone; "
                             f"sweep --objectives {bounded}, or leave prune.{key} out")


def dense_digest(recipe: Recipe, seed: int) -> str:
    """What the seed's dense network depends on: the run pipeline's train-stage settings
    digest (seed, data, model, train, rewind epoch) with that seed."""
    return settings_digest(dataclasses.replace(recipe, seed=seed), BY_NAME["train"])


def _digest(recipe: Recipe, point: Point) -> str:
    """A point's settings digest: the dense network's, or with it the prune stage's
    settings digest of the point's recipe."""
    if point.sparsity == 0:
        return dense_digest(recipe, point.seed)
    return dense_digest(recipe, point.seed) + settings_digest(point_recipe(recipe, point), BY_NAME["prune"])


def _finished(path: Path, digest: str) -> dict[str, Any] | None:
    """The row saved at ``path`` if it was made with settings ``digest`` and holds its
    objective and every figure the table summarizes (a row of an older neurodeploy that
    lacks one, such as the chip figures, is run again)."""
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    row = saved.get("row") if saved.get("digest") == digest else None
    return row if isinstance(row, dict) and all(key in row for key in ("objective", *figures())) else None


@dataclass(frozen=True)
class SweepResult:
    """What a sweep left: ``sweep.json``'s path and the error of every point that failed
    (by point name)."""

    path: Path
    failed: dict[str, str]


def sweep(
    recipe: Recipe,
    criteria: Sequence[str],
    sparsities: Sequence[float],
    seeds: Sequence[int],
    out_dir: Path,
    workers: int | None = None,
    progress: Callable[[str], None] = lambda line: None,
    limits: Limits | None = None,
    address: str | None = None,
    retries: int = DEFAULT_RETRIES,
    objectives: Sequence[str] | None = None,
) -> SweepResult:
    """Run (or resume) the sweep into ``out_dir``.

    objectives: the pruning objectives run side by side (each point's
    ``prune.objective``; default the recipe's alone). address: the Ray
    cluster to join (default ``RAY_ADDRESS``; neither starts a local Ray of
    ``workers`` CPUs, default one per core). retries: attempts after the
    first of a task that fails. ``progress`` gets one line per event (a seed
    trained, a point finished or failed); a bar on stderr shows points done,
    running and failed.
    """
    objectives = [recipe.prune.objective] if objectives is None else list(objectives)
    check_sparsities(sparsities)
    rounds = grid_rounds(sparsities, recipe.prune.rounds) if sparsities else None
    todo = points(criteria, sparsities, seeds, objectives, recipe.prune.objective, rounds)
    check_targets(recipe, objectives)
    if retries < 0:
        raise SweepError(f"--retries {retries}: give 0 or more")
    address = cluster_address(address)
    device = recipe.train.device
    if device.startswith("cuda:"):
        raise SweepError(f"train.device = {device!r}: a sweep's points get their GPU from Ray; use cuda")
    check_cluster(address, workers)
    for sparsity in sparsities:  # every point's recipe, checked before any training
        check_recipe(dataclasses.replace(recipe, prune=dataclasses.replace(recipe.prune, sparsity=sparsity)),
                     limits or Limits(), lava=False, device_here=address is None)
    with folder_lock(out_dir), ray_cluster(address, workers, retries) as cluster:
        if device == "cuda" and cluster.gpus < 1:
            raise ClusterError(f"train.device = cuda, but {cluster.describe()} has no GPU")
        return _sweep(recipe, todo, seeds, out_dir.resolve(), cluster, retries, progress, rounds is not None)


def _failure(error: BaseException) -> str:
    """A failed task's error as one line: the exception it raised, or what ended it."""
    from ray.exceptions import OutOfMemoryError, RayTaskError, WorkerCrashedError

    if isinstance(error, RayTaskError) and error.cause is not None:
        return one_line(error.cause)
    if isinstance(error, OutOfMemoryError):
        return "Ray's memory monitor killed the task: the node ran out of memory"
    if isinstance(error, WorkerCrashedError):
        return "the worker process running it died (killed, or crashed)"
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"


def _task_name(kind: str, what: Any) -> str:
    """A task's name in Ray (its workers' process title is ``ray::NAME``): ``train-s{S}``
    for seed S's training, a point's name for a point, a trajectory's (``what``: it and
    its points to run) for a trajectory."""
    if kind == "train":
        return f"train-s{what}"
    return what.name if kind == "point" else what[0].name


def _retry_lines(attempts: dict[str, int], errors: dict[tuple[str, int], str], retries: int,
                 retried: set[tuple[str, int]]) -> list[str]:
    """A line for each attempt (task name, number) that failed and is retried, not yet in
    ``retried`` (which gets it): known as failed when its error was recorded, or when a later
    attempt started without one (its worker died)."""
    lines = []
    for name, started in attempts.items():
        for attempt in range(1, started + 1):
            error = errors.get((name, attempt))
            if (name, attempt) in retried or attempt > retries or (error is None and attempt == started):
                continue
            retried.add((name, attempt))
            lines.append(f"{name}: attempt {attempt} of {retries + 1} failed, retrying: {error or 'worker died'}")
    return lines


def _sweep(recipe: Recipe, todo: list[Point], seeds: Sequence[int], out_dir: Path, cluster: Cluster,
           retries: int, say: Callable[[str], None], in_trajectories: bool) -> SweepResult:
    for folder in (out_dir / "points", out_dir / "dense", out_dir / "trajectories"):
        folder.mkdir(parents=True, exist_ok=True)
        for leftover in folder.glob(".*.tmp"):  # an atomic write a killed sweep never finished
            leftover.unlink(missing_ok=True)
    rows, waiting, log = _submit(recipe, todo, seeds, out_dir, retries, in_trajectories)
    to_run = sum(1 if kind == "point" else len(what[1]) for kind, what in waiting.values() if kind != "train")
    say(f"{len(rows)} of {len(todo)} points already done, {to_run} to run on {cluster.describe()}")
    if recipe.prune.rounds > 1:
        say(_rounds_line(recipe, todo, rows, in_trajectories))
    failed = _collect(recipe, waiting, log, out_dir, retries, rows, SweepProgress(to_run, say))
    ordered = [rows[point] for point in todo if point in rows]
    path = write_table(ordered, [{"point": name, "error": error} for name, error in failed.items()], recipe, out_dir)
    if ordered:
        write_plots(ordered, out_dir, recipe.prune.profile)
    else:
        for name in PLOTS:
            (out_dir / name).unlink(missing_ok=True)
    return SweepResult(path, failed)


def _rounds_line(recipe: Recipe, todo: list[Point], rows: dict[Point, dict[str, Any]], in_trajectories: bool) -> str:
    """What the pruning still to run costs in rounds (``prune.rounds`` > 1): with trajectories,
    the rounds of each one to its last unfinished point, against the rounds of those points
    pruned alone (each its own rounds) and in the old scheme (each the recipe's
    ``prune.rounds``); without, why not."""
    rounds = recipe.prune.rounds
    pruned = [point for point in todo if point.sparsity > 0 and point not in rows]
    if not in_trajectories:
        grid = sorted({point.sparsity for point in todo if point.sparsity > 0})
        reason = ""
        if grid:
            reached = ", ".join(f"{s:.4g}" for s in schedule(grid[-1], rounds))
            reason = (f" (the sparsities are not all rounds of the {rounds}-round schedule to {grid[-1]:g}: "
                      f"{reached})")
        return f"pruning: each point alone in {rounds} rounds, {len(pruned) * rounds} rounds{reason}"
    paths = [max(point.rounds or 0 for point in path.points if point in pruned)
             for path in trajectories(todo) if set(path.points) & set(pruned)]
    steps = sorted({(point.sparsity, point.rounds) for point in todo if point.sparsity > 0})
    return (f"pruning in trajectories (sparsity at round: {', '.join(f'{s:g} at {k}' for s, k in steps)} of "
            f"{rounds}): {sum(paths)} rounds in {len(paths)} trajectories where the same points pruned alone "
            f"take {sum(point.rounds or 0 for point in pruned)}, and {len(pruned) * rounds} at {rounds} rounds each")


def _submit(recipe: Recipe, todo: list[Point], seeds: Sequence[int], out_dir: Path, retries: int,
            in_trajectories: bool) -> tuple[dict[Point, dict[str, Any]], dict[Any, tuple[str, Any]], Any]:
    """Start the ``TaskLog`` actor, a training task for every seed whose saved network is
    missing or has other settings, and a task for every point not finished with its
    settings, or (``in_trajectories``) one for every trajectory with such a point and one
    for every dense point (after its seed's training task, when there is one). Returns the
    rows of the finished points, the tasks (each ``("train", seed)``, ``("point", point)``
    or ``("trajectory", (trajectory, its points to run))``) and the actor."""
    import ray

    log = ray.remote(num_cpus=0)(TaskLog).remote()
    resources = {"num_cpus": 1, "num_gpus": 1 if recipe.train.device == "cuda" else 0,
                 "max_retries": retries, "retry_exceptions": True}
    train, run = ray.remote(**resources)(train_task), ray.remote(**resources)(point_task)
    waiting: dict[Any, tuple[str, Any]] = {}
    trainings = {}
    for seed in seeds:
        path, digest = dense_path(out_dir, seed), dense_digest(recipe, seed)
        saved = path.with_suffix(".digest")
        if not (path.exists() and saved.exists() and saved.read_text() == digest):
            trainings[seed] = train.options(name=_task_name("train", seed)).remote(recipe, seed, out_dir, digest, log)
            waiting[trainings[seed]] = ("train", seed)
    rows: dict[Point, dict[str, Any]] = {}
    digests = {}
    for point in todo:
        digests[point] = _digest(recipe, point)
        row = _finished(point_paths(out_dir, point)[0], digests[point])
        if row is not None:
            rows[point] = row
        elif point.sparsity == 0 or not in_trajectories:
            task = run.options(name=_task_name("point", point))
            waiting[task.remote(recipe, point, out_dir, digests[point], log, trainings.get(point.seed))] = \
                ("point", point)
    if in_trajectories:
        prune = ray.remote(**resources)(trajectory_task)
        for path in trajectories(todo):
            wanted = [point for point in path.points if point not in rows]
            if wanted:
                task = prune.options(name=path.name).remote(
                    recipe, path, out_dir, {point.name: digests[point] for point in wanted}, digests[path.top], log,
                    trainings.get(path.top.seed))
                waiting[task] = ("trajectory", (path, wanted))
    return rows, waiting, log


def _collect(recipe: Recipe, waiting: dict[Any, tuple[str, Any]], log: Any, out_dir: Path, retries: int,
             rows: dict[Point, dict[str, Any]], bar: SweepProgress) -> dict[str, str]:
    """Wait for every task; add each finished point's row to ``rows`` (a trajectory's as each
    point finishes), record each failed point (``_record_failure``), print a line for each
    attempt that failed and is retried, and keep ``bar`` up to date every half second.
    Returns the error of every failed point, by name."""
    import ray

    failed: dict[str, str] = {}
    failed_seeds: set[int] = set()
    retried: set[tuple[str, int]] = set()
    done_before = len(rows)
    by_name = {point.name: point for kind, what in waiting.values() if kind == "trajectory" for point in what[1]}

    def finish(point: Point, row: dict[str, Any]) -> None:
        if point not in rows:
            rows[point] = row
            bar.line(f"{point.name}: accuracy {row['accuracy']:.4f}, synops/sample {row['synops_per_sample']:.0f}")

    def fail(point: Point, message: str, attempts: int | None, details: str) -> None:
        if attempts is None:
            message = f"its seed's dense network did not train: {message}"
        _record_failure(out_dir, point, _digest(recipe, point), message, attempts, details)
        failed[point.name] = message
        bar.line(f"{point.name}: failed{f' {attempts} times' if attempts else ''}: {message}")

    try:
        while waiting:
            ready, _ = ray.wait(list(waiting), num_returns=len(waiting), timeout=0.5)
            attempts, errors, news = ray.get(log.report.remote())  # after the wait: every ready task's rows
            for name, row in news.items():
                finish(by_name[name], row)
            for line in _retry_lines(attempts, errors, retries, retried):
                bar.line(line)
            # a point is ready no sooner than its seed's training: trainings first
            for task in sorted(ready, key=lambda task: waiting[task][0] != "train"):
                kind, what = waiting.pop(task)
                try:
                    result = ray.get(task)
                except ray.exceptions.RayError as error:
                    message = _failure(error)
                    if kind == "train":
                        failed_seeds.add(what)
                        bar.line(f"training seed {what} failed {retries + 1} times: {message}")
                        continue
                    unfinished = [what] if kind == "point" else [p for p in what[1] if p not in rows]
                    for point in unfinished:
                        fail(point, message, None if point.seed in failed_seeds else retries + 1, str(error))
                    continue
                if kind == "train":
                    bar.line(f"trained dense seed {what}")
                elif kind == "point":
                    finish(what, result)
                else:
                    for point in what[1]:
                        finish(point, result[point.name])
            running = [kind for kind, what in waiting.values() if _task_name(kind, what) in attempts]
            bar.update(len(rows) - done_before, len(failed), len(running) - running.count("train"),
                       running.count("train"))
    finally:
        bar.close()
    return failed


def _record_failure(out_dir: Path, point: Point, digest: str, message: str, attempts: int | None,
                    details: str) -> None:
    """Write ``points/{name}.failed.json``: the settings digest, the error in one line, the
    attempts made (absent when the point never ran) and Ray's full report (``details``)."""
    record: dict[str, Any] = {"digest": digest, "error": message}
    if attempts is not None:
        record["attempts"] = attempts
    record["details"] = details
    with atomic_path(point_paths(out_dir, point)[2]) as tmp:
        tmp.write_text(json.dumps(record, indent=2))
