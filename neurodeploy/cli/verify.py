"""``neurodeploy verify NET.net``: a NetX network's golden model against Lava fixed_pt."""
from __future__ import annotations

import argparse
from pathlib import Path

from neurodeploy.cli.common import (INPUT_HELP, input_arguments, input_keywords, limits, reset_interval_argument,
                                    warn, write_json)

EXIT_HELP = """\
exit codes: 0 equivalent, and every compared layer sent messages; 3 equivalent,
but some layer sent none on either side, so nothing was compared there (the
JSON's silent_layers names them); 1 not equivalent; 2 bad input, or a
reference of another network, input or length (one line
naming the file, layer and key, or the option); 130 Ctrl-C, 143 SIGTERM,
129 SIGHUP."""


def add_parser(subparsers: argparse._SubParsersAction) -> list[argparse.ArgumentParser]:
    """Add ``verify``; returns its parser."""
    parser = subparsers.add_parser(
        "verify", help="check a NetX network's golden model against Lava fixed_pt",
        description="Run the golden model and Lava fixed_pt on the same input stream and compare "
        "every message of every layer at every step (spikes, and the values of graded messages). What "
        "netx does to the file (clipped or ignored values) and layers with all-zero weight rows (neurons "
        "pruning left without input) get a warning line on stderr. With --reference, the golden model is "
        "compared with recorded messages instead of Lava: a recording that `neurodeploy deploy`'s script wrote "
        "on Loihi 2 or in Lava (column for column; the chip's own figures, when it holds them, are printed beside "
        "the model's), or a folder of per-layer arrays laid out as lava-dl's ground truth (gts/pilotnet_lif/*.npy: "
        "output, input, conv-K, fc-K, layerN, actN, each in Lava's (W, H, C, T) or SLAYER's (1, C, H, W, T) order; "
        "each file's columns are aligned to the stream by the shift that fits it best, which is printed; state "
        "files and the input given are listed as not compared).\n\n" + EXIT_HELP + "\n\n" + INPUT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("net", type=Path, metavar="NET.net", help="NetX HDF5 network")
    input_arguments(parser, recipe=False)
    parser.add_argument("--sparse", action="store_true", help="Lava Sparse synapses for dense layers")
    parser.add_argument("--layers", choices=("all", "out"), default="all",
                        help="layers Lava records and compares (default all)")
    reset_interval_argument(parser)
    parser.add_argument("--reference", type=Path, metavar="FILE|DIR",
                        help="compare with recorded messages instead of running Lava: a deploy recording (.npz) "
                        "or a folder of per-layer .npy arrays (lava-dl's gts layout)")
    return [parser]


def run(args: argparse.Namespace) -> int:
    """Run ``verify``; print the per-layer table; 0 when equivalent (3 when some compared
    layer was silent on both sides), else 1."""
    from neurodeploy.api import verify

    result = verify(args.net, **input_keywords(args, [("NET.net", args.net), ("--reference", args.reference)]),
                    num_layers=args.num_layers, input_shape=args.input_shape, sparse=args.sparse, layers=args.layers,
                    batch_size=args.batch_size, reset_interval=args.reset_interval, reference=args.reference,
                    limits=limits(args), warn=warn)
    write_json(args.json, result.to_dict())
    batches = f" in {result.batches} streams of up to {result.batch_size}" if result.batches > 1 else ""
    print(f"{args.net}: {result.samples} sample(s) x {result.steps} steps{batches}, "
          f"{result.columns} columns, {'Sparse' if result.sparse_synapses else 'Dense'} synapses, "
          f"against {result.against}")
    other = "lava" if args.reference is None else "reference"
    print(f"{'layer':>5}  {'type':<9} {'neurons':>7}  {'golden':>9}  {other:>9}  {'mismatch':>8}  {'synops':>11}  "
          + ("neuron" if args.reference is None else "reference (columns compared, shift)"))
    for layer in result.layers:
        lava = "-" if layer.spikes_lava is None else layer.spikes_lava
        mismatch = "-" if layer.mismatches is None else layer.mismatches
        tail = layer.neuron if args.reference is None else \
            "not in the reference" if layer.reference is None else \
            f"{layer.reference} ({layer.columns_compared} columns, shift {layer.lag:+d})"
        print(f"{layer.group:>5}  {layer.type:<9} {layer.neurons:>7}  {layer.spikes_golden:>9}  "
              f"{lava:>9}  {mismatch:>8}  {layer.synops:>11}  {tail}")
    print(f"golden, {other}: nonzero messages (spikes, or graded messages, whose values are compared too)"
          + ("" if args.reference is None else "; shift d: the reference's column t is stream column t + d"))
    for line in result.unused_references:
        print(f"not compared: {line}")
    _print_chip(result)
    print(f"time: golden {result.timing.golden_s:.2f} s" +
          (f", Lava {result.timing.lava_s:.2f} s" if args.reference is None else ""))
    first = result.first_divergence
    if first is None:
        print(f"EQUIVALENT: {result.compared_entries} message entries compared, none differ")
        if result.silent_layers:
            print(f"but layer(s) {', '.join(map(str, result.silent_layers))} had no spike on either side: "
                  "nothing was compared there (exit code 3)")
            return 3
        return 0
    where = f" of stream {first.batch + 1}" if result.batches > 1 else ""
    side = "Lava" if args.reference is None else "reference"
    state = (f"state golden {_state(first.state_golden)} / Lava {_state(first.state_lava)} "
             f"(step before: {_state(first.state_before_golden)} / {_state(first.state_before_lava)})"
             if args.reference is None else
             f"golden state {_state(first.state_golden)} (step before: {_state(first.state_before_golden)})")
    print(f"NOT EQUIVALENT: first divergence at layer/{first.group} neuron {first.neuron} "
          f"{first.neuron_index} column {first.column}{where} (sample {first.sample} step {first.step}): "
          f"message golden {first.message_golden} / {side} {first.message_lava}; {state}")
    return 1


def _print_chip(result) -> None:
    """The chip's figures in a recording beside the model's predictions, if it has them."""
    if not result.chip:
        return
    print(f"{'the chip (recording) and the model (loihi2 profile)':<44} {'chip':>12} {'model':>12} {'model/chip':>10}")
    for row in result.chip:
        name = f"{row.name}, {row.unit}" if row.unit else row.name
        ratio = "-" if row.ratio is None else f"{row.ratio:.3f}"
        print(f"{name:<44} {row.chip:>12.6g} {row.model:>12.6g} {ratio:>10}")


def _state(values: dict[str, int]) -> str:
    """A neuron's state variables as ``name value, ...``."""
    return ", ".join(f"{name} {value}" for name, value in values.items())
