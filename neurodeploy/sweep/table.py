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
from neurodeploy.sweep.point import cores_keys

BASE_FIGURES = ("accuracy", "synops_per_sample", "spikes_per_sample", "sparsity_reached", "sparsity_all_layers")


def figures() -> tuple[str, ...]:
    """The figures of a row that the summary averages: ``BASE_FIGURES`` and the cores on
    each chip profile (``point.cores_keys``)."""
    return BASE_FIGURES + cores_keys()


def summarize(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (criterion, sparsity), in first-seen order: the number of seeds and, for every
    figure, its mean and sample standard deviation over seeds (ddof 1; 0 for one seed)."""
    groups: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["criterion"], row["sparsity"]), []).append(row)
    summary = []
    for (criterion, sparsity), members in groups.items():
        entry: dict[str, Any] = {"criterion": criterion, "sparsity": sparsity, "seeds": len(members)}
        for figure in figures():
            values = np.array([m[figure] for m in members], dtype=np.float64)
            entry[f"{figure}_mean"] = float(values.mean())
            entry[f"{figure}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        summary.append(entry)
    return summary


def write_table(rows: Sequence[dict[str, Any]], failed: Sequence[dict[str, str]], recipe: Recipe,
                out_dir: Path) -> Path:
    """Write ``sweep.json`` (recipe, every finished point's row, the summary, and
    ``failed``: each failed point's name and error) and ``sweep.csv`` (the summary, one
    line per criterion and sparsity; removed when no point finished); returns the
    JSON's path."""
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
