"""``neurodeploy verify NET.net``: a NetX network's golden model against Lava fixed_pt."""
from __future__ import annotations

import argparse
from pathlib import Path

from neurodeploy.cli.common import INPUT_HELP, input_arguments, input_keywords, limits, warn, write_json

EXIT_HELP = """\
exit codes: 0 equivalent, and every compared layer sent messages; 3 equivalent,
but some layer sent none on either side, so nothing was compared there (the
JSON's silent_layers names them); 1 not equivalent; 2 bad input (one line
naming the file, layer and key, or the option); 130 Ctrl-C, 143 SIGTERM,
129 SIGHUP."""


def add_parser(subparsers: argparse._SubParsersAction) -> list[argparse.ArgumentParser]:
    """Add ``verify``; returns its parser."""
    parser = subparsers.add_parser(
        "verify", help="check a NetX network's golden model against Lava fixed_pt",
        description="Run the golden model and Lava fixed_pt on the same input stream and compare "
        "every message of every layer at every step (spikes, and the values of graded messages). What "
        "netx does to the file (clipped or ignored values) and layers with all-zero weight rows (neurons "
        "pruning left without input) get a warning line on stderr.\n\n" + EXIT_HELP + "\n\n" + INPUT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("net", type=Path, metavar="NET.net", help="NetX HDF5 network")
    input_arguments(parser, recipe=False)
    parser.add_argument("--sparse", action="store_true", help="Lava Sparse synapses for dense layers")
    parser.add_argument("--layers", choices=("all", "out"), default="all",
                        help="layers Lava records and compares (default all)")
    return [parser]


def run(args: argparse.Namespace) -> int:
    """Run ``verify``; print the per-layer table; 0 when equivalent (3 when some compared
    layer was silent on both sides), else 1."""
    from neurodeploy.api import verify

    result = verify(args.net, **input_keywords(args, [("NET.net", args.net)]), num_layers=args.num_layers,
                    input_shape=args.input_shape, sparse=args.sparse, layers=args.layers,
                    batch_size=args.batch_size, limits=limits(args), warn=warn)
    write_json(args.json, result.to_dict())
    batches = f" in {result.batches} streams of up to {result.batch_size}" if result.batches > 1 else ""
    print(f"{args.net}: {result.samples} sample(s) x {result.steps} steps{batches}, "
          f"{result.columns} columns, {'Sparse' if result.sparse_synapses else 'Dense'} synapses")
    print(f"{'layer':>5}  {'type':<9} {'neurons':>7}  {'golden':>9}  {'lava':>9}  {'mismatch':>8}  {'synops':>11}  "
          "neuron")
    for layer in result.layers:
        lava = "-" if layer.spikes_lava is None else layer.spikes_lava
        mismatch = "-" if layer.mismatches is None else layer.mismatches
        print(f"{layer.group:>5}  {layer.type:<9} {layer.neurons:>7}  {layer.spikes_golden:>9}  "
              f"{lava:>9}  {mismatch:>8}  {layer.synops:>11}  {layer.neuron}")
    print("golden, lava: nonzero messages (spikes, or graded messages, whose values are compared too)")
    print(f"time: golden {result.timing.golden_s:.2f} s, Lava {result.timing.lava_s:.2f} s")
    first = result.first_divergence
    if first is None:
        print(f"EQUIVALENT: {result.compared_entries} message entries compared, none differ")
        if result.silent_layers:
            print(f"but layer(s) {', '.join(map(str, result.silent_layers))} had no spike on either side: "
                  "nothing was compared there (exit code 3)")
            return 3
        return 0
    where = f" of stream {first.batch + 1}" if result.batches > 1 else ""
    print(f"NOT EQUIVALENT: first divergence at layer/{first.group} neuron {first.neuron} "
          f"{first.neuron_index} column {first.column}{where} (sample {first.sample} step {first.step}): "
          f"message golden {first.message_golden} / Lava {first.message_lava}; "
          f"state golden {_state(first.state_golden)} / Lava {_state(first.state_lava)} "
          f"(step before: {_state(first.state_before_golden)} / {_state(first.state_before_lava)})")
    return 1


def _state(values: dict[str, int]) -> str:
    """A neuron's state variables as ``name value, ...``."""
    return ", ".join(f"{name} {value}" for name, value in values.items())
