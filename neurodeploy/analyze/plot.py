"""The analysis figure: predicted against measured flip probability, per layer, log scale."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

from neurodeploy.fileio import atomic_path  # noqa: E402

NEURON_SERIES = (
    ("bound_neuron_step", "bound 2 p_sup eps' (train)", "^"),
    ("crisis_probability", "crisis probability, eq. 6 (train)", "s"),
    ("crisis_probability_test", "crisis probability, eq. 6 (test)", "D"),
    ("crisis_probability_pathwise", "crisis probability, pathwise eps (train)", "v"),
    ("first_flip_rate", "first-flip rate (test)", "o"),
    ("flip_rate", "flip rate, any (test)", "x"),
    ("end_to_end_flip_rate", "flip rate, whole perturbed network (test)", "+"),
)
LAYER_SERIES = (
    ("bound_layer", "bound 2 N p_sup eps' (train)", "^"),
    ("layer_crisis_probability", "some neuron in crisis (train)", "s"),
    ("layer_first_flip_rate", "layer first-flip rate (test)", "o"),
)


def _panel(ax: Any, layers: list[dict[str, Any]], series: tuple, title: str) -> None:
    """One marker per layer and series; 0 is drawn at the bottom, infinity (null) at the top."""
    values = [layer[key] for layer in layers for key, _, _ in series]
    finite = [v for v in values if v is not None and v > 0]
    floor = min(finite) / 10 if finite else 1e-6
    ceiling = max(finite + [1.0]) * 10
    width = 0.8 / len(series)
    for k, (key, label, marker) in enumerate(series):
        xs = [i + (k - (len(series) - 1) / 2) * width for i in range(len(layers))]
        ys = [layer[key] for layer in layers]
        shown = [ceiling if y is None else floor if y <= 0 else y for y in ys]
        line = ax.plot(xs, shown, marker, label=label, markersize=8, linestyle="none")[0]
        for x, y, at in zip(xs, ys, shown):
            if y is None or y <= 0:
                ax.annotate("inf" if y is None else "0", (x, at), color=line.get_color(),
                            textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
    ax.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
    ax.set_yscale("log")
    ax.set_xticks(range(len(layers)), [f"layer {layer['layer']}" for layer in layers])
    ax.set_title(title)
    ax.legend(fontsize=7, loc="best")


def plot_analysis(analysis: dict[str, Any], path: Path) -> None:
    """Two panels: per neuron and step, and per layer and step (the union bound)."""
    layers = analysis["layers"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    _panel(left, layers, NEURON_SERIES, "per neuron-step")
    _panel(right, layers, LAYER_SERIES, "per layer-step (some neuron flips first)")
    left.set_ylabel("probability (dashed: 1)")
    fig.suptitle(f"Theorem 3.5 against measured flips: perturbation '{analysis['perturbation']}'")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
