"""Training loop, evaluation and the ``train`` stage."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from neurodeploy.data.dataset import SpikeDataset, load_dataset
from neurodeploy.prune.masks import Masks, apply_masks
from neurodeploy.recipe import Recipe
from neurodeploy.train.checkpoint import save_checkpoint
from neurodeploy.train.model import SpikingMLP, build_model, classify


def predict(model: SpikingMLP, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Class per sample by ``classify`` over all T steps.

    x: [samples, inputs, T] spikes. Returns int64 [samples].
    """
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            spikes = model(torch.from_numpy(x[start : start + batch_size]))
            out.append(classify(spikes.numpy(), x.shape[-1]))
    return np.concatenate(out)


def evaluate(model: SpikingMLP, x: np.ndarray, y: np.ndarray) -> float:
    """Fraction of samples classified correctly."""
    return float((predict(model, x) == y).mean())


def fit(
    model: SpikingMLP,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    masks: Masks | None = None,
    desc: str = "train",
) -> list[float]:
    """Train with Adam (cosine-annealed from ``lr``) on cross-entropy of spike counts.

    The loss for a batch is ``CE(sum_t s_out[:, :, t], y)``. With ``masks``,
    the masked weights are zeroed before the first step and after every
    optimizer step, so pruned weights stay exactly zero. Returns the mean loss
    per epoch.
    """
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
    xs, ys = torch.from_numpy(x), torch.from_numpy(y)
    if masks is not None:
        apply_masks(model, masks)
    losses = []
    bar = tqdm(range(epochs), desc=desc, unit="epoch", leave=False)
    for _ in bar:
        model.train()
        order = torch.randperm(len(xs), generator=generator)
        total = 0.0
        for start in range(0, len(xs), batch_size):
            idx = order[start : start + batch_size]
            counts = model(xs[idx]).sum(-1)
            loss = torch.nn.functional.cross_entropy(counts, ys[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if masks is not None:
                apply_masks(model, masks)
            total += loss.item() * len(idx)
        schedule.step()
        losses.append(total / len(xs))
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
    return losses


def train_stage(recipe: Recipe, out_dir: Path, data: SpikeDataset | None = None) -> Path:
    """Train the recipe's dense network and save ``out_dir/dense.pt``."""
    data = data if data is not None else load_dataset(recipe.data, recipe.seed)
    torch.manual_seed(recipe.seed)
    model = build_model(data.num_inputs, data.num_classes, recipe.model)
    t = recipe.train
    losses = fit(model, data.x_train, data.y_train, t.epochs, t.batch_size, t.lr, recipe.seed)
    path = out_dir / "dense.pt"
    save_checkpoint(path, model, recipe, masks=None, losses=losses)
    return path
