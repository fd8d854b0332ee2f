"""Sweep plots: accuracy against sparsity and against synaptic operations, per series
(``report.figures.accuracy_figure``), and against the cores and the energy per inference
on the recipe's chip profile, with the best trade-offs marked (``tradeoff_figure``)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import matplotlib.pyplot as plt

from neurodeploy.fileio import atomic_path
from neurodeploy.report.figures import accuracy_figure, sweep_series
from neurodeploy.sweep.point import chip_key
from neurodeploy.sweep.table import summarize

PLOTS = ("accuracy_vs_sparsity.png", "accuracy_vs_synops.png", "accuracy_vs_cores.png", "accuracy_vs_energy.png")


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices, ascending, of the points (cost, accuracy) that no other point dominates: none
    has lower-or-equal cost and higher-or-equal accuracy with one of them strictly better
    (equal points all stay)."""
    def dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
        return a[0] <= b[0] and a[1] >= b[1] and (a[0] < b[0] or a[1] > b[1])

    return [i for i, point in enumerate(points) if not any(dominates(other, point) for other in points)]


def energy_axis(summary: Sequence[dict[str, Any]], profile: str) -> tuple[str, str]:
    """The summary's figure and axis label of energy per inference on ``profile``: the total
    (µJ), or the dynamic energy where a total is None (a profile without static power gives none)."""
    total = chip_key("total_uj", profile)
    if all(s[f"{total}_mean"] is not None for s in summary):
        return total, f"total energy per inference (µJ, {profile})"
    return chip_key("dynamic_uj", profile), f"dynamic energy per inference (µJ, {profile}: no total)"


def tradeoff_figure(summary: Sequence[dict[str, Any]], x_key: str, x_label: str) -> plt.Figure:
    """A sweep's accuracy against a cost (``x_key``: a figure of the summary, the smaller the
    better): mean over seeds with one standard deviation as error bars on both axes, one
    line per series (``sweep_series``), the dense network as a star, and the front of the
    best trade-offs (``pareto_front`` over every entry, the dense one included) as a
    dashed line. Entries whose cost is None are left out."""
    entries = [s for s in summary if s[f"{x_key}_mean"] is not None]
    figure, axes = plt.subplots(figsize=(6.4, 4.4))
    for label, line in sweep_series(entries).items():
        axes.errorbar(
            [s[f"{x_key}_mean"] for s in line], [s["accuracy_mean"] for s in line],
            xerr=[s[f"{x_key}_std"] for s in line], yerr=[s["accuracy_std"] for s in line],
            marker="o", capsize=3, label=label,
        )
    for s in entries:
        if s["criterion"] == "dense":
            axes.plot(s[f"{x_key}_mean"], s["accuracy_mean"], "k*", markersize=12, label="dense")
    costs = [(s[f"{x_key}_mean"], s["accuracy_mean"]) for s in entries]
    front = sorted(costs[i] for i in pareto_front(costs))
    if front:
        axes.plot(*zip(*front), "k--", marker="s", markerfacecolor="none", markersize=10,
                  label="best trade-offs (not dominated)")
    else:
        axes.text(0.5, 0.5, f"no point has a {x_label}", ha="center", transform=axes.transAxes)
    axes.set_xlabel(x_label)
    axes.set_ylabel(f"test accuracy (mean of {max(s['seeds'] for s in summary)} seeds, +-1 std)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    return figure


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
