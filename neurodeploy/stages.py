"""The pipeline's stages as data: each one's name, what it does, the recipe settings
and run-folder files it reads and the files it writes. ``pipeline`` runs them; the
command line builds its per-stage commands from this table without loading any
stage (so that ``neurodeploy --help`` imports no torch or Lava).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from neurodeploy.recipe import Recipe
from neurodeploy.variants import CHECKPOINTS, DENSE, NETWORKS, PRUNED

ALL_SETTINGS = tuple(f.name for f in dataclasses.fields(Recipe))


@dataclass(frozen=True)
class Stage:
    """One stage: what it does, the recipe settings (``section`` or ``section.key``)
    and the files it reads, and the files it writes, all in the run folder."""

    name: str
    summary: str
    settings: tuple[str, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


STAGES: tuple[Stage, ...] = (
    Stage("train", "train the recipe's dense SLAYER network",
          ("seed", "data", "model", "train", "prune.rewind_epoch"), (), (DENSE.checkpoint,)),
    Stage("prune", f"prune DIR/{DENSE.checkpoint} as the recipe says (criterion, scope, rounds, rewinding)",
          ("seed", "data", "model", "train.batch_size", "train.device", "prune"), (DENSE.checkpoint,), (PRUNED.checkpoint,)),
    Stage("export", "quantize both networks and write NetX HDF5",
          ("model",), CHECKPOINTS, NETWORKS),
    Stage("simulate", "run both networks in PyTorch and in Lava fixed_pt on test samples",
          ("seed", "data", "model", "simulate"), CHECKPOINTS + NETWORKS, ("simulation.npz",)),
    Stage("compare", "spike equivalence, accuracy and synaptic operations of both networks",
          ("data.steps", "model"), CHECKPOINTS + NETWORKS + ("simulation.npz",), ("comparison.json",)),
    Stage("report", "write the report and print its summary",
          ALL_SETTINGS, ("comparison.json", "simulation.npz"), ("report.json", "report.html")),
)
BY_NAME = {stage.name: stage for stage in STAGES}
