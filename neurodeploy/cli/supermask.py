"""``neurodeploy supermask RECIPE --out DIR``: edge-popup, untrained subnetworks of a
random network, accuracy against the kept fraction k."""
from __future__ import annotations

import argparse

from neurodeploy.cli.common import (UsageError, check_out_files, comma_list, limits, load_recipe_argument,
                                    out_argument, recipe_argument)


def add_parser(subparsers: argparse._SubParsersAction) -> list[argparse.ArgumentParser]:
    """Add ``supermask``; returns its parser."""
    parser = subparsers.add_parser(
        "supermask", help="edge-popup: untrained subnetworks of a random network, accuracy against k",
        description="For every kept fraction k and seed: RECIPE's network with signed-constant random "
        "weights that never train, and a score per weight trained as the recipe's supermask section "
        "says; the top k of the scores of every layer are kept in the forward pass, with straight-through "
        "score gradients (Eq. 11). The mask is then written into the weights, the network evaluated, "
        "saved and exported. Writes DIR/supermask.csv, DIR/supermask.json and DIR/supermask/.",
    )
    recipe_argument(parser, device=True)
    parser.add_argument("--k", type=comma_list(float), default=[0.1, 0.3, 0.5, 0.7, 0.9], metavar="K,...",
                        help="fractions of weights kept per layer, in (0, 1] (default 0.1,0.3,0.5,0.7,0.9)")
    parser.add_argument("--seeds", type=int, default=1, metavar="N",
                        help="seeds recipe.seed .. recipe.seed + N - 1 (default 1)")
    out_argument(parser)
    return [parser]


def run(args: argparse.Namespace) -> int:
    """Run ``supermask``; print test accuracy per k and seed; 0."""
    import json

    from neurodeploy.preflight import check_recipe
    from neurodeploy.sweep.supermask import supermask_search

    check_out_files(args, ("supermask.csv", "supermask.json"), ("supermask",))
    recipe = load_recipe_argument(args)
    if args.seeds < 1:
        raise UsageError("neurodeploy supermask: --seeds must be at least 1")
    bad = [k for k in args.k if not 0.0 < k <= 1.0]
    if bad:
        raise UsageError(f"neurodeploy supermask: --k {bad[0]} is outside (0, 1]")
    check_recipe(recipe, limits(args), lava=False)
    path = supermask_search(recipe, args.k, args.out, seeds=range(recipe.seed, recipe.seed + args.seeds))
    for row in json.loads(path.read_text())["rows"]:
        print(f"k {row['k']:<4g} seed {row['seed']}: test accuracy {row['test_accuracy']:.4f} "
              f"(exported, golden model {row['golden_test_accuracy']:.4f}), train {row['train_accuracy']:.4f}")
    print(f"table: {path.with_suffix('.csv')}, {path}")
    return 0
