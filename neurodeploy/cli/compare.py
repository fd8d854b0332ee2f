"""``neurodeploy compare A.net B.net``: two NetX networks on one input set; and
``compare --out DIR``, the pipeline's compare stage."""
from __future__ import annotations

import argparse
from pathlib import Path

from neurodeploy.cli.common import (INPUT_HELP, UsageError, input_arguments, input_keywords, limits, run_folder,
                                    warn, write_json)

# The options of ``compare A.net B.net`` that the compare stage (``--out DIR``) does not take.
NETWORK_OPTIONS = ("spikes", "events", "bias", "random_rate", "recipe", "steps", "samples",
                   "num_layers", "input_shape", "batch_size", "json", "max_memory", "sparse")


def add_parser(subparsers: argparse._SubParsersAction) -> list[argparse.ArgumentParser]:
    """Add ``compare``; returns its parser."""
    parser = subparsers.add_parser(
        "compare", help="compare two NetX networks, or run the compare stage of a run folder",
        description="With A.net B.net: run both in the golden model on the same input set and report "
        "output spike and class agreement, spikes and synaptic operations per layer, and the synops "
        "ratio B / A (layers with all-zero weight rows get a warning line on stderr). With --out DIR: the pipeline's compare stage (spike equivalence, accuracy and "
        "synaptic operations of DIR's networks; writes DIR/comparison.json).\n\n" + INPUT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("nets", type=Path, nargs="*", metavar="NET.net", help="two NetX networks, A and B")
    parser.add_argument("--out", type=Path, metavar="DIR", help="run folder (compare stage)")
    input_arguments(parser, recipe=True)
    parser.add_argument("--sparse", action="store_true", default=None,
                        help="the chip figures with dense layers on netx's Sparse synapses (no zero weight "
                        "stored: pruning saves cores); default Dense, netx's default")
    return [parser]


def run(args: argparse.Namespace) -> int:
    """Run ``compare A.net B.net`` and print its summary, or the compare stage of ``--out``; 0."""
    if args.nets:
        _compare_networks(args)
        return 0
    if args.out is None:
        raise UsageError("neurodeploy compare: give two networks (A.net B.net) or --out DIR")
    from neurodeploy.cli.run import run_stage

    out = run_folder(args)
    given = [f"--{name.replace('_', '-')}" for name in NETWORK_OPTIONS if getattr(args, name) is not None]
    if given:
        raise UsageError(f"neurodeploy compare --out DIR: {', '.join(given)} apply to A.net B.net only")
    return run_stage(args, out)


def _compare_networks(args: argparse.Namespace) -> None:
    """Run ``compare A.net B.net``; print its summary."""
    from neurodeploy.api import compare
    from neurodeploy.compare.networks import NetworkMismatchError
    from neurodeploy.report.chip import chip_rows

    if len(args.nets) != 2:
        raise UsageError(f"neurodeploy compare: give exactly two networks, got {len(args.nets)}")
    if args.out is not None:
        raise UsageError("neurodeploy compare: --out is for the compare stage, not for A.net B.net")
    try:
        networks = [("A.net", args.nets[0]), ("B.net", args.nets[1])]
        result = compare(*args.nets, recipe=args.recipe, **input_keywords(args, networks), num_layers=args.num_layers,
                         input_shape=args.input_shape, batch_size=args.batch_size, sparse=bool(args.sparse),
                         limits=limits(args), warn=warn)
    except NetworkMismatchError as err:
        raise UsageError(f"neurodeploy compare: {err}") from err
    write_json(args.json, result.to_dict())
    print(f"{result.samples} sample(s) x {result.steps} steps; A = {args.nets[0]}, B = {args.nets[1]}")
    for side, figures in (("A", result.a), ("B", result.b)):
        layers = ", ".join(f"{layer.spikes_per_sample:.1f}" for layer in figures.layers)
        cores = ", ".join(f"{chip} {count}" for chip, count in figures.cores.items())
        print(f"{side}: synops per sample {figures.synops_per_sample:.0f}; cores {cores}; spikes per sample by "
              f"layer [{layers}]")
    print(f"output spike agreement {result.output_agreement:.4f}, "
          f"identical samples {result.output_identical_samples:.4f}")
    if result.class_agreement is not None:
        print(f"class agreement {result.class_agreement:.4f}")
    if result.accuracy_a is not None:
        print(f"accuracy A {result.accuracy_a:.4f}, B {result.accuracy_b:.4f}")
    if result.synops_ratio is not None:
        print(f"synops ratio B / A: {result.synops_ratio:.4f}")
    for chip in result.a.hardware:
        rows = chip_rows(result.a.hardware[chip], result.b.hardware[chip])
        width = max(len(row[0]) for row in rows)
        storage = "Sparse" if args.sparse else "Dense"
        print(f"{chip} (A, B, B against A; dense layers on {storage} synapses):")
        print("\n".join(f"  {label:<{width}}  {a:>10}  {b:>10}  {change}".rstrip() for label, a, b, change in rows))
    for line in result.caveats:
        print(f"caveat: {line}")
