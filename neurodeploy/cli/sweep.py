"""``neurodeploy sweep RECIPE --out DIR``: prune by every criterion, for every objective, to
every sparsity with every seed, each point a Ray task, and summarize."""
from __future__ import annotations

import argparse

from neurodeploy.cli.common import (UsageError, comma_list, limit_arguments, limits, load_recipe_argument,
                                    check_out_files, out_argument, recipe_argument)
from neurodeploy.sweep.cluster import DEFAULT_RETRIES


def add_parser(subparsers: argparse._SubParsersAction) -> list[argparse.ArgumentParser]:
    """Add ``sweep``; returns its parser."""
    parser = subparsers.add_parser(
        "sweep", help="prune by every criterion, for every objective, to every sparsity with every seed, on Ray",
        description="For each seed, train RECIPE's dense network; for each criterion, objective, sparsity "
        "and seed, prune it as RECIPE's prune section says (rounds, rewinding, scope, excluded layers) with "
        "that criterion, objective (prune.objective) and final sparsity, export it and measure the exported "
        "network in the golden model on the whole test set: accuracy, synaptic operations and spikes per "
        "sample, and on each chip profile the cores, time per step (us) and static, dynamic and total energy "
        "per inference (uJ; empty where the profile cannot give it), from the same run. When prune.rounds "
        "K > 1 and every sparsity is a round of the schedule to the highest (1 - (1 - S)^(k/K)), one "
        "trajectory per criterion, objective and seed prunes round by round and each sparsity is read from "
        "its round (that point is what a lone run of k rounds gives), resumable round by round "
        "(docs/sweeps.md). Every training and "
        "point is a Ray task: on a local Ray started for the sweep (one CPU per worker), or on the "
        "cluster at --address / RAY_ADDRESS, whose nodes must see DIR at the same path (shared storage). "
        "A task that fails is retried (one line per retried attempt: point, attempt, reason); a point that "
        "fails every attempt is recorded in "
        "DIR/points/NAME.failed.json and the others finish (exit code 1). Writes DIR/sweep.csv and "
        "DIR/sweep.json (every row, and mean and standard deviation over seeds per criterion, objective "
        "and sparsity) and DIR/accuracy_vs_sparsity.png, DIR/accuracy_vs_synops.png, "
        "DIR/accuracy_vs_cores.png, DIR/accuracy_vs_energy.png (the last two on prune.profile, the best "
        "trade-offs, points no other point dominates in accuracy and cost, joined by a dashed line). Run "
        "again to resume: finished points whose settings are unchanged are not redone.",
    )
    recipe_argument(parser, device=True)
    parser.add_argument("--criteria", type=comma_list(str), default=["magnitude", "sf", "random"],
                        metavar="C,...", help="criteria (magnitude, sf, random; default all three)")
    parser.add_argument("--objectives", type=comma_list(str), metavar="O,...",
                        help="pruning objectives run side by side (synops, cores, time, energy; default: "
                        "RECIPE's prune.objective alone, its points named CRITERION-SPARSITY-sS); with any "
                        "other, a point's files are named CRITERION-OBJECTIVE-SPARSITY-sS")
    parser.add_argument("--sparsity", type=comma_list(float), default=[0.5, 0.8, 0.9, 0.95, 0.98],
                        metavar="S,...", help="final sparsities of the pruned layers, in (0, 1) "
                        "(default 0.5,0.8,0.9,0.95,0.98)")
    parser.add_argument("--seeds", type=int, default=3, metavar="N",
                        help="seeds recipe.seed .. recipe.seed + N - 1 (default 3)")
    parser.add_argument("--workers", type=int, metavar="W",
                        help="CPUs of the local Ray, one point each at a time (default: one per core); "
                        "not with --address")
    parser.add_argument("--address", metavar="ADDR",
                        help="join the Ray cluster at ADDR (e.g. HEAD:6379, as `ray start --head` prints) "
                        "instead of starting a local Ray; default: RAY_ADDRESS when set")
    parser.add_argument("--retries", type=int, default=DEFAULT_RETRIES, metavar="R",
                        help=f"retry a failed training or point up to R times (default {DEFAULT_RETRIES})")
    out_argument(parser)
    limit_arguments(parser, lava=False)
    return [parser]


def run(args: argparse.Namespace) -> int:
    """Run ``sweep``; print the summary row of every criterion, objective and sparsity, and
    every failed point; 0, or 1 when a point failed."""
    import json

    from neurodeploy.sweep.plots import PLOTS
    from neurodeploy.sweep.run import sweep

    check_out_files(args, ("sweep.csv", "sweep.json", *PLOTS), ("points", "dense"))
    recipe = load_recipe_argument(args)
    if args.seeds < 1 or (args.workers is not None and args.workers < 1):
        raise UsageError("neurodeploy sweep: --seeds and --workers must be at least 1")
    if args.retries < 0:
        raise UsageError("neurodeploy sweep: --retries must be 0 or more")
    result = sweep(recipe, args.criteria, args.sparsity, range(recipe.seed, recipe.seed + args.seeds),
                   args.out, args.workers, progress=print, limits=limits(args), address=args.address,
                   retries=args.retries, objectives=args.objectives)
    for entry in json.loads(result.path.read_text())["summary"]:
        print(_summary_line(entry, recipe.prune.profile))
    table = result.path.with_suffix(".csv")
    print(f"table: {f'{table}, ' if table.exists() else ''}{result.path}")
    if result.failed:
        print(f"{len(result.failed)} point(s) failed (rerun the same command to retry them):")
        for name, error in result.failed.items():
            print(f"  {name}: {error}")
        return 1
    return 0


def _summary_line(entry: dict, profile: str) -> str:
    """One summary entry: criterion, objective, sparsity, accuracy, synaptic operations and
    spikes per sample, and the cores and energy per inference on chip ``profile`` (total,
    else dynamic, else ``-``: the profile gives none)."""
    from neurodeploy.report.chip import chip_key

    cores, total, dynamic = (entry[f"{chip_key(figure, profile)}_mean"]
                             for figure in ("cores", "total_uj", "dynamic_uj"))
    energy = (f"energy {total:.4g} uJ" if total is not None else
              f"dynamic energy {dynamic:.4g} uJ" if dynamic is not None else "energy -")
    return (f"{entry['criterion']:>9} {entry['objective'] or '':>6} {entry['sparsity']:<5g} "
            f"accuracy {entry['accuracy_mean']:.4f} +- {entry['accuracy_std']:.4f}  "
            f"synops/sample {entry['synops_per_sample_mean']:.0f}  "
            f"spikes/sample {entry['spikes_per_sample_mean']:.0f}  "
            f"{profile}: cores {cores:g}, {energy}  ({entry['seeds']} seeds)")
