"""The report's figures: spike rasters with mismatches marked, per-layer bars, and a
sweep's accuracy curves."""
from __future__ import annotations

from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from neurodeploy.report.chip import chip_key  # noqa: E402
from neurodeploy.variants import NAMES  # noqa: E402


def raster_figure(lava: dict[str, list[np.ndarray]], golden: dict[str, list[np.ndarray]], sample: int) -> plt.Figure:
    """One row per layer, one column per network: Lava's spikes of one sample as dots,
    and red crosses where the golden model differs (a spike on one side only).

    lava[side][l], golden[side][l]: uint8 [n_l, S] spikes of layer l over the
    sample's window (neurons in Lava order, S steps).
    """
    layers = len(lava[NAMES[0]])
    figure, axes = plt.subplots(layers, len(NAMES), figsize=(11, 2.4 * layers), squeeze=False)
    for column, side in enumerate(NAMES):
        for layer in range(layers):
            ax = axes[layer][column]
            spikes, reference = lava[side][layer], golden[side][layer]
            neuron, step = np.nonzero(spikes)
            ax.scatter(step, neuron, s=3, c="k", marker="|", linewidths=0.8)
            bad_neuron, bad_step = np.nonzero(spikes != reference)
            if len(bad_step):
                ax.scatter(bad_step, bad_neuron, s=30, c="red", marker="x", label="Lava != golden")
                ax.legend(loc="upper right", fontsize=7)
            ax.set_xlim(-0.5, spikes.shape[1] - 0.5)
            ax.set_ylim(-0.5, spikes.shape[0] - 0.5)
            ax.set_title(
                f"{side}, layer {layer}: {int(spikes.sum())} spikes, {len(bad_step)} mismatches", fontsize=9
            )
            ax.set_ylabel("neuron", fontsize=8)
            if layer == layers - 1:
                ax.set_xlabel(f"step (sample {sample}, Lava)", fontsize=8)
    # fixed margins: tight_layout measures every tick label and took most of the report's time
    height = 2.4 * layers
    figure.subplots_adjust(left=0.07, right=0.98, wspace=0.18, top=1 - 0.35 / height, bottom=0.45 / height,
                           hspace=0.55)
    return figure


def layer_bars_figure(report: dict) -> plt.Figure:
    """Spikes and synaptic operations per sample, per layer, dense against pruned
    (golden model on the whole test set)."""
    figure, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for ax, key, label in (
        (axes[0], "spikes_per_layer", "spikes per sample"),
        (axes[1], "synops_per_layer", "synaptic operations per sample"),
    ):
        layers = np.arange(len(report[NAMES[0]][key]))
        for offset, side in zip((-0.2, 0.2), NAMES):
            ax.bar(layers + offset, report[side][key], width=0.4, label=side)
        ax.set_xticks(layers, [f"layer {i}" for i in layers])
        ax.set_ylabel(label)
        ax.set_yscale("log")
        ax.grid(alpha=0.3, axis="y")
        ax.legend()
    figure.subplots_adjust(left=0.07, right=0.98, wspace=0.25, top=0.95, bottom=0.1)
    return figure


CORE_COUNTERS = (("syn_ops", "synaptic operations"), ("dendrite_updates", "dendrite updates"),
                 ("spikes_in", "spikes in"), ("axon_out", "axon out"))


def core_activity_figure(report: dict, chip: str) -> plt.Figure:
    """Activity per core on ``chip`` per inference, dense against pruned, in the counters
    of Intel's Loihi2Activity profiler (``hardware.activity``), one panel per counter;
    cores in layer order, each network's own cores (they may differ in number)."""
    figure, axes = plt.subplots(1, len(CORE_COUNTERS), figsize=(14, 3.4))
    for ax, (key, label) in zip(axes, CORE_COUNTERS):
        for offset, side in zip((-0.2, 0.2), NAMES):
            values = report[side]["hardware"][chip]["per_core"][key]
            ax.bar(np.arange(len(values)) + offset, values, width=0.4, label=side)
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("core")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3, axis="y")
    axes[0].set_ylabel("per inference")
    axes[0].legend()
    figure.subplots_adjust(left=0.06, right=0.99, wspace=0.3, top=0.88, bottom=0.15)
    return figure


AXES = {
    "sparsity": ("sparsity_reached", "sparsity of the pruned layers"),
    "synops": ("synops_per_sample", "synaptic operations per sample"),
}


def sweep_series(summary: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """A sweep's pruned points by series, each sorted by sparsity, in first-seen order: one
    per criterion, labelled ``criterion``, or, where the sweep ran several objectives, one
    per (criterion, objective), labelled ``criterion, objective`` (a summary written
    before objectives were swept has none). summary: ``sweep.table.summarize``'s entries."""
    pruned = [s for s in summary if s["criterion"] != "dense"]
    several = len({s.get("objective") for s in pruned}) > 1
    series: dict[str, list[dict[str, Any]]] = {}
    for s in pruned:
        series.setdefault(f"{s['criterion']}, {s['objective']}" if several else s["criterion"], []).append(s)
    return {label: sorted(line, key=lambda s: s["sparsity"]) for label, line in series.items()}


def accuracy_figure(summary: Sequence[dict[str, Any]], against: str) -> plt.Figure:
    """A sweep's accuracy against ``sparsity`` or ``synops``: mean over seeds with one
    standard deviation as error bars, one line per series (``sweep_series``: criterion,
    and objective where several were swept), the dense network as a dashed line (against
    sparsity) or a star (against synops). summary: the sweep's ``summary`` entries (one
    per criterion, objective and sparsity, ``sweep.table.summarize``)."""
    x_key, x_label = AXES[against]
    dense = [s for s in summary if s["criterion"] == "dense"]
    figure, axes = plt.subplots(figsize=(6.4, 4.4))
    for label, line in sweep_series(summary).items():
        axes.errorbar(
            [s[f"{x_key}_mean"] for s in line], [s["accuracy_mean"] for s in line],
            yerr=[s["accuracy_std"] for s in line], marker="o", capsize=3, label=label,
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
