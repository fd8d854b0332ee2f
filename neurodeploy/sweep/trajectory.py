"""Iterative pruning's trajectories: one run of rounds per criterion, objective and seed,
each grid sparsity read from its round.

The rule. With ``prune.rounds`` K > 1 and the grid's top sparsity S, the recipe
prunes at the rate p = 1 - (1 - S)^(1/K) per round, and round k reaches
s_k = 1 - (1 - p)^k = 1 - (1 - S)^(k/K). When every grid sparsity is such an
s_k (k = K ln(1 - s) / ln(1 - S) a whole number), the grid is one trajectory
per criterion, objective and seed: the point at s_k is the network after
round k. That is what a lone run with ``prune.sparsity`` s_k and
``prune.rounds`` k computes, whose schedule 1 - (1 - s_k)^(i/k), i = 1..k,
is the trajectory's first k rounds, with the same generator and fine-tuning
seeds (``imp.prune_rounds``); so the point's settings say k rounds
(``Point.rounds``) and its digest is that lone run's. (The two round
targets are computed from different exponents and may differ in their last
bit; a round's count of pruned weights differs only if that bit crosses a
rounding boundary.)

Round by round: after each round the trajectory's state (weights, masks, the
criterion's generator, the records) is saved at ``trajectories/NAME.pt``
(``train.checkpoint``'s format, read without running code); a killed or
retried trajectory goes on from its last saved round.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import torch

from neurodeploy.data.dataset import load_dataset
from neurodeploy.prune.imp import RoundState, finish_pruning, prune_rounds, round_sparsity
from neurodeploy.prune.stage import load_for_pruning, prune_seed
from neurodeploy.recipe import Recipe
from neurodeploy.simulate.chip import recipe_measure
from neurodeploy.sweep.point import Point, point_recipe, point_row
from neurodeploy.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

# how far K ln(1 - s) / ln(1 - S) may be from a whole number for s to be a round (floating-point error)
ROUND_TOLERANCE = 1e-9


def grid_rounds(sparsities: Sequence[float], rounds: int) -> dict[float, int] | None:
    """Each sparsity's round on the ``rounds``-round schedule to the top one (module doc);
    None when ``rounds`` is 1 or a sparsity is no round of it."""
    top = max(sparsities)
    found = {}
    for sparsity in sparsities:
        k = rounds * math.log1p(-sparsity) / math.log1p(-top)
        if rounds == 1 or abs(k - round(k)) > ROUND_TOLERANCE * rounds or round(k) < 1:
            return None
        found[sparsity] = round(k)
    return found


def schedule(top: float, rounds: int) -> list[float]:
    """s_1 .. s_K, the sparsities the ``rounds`` rounds to ``top`` reach."""
    return [round_sparsity(top, rounds, k) for k in range(1, rounds + 1)]


@dataclass(frozen=True)
class Trajectory:
    """The pruned points of one criterion, objective and seed, by their rounds (each point's
    ``rounds`` set; the last reaches the top sparsity in the recipe's rounds)."""

    points: tuple[Point, ...]

    @property
    def top(self) -> Point:
        """The point of the last round."""
        return self.points[-1]

    @property
    def name(self) -> str:
        """E.g. ``magnitude-s1``, ``magnitude-cores-s1`` (named as its points are, less the sparsity)."""
        objective = f"{self.top.objective}-" if self.top.named else ""
        return f"{self.top.criterion}-{objective}s{self.top.seed}"


def trajectories(todo: Sequence[Point]) -> list[Trajectory]:
    """The pruned points of ``todo`` (``rounds`` set) grouped by criterion, objective and seed."""
    groups: dict[tuple[str, str | None, int], list[Point]] = {}
    for point in todo:
        if point.sparsity > 0:
            groups.setdefault((point.criterion, point.objective, point.seed), []).append(point)
    return [Trajectory(tuple(sorted(group, key=lambda p: p.rounds or 0))) for group in groups.values()]


def run_trajectory(recipe: Recipe, trajectory: Trajectory, wanted: dict[Point, Path], dense: Path, state: Path,
                   digest: str) -> Iterator[tuple[Point, dict]]:
    """Prune the seed's dense network at ``dense`` round by round up to the last of the
    ``wanted`` points' rounds; after each of their rounds export the network to the point's
    path and measure it (``point_row``), yielding the point and its row; then save the
    round's state at ``state`` under ``digest`` (the trajectory's settings). Starts after the
    round saved there when it has ``digest`` and comes before every wanted point's round,
    else from round 1; removes it at the end."""
    settings = point_recipe(recipe, trajectory.top)
    data = load_dataset(settings.data, trajectory.top.seed)
    model, rewind = load_for_pruning(dense, settings)
    saved = _saved(state, digest, min(point.rounds or 0 for point in wanted))
    start = None
    if saved is not None:
        start, weights = saved
        model.load_state_dict(weights)
    by_round = {point.rounds: point for point in wanted}
    last = max(by_round)
    for now in prune_rounds(model, data, settings.prune, settings.train.batch_size, prune_seed(settings), rewind,
                            recipe_measure(settings, data), start):
        if now.round in by_round:
            point = by_round[now.round]
            pruned = copy.deepcopy(model)
            result = finish_pruning(pruned, now, settings.prune)
            yield point, point_row(point, pruned, result, data, point_recipe(recipe, point), wanted[point])
        if now.round == last:
            break
        save_checkpoint(state, model, settings, masks=now.alive, losses=now.losses,
                        extra={"digest": digest, "round": now.round, "generator": now.generator,
                               "rounds": now.rounds})
    state.unlink(missing_ok=True)


def _saved(path: Path, digest: str, before: int) -> tuple[RoundState, dict[str, torch.Tensor]] | None:
    """The round state and weights saved at ``path``, if it holds ``digest`` and a round
    before ``before`` (an unreadable or foreign file: None, the trajectory starts over)."""
    try:
        checkpoint = load_checkpoint(path)
    except CheckpointError:
        return None
    extra = checkpoint.extra
    k, generator = extra.get("round"), extra.get("generator")
    if extra.get("digest") != digest or not isinstance(k, int) or not 1 <= k < before or checkpoint.masks is None \
            or not isinstance(generator, torch.Tensor) or generator.dtype != torch.uint8:
        return None
    state = RoundState(k, dict(checkpoint.masks), generator, list(extra.get("rounds") or []), checkpoint.losses)
    return state, checkpoint.state_dict
