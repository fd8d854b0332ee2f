"""The chip's own figures in a recording beside the model's predictions of them.

A recording made on Loihi 2 with Intel's profilers (``deploy``'s script)
holds the chip's time per step, power and activity per core. The model
(``hardware.resources`` maps the network, ``hardware.cost`` turns the golden
model's messages into time and energy, on the ``loihi2`` profile) predicts
the same figures from the same stream; ``chip_check`` puts them side by side
with the ratio model / chip:

- cores: cores the activity (or memory) profiler reports, against the mapper's;
- time per step (µs): the profiler's mean, against the model's mean over the stream;
- energy per inference (µJ), an inference being the reset interval's steps:
  total = mean total power x time per step x steps, static = static power x
  the same time, dynamic = total - static (W x µs = µJ), against the model's;
- synaptic operations, dendrite updates, input spikes and axon outputs summed
  over cores and the whole run, against the model's events over the stream.

Each row names its source; a figure the recording lacks is left out. Send such
a recording back as a calibration point (docs/hardware.md).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from neurodeploy.hardware.cost import NetworkCost
from neurodeploy.hardware.profile import load_profile
from neurodeploy.netx import Network

PROFILE = "loihi2"
ACTIVITY = {"syn_ops": "activity_syn_ops", "dendrite_updates": "activity_dendrite_updates",
            "spikes_in": "activity_spikes_in", "axon_out": "activity_axon_out"}


@dataclass(frozen=True)
class ChipFigure:
    """One figure: its name and unit, the chip's value (from the recording), the model's
    prediction and model / chip (None where the chip's is 0)."""

    name: str
    unit: str
    chip: float
    model: float
    ratio: float | None


def chip_check(network: Network, inputs: np.ndarray | None, messages: list[np.ndarray], sparse: bool,
               steps_per_inference: int, chip: dict[str, Any]) -> tuple[ChipFigure, ...]:
    """The figures ``chip`` (a recording's ``Reference.chip``) holds, each beside the
    model's for the stream ``inputs`` [1, n_in, L] -> ``messages[l]`` [1, n_l, L];
    empty when it holds none."""
    if not chip:
        return ()
    cost = NetworkCost(network, [load_profile(PROFILE)], sparse)
    cost.add(inputs, messages)
    model = cost.figures(steps_per_inference)[PROFILE]
    rows: list[tuple[str, str, float, float]] = []
    cores = chip.get("activity_core_idx", chip.get("memory_core_idx"))
    if cores is not None:
        rows.append(("cores", "", float(len(np.unique(np.asarray(cores)))), float(model["cores"])))
    time_us = chip.get("time_per_step_us")
    if time_us is not None:
        rows.append(("time per step", "us", float(time_us), model["time_per_step_us"]))
        for name, power, figure in (("total energy per inference", chip.get("total_power_w"), "total_uj"),
                                    ("static energy per inference", chip.get("static_power_w"), "static_uj")):
            if power is not None and model[figure] is not None:
                rows.append((name, "uJ", float(power) * float(time_us) * steps_per_inference, model[figure]))
        if None not in (chip.get("total_power_w"), chip.get("static_power_w"), model["dynamic_uj"]):
            dynamic = (float(chip["total_power_w"]) - float(chip["static_power_w"])) * float(time_us)
            rows.append(("dynamic energy per inference", "uJ", dynamic * steps_per_inference, model["dynamic_uj"]))
    for event, key in ACTIVITY.items():
        if key in chip:
            ours = sum(model["per_core"][event])  # "per inference": per row, and the stream is one row
            rows.append((f"{event} (all cores, whole run)", "", float(np.sum(chip[key])), float(ours)))
    return tuple(ChipFigure(name, unit, theirs, ours, ours / theirs if theirs else None)
                 for name, unit, theirs, ours in rows)
