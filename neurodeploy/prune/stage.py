"""The ``prune`` stage: the recipe's pruning (``imp.iterative_prune``) on the trained network."""
from __future__ import annotations

from pathlib import Path

import torch

from neurodeploy.data.dataset import SpikeDataset, load_dataset
from neurodeploy.prune.allocation import MeasureFor
from neurodeploy.prune.imp import PruneResult, iterative_prune
from neurodeploy.recipe import Recipe
from neurodeploy.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from neurodeploy.train.model import SpikingNet
from neurodeploy.variants import DENSE, PRUNED


def load_for_pruning(dense: Path, recipe: Recipe) -> tuple[SpikingNet, dict[str, torch.Tensor] | None]:
    """The trained network at ``dense`` on ``train.device``, and its rewind point theta_R (the
    one ``train_stage`` saved with the checkpoint; None without ``prune.rewind_epoch``). A
    recipe asking for a rewind epoch the checkpoint lacks is an error naming both."""
    checkpoint = load_checkpoint(dense)
    model, extra = checkpoint.model(recipe.model).to(recipe.train.device), checkpoint.extra
    rewind = recipe.prune.rewind_epoch
    if rewind is not None and extra.get("rewind_epoch") != rewind:
        raise CheckpointError(
            f"{dense}: has no weights after epoch {rewind} (prune.rewind_epoch); retrain with that recipe"
        )
    return model, extra.get("rewind_state") if rewind is not None else None


def prune_checkpoint(dense: Path, data: SpikeDataset, recipe: Recipe,
                     measure_for: MeasureFor | None = None) -> tuple[SpikingNet, PruneResult]:
    """Load the trained network at ``dense`` (``load_for_pruning``) and prune it as
    ``recipe.prune`` says, on ``train.device``; the model returned is there.
    measure_for: the chip figures of candidate masks (``imp.iterative_prune``), for a
    chip objective."""
    model, rewind_state = load_for_pruning(dense, recipe)
    result = iterative_prune(model, data, recipe.prune, recipe.train.batch_size, prune_seed(recipe),
                             rewind_state=rewind_state, measure_for=measure_for)
    return model, result


def prune_seed(recipe: Recipe) -> int:
    """The seed of pruning's criterion generator (fine-tuning round k: this + k): the recipe's + 1."""
    return recipe.seed + 1


def prune_stage(recipe: Recipe, out_dir: Path, data: SpikeDataset | None = None,
                measure_for: MeasureFor | None = None) -> Path:
    """Prune ``out_dir/dense.pt`` as ``recipe.prune`` says; save ``out_dir/pruned.pt``, with
    every round's record and the units removed (``extra["removed"]``, for the export)."""
    data = data if data is not None else load_dataset(recipe.data, recipe.seed)
    model, result = prune_checkpoint(out_dir / DENSE.checkpoint, data, recipe, measure_for)
    path = out_dir / PRUNED.checkpoint
    save_checkpoint(path, model, recipe, masks=result.masks, losses=result.losses,
                    extra={"rounds": result.rounds, "removed": result.removed})
    return path
