"""Benchmark: the digits sweep before and after a change, and its time in the golden model.

What is measured: the wall time of ``neurodeploy sweep`` with the command of
docs/results.md (``models/digits_mlp.yaml``, criteria magnitude, sf and
random, sparsities 0.5 to 0.98, 3 seeds: 48 points on 2 worker processes),
run twice in this one invocation: with the package as it was at ``--before``
(default ``1244552``, the last numpy golden model) and at ``--after``
(default ``HEAD``). For each, the seconds spent inside ``GoldenModel.run`` (every
call, in every worker process, summed) and the number of calls.

How: each side runs as a subprocess with ``PYTHONPATH`` naming, first, a
folder holding a ``sitecustomize.py`` that wraps ``GoldenModel.run`` to
append each call's seconds to a log, and second, the package's tree (a
``git worktree`` of the revision), so the same command runs the package
of that tree. Every point is computed (a fresh output folder each). Each process runs
in its tree (the current folder comes first on ``sys.path``). The
golden seconds include what the first call in a worker pays (the compiled
model's kernels loaded from the disk cache, which a one-sample run warms
first, as any earlier use on the machine would); the import of numba is
not in them. A shared
machine makes absolute times noisy; the two sides run back to back, and
their ratio is the figure.

Run: ``.venv/bin/python benchmarks/sweep_golden_share.py [--before REV]
[--json OUT]`` (about 25 minutes on 2 shared cores).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

from neurodeploy.reference import fixtures_dir

ROOT = Path(__file__).resolve().parent.parent
SWEEP = ["sweep", "models/digits_mlp.yaml", "--criteria", "magnitude,sf,random",
         "--sparsity", "0.5,0.8,0.9,0.95,0.98", "--seeds", "3"]
HOOK = '''
import os, time
from neurodeploy.simulate.golden import GoldenModel

_run = GoldenModel.run


def _timed(self, *args, **kwargs):
    start = time.perf_counter()
    try:
        return _run(self, *args, **kwargs)
    finally:
        with open(os.environ["GOLDEN_TIME_LOG"], "a") as log:
            log.write(f"{time.perf_counter() - start}\\n")


GoldenModel.run = _timed
'''


WARM = """
import numpy as np
from neurodeploy.netx import read_netx
from neurodeploy.simulate.golden import GoldenModel
from neurodeploy.simulate.stimulus import Stimulus
GoldenModel(read_netx({path!r})).run_samples(
    Stimulus(np.ones((1, 200, 4), dtype=np.uint8), None, 4))
"""


def worktree(revision: str, path: Path) -> Path:
    """A detached ``git worktree`` of ``revision`` at ``path``."""
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(path), revision], check=True)
    return path


def run_side(tree: Path, work: Path, name: str) -> dict[str, Any]:
    """Run the sweep with the package of ``tree``; its wall seconds and golden seconds."""
    hook = work / f"hook-{name}"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(HOOK)
    log = work / f"golden-{name}.log"
    log.touch()
    env = dict(os.environ, PYTHONPATH=f"{hook}{os.pathsep}{tree}", GOLDEN_TIME_LOG=str(log))
    out = work / f"sweep-{name}"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "neurodeploy.cli", *SWEEP, "--out", str(out)], cwd=tree, env=env,
                   check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    calls = [float(line) for line in log.read_text().split()]
    points = len(list(out.glob("points/*.json")))
    return {"tree": str(tree), "wall_s": wall, "golden_s": sum(calls), "golden_calls": len(calls),
            "points": points}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The digits sweep before and after, and its golden-model time "
                                     "(module doc).")
    parser.add_argument("--before", default="1244552", help="the baseline revision (default 1244552)")
    parser.add_argument("--after", default="HEAD", help="the revision measured against it (default HEAD)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        trees = {}
        try:
            for side, revision in (("before", args.before), ("after", args.after)):
                trees[side] = worktree(revision, work / side)
            warm = WARM.format(path=str(fixtures_dir() / "oxford" / "network.net"))
            subprocess.run([sys.executable, "-c", warm], cwd=trees["after"],
                           env=dict(os.environ, PYTHONPATH=str(trees["after"])), check=True)
            results = {"benchmark": "sweep_golden_share", "date": datetime.date.today().isoformat(),
                       "command": "neurodeploy " + " ".join(SWEEP), "before_revision": args.before,
                       "after_revision": args.after, **{side: run_side(tree, work, side)
                                                        for side, tree in trees.items()}}
        finally:
            for tree in trees.values():
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)
    for side in ("before", "after"):
        figures = results[side]
        print(f"{side}: {figures['points']} points in {figures['wall_s']:.0f} s wall; golden model "
              f"{figures['golden_s']:.2f} s over {figures['golden_calls']} calls")
    ratio = results["before"]["golden_s"] / results["after"]["golden_s"]
    results["golden_ratio"] = ratio
    results["wall_ratio"] = results["before"]["wall_s"] / results["after"]["wall_s"]
    print(f"golden model time before / after: {ratio:.2f}; wall before / after: {results['wall_ratio']:.2f}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
