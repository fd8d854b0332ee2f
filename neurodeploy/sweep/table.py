"""The sweep table: one row per point, and mean and standard deviation over seeds."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from neurodeploy.fileio import atomic_path
from neurodeploy.recipe import Recipe
from neurodeploy.sweep.point import chip_keys

BASE_FIGURES = ("accuracy", "synops_per_sample", "spikes_per_sample", "sparsity_reached", "sparsity_all_layers")


def figures() -> tuple[str, ...]:
    """The figures of a row that the summary averages: ``BASE_FIGURES`` and the chip
    figures on each chip profile (``point.chip_keys``)."""
    return BASE_FIGURES + chip_keys()


def summarize(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (criterion, objective, sparsity), in first-seen order: the number of seeds and,
    for every figure, its mean and sample standard deviation over seeds (ddof 1; 0 for
    one seed); both None where a seed's figure is None (a chip profile that cannot give
    it)."""
    groups: dict[tuple[str, str | None, float], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["criterion"], row["objective"], row["sparsity"]), []).append(row)
    summary = []
    for (criterion, objective, sparsity), members in groups.items():
        entry: dict[str, Any] = {"criterion": criterion, "objective": objective, "sparsity": sparsity,
                                 "seeds": len(members)}
        for figure in figures():
            entry[f"{figure}_mean"], entry[f"{figure}_std"] = _mean_std([m[figure] for m in members])
        summary.append(entry)
    return summary


def _mean_std(values: Sequence[float | None]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (ddof 1; 0 for one value) of ``values``; both
    None if any is None."""
    if any(value is None for value in values):
        return None, None
    array = np.array(values, dtype=np.float64)
    return float(array.mean()), (float(array.std(ddof=1)) if len(array) > 1 else 0.0)


def write_table(rows: Sequence[dict[str, Any]], failed: Sequence[dict[str, str]], recipe: Recipe,
                out_dir: Path) -> Path:
    """Write ``sweep.json`` (recipe, every finished point's row, the summary, and
    ``failed``: each failed point's name and error) and ``sweep.csv`` (the summary, one
    line per criterion, objective and sparsity, an empty cell for None; removed when no
    point finished); returns the JSON's path."""
    summary = summarize(rows)
    csv_path = out_dir / "sweep.csv"
    if summary:
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=list(summary[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(summary)
        with atomic_path(csv_path) as tmp:
            tmp.write_text(text.getvalue())
    else:
        csv_path.unlink(missing_ok=True)
    path = out_dir / "sweep.json"
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps({"recipe": recipe.to_dict(), "rows": list(rows), "summary": summary,
                                   "failed": list(failed)}, indent=2))
    return path
