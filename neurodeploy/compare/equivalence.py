"""Exact spike equivalence of two recordings of the same stream, layer by layer.

Both sides are [n_l, S] per layer, column for column the same steps (the
golden model runs the stream exactly as the Lava harness does, so no shift
applies). Every entry of every compared layer is compared.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurodeploy.loihi.timing import owners


@dataclass(frozen=True)
class Equivalence:
    """The outcome of comparing every spike of the compared layers.

    mismatches: {layer: differing (neuron, column) entries}. first: the
    earliest differing (layer, neuron, column), the lowest layer first
    within a column, or None. compared: entries compared over all layers.
    """

    mismatches: dict[int, int]
    first: tuple[int, int, int] | None
    compared: int

    @property
    def equivalent(self) -> bool:
        """True when no entry differs."""
        return self.first is None


def compare_recordings(golden: dict[int, np.ndarray], lava: dict[int, np.ndarray]) -> Equivalence:
    """Compare the layers both sides recorded; the shapes must agree."""
    mismatches: dict[int, int] = {}
    first: tuple[int, int, int] | None = None
    compared = 0
    for layer in sorted(lava):
        if golden[layer].shape != lava[layer].shape:
            raise ValueError(f"layer {layer}: golden {golden[layer].shape} and Lava {lava[layer].shape} differ in shape")
        differs = golden[layer] != lava[layer]
        mismatches[layer] = int(differs.sum())
        compared += differs.size
        if mismatches[layer]:
            neurons, columns = np.nonzero(differs)
            at = int(np.argmin(columns))
            candidate = (layer, int(neurons[at]), int(columns[at]))
            if first is None or candidate[2] < first[2]:
                first = candidate
    return Equivalence(mismatches, first, compared)


def exact_samples(
    golden: dict[int, np.ndarray], lava: dict[int, np.ndarray], arrivals: dict[int, int], num_samples: int, steps: int
) -> np.ndarray:
    """bool [N]: samples whose owned columns (``timing.owners``) match in every compared layer.

    Columns owned by the silent sample after the last reset count for none.
    """
    bad = np.zeros(num_samples + 1, dtype=bool)
    for layer in lava:
        sample, _ = owners(arrivals[layer], num_samples, steps, lava[layer].shape[1])
        np.logical_or.at(bad, sample, (golden[layer] != lava[layer]).any(axis=0))
    return ~bad[:num_samples]
