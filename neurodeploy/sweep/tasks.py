"""A sweep's Ray tasks: train one seed's dense network, run one point, run one trajectory.

Each runs in a Ray worker, on this machine or a cluster's node, reads and
writes the sweep folder (which must be at the same path on every node), and
writes every file atomically: a task killed at any moment leaves no partial
file. A task records each attempt's start, and the error that ends one, in the
sweep's ``TaskLog`` actor, so the driver can show what is running and what is
retried.
"""
from __future__ import annotations

import contextlib
import json
import socket
from pathlib import Path
from typing import Any, Iterator

from neurodeploy.fileio import atomic_path
from neurodeploy.recipe import Recipe
from neurodeploy.sweep.point import Point, run_point, train_seed
from neurodeploy.sweep.trajectory import Trajectory, run_trajectory


class SweepFolderError(OSError):
    """The sweep folder is not where the task runs (a cluster node without the shared storage)."""


class TaskLog:
    """A Ray actor (no CPU): what the driver learns from the tasks as they run (each task named
    by the driver: ``train-s{S}``, a point's or a trajectory's name): how many attempts each
    has started, the error of each attempt that raised, and the rows of a trajectory's
    points as they finish."""

    def __init__(self) -> None:
        self.attempts: dict[str, int] = {}
        self.errors: dict[tuple[str, int], str] = {}
        self.rows: dict[str, dict[str, Any]] = {}

    def started(self, name: str) -> int:
        """Record that the task ``name`` started an attempt; returns its number (1: the first)."""
        self.attempts[name] = self.attempts.get(name, 0) + 1
        return self.attempts[name]

    def failed(self, name: str, attempt: int, message: str) -> None:
        """Record the error (one line) that ended attempt ``attempt`` of task ``name``."""
        self.errors[(name, attempt)] = message

    def finished(self, point: str, row: dict[str, Any]) -> None:
        """Record the row of a trajectory's point, written to its file."""
        self.rows[point] = row

    def report(self) -> tuple[dict[str, int], dict[tuple[str, int], str], dict[str, dict[str, Any]]]:
        """The attempts started and the errors so far, and the rows recorded since the last report."""
        rows, self.rows = self.rows, {}
        return dict(self.attempts), dict(self.errors), rows


def one_line(error: BaseException) -> str:
    """An exception as one line: its type and its message, whitespace joined."""
    return f"{type(error).__name__}: {' '.join(str(error).split())}"


def dense_path(out_dir: Path, seed: int) -> Path:
    """Where the seed's dense network (and rewind point) is saved."""
    return out_dir / "dense" / f"seed{seed}.pt"


def point_paths(out_dir: Path, point: Point) -> tuple[Path, Path, Path]:
    """The point's result (``.json``: its row and settings digest), its network (``.net``)
    and the record of its failure (``.failed.json``)."""
    folder = out_dir / "points"
    return folder / f"{point.name}.json", folder / f"{point.name}.net", folder / f"{point.name}.failed.json"


def trajectory_path(out_dir: Path, trajectory: Trajectory) -> Path:
    """Where the trajectory's last finished round is saved while it runs."""
    return out_dir / "trajectories" / f"{trajectory.name}.pt"


@contextlib.contextmanager
def _attempt(log: Any, out_dir: Path) -> Iterator[None]:
    """For a task's body: record the attempt's start in ``log`` under the task's name; one
    torch thread per CPU Ray gave the task; check that the sweep folder is here. An
    exception is recorded in ``log`` (``one_line``) before it ends the attempt."""
    import ray
    import torch

    context = ray.get_runtime_context()
    name = context.get_task_name()
    attempt = ray.get(log.started.remote(name))
    try:
        torch.set_num_threads(max(1, int(context.get_assigned_resources().get("CPU", 1))))
        if not (out_dir / "points").is_dir():
            raise SweepFolderError(f"{out_dir}: the sweep folder is not on node {socket.gethostname()}; on a "
                                   "cluster it must be on storage every node sees at the same path")
        yield
    except Exception as error:
        ray.get(log.failed.remote(name, attempt, one_line(error)))
        raise


def train_task(recipe: Recipe, seed: int, out_dir: Path, digest: str, log: Any) -> str:
    """Train and save the seed's dense network, then its settings ``digest`` beside it
    (``dense/seed{S}.digest``, written last: a network without it is not finished).
    Returns ``digest``."""
    with _attempt(log, out_dir):
        path = dense_path(out_dir, seed)
        train_seed(recipe, seed, path)
        with atomic_path(path.with_suffix(".digest")) as tmp:
            tmp.write_text(digest)
    return digest


def point_task(recipe: Recipe, point: Point, out_dir: Path, digest: str, log: Any, dense: str | None) -> dict[str, Any]:
    """Run ``point`` on its seed's dense network and write its files (``_write_point``);
    returns its row.

    dense: the seed's training task's result when this sweep trained it (Ray
    starts the point after that task), None when it was already saved.
    """
    with _attempt(log, out_dir):
        row = run_point(recipe, point, dense_path(out_dir, point.seed), point_paths(out_dir, point)[1])
        _write_point(out_dir, point, digest, row)
    return row


def trajectory_task(recipe: Recipe, trajectory: Trajectory, out_dir: Path, digests: dict[str, str], digest: str,
                    log: Any, dense: str | None) -> dict[str, dict[str, Any]]:
    """Run ``trajectory`` (``run_trajectory``, resuming from its saved round) for its points
    named in ``digests`` (each point's settings digest; ``digest``: the trajectory's), writing
    each point's files (``_write_point``) and recording its row in ``log`` as it finishes.
    Returns the rows by point name. dense: as for ``point_task``."""
    import ray

    rows = {}
    with _attempt(log, out_dir):
        wanted = {point: point_paths(out_dir, point)[1] for point in trajectory.points if point.name in digests}
        state = trajectory_path(out_dir, trajectory)
        for point, row in run_trajectory(recipe, trajectory, wanted, dense_path(out_dir, trajectory.top.seed),
                                         state, digest):
            _write_point(out_dir, point, digests[point.name], row)
            ray.get(log.finished.remote(point.name, row))
            rows[point.name] = row
    return rows


def _write_point(out_dir: Path, point: Point, digest: str, row: dict[str, Any]) -> None:
    """Write ``points/{name}.json`` (the row and its settings ``digest``; after the network,
    which the row's measurement wrote) and remove the point's failure record."""
    result, _, failed = point_paths(out_dir, point)
    with atomic_path(result) as tmp:
        tmp.write_text(json.dumps({"digest": digest, "row": row}, indent=2))
    failed.unlink(missing_ok=True)
