"""The ``prune`` stage: global magnitude pruning, then fine-tuning with the mask."""
from __future__ import annotations

from pathlib import Path

from neurodeploy.data.dataset import SpikeDataset, load_dataset
from neurodeploy.prune.magnitude import global_magnitude_masks
from neurodeploy.train.checkpoint import load_checkpoint, save_checkpoint
from neurodeploy.train.trainer import fit


def prune_stage(out_dir: Path, data: SpikeDataset | None = None) -> Path:
    """Prune ``out_dir/dense.pt`` to the recipe's sparsity; save ``out_dir/pruned.pt``.

    The weights of all layers not in ``prune.exclude`` are pruned together by
    |w|; fine-tuning then runs with the masks re-applied after every step.
    """
    model, recipe, _ = load_checkpoint(out_dir / "dense.pt")
    data = data if data is not None else load_dataset(recipe.data, recipe.seed)
    p = recipe.prune
    params = dict(model.named_parameters())
    names = pruned_weight_names(model.weight_names(), p.exclude)
    masks = global_magnitude_masks({name: params[name] for name in names}, p.sparsity)
    losses = fit(
        model, data.x_train, data.y_train, p.finetune_epochs, recipe.train.batch_size,
        p.lr, recipe.seed + 1, masks=masks, desc="fine-tune",
    )
    path = out_dir / "pruned.pt"
    save_checkpoint(path, model, recipe, masks=masks, losses=losses)
    return path


def pruned_weight_names(names: list[str], exclude: tuple[int, ...]) -> list[str]:
    """The weight names left after dropping layer indices ``exclude`` (may be negative)."""
    dropped = set()
    for index in exclude:
        if not -len(names) <= index < len(names):
            raise ValueError(f"prune.exclude: layer {index} does not exist ({len(names)} layers)")
        dropped.add(index % len(names))
    kept = [name for i, name in enumerate(names) if i not in dropped]
    if not kept:
        raise ValueError("prune.exclude leaves no layer to prune")
    return kept
