"""``neurodeploy sweep RECIPE --out DIR``: prune by every criterion to every sparsity with
every seed, in parallel, and summarize."""
from __future__ import annotations

import argparse

from neurodeploy.cli.common import UsageError, comma_list, limit_arguments, limits, out_argument, recipe_argument


def add_parser(subparsers: argparse._SubParsersAction) -> list[argparse.ArgumentParser]:
    """Add ``sweep``; returns its parser."""
    parser = subparsers.add_parser(
        "sweep", help="prune by every criterion to every sparsity with every seed, in parallel",
        description="For each seed, train RECIPE's dense network; for each criterion, sparsity and seed, "
        "prune it as RECIPE's prune section says (rounds, rewinding, scope, excluded layers) with that "
        "criterion and final sparsity, export it and measure the exported network in the golden model "
        "on the whole test set: accuracy, synaptic operations and spikes per sample. Writes "
        "DIR/sweep.csv and DIR/sweep.json (every row, and mean and standard deviation over seeds) and "
        "DIR/accuracy_vs_sparsity.png, DIR/accuracy_vs_synops.png. Run again to resume: finished "
        "points whose settings are unchanged are not redone.",
    )
    recipe_argument(parser)
    parser.add_argument("--criteria", type=comma_list(str), default=["magnitude", "sf", "random"],
                        metavar="C,...", help="criteria (magnitude, sf, random; default all three)")
    parser.add_argument("--sparsity", type=comma_list(float), default=[0.5, 0.8, 0.9, 0.95, 0.98],
                        metavar="S,...", help="final sparsities of the pruned layers, in (0, 1) "
                        "(default 0.5,0.8,0.9,0.95,0.98)")
    parser.add_argument("--seeds", type=int, default=3, metavar="N",
                        help="seeds recipe.seed .. recipe.seed + N - 1 (default 3)")
    parser.add_argument("--workers", type=int, metavar="W", help="parallel processes (default: one per CPU)")
    out_argument(parser)
    limit_arguments(parser, lava=False)
    return [parser]


def run(args: argparse.Namespace) -> int:
    """Run ``sweep``; print the summary row of every criterion and sparsity; 0."""
    import json

    from neurodeploy.recipe import load_recipe
    from neurodeploy.sweep.run import sweep

    recipe = load_recipe(args.recipe)
    if args.seeds < 1 or (args.workers is not None and args.workers < 1):
        raise UsageError("neurodeploy sweep: --seeds and --workers must be at least 1")
    path = sweep(recipe, args.criteria, args.sparsity, range(recipe.seed, recipe.seed + args.seeds),
                 args.out, args.workers, progress=print, limits=limits(args))
    for entry in json.loads(path.read_text())["summary"]:
        print(f"{entry['criterion']:>9} {entry['sparsity']:<5g} accuracy {entry['accuracy_mean']:.4f} "
              f"+- {entry['accuracy_std']:.4f}  synops/sample {entry['synops_per_sample_mean']:.0f}  "
              f"spikes/sample {entry['spikes_per_sample_mean']:.0f}  ({entry['seeds']} seeds)")
    print(f"table: {path.with_suffix('.csv')}, {path}")
    return 0
