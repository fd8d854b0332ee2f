"""Sweep plots: accuracy against sparsity and against synaptic operations, per series
(``report.figures.accuracy_figure``), and against the cores and the energy per inference
on the recipe's chip profile, with the best trade-offs marked (``tradeoff_figure``)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import matplotlib.pyplot as plt

from neurodeploy.fileio import atomic_path
from neurodeploy.report.chip import chip_key
from neurodeploy.report.figures import accuracy_figure, energy_axis, tradeoff_figure
from neurodeploy.sweep.table import summarize

PLOTS = ("accuracy_vs_sparsity.png", "accuracy_vs_synops.png", "accuracy_vs_cores.png", "accuracy_vs_energy.png")


def write_plots(rows: Sequence[dict[str, Any]], out_dir: Path, profile: str) -> tuple[Path, ...]:
    """``PLOTS``: accuracy against sparsity and against synaptic operations
    (``accuracy_figure``), and against the cores and the energy per inference on chip
    ``profile`` (``prune.profile``; ``tradeoff_figure``, ``energy_axis``)."""
    paths = tuple(out_dir / name for name in PLOTS)
    summary = summarize(rows)
    figures = [accuracy_figure(summary, "sparsity"), accuracy_figure(summary, "synops"),
               tradeoff_figure(summary, chip_key("cores", profile), f"cores ({profile})"),
               tradeoff_figure(summary, *energy_axis(summary, profile))]
    for path, figure in zip(paths, figures):
        with atomic_path(path) as tmp:
            figure.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
        plt.close(figure)
    return paths
