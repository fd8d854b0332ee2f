"""A sweep's Ray tasks: train one seed's dense network, run one point.

Each runs in a Ray worker, on this machine or a cluster's node, reads and
writes the sweep folder (which must be at the same path on every node), and
writes every file atomically: a task killed at any moment leaves no partial
file. A task records its start in the sweep's ``StartLog`` actor, so the
driver can show what is running.
"""
from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from neurodeploy.fileio import atomic_path
from neurodeploy.recipe import Recipe
from neurodeploy.sweep.point import Point, run_point, train_seed


class SweepFolderError(OSError):
    """The sweep folder is not where the task runs (a cluster node without the shared storage)."""


class StartLog:
    """A Ray actor (no CPU): the names of the tasks that have started (each task is named by
    the driver: ``train-s{S}`` or the point's name)."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def started(self, name: str) -> None:
        """Record that the task ``name`` started (again, on a retry)."""
        self.names.add(name)

    def started_names(self) -> set[str]:
        """Every name recorded so far."""
        return set(self.names)


def dense_path(out_dir: Path, seed: int) -> Path:
    """Where the seed's dense network (and rewind point) is saved."""
    return out_dir / "dense" / f"seed{seed}.pt"


def point_paths(out_dir: Path, point: Point) -> tuple[Path, Path, Path]:
    """The point's result (``.json``: its row and settings digest), its network (``.net``)
    and the record of its failure (``.failed.json``)."""
    folder = out_dir / "points"
    return folder / f"{point.name}.json", folder / f"{point.name}.net", folder / f"{point.name}.failed.json"


def _begin(log: Any, out_dir: Path) -> None:
    """Record the start under the task's name; one torch thread per CPU Ray gave the task;
    check that the sweep folder is here."""
    import ray
    import torch

    context = ray.get_runtime_context()
    log.started.remote(context.get_task_name())
    torch.set_num_threads(max(1, int(context.get_assigned_resources().get("CPU", 1))))
    if not (out_dir / "points").is_dir():
        raise SweepFolderError(f"{out_dir}: the sweep folder is not on node {socket.gethostname()}; on a "
                               "cluster it must be on storage every node sees at the same path")


def train_task(recipe: Recipe, seed: int, out_dir: Path, digest: str, log: Any) -> str:
    """Train and save the seed's dense network, then its settings ``digest`` beside it
    (``dense/seed{S}.digest``, written last: a network without it is not finished).
    Returns ``digest``."""
    _begin(log, out_dir)
    path = dense_path(out_dir, seed)
    train_seed(recipe, seed, path)
    with atomic_path(path.with_suffix(".digest")) as tmp:
        tmp.write_text(digest)
    return digest


def point_task(recipe: Recipe, point: Point, out_dir: Path, digest: str, log: Any, dense: str | None) -> dict[str, Any]:
    """Run ``point`` on its seed's dense network and write ``points/{name}.json`` (its
    row and settings ``digest``) after its network; returns the row.

    dense: the seed's training task's result when this sweep trained it (Ray
    starts the point after that task), None when it was already saved.
    """
    _begin(log, out_dir)
    result, network, failed = point_paths(out_dir, point)
    row = run_point(recipe, point, dense_path(out_dir, point.seed), network)
    with atomic_path(result) as tmp:
        tmp.write_text(json.dumps({"digest": digest, "row": row}, indent=2))
    failed.unlink(missing_ok=True)
    return row
