"""What pruning minimises: the registry ``OBJECTIVES`` (``prune.objective``).

``synops`` (the default) ranks weights by the criterion alone, over the
scope's pools: the synaptic operations the fewest weights cost. The others
are what a chip bills, measured on the chip profile ``prune.profile`` by the
mapper and the time and energy model (``neurodeploy.hardware``) on the
network as it would be exported, with the activity of training samples:

- ``cores``: the cores the network maps to; among equal cores, the fewer
  synaptic memory words, then synapse entries, in the layers whose memory,
  not their neurons, sets their cores (what frees their next core);
- ``time``: the time per step (the busiest core plus the barrier);
- ``energy``: the total energy per inference, static (the chip's static
  power for the time of an inference) plus dynamic; the dynamic energy alone
  on a profile without static power.

Each turns a network's chip figures (``hardware.cost.NetworkCost.figures``
of one profile) into a key compared as a tuple, the smaller the better, and
names the figure a target (``prune.target_cores``, ``prune.target_time``)
bounds.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from neurodeploy.registry import Registry


@dataclass(frozen=True)
class Objective:
    """key: chip figures -> the tuple to minimise; figure: the chip figure it stands for
    (and a target bounds)."""

    key: Callable[[dict[str, Any]], tuple[float, ...]]
    figure: str


def _energy(figures: dict[str, Any]) -> tuple[float, ...]:
    total = figures["total_uj"] if figures["total_uj"] is not None else figures["dynamic_uj"]
    if total is None:
        raise ValueError(f"{figures['profile']} gives no energy for this network (it cannot send its messages)")
    return (total,)


OBJECTIVES: Registry[Objective | None] = Registry("pruning objective", {
    "synops": None,
    "cores": Objective(lambda f: (f["cores"], f["memory_bound_words"], f["memory_bound_entries"]), "cores"),
    "time": Objective(lambda f: (f["time_per_step_us"],), "time_per_step_us"),
    "energy": Objective(_energy, "total_uj"),
})
