"""``neurodeploy inspect NET.net``: layers, neuron parameters, weights, sparsity, chip cores
and warnings of a NetX network."""
from __future__ import annotations

import argparse
from pathlib import Path

from neurodeploy.cli.common import check_files, chw, limit_arguments, limits, write_json


def add_parser(subparsers: argparse._SubParsersAction) -> list[argparse.ArgumentParser]:
    """Add ``inspect``; returns its parser."""
    parser = subparsers.add_parser(
        "inspect", help="layers, neuron parameters, weights, sparsity, chip cores and warnings of a NetX network",
        description="Print a NetX network's layers and shapes, neuron parameters decoded to SLAYER floats "
        "(threshold = vThMant/64, decays = iDecay/4096, vDecay/4096), weight range, bits and sparsity per "
        "layer, synaptic memory and the cores each chip profile in hardware/ needs, and warnings: weights "
        "netx would clip, keys netx ignores, all-zero layers or neurons, thresholds no input can reach. "
        "See docs/hardware.md.",
    )
    parser.add_argument("net", type=Path, metavar="NET.net", help="NetX HDF5 network")
    parser.add_argument("--input-shape", type=chw, metavar="C,H,W",
                        help="input image shape of a network whose layer 0 is conv with stride > 1")
    parser.add_argument("--num-layers", type=int, metavar="K", help="use only the first K layer groups")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the result as JSON")
    limit_arguments(parser, lava=False)
    return [parser]


def run(args: argparse.Namespace) -> int:
    """Run ``inspect``; print its summary; 0 (warnings do not fail it)."""
    from neurodeploy.api import inspect
    from neurodeploy.report.inspect import summary_lines

    check_files([("NET.net", args.net)], [("--json", args.json)])
    result = inspect(args.net, args.input_shape, args.num_layers, limits(args))
    write_json(args.json, result.to_dict())
    print("\n".join(summary_lines(result)))
    return 0
