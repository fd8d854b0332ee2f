"""The ``neurodeploy`` command: one subcommand per stage, and ``run`` for all."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn, Sequence

DESCRIPTION = """\
Deploy spiking neural networks to Loihi-class chips: train a SLAYER SNN,
prune it, quantize and export it to NetX HDF5, run the dense and the pruned
network in Lava's fixed-point simulator, and compare spikes and synaptic
operations. Every stage reads and writes files in one run folder (--out)."""

STAGE_HELP = {
    "train": ("train the recipe's dense SLAYER network", "writes DIR/dense.pt"),
    "prune": ("prune DIR/dense.pt by global magnitude and fine-tune", "writes DIR/pruned.pt"),
    "export": ("quantize both networks and write NetX HDF5", "writes DIR/dense.net and DIR/pruned.net"),
    "simulate": (
        "run both networks in PyTorch and in Lava fixed_pt on test samples",
        "writes DIR/simulation.npz",
    ),
    "compare": (
        "spike equivalence, accuracy and synaptic operations of both networks",
        "writes DIR/comparison.json",
    ),
    "report": ("write the report and print its summary", "writes DIR/report.json"),
}


class UsageError(Exception):
    """A bad argument or input file: reported as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with a subparser per stage and ``run``."""
    parser = _Parser(prog="neurodeploy", description=DESCRIPTION,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    run = sub.add_parser(
        "run", help="all stages, train to report",
        description="Run every stage on RECIPE into DIR and print a summary. "
        "Writes DIR/report.json.",
    )
    _recipe_argument(run)
    _out_argument(run)
    train = sub.add_parser("train", help=STAGE_HELP["train"][0],
                           description=f"{STAGE_HELP['train'][0]}; {STAGE_HELP['train'][1]}.")
    _recipe_argument(train)
    _out_argument(train)
    for name in ("prune", "export", "simulate", "compare", "report"):
        short, writes = STAGE_HELP[name]
        stage = sub.add_parser(
            name, help=short,
            description=f"{short}; reads the earlier stages' files in DIR (the recipe is "
            f"the one DIR/dense.pt was trained with) and {writes}.",
        )
        _out_argument(stage)
    return parser


def _recipe_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "recipe", nargs="?", type=Path, default=None, metavar="RECIPE",
        help="model recipe (YAML); default: models/digits_mlp.yaml",
    )


def _out_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="run folder")


def dispatch(args: argparse.Namespace) -> None:
    """Run the command ``args`` names."""
    from neurodeploy import pipeline
    from neurodeploy.recipe import load_recipe

    out: Path = args.out
    if args.command == "run":
        recipe = load_recipe(args.recipe)
        report = pipeline.run(recipe, out)
        _print_summary(report)
        return
    if args.command == "train":
        recipe = load_recipe(args.recipe)
        pipeline.write_recipe(out, recipe)
        pipeline.timed(out, "train", lambda: pipeline.train_stage(recipe, out))
        return
    if not out.is_dir():
        raise UsageError(f"neurodeploy {args.command}: run folder {out} does not exist")
    stages = {
        "prune": pipeline.prune_stage,
        "export": pipeline.export_stage,
        "simulate": pipeline.simulate_stage,
        "compare": pipeline.compare_stage,
    }
    if args.command in stages:
        pipeline.timed(out, args.command, lambda: stages[args.command](out))
    else:
        _print_summary(pipeline.report_stage(out))


def _print_summary(report_path: Path) -> None:
    import json

    from neurodeploy.report.stage import summary

    print(summary(json.loads(report_path.read_text())))
    print(f"report: {report_path}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 2 bad input)."""
    try:
        args = build_parser().parse_args(argv)
    except UsageError as err:
        print(err, file=sys.stderr)
        return 2
    from neurodeploy.errors import USER_ERRORS

    try:
        dispatch(args)
    except UsageError as err:
        print(err, file=sys.stderr)
        return 2
    except USER_ERRORS as err:
        print(f"neurodeploy: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
