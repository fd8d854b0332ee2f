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

import math
from typing import Any, Callable

import numpy as np
import torch

from neurodeploy.prune.optimizers import OPTIMIZERS
from neurodeploy.recipe import SupermaskSettings
from neurodeploy.train.masks import ForwardMask, Masks
from neurodeploy.train.trainer import fit

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


def _top_k(scores: torch.nn.Parameter, kept: int) -> Callable[[], torch.Tensor]:
    """The mask of the ``kept`` highest ``scores``, recomputed at every call."""
    return lambda: TopKMask.apply(scores, kept)


class Supermask:
    """Scores for every synaptic weight of ``model``, and hooks masking the weights.

    Construction replaces each block's ``synapse.pre_hook_fx`` (lava-dl's 8-bit
    quantizer, whose gradient is straight-through too) by a ``train.masks.ForwardMask``
    of ``TopKMask(scores, kept)`` around it, so dL/ds = dL/dw_eff * w (Eq. 11); ``squash`` writes the masks into the
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
            if isinstance(block.synapse.pre_hook_fx, ForwardMask):
                raise ValueError(f"supermask: {name} already has a supermask")
            if block.synapse.pre_hook_fx is None:
                raise ValueError(f"supermask: {name} has no quantizer (pre_hook_fx is None)")
            bound = 1.0 / math.sqrt(weight[0].numel())
            drawn = (torch.rand(weight.shape, generator=generator) * 2 - 1) * bound  # on the CPU, as seeded
            scores = torch.nn.Parameter(drawn.to(weight.device))
            self.scores.append(scores)
            self.kept.append(kept_count(k, weight.numel()))
            self._quantizers.append(block.synapse.pre_hook_fx)
            block.synapse.pre_hook_fx = ForwardMask(block.synapse.pre_hook_fx, _top_k(scores, self.kept[-1]))

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
    settings: SupermaskSettings,
    seed: int = 0,
) -> list[float]:
    """Optimize the scores only, by ``trainer.fit`` (the learning rate cosine-annealed per
    epoch from ``settings.lr``, the loss CE(sum_t s_out[:, :, t], y)) with
    ``settings.optimizer``: ``adam`` (Adam, L2 weight decay on the scores) or ``sgd``
    (edge-popup's and the paper's: SGD with ``momentum``, weight decay on the scores).
    x: [samples, inputs, T] spikes; y: int64 [samples]. The weights never change.
    Returns the mean loss per epoch.
    """
    optimizer = OPTIMIZERS[settings.optimizer](supermask.scores, settings.lr, settings.momentum,
                                               settings.weight_decay)
    return fit(model, x, y, settings.epochs, settings.batch_size, settings.lr, seed, desc="supermask",
               optimizer=optimizer)
