"""Sweep plots: accuracy against sparsity and against synaptic operations, per criterion."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from neurodeploy.fileio import atomic_path  # noqa: E402
from neurodeploy.sweep.table import summarize  # noqa: E402

AXES = {
    "sparsity": ("sparsity_reached", "sparsity of the pruned layers"),
    "synops": ("synops_per_sample", "synaptic operations per sample"),
}


def accuracy_figure(rows: Sequence[dict[str, Any]], against: str) -> plt.Figure:
    """Accuracy against ``sparsity`` or ``synops``: mean over seeds with one standard
    deviation as error bars, one line per criterion, the dense network as a dashed line
    (against sparsity) or a star (against synops)."""
    x_key, x_label = AXES[against]
    summary = summarize(rows)
    dense = [s for s in summary if s["criterion"] == "dense"]
    criteria = [c for c in dict.fromkeys(s["criterion"] for s in summary) if c != "dense"]
    figure, axes = plt.subplots(figsize=(6.4, 4.4))
    for criterion in criteria:
        line = sorted((s for s in summary if s["criterion"] == criterion), key=lambda s: s["sparsity"])
        axes.errorbar(
            [s[f"{x_key}_mean"] for s in line], [s["accuracy_mean"] for s in line],
            yerr=[s["accuracy_std"] for s in line], marker="o", capsize=3, label=criterion,
        )
    for s in dense:
        if against == "synops":
            axes.plot(s["synops_per_sample_mean"], s["accuracy_mean"], "k*", markersize=12, label="dense")
        else:
            axes.axhline(s["accuracy_mean"], color="k", linestyle="--", label="dense")
    if against == "synops":
        axes.set_xscale("log")
    axes.set_xlabel(x_label)
    axes.set_ylabel(f"test accuracy (mean of {max(s['seeds'] for s in summary)} seeds, +-1 std)")
    axes.grid(alpha=0.3)
    axes.legend()
    return figure


def write_plots(rows: Sequence[dict[str, Any]], out_dir: Path) -> tuple[Path, Path]:
    """``accuracy_vs_sparsity.png`` and ``accuracy_vs_synops.png`` (``accuracy_figure``)."""
    paths = (out_dir / "accuracy_vs_sparsity.png", out_dir / "accuracy_vs_synops.png")
    for path, against in zip(paths, ("sparsity", "synops")):
        figure = accuracy_figure(rows, against)
        with atomic_path(path) as tmp:
            figure.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
        plt.close(figure)
    return paths
