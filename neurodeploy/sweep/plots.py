"""Sweep plots: accuracy against sparsity and against synaptic operations, per criterion."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from neurodeploy.fileio import atomic_path  # noqa: E402
from neurodeploy.sweep.table import summarize  # noqa: E402


def _save(figure: plt.Figure, path: Path) -> None:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(figure)


def write_plots(rows: Sequence[dict[str, Any]], out_dir: Path) -> tuple[Path, Path]:
    """``accuracy_vs_sparsity.png`` and ``accuracy_vs_synops.png``: mean over seeds with
    one standard deviation as error bars, one line per criterion, the dense network as a
    dashed line (accuracy) or a star (accuracy and synops)."""
    summary = summarize(rows)
    dense = [s for s in summary if s["criterion"] == "dense"]
    criteria = [c for c in dict.fromkeys(s["criterion"] for s in summary) if c != "dense"]
    paths = (out_dir / "accuracy_vs_sparsity.png", out_dir / "accuracy_vs_synops.png")
    for path, x_key, x_label in (
        (paths[0], "sparsity_reached", "sparsity of the pruned layers"),
        (paths[1], "synops_per_sample", "synaptic operations per sample"),
    ):
        figure, axes = plt.subplots(figsize=(6.4, 4.4))
        for criterion in criteria:
            line = sorted((s for s in summary if s["criterion"] == criterion), key=lambda s: s["sparsity"])
            axes.errorbar(
                [s[f"{x_key}_mean"] for s in line], [s["accuracy_mean"] for s in line],
                yerr=[s["accuracy_std"] for s in line], marker="o", capsize=3, label=criterion,
            )
        for s in dense:
            if x_key == "synops_per_sample":
                axes.plot(s["synops_per_sample_mean"], s["accuracy_mean"], "k*", markersize=12, label="dense")
            else:
                axes.axhline(s["accuracy_mean"], color="k", linestyle="--", label="dense")
        if x_key == "synops_per_sample":
            axes.set_xscale("log")
        axes.set_xlabel(x_label)
        axes.set_ylabel(f"test accuracy (mean of {max(s['seeds'] for s in summary)} seeds, +-1 std)")
        axes.grid(alpha=0.3)
        axes.legend()
        _save(figure, path)
    return paths
