"""The ``prune`` stage: the recipe's pruning (``imp.iterative_prune``) on the trained network."""
from __future__ import annotations

from pathlib import Path

from neurodeploy.data.dataset import SpikeDataset, load_dataset
from neurodeploy.prune.allocation import MeasureFor
from neurodeploy.prune.imp import PruneResult, iterative_prune
from neurodeploy.recipe import Recipe
from neurodeploy.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from neurodeploy.train.model import SpikingNet
from neurodeploy.variants import DENSE, PRUNED


def prune_checkpoint(dense: Path, data: SpikeDataset, recipe: Recipe,
                     measure_for: MeasureFor | None = None) -> tuple[SpikingNet, PruneResult]:
    """Load the trained network at ``dense`` and prune it as ``recipe.prune`` says.

    The rewind point theta_R is the one ``train_stage`` saved with the
    checkpoint; a recipe asking for a rewind epoch the checkpoint lacks is
    an error naming both. Prunes on ``train.device``; the model returned is there.
    measure_for: the chip figures of candidate masks (``imp.iterative_prune``), for a
    chip objective.
    """
    checkpoint = load_checkpoint(dense)
    model, extra = checkpoint.model(recipe.model).to(recipe.train.device), checkpoint.extra
    rewind = recipe.prune.rewind_epoch
    if rewind is not None and extra.get("rewind_epoch") != rewind:
        raise CheckpointError(
            f"{dense}: has no weights after epoch {rewind} (prune.rewind_epoch); retrain with that recipe"
        )
    result = iterative_prune(
        model, data, recipe.prune, recipe.train.batch_size, recipe.seed + 1,
        rewind_state=extra.get("rewind_state") if rewind is not None else None, measure_for=measure_for,
    )
    return model, result


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
