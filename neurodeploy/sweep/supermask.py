"""``neurodeploy supermask``: a supermask search for every kept fraction k and seed.

For each (seed, k): a fresh network of the recipe gets signed-constant
weights and scores drawn from the seed (``prune.supermask``), the scores are
searched (``search_scores``, the recipe's ``supermask`` settings), the mask
is squashed into the weights, and the network is evaluated in SLAYER (train
and test) and, exported to NetX, in the golden model on the test set
(``simulate.measure``, the same measurement ``run`` and ``sweep`` make).
"""
from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any, Sequence

import torch

from neurodeploy.data.dataset import SpikeDataset, load_dataset
from neurodeploy.fileio import atomic_path
from neurodeploy.lock import folder_lock
from neurodeploy.prune.supermask import Supermask, kept_count, search_scores, signed_constant_init
from neurodeploy.recipe import Recipe, RecipeError
from neurodeploy.simulate.measure import measure_model
from neurodeploy.train.checkpoint import save_checkpoint
from neurodeploy.train.model import build_model
from neurodeploy.train.trainer import evaluate, predict

CSV_COLUMNS = (
    "k", "sparsity", "seed", "kept_fraction", "train_accuracy", "test_accuracy",
    "golden_test_accuracy", "golden_class_agreement", "final_loss", "seconds",
)


def supermask_search(recipe: Recipe, ks: Sequence[float], out_dir: Path, seeds: Sequence[int] | None = None,
                     data: SpikeDataset | None = None) -> Path:
    """Search a supermask of the recipe's network for every kept fraction k and seed.

    Each run is saved as ``out_dir/supermask/k{k}_seed{seed}.pt`` (weights
    and masks) and ``.net``. seeds: default ``(recipe.seed,)``; the dataset
    encoding uses ``recipe.seed`` throughout. Writes ``out_dir/supermask.csv``
    (one row per run, columns ``CSV_COLUMNS``) and ``out_dir/supermask.json``
    (settings, rows with per-layer kept counts and constants, losses), both
    atomically; returns the JSON path. ``ValueError`` for no k or a k outside
    (0, 1].
    """
    if not ks:
        raise ValueError("supermask: give at least one kept fraction k")
    if recipe.model.recurrent or recipe.model.blocks != "cuba":
        raise RecipeError("supermask searches feed-forward CUBA networks (model.blocks = cuba, "
                          "model.recurrent = false)")
    for k in ks:
        kept_count(k, 1)
    seeds = tuple(seeds) if seeds is not None else (recipe.seed,)
    data = data if data is not None else load_dataset(recipe.data, recipe.seed)
    with folder_lock(out_dir):
        rows = [_search_one(recipe, data, k, seed, out_dir / "supermask") for seed in seeds for k in ks]
        with atomic_path(out_dir / "supermask.csv") as tmp, open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        report = {
            "method": "edge-popup (Ramanujan et al. 2020), Eq. 11",
            "k": "fraction of weights kept in every layer; sparsity = 1 - k",
            "recipe": recipe.to_dict(),
            "settings": {**recipe.to_dict()["supermask"], "seeds": list(seeds)},
            "rows": rows,
        }
        path = out_dir / "supermask.json"
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return path


def _search_one(recipe: Recipe, data: SpikeDataset, k: float, seed: int, folder: Path) -> dict[str, Any]:
    start = time.perf_counter()
    settings = recipe.supermask
    generator = torch.Generator().manual_seed(seed)
    model = build_model(data.input_shape, data.num_classes, recipe.model).to(recipe.train.device)
    constants = signed_constant_init(model, k, generator, settings.weight_scale)
    supermask = Supermask(model, k, generator)
    losses = search_scores(model, supermask, data.x_train, data.y_train, settings, seed)
    masks = supermask.squash()
    stem = f"k{k:g}_seed{seed}"
    save_checkpoint(folder / f"{stem}.pt", model, recipe, masks=masks, losses=losses)
    net_path = folder / f"{stem}.net"
    golden = measure_model(model, net_path, data.x_test, recipe.data.steps)
    slayer_test = predict(model, data.x_test)
    kept = [int(m.sum()) for m in masks.values()]
    total = sum(m.numel() for m in masks.values())
    return {
        "k": k,
        "sparsity": round(1.0 - k, 12),
        "seed": seed,
        "kept_fraction": sum(kept) / total,
        "kept_per_layer": kept,
        "weights_per_layer": [m.numel() for m in masks.values()],
        "weight_constants": constants,
        "train_accuracy": evaluate(model, data.x_train, data.y_train),
        "test_accuracy": float((slayer_test == data.y_test).mean()),
        "golden_test_accuracy": golden.accuracy(data.y_test),
        "golden_class_agreement": float((golden.predictions == slayer_test).mean()),
        "final_loss": losses[-1] if losses else None,
        "losses": losses,
        "network": str(net_path),
        "seconds": time.perf_counter() - start,
    }
