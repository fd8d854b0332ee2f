"""When a figure rests on nothing: a silent layer, a silent output, a single predicted class.

An equivalence over a layer that never spiked compares zeros with zeros;
a class agreement between two networks whose outputs are silent compares
two tie-breaks (``classify`` gives class 0 to a silent output); an accuracy
where the network names one class for every sample measures the test set's
class balance. These figures are still reported, with a caveat line each.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def silent_layers(*sides: Sequence[np.ndarray | None]) -> list[int]:
    """Indices of the layers with no spike in any of ``sides`` (each a list of per-layer
    spike arrays; a None entry, a layer a side did not record, counts as silent)."""
    count = len(sides[0])
    return [layer for layer in range(count)
            if not any(side[layer] is not None and side[layer].any() for side in sides)]


def silent_outputs(output: np.ndarray) -> np.ndarray:
    """bool [N]: the samples on which the output layer [N, n, S] never spikes."""
    return ~output.reshape(output.shape[0], -1).any(axis=1)


def layer_caveats(label: str, silent: list[int], samples: int, what: str = "") -> list[str]:
    """One line per silent layer of ``label``'s network over ``samples`` samples."""
    where = f" {what}" if what else ""
    return [f"{label}: layer {layer} never spiked on the {samples}{where} sample(s): every figure of "
            f"that layer compares or counts nothing" for layer in silent]


def prediction_caveats(label: str, silent: np.ndarray, classes: np.ndarray) -> list[str]:
    """Lines for a network's predictions: ``silent`` bool [N], the samples on which its
    output is silent (``silent_outputs``; classified by the tie rule as class 0), and
    ``classes`` [N], one class for every sample."""
    lines = []
    count = int(silent.sum())
    if count:
        lines.append(f"{label}: the output layer is silent on {count} of {len(classes)} sample(s); "
                     "those are classified as class 0 by the tie rule, not by the network")
    if len(classes) > 1 and np.all(classes == classes[0]):
        lines.append(f"{label}: predicts class {int(classes[0])} for every one of the {len(classes)} samples")
    return lines


def agreement_caveat(silent_a: np.ndarray, silent_b: np.ndarray) -> list[str]:
    """A line when the class agreement of A and B counts samples on which both outputs are
    silent (``silent_a``, ``silent_b``: bool [N], ``silent_outputs``)."""
    both = int((silent_a & silent_b).sum())
    if not both:
        return []
    return [f"class agreement: on {both} of {len(silent_a)} sample(s) both outputs are silent; "
            "their agreement there is the tie rule's, not the networks'"]
