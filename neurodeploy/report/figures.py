"""The report's figures: spike rasters with mismatches marked, per-layer bars."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

SIDES = ("dense", "pruned")


def raster_figure(lava: dict[str, list[np.ndarray]], golden: dict[str, list[np.ndarray]], sample: int) -> plt.Figure:
    """One row per layer, one column per network: Lava's spikes of one sample as dots,
    and red crosses where the golden model differs (a spike on one side only).

    lava[side][l], golden[side][l]: uint8 [n_l, S] spikes of layer l over the
    sample's window (neurons in Lava order, S steps).
    """
    layers = len(lava[SIDES[0]])
    figure, axes = plt.subplots(layers, len(SIDES), figsize=(11, 2.4 * layers), squeeze=False)
    for column, side in enumerate(SIDES):
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
        layers = np.arange(len(report["dense"][key]))
        for offset, side in zip((-0.2, 0.2), SIDES):
            ax.bar(layers + offset, report[side][key], width=0.4, label=side)
        ax.set_xticks(layers, [f"layer {i}" for i in layers])
        ax.set_ylabel(label)
        ax.set_yscale("log")
        ax.grid(alpha=0.3, axis="y")
        ax.legend()
    figure.subplots_adjust(left=0.07, right=0.98, wspace=0.25, top=0.95, bottom=0.1)
    return figure
