"""Edge-popup supermask search: untrained subnetworks (the strong lottery ticket).

Ramanujan et al. 2020 ("What's hidden in a randomly weighted neural
network?"), as the paper applies it to SNNs (section 5, Eq. 11, appendix E).
The weights stay frozen at their random initialization; each weight w_uv
gets a score s_uv, and every forward pass uses the subnetwork of the
``kept = round(k * n)`` highest scores of each layer (n weights):

    w_eff = w * m,   m_uv = 1 if s_uv is among the ``kept`` largest scores of its layer, else 0.

The top-k selection has no gradient; it is passed straight through, so

    dL/ds_uv = dL/dw_eff_uv * w_uv                                   (Eq. 11)

(dL/dw_eff_uv = dL/dI_v * S_u summed over steps and samples, I_v the
synaptic input of neuron v and S_u the spikes of neuron u).

Convention: ``k`` is the fraction of weights KEPT in every layer (edge-popup's
k); the sparsity is 1 - k. ``kept = round(k * n)`` rounds half up and is at
least 1. Scores are ranked as they are (not by |s|), as in Eq. 11: with |s|
the gradient would carry an extra sign(s).

The mask is applied inside each block's ``synapse.pre_hook_fx``: lava-dl's
8-bit quantizer sees ``w * m``, so the search runs the network that is
exported. Because the quantizer maps 0 to 0, squashing the mask into the
weights (``Supermask.squash``) gives a plain network with exact zeros whose
ordinary quantized forward pass is the masked one.

Weights are "signed Kaiming constant" (edge-popup's best initialization):
each weight is +c_l or -c_l with probability 1/2, one constant per layer,

    c_l = q * max(1, round(scale * theta / sqrt(k * fan_in) / q)),

theta the layer's threshold (SLAYER float units) and q = 2/64 the quantizer
step. c_l is on the quantizer's grid, so quantization leaves every weight
unchanged and nonzero (Kaiming-uniform weights of a 1024-wide layer are
mostly below q/2 and would quantize to 0). A neuron whose kept fan-in
k * fan_in carries rate-coded spikes sums about sqrt(k * fan_in) random-sign
terms of c_l, of order theta: the threshold is reachable whatever k, which
is edge-popup's "scale_fan" rule with theta in place of the ReLU gain.

Optimizer: edge-popup and the paper (appendix E) use SGD with momentum 0.9,
weight decay 5e-4 and a cosine schedule (``optimizer="sgd"``). On digits
(64-1024-10, T = 16) it left the hidden layer's mask almost unchanged (1.2%
of it in the first epoch, at most 0.2% per epoch after, at k = 0.7) while
the output layer's mask churned (23%) and its neurons fell nearly silent,
where the narrow surrogate gradient vanishes: test accuracy 0.38-0.86
depending on k after 20 epochs (best SGD settings measured: lr 0.05,
weight scale 2). Adam, whose per-score
step evens out the two layers' very different gradient scales, reached
0.95-0.98 at every k (3 seeds) and is the default.
"""
from __future__ import annotations

import csv
import json
import math
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from neurodeploy.data.dataset import SpikeDataset, load_dataset
from neurodeploy.export.quantize import export_model
from neurodeploy.fileio import atomic_path
from neurodeploy.lock import folder_lock
from neurodeploy.netx import read_netx
from neurodeploy.prune.masks import Masks
from neurodeploy.recipe import Recipe
from neurodeploy.simulate.golden import GoldenModel
from neurodeploy.simulate.stimulus import Stimulus
from neurodeploy.train.checkpoint import save_checkpoint
from neurodeploy.train.model import build_model, classify
from neurodeploy.train.trainer import evaluate, predict

OPTIMIZERS = ("adam", "sgd")
CSV_COLUMNS = (
    "k", "sparsity", "seed", "kept_fraction", "train_accuracy", "test_accuracy",
    "golden_test_accuracy", "golden_class_agreement", "final_loss", "seconds",
)


def kept_count(k: float, n: int) -> int:
    """Weights kept of a layer of ``n``: round(k * n), halves up, at least 1.

    Raises ``ValueError`` for k outside (0, 1].
    """
    if not 0.0 < k <= 1.0:
        raise ValueError(f"supermask: kept fraction k = {k} is outside (0, 1]")
    return max(1, math.floor(round(k * n, 9) + 0.5))


class TopKMask(torch.autograd.Function):
    """m = 1 at the ``kept`` largest entries of ``scores``, 0 elsewhere (same shape).

    Backward is the straight-through estimator: dL/ds = dL/dm. Ties at the
    cut are broken by ``torch.topk``; exactly ``kept`` entries are 1.
    """

    @staticmethod
    def forward(ctx: Any, scores: torch.Tensor, kept: int) -> torch.Tensor:
        flat = scores.detach().flatten()
        mask = torch.zeros_like(flat)
        mask[torch.topk(flat, kept, sorted=False).indices] = 1.0
        return mask.reshape(scores.shape)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad, None


class MaskedQuantizer:
    """A ``synapse.pre_hook_fx`` that quantizes ``w * TopKMask(scores, kept)``.

    ``quantizer`` is the block's own hook (lava-dl's ``quantize_8bit``), whose
    gradient is straight-through too, so dL/ds = dL/dw_eff * w (Eq. 11).
    """

    def __init__(self, quantizer: Callable[..., torch.Tensor], scores: torch.nn.Parameter, kept: int) -> None:
        self.quantizer = quantizer
        self.scores = scores
        self.kept = kept

    def __call__(self, weight: torch.Tensor, descale: bool = False) -> torch.Tensor:
        return self.quantizer(weight * TopKMask.apply(self.scores, self.kept), descale=descale)


def _synapse_blocks(model: torch.nn.Module) -> list[torch.nn.Module]:
    return [block for block in model.blocks if hasattr(block, "synapse")]


def signed_constant_init(
    model: torch.nn.Module, k: float, generator: torch.Generator, scale: float = 1.0
) -> list[float]:
    """Set every synaptic weight to +-c_l (random signs, p = 1/2) and freeze it.

    c_l = q * min(127, max(1, round(scale * threshold / sqrt(k * fan_in) / q)))
    with q = 2 / w_scale (2/64, the 8-bit quantizer step; 127 q = 254/64 is
    the quantizer's largest positive weight), fan_in the inputs of one output
    neuron (in * kernel size). Returns the constants c_l, in SLAYER float
    units, in layer order.
    """
    kept_count(k, 1)
    if scale <= 0:
        raise ValueError(f"supermask: weight scale = {scale} must be > 0")
    constants = []
    for block in _synapse_blocks(model):
        weight = block.synapse.weight
        step = 2.0 / block.neuron.w_scale
        fan_in = weight[0].numel()
        ideal = scale * float(block.neuron.threshold) / math.sqrt(k * fan_in)
        constant = step * min(127, max(1, round(ideal / step)))
        signs = torch.randint(0, 2, weight.shape, generator=generator).to(weight.dtype) * 2 - 1
        with torch.no_grad():
            weight.copy_(signs * constant)
        weight.requires_grad_(False)
        constants.append(constant)
    return constants


class Supermask:
    """Scores for every synaptic weight of ``model``, and hooks masking the weights.

    Construction replaces each block's ``synapse.pre_hook_fx`` by a
    ``MaskedQuantizer`` around it; ``squash`` writes the masks into the
    weights and puts the original quantizers back. Scores start like
    edge-popup's: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (Kaiming uniform, a = sqrt(5)).
    """

    def __init__(self, model: torch.nn.Module, k: float, generator: torch.Generator) -> None:
        self.names = list(model.weight_names())
        self.blocks = _synapse_blocks(model)
        if len(self.names) != len(self.blocks):
            raise ValueError(f"supermask: {len(self.names)} weight names for {len(self.blocks)} synapse blocks")
        self.scores: list[torch.nn.Parameter] = []
        self.kept: list[int] = []
        self._quantizers = []
        for name, block in zip(self.names, self.blocks):
            weight = block.synapse.weight
            if isinstance(block.synapse.pre_hook_fx, MaskedQuantizer):
                raise ValueError(f"supermask: {name} already has a supermask")
            if block.synapse.pre_hook_fx is None:
                raise ValueError(f"supermask: {name} has no quantizer (pre_hook_fx is None)")
            bound = 1.0 / math.sqrt(weight[0].numel())
            scores = torch.nn.Parameter((torch.rand(weight.shape, generator=generator) * 2 - 1) * bound)
            self.scores.append(scores)
            self.kept.append(kept_count(k, weight.numel()))
            self._quantizers.append(block.synapse.pre_hook_fx)
            block.synapse.pre_hook_fx = MaskedQuantizer(block.synapse.pre_hook_fx, scores, self.kept[-1])

    def masks(self) -> Masks:
        """The current masks: bool, shaped like each weight, keyed by its dotted name."""
        return {
            name: TopKMask.apply(scores.detach(), kept).bool()
            for name, scores, kept in zip(self.names, self.scores, self.kept)
        }

    def squash(self) -> Masks:
        """Write w * m into the weights (pruned entries exactly +0.0), restore the
        quantizers, and return the masks. The model is then an ordinary network."""
        masks = self.masks()
        for name, block, quantizer in zip(self.names, self.blocks, self._quantizers):
            weight = block.synapse.weight
            with torch.no_grad():
                weight.copy_(torch.where(masks[name], weight, torch.zeros_like(weight)))
            block.synapse.pre_hook_fx = quantizer
        return masks


def search_scores(
    model: torch.nn.Module,
    supermask: Supermask,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    batch_size: int,
    lr: float,
    optimizer: str = "adam",
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    seed: int = 0,
) -> list[float]:
    """Optimize the scores only, the learning rate cosine-annealed per epoch from ``lr``.

    x: [samples, inputs, T] spikes; y: int64 [samples]. The loss of a batch
    is CE(sum_t s_out[:, :, t], y). ``optimizer``: ``adam`` (Adam, L2 weight
    decay on the scores) or ``sgd`` (edge-popup's and the paper's: SGD with
    ``momentum``, weight decay on the scores). The weights never change.
    Returns the mean loss per epoch.
    """
    generator = torch.Generator().manual_seed(seed)
    optimizer = _optimizer(optimizer, supermask.scores, lr, momentum, weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
    xs, ys = torch.from_numpy(x), torch.from_numpy(y)
    losses = []
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(xs), generator=generator)
        total = 0.0
        for start in range(0, len(xs), batch_size):
            idx = order[start : start + batch_size]
            loss = torch.nn.functional.cross_entropy(model(xs[idx]).sum(-1), ys[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        schedule.step()
        losses.append(total / len(xs))
    return losses


def _optimizer(
    kind: str, scores: list[torch.nn.Parameter], lr: float, momentum: float, weight_decay: float
) -> torch.optim.Optimizer:
    if kind == "adam":
        return torch.optim.Adam(scores, lr=lr, weight_decay=weight_decay)
    if kind == "sgd":
        return torch.optim.SGD(scores, lr=lr, momentum=momentum, weight_decay=weight_decay)
    raise ValueError(f"supermask: optimizer {kind!r} is not one of: {', '.join(OPTIMIZERS)}")


def golden_predictions(path: Path, x: np.ndarray) -> np.ndarray:
    """Classes the golden model (Loihi fixed point) gives for spikes x [N, inputs, T]
    through the NetX network at ``path``: ``classify`` over the first T steps."""
    stimulus = Stimulus(spikes=x.astype(np.uint8), bias=None, steps=x.shape[-1])
    run = GoldenModel(read_netx(path)).run_samples(stimulus)
    return classify(run.spikes[-1], x.shape[-1])


def supermask_search(
    recipe: Recipe,
    ks: Sequence[float],
    out_dir: Path,
    seeds: Sequence[int] | None = None,
    epochs: int = 20,
    batch_size: int = 32,
    lr: float = 0.002,
    optimizer: str = "adam",
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    weight_scale: float = 1.0,
    data: SpikeDataset | None = None,
) -> Path:
    """Search a supermask of the recipe's network for every kept fraction k and seed.

    For each (seed, k): a fresh ``build_model`` network gets signed-constant
    weights (``signed_constant_init``, ``weight_scale``) and scores drawn
    from ``seed``, ``search_scores`` runs ``epochs`` epochs (``optimizer``,
    ``lr``, ``momentum`` for SGD, ``weight_decay``), the mask is
    squashed into the weights, and the squashed network is evaluated with
    ``trainer.evaluate`` (train and test), saved as
    ``out_dir/supermask/k{k}_seed{seed}.pt`` (weights and masks) and exported
    to ``.net``, whose golden-model test accuracy is measured too.
    seeds: default ``(recipe.seed,)``; the dataset encoding uses
    ``recipe.seed`` throughout. Writes ``out_dir/supermask.csv`` (one row per
    run, columns ``CSV_COLUMNS``) and ``out_dir/supermask.json`` (settings,
    rows with per-layer kept counts and constants, losses), both atomically;
    returns the JSON path.
    """
    if not ks:
        raise ValueError("supermask: give at least one kept fraction k")
    for k in ks:
        kept_count(k, 1)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"supermask: optimizer {optimizer!r} is not one of: {', '.join(OPTIMIZERS)}")
    if epochs < 0 or batch_size < 1 or lr <= 0 or weight_scale <= 0:
        raise ValueError(
            f"supermask: need epochs >= 0, batch_size >= 1, lr > 0, weight_scale > 0 "
            f"(got {epochs}, {batch_size}, {lr}, {weight_scale})"
        )
    seeds = tuple(seeds) if seeds is not None else (recipe.seed,)
    data = data if data is not None else load_dataset(recipe.data, recipe.seed)
    settings = {
        "epochs": epochs, "batch_size": batch_size, "lr": lr, "optimizer": optimizer, "momentum": momentum,
        "weight_decay": weight_decay, "weight_scale": weight_scale, "seeds": list(seeds),
    }
    with folder_lock(out_dir):
        return _search_all(recipe, ks, out_dir, seeds, data, settings)


def _search_all(recipe: Recipe, ks: Sequence[float], out_dir: Path, seeds: tuple[int, ...], data: SpikeDataset,
                settings: dict[str, Any]) -> Path:
    rows = [
        _search_one(recipe, data, k, seed, out_dir / "supermask", settings)
        for seed in seeds for k in ks
    ]
    with atomic_path(out_dir / "supermask.csv") as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    report = {
        "method": "edge-popup (Ramanujan et al. 2020), Eq. 11",
        "k": "fraction of weights kept in every layer; sparsity = 1 - k",
        "recipe": recipe.to_dict(),
        "settings": settings,
        "rows": rows,
    }
    path = out_dir / "supermask.json"
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return path


def _search_one(
    recipe: Recipe, data: SpikeDataset, k: float, seed: int, folder: Path, settings: dict[str, Any]
) -> dict[str, Any]:
    start = time.perf_counter()
    generator = torch.Generator().manual_seed(seed)
    model = build_model(data.input_shape, data.num_classes, recipe.model)
    constants = signed_constant_init(model, k, generator, settings["weight_scale"])
    supermask = Supermask(model, k, generator)
    losses = search_scores(
        model, supermask, data.x_train, data.y_train, settings["epochs"], settings["batch_size"],
        settings["lr"], settings["optimizer"], settings["momentum"], settings["weight_decay"], seed,
    )
    masks = supermask.squash()
    stem = f"k{k:g}_seed{seed}"
    save_checkpoint(folder / f"{stem}.pt", model, recipe, masks=masks, losses=losses)
    net_path = folder / f"{stem}.net"
    export_model(model, net_path)
    slayer_test = predict(model, data.x_test)
    golden_test = golden_predictions(net_path, data.x_test)
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
        "golden_test_accuracy": float((golden_test == data.y_test).mean()),
        "golden_class_agreement": float((golden_test == slayer_test).mean()),
        "final_loss": losses[-1] if losses else None,
        "losses": losses,
        "network": str(net_path),
        "seconds": time.perf_counter() - start,
    }
