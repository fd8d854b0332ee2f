"""``neurodeploy inspect NET.net``: layers, neuron parameters, weights, sparsity, chip cores
and warnings of a NetX network."""
from __future__ import annotations

import argparse
from pathlib import Path

from neurodeploy.cli.common import UsageError, chw, write_json
from neurodeploy.fileio import check_output


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
    return [parser]


def run(args: argparse.Namespace) -> int:
    """Run ``inspect``; print its summary; 0 (warnings do not fail it)."""
    from neurodeploy.netx.probe import probe_hdf5
    from neurodeploy.netx.registry import layer_kind
    from neurodeploy.report.inspect import inspect_network, summary_lines

    if args.num_layers is not None and args.num_layers < 1:
        raise UsageError(f"neurodeploy inspect: --num-layers must be at least 1, got {args.num_layers}")
    if args.json is not None:
        check_output(args.json)
    probe_hdf5(args.net)
    result = inspect_network(args.net, args.input_shape, args.num_layers)
    first = result["layers"][0]["type"]
    if args.input_shape is not None and not layer_kind(first).needs_input_shape:
        raise UsageError(f"{args.net}: --input-shape is only for a network whose layer 0 is conv "
                         f"(layer 0 here is {first}, whose input the file gives)")
    write_json(args.json, result)
    print("\n".join(summary_lines(result)))
    return 0
