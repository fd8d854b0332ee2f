"""Sweep plots: accuracy against sparsity and against synaptic operations, per criterion."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import matplotlib.pyplot as plt

from neurodeploy.fileio import atomic_path
from neurodeploy.report.figures import accuracy_figure
from neurodeploy.sweep.table import summarize

PLOTS = ("accuracy_vs_sparsity.png", "accuracy_vs_synops.png")


def write_plots(rows: Sequence[dict[str, Any]], out_dir: Path) -> tuple[Path, ...]:
    """``PLOTS``: accuracy against sparsity and against synaptic operations (``accuracy_figure``)."""
    paths = tuple(out_dir / name for name in PLOTS)
    summary = summarize(rows)
    for path, against in zip(paths, ("sparsity", "synops")):
        figure = accuracy_figure(summary, against)
        with atomic_path(path) as tmp:
            figure.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
        plt.close(figure)
    return paths
