"""Benchmark: the command line's start-up, this tree against the tree before lazy imports.

What is measured, side by side in this one run: the wall time of a fresh
Python process running ``neurodeploy --help`` and ``neurodeploy inspect
tiny.net`` (lava-dl's ``tests/lava/lib/dl/netx/tiny.net``), once with this
checkout's package and once with the package of the baseline commit (by
default 12ae5b1, the last before the start-up work of issue 30, extracted
with ``git archive`` into a temporary folder and put first on the path), in
alternation, ``--repeats`` times each. Both use this venv's Python and
libraries, so the only difference is our code. The figure per command is
median(this tree) / median(baseline).

Target (issue 30): each ratio at most 0.2 (a fifth of the time before).

Exit status: 0 when both commands meet the target, 1 otherwise. ``--json
OUT`` writes every figure. Run:
``.venv/bin/python benchmarks/startup.py [--repeats 5] [--baseline COMMIT] [--json OUT]``
(about a minute: the baseline's start-up is seconds).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from neurodeploy.reference import lava_dl_ground_truth

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "12ae5b1"
TARGET = 0.2
RUN = "import sys; sys.path.insert(0, sys.argv[1]); from neurodeploy.cli import main; sys.exit(main(sys.argv[2:]))"


def timed(tree: Path, args: list[str]) -> float:
    """Seconds a fresh Python takes to run ``neurodeploy ARGS`` from the package in ``tree``."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", RUN, str(tree), *args], check=True, stdout=subprocess.DEVNULL,
                   cwd=tempfile.gettempdir())
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline", default=BASELINE, help=f"commit to compare with (default {BASELINE})")
    parser.add_argument("--json", type=Path)
    options = parser.parse_args()
    tiny = lava_dl_ground_truth().parent / "tiny.net"
    commands = {"--help": ["--help"], "inspect tiny.net": ["inspect", str(tiny)]}
    with tempfile.TemporaryDirectory() as folder:
        baseline = Path(folder)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", options.baseline, "neurodeploy"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(baseline)], input=archive, check=True)
        figures = {}
        for name, args in commands.items():
            timed(ROOT, args), timed(baseline, args)  # warm the file cache and numba's on-disk cache
            ours, theirs = [], []
            for _ in range(options.repeats):
                ours.append(timed(ROOT, args))
                theirs.append(timed(baseline, args))
            ratio = statistics.median(ours) / statistics.median(theirs)
            figures[name] = {"this_tree_s": ours, "baseline_s": theirs, "ratio": ratio}
            print(f"{name:18} this tree {statistics.median(ours):.3f} s, baseline {options.baseline} "
                  f"{statistics.median(theirs):.3f} s: ratio {ratio:.3f} (target <= {TARGET})")
    if options.json:
        options.json.write_text(json.dumps({"baseline": options.baseline, "figures": figures}, indent=2))
    return 0 if all(figure["ratio"] <= TARGET for figure in figures.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
