"""``neurodeploy analyze --out DIR``: the paper's crisis-probability bound against measured
spike flips, per layer."""
from __future__ import annotations

import argparse

from neurodeploy.cli.common import out_argument, run_folder


def add_parser(subparsers: argparse._SubParsersAction) -> list[argparse.ArgumentParser]:
    """Add ``analyze``; returns its parser."""
    parser = subparsers.add_parser(
        "analyze", help="the paper's crisis-probability bound against measured spike flips, per layer",
        description="For the perturbation pruning (dense weights against the same weights times the "
        "pruned masks, no retraining) or quantization (float against 8-bit weights) causes in DIR's "
        "network: per layer, the membrane potential density at the threshold, the crisis probability "
        "and the Theorem 3.5 bound, against the measured rate of spike flips. Writes "
        "DIR/analysis_<perturbation>.json, .csv and .png; see docs/analysis.md.",
    )
    out_argument(parser)
    parser.add_argument("--perturbation", choices=("prune", "quantize"), default="prune",
                        help="what perturbs the weights (default prune)")
    parser.add_argument("--samples", type=int, metavar="N",
                        help="use the first N training and test samples (default all)")
    return [parser]


def run(args: argparse.Namespace) -> int:
    """Run ``analyze`` on the run folder; print its per-layer summary; 0."""
    from neurodeploy.analyze import analyze_run, summary_lines
    from neurodeploy.analyze.stage import analysis_paths
    from neurodeploy.fileio import check_distinct
    from neurodeploy.pipeline import RECIPE_FILE, RECORDS_FILE
    from neurodeploy.variants import CHECKPOINTS

    out = run_folder(args)
    check_distinct([(f"--out's {name}", out / name) for name in (RECIPE_FILE, RECORDS_FILE, *CHECKPOINTS)],
                   [(f"--out's {path.name}", path) for path in analysis_paths(out, args.perturbation)])
    print("\n".join(summary_lines(analyze_run(out, args.perturbation, args.samples))))
    return 0
