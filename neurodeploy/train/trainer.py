"""Training loop, evaluation and the ``train`` stage."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from tqdm import tqdm

from neurodeploy.data.dataset import SpikeDataset, load_dataset
from neurodeploy.train.masks import Masks, apply_masks
from neurodeploy.recipe import Recipe
from neurodeploy.train.checkpoint import save_checkpoint
from neurodeploy.train.device import model_device, to_cpu
from neurodeploy.train.model import SpikingNet, build_model
from neurodeploy.variants import DENSE


def predict(model: SpikingNet, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Class per sample: argmax of ``model.logits`` (output spike counts, or a Sigma
    output's mean over all T steps, which ``classify`` ranks alike).

    x: [samples, inputs, T] spikes or values. Returns int64 [samples].
    """
    model.eval()
    device = model_device(model)
    out = []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            logits = model.logits(torch.from_numpy(x[start : start + batch_size]).to(device))
            out.append(logits.argmax(-1).cpu().numpy())
    return np.concatenate(out)


def evaluate(model: SpikingNet, x: np.ndarray, y: np.ndarray) -> float:
    """Fraction of samples classified correctly."""
    return float((predict(model, x) == y).mean())


def fit(
    model: SpikingNet,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    masks: Masks | None = None,
    desc: str = "train",
    on_epoch: Callable[[int], None] | None = None,
    optimizer: torch.optim.Optimizer | None = None,
) -> list[float]:
    """Train with Adam (cosine-annealed from ``lr``) on cross-entropy of the logits.

    The loss for a batch is ``CE(model.logits(x), y)``: spike counts
    ``sum_t s_out[:, :, t]`` for CUBA, the output's mean over time for sigma-delta. With ``masks``,
    the masked weights are zeroed before the first step and after every
    optimizer step, so pruned weights stay exactly zero. ``on_epoch(e)`` is
    called after e epochs, e = 0 (before training) to ``epochs``.
    ``optimizer``: default Adam on every parameter at ``lr``; another one
    trains what it holds (a supermask's scores). Training runs on the device
    ``model`` is on (``train.device``): each batch and the masks move there.
    Returns the mean loss per epoch.
    """
    device = model_device(model)
    generator = torch.Generator().manual_seed(seed)
    optimizer = optimizer if optimizer is not None else torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
    xs, ys = torch.from_numpy(x), torch.from_numpy(y)
    if masks is not None:
        masks = {name: mask.to(device) for name, mask in masks.items()}
        apply_masks(model, masks)
    losses = []
    if on_epoch is not None:
        on_epoch(0)
    bar = tqdm(range(epochs), desc=desc, unit="epoch", leave=False)
    for epoch in bar:
        model.train()
        order = torch.randperm(len(xs), generator=generator)
        total = 0.0
        for start in range(0, len(xs), batch_size):
            idx = order[start : start + batch_size]
            loss = torch.nn.functional.cross_entropy(model.logits(xs[idx].to(device)), ys[idx].to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if masks is not None:
                apply_masks(model, masks)
            total += loss.item() * len(idx)
        schedule.step()
        losses.append(total / len(xs))
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
        if on_epoch is not None:
            on_epoch(epoch + 1)
    return losses


def train_dense(recipe: Recipe, data: SpikeDataset) -> tuple[SpikingNet, list[float], dict[str, Any]]:
    """Train the recipe's dense network from its seed, on ``train.device``.

    Returns the model (on that device), the loss per epoch and the checkpoint
    extras: with ``prune.rewind_epoch`` = R, ``rewind_state`` holds the
    weights after R epochs (Algorithm 1's rewind point), on the CPU.
    """
    t, rewind = recipe.train, recipe.prune.rewind_epoch
    torch.manual_seed(recipe.seed)
    model = build_model(data.input_shape, data.num_classes, recipe.model).to(t.device)
    extra: dict[str, Any] = {}

    def snapshot(epoch: int) -> None:
        if epoch == rewind:
            extra["rewind_state"] = to_cpu(copy.deepcopy(model.state_dict()))
            extra["rewind_epoch"] = epoch

    losses = fit(model, data.x_train, data.y_train, t.epochs, t.batch_size, t.lr, recipe.seed, on_epoch=snapshot)
    return model, losses, extra


def train_stage(recipe: Recipe, out_dir: Path, data: SpikeDataset | None = None) -> Path:
    """Train the recipe's dense network and save it in ``out_dir`` (``variants.DENSE``)."""
    data = data if data is not None else load_dataset(recipe.data, recipe.seed)
    model, losses, extra = train_dense(recipe, data)
    path = out_dir / DENSE.checkpoint
    save_checkpoint(path, model, recipe, masks=None, losses=losses, extra=extra)
    return path
