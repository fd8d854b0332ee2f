"""``neurodeploy run`` (every stage) and one command per stage: train, prune, export,
simulate, report (the compare stage is ``compare --out``, in ``cli/compare.py``)."""
from __future__ import annotations

import argparse
from pathlib import Path

from neurodeploy.export.formats import FORMATS
from neurodeploy.stages import BY_NAME
from neurodeploy.cli.common import (UsageError, check_out_files, chw, limit_arguments, limits, load_recipe_argument,
                                    out_argument, recipe_argument, run_folder)

STAGE_COMMANDS = ("train", "prune", "export", "simulate", "report")


def add_parser(subparsers: argparse._SubParsersAction) -> list[argparse.ArgumentParser]:
    """Add ``run`` and a command per stage of ``STAGE_COMMANDS``; returns their parsers."""
    run_parser = subparsers.add_parser(
        "run", help="all stages, train to report",
        description="Run every stage on RECIPE into DIR and print a summary. "
        "Writes DIR/report.json and DIR/report.html. Resumes: a stage is skipped when DIR/stages.json "
        "records it with the same recipe settings and the files it read and wrote are unchanged "
        "(content digests); a changed setting or file reruns the stages that depend on it. "
        "The recipe is checked (layer geometry, pruning, memory and Lava processes) before anything runs.",
    )
    recipe_argument(run_parser, device=True)
    out_argument(run_parser)
    run_parser.add_argument("--restart", action="store_true", help="run every stage, even those up to date")
    limit_arguments(run_parser, lava=True)
    parsers = [run_parser]
    for name in STAGE_COMMANDS:
        stage = BY_NAME[name]
        writes = " and ".join(f"DIR/{output}" for output in stage.outputs)
        reads = ("makes RECIPE the folder's recipe (DIR/recipe.json)" if name == "train" else
                 "reads DIR/recipe.json and the earlier stages' files, which must be up to date with it,")
        parser = subparsers.add_parser(name, help=stage.summary,
                                       description=f"{stage.summary}; {reads} and writes {writes}.")
        if name == "train":
            recipe_argument(parser, device=True)
        if name == "export":
            parser.add_argument("net", nargs="?", type=Path, metavar="NET.net",
                                help="convert this NetX file (any netx loads, ours or not) to --format at "
                                "--out FILE instead of exporting a run folder")
            parser.add_argument("--out", type=Path, required=True, metavar="DIR|FILE",
                                help="the run folder; with NET.net, the file to write")
            parser.add_argument("--input-shape", type=chw, metavar="C,H,W",
                                help="with NET.net: the input image shape of a network whose layer 0 is a "
                                "conv with stride > 1")
        else:
            out_argument(parser)
        if name in ("train", "simulate", "export"):  # export: of NET.net, the memory its datasets and layers take
            limit_arguments(parser, lava=name == "simulate")
        if name == "export":
            parser.add_argument("--format", choices=FORMATS, default="netx",
                                help="also convert both NetX files to this format: DIR/dense.F and "
                                "DIR/pruned.F (default netx: the NetX files only)")
        if name == "report":
            parser.add_argument("--sweep", type=Path, metavar="SWEEP_DIR",
                                help="a sweep folder (neurodeploy sweep --out) whose accuracy curves "
                                "the HTML report shows")
        parsers.append(parser)
    return parsers


def run(args: argparse.Namespace) -> int:
    """Run every stage (``run``, then print the summary) or the stage ``args.command``
    names; 0."""
    if args.command != "export" or args.net is None:
        check_folder_files(args)
    if args.command == "run":
        from neurodeploy.api import run as run_recipe

        result = run_recipe(load_recipe_argument(args), args.out, restart=args.restart, limits=limits(args),
                            progress=print)
        print_summary(result.report)
        return 0
    if args.command == "train":
        from neurodeploy import pipeline

        pipeline.run_stage("train", args.out, load_recipe_argument(args), limits(args))
        return 0
    if args.command == "export":
        return export(args)
    return run_stage(args, run_folder(args))


def check_folder_files(args: argparse.Namespace) -> None:
    """``PathError`` when a file the command reads from outside the run folder (RECIPE,
    ``--sweep``'s sweep.json) is one its stages (every stage for ``run``) write in ``--out``."""
    from neurodeploy import pipeline

    stages = pipeline.STAGES if args.command == "run" else (pipeline.BY_NAME[args.command],)
    sweep = getattr(args, "sweep", None)
    sweep_json = None if sweep is None else sweep / "sweep.json"
    check_out_files(args, pipeline.folder_files(stages), inputs=(("--sweep's sweep.json", sweep_json),))


def export(args: argparse.Namespace) -> int:
    """``export --out DIR [--format F]`` (the export stage, then DIR's networks converted to
    F) or ``export NET.net --format F --out FILE`` (a NetX file converted); print each
    converted file; 0."""
    from neurodeploy.api import export as export_to

    source, out = (args.net, args.out) if args.net is not None else (run_folder(args), None)
    for converted in export_to(source, args.format, out, args.input_shape, limits(args)).converted:
        print(f"wrote {converted}")
    return 0


def run_stage(args: argparse.Namespace, out: Path) -> int:
    """Run the stage ``args.command`` names in the run folder ``out``; ``report`` prints
    the summary; 0."""
    from neurodeploy import pipeline

    sweep_dir = getattr(args, "sweep", None)
    if sweep_dir is not None and not (sweep_dir / "sweep.json").is_file():
        raise UsageError(f"neurodeploy report: {sweep_dir / 'sweep.json'} does not exist (run neurodeploy sweep)")
    path = pipeline.run_stage(args.command, out, limits=limits(args), sweep_dir=sweep_dir)
    if args.command == "report":
        print_summary(path)
    return 0


def print_summary(report_path: Path) -> None:
    """Print the summary of the report at ``report_path`` and where it and its HTML are."""
    import json

    from neurodeploy.report.stage import summary

    print(summary(json.loads(report_path.read_text())))
    print(f"report: {report_path} and {report_path.with_suffix('.html')}")
