"""A chip profile's cores, time and energy of two networks, as rows the summaries print."""
from __future__ import annotations

from typing import Any


# (key, label, format) of a chip's figures in the summaries (``hardware.cost.ChipCost``)
CHIP_FIGURES = (
    ("cores", "cores", "{:d}"),
    ("time_per_step_us", "time per step, µs", "{:.2f}"),
    ("inferences_per_second", "inferences per second", "{:.1f}"),
    ("static_uj", "static energy per inference, µJ", "{:.3f}"),
    ("dynamic_uj", "dynamic energy per inference, µJ", "{:.3f}"),
    ("total_uj", "total energy per inference, µJ", "{:.3f}"),
)


def chip_rows(dense: dict[str, Any], pruned: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(label, dense, pruned, change) rows of one chip profile's cores, time and energy:
    each label with the basis of the profile's figures it rests on where they are not all
    published or measured; "n/a" where the profile cannot give the figure (no static
    power, or graded messages on a chip without them); change: pruned against dense in
    percent, "" where either is n/a or dense is 0."""
    rows = []
    for key, label, form in CHIP_FIGURES:
        prefix = {"time_per_step_us": "time_", "inferences_per_second": "time_", "static_uj": ("static_", "time_"),
                  "dynamic_uj": "energy_", "total_uj": ("time_", "energy_", "static_")}.get(key)
        bases = sorted({basis for name, basis in dense["basis"].items() if prefix and name.startswith(prefix)}
                       - {"published", "measured"})
        mark = f" ({', '.join(bases)})" if bases else ""
        first, second = dense[key], pruned[key]
        change = "" if first is None or second is None or not first else f"{100 * (second / first - 1):+.1f} %"
        rows.append((label + mark, "n/a" if first is None else form.format(first),
                     "n/a" if second is None else form.format(second), change))
    return rows


def chip_key(figure: str, profile: str) -> str:
    """A sweep row's key of ``figure`` (``cores``, ``time_us``, ``static_uj``, ...) on chip
    ``profile``: ``cores_loihi2``."""
    return f"{figure}_{profile}"
