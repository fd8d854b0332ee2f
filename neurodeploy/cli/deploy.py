"""``neurodeploy deploy NET.net``: a kit that runs a NetX network on Loihi 2 (or Lava's CPU simulator)."""
from __future__ import annotations

import argparse
import json
import os
import shlex
from pathlib import Path

from neurodeploy.cli.common import INPUT_HELP, UsageError, input_arguments, input_keywords, limits, \
    reset_interval_argument, warn, write_json

KIT_HELP = """\
the kit (--out DIR, a new or empty folder, written whole or not at all):
network.net (a byte copy of NET.net), input.npy and/or bias.npy (the input
stream as Lava's source takes it), deploy.json (settings and sha256 of each
file), run_on_loihi2.py (needs numpy, lava-nc and lava-dl, nothing of
neurodeploy) and README.md. python DIR/run_on_loihi2.py runs it on Loihi 2
under Loihi2HwCfg with Intel's profilers where lava-loihi is installed, else in
Lava's CPU simulator (fixed_pt), and writes DIR/recording.npz: every recorded
layer's messages, the input and the chip's figures.

exit codes: 0 written; 2 bad input (one line naming the file or the option);
130 Ctrl-C, 143 SIGTERM, 129 SIGHUP (nothing is left half-written)."""


def add_parser(subparsers: argparse._SubParsersAction) -> list[argparse.ArgumentParser]:
    """Add ``deploy``; returns its parser."""
    parser = subparsers.add_parser(
        "deploy", help="write a kit that runs a NetX network on Loihi 2 and records it",
        description="Write a self-contained folder that runs NET.net on the input given, as one stream, on "
        "an Intel Loihi 2 system (or in Lava's CPU simulator) and records what each layer sent, for "
        "neurodeploy verify --reference to compare with the golden model.\n\n" + KIT_HELP + "\n\n" + INPUT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("net", type=Path, metavar="NET.net", help="NetX HDF5 network")
    input_arguments(parser, recipe=False)
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="the kit's folder (new or empty)")
    parser.add_argument("--sparse", action="store_true", help="Lava Sparse synapses for dense layers")
    parser.add_argument("--layers", choices=("all", "out"), default="all",
                        help="layers the kit records (default all)")
    reset_interval_argument(parser)
    return [parser]


def run(args: argparse.Namespace) -> int:
    """Write the kit; print what was written and the two commands to run next."""
    from neurodeploy.deploy.kit import SETTINGS_FILE, kit_for_file, write_kit
    from neurodeploy.simulate.input_options import InputOptions

    if args.batch_size is not None:
        raise UsageError("neurodeploy deploy: --batch-size does not apply: the kit runs every sample in one stream")
    options = InputOptions(**input_keywords(args, [("NET.net", args.net)]))
    if args.json is not None and _inside(args.json, args.out):
        raise UsageError(f"neurodeploy deploy: --json {args.json} is inside --out {args.out}, which must be new "
                         "or empty; write it elsewhere")
    network, stimulus = kit_for_file(args.net, options, args.num_layers, args.input_shape, limits(args), warn)
    layers = None if args.layers == "all" else [len(network.layers) - 1]
    kit = write_kit(network, stimulus, args.out, args.sparse, layers, args.reset_interval)
    settings = json.loads((kit / SETTINGS_FILE).read_text(encoding="utf-8"))
    write_json(args.json, {"kit": str(kit), **settings})
    files = sorted(path.name for path in kit.iterdir())
    print(f"{kit}: {', '.join(files)}")
    print(f"{args.net}: {settings['samples']} sample(s) x {settings['steps']} steps, {settings['columns']} columns, "
          f"{'Sparse' if settings['sparse'] else 'Dense'} synapses, layers {settings['recorded']} recorded")
    print("next, on a Loihi 2 system (after copying the folder there), or here in Lava's CPU simulator:")
    print(f"  python {shlex.quote(str(kit / 'run_on_loihi2.py'))}")
    print("then, back here, compare the recording with the golden model:")
    print("  " + shlex.join(["neurodeploy", "verify", str(args.net), *_input_flags(args),
                             "--reference", str(kit / "recording.npz")]))
    return 0


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` resolves to ``folder`` or somewhere under it."""
    real, top = os.path.realpath(path), os.path.realpath(folder)
    return os.path.commonpath([real, top]) == top


def _input_flags(args: argparse.Namespace) -> list[str]:
    """The input options of ``args`` as given, for the ``verify`` command to run next."""
    flags = []
    for name in ("spikes", "events", "bias", "random_rate", "steps", "samples", "seed", "num_layers"):
        value = getattr(args, name)
        if value is not None:
            flags += [f"--{name.replace('_', '-')}", str(value)]
    if args.input_shape is not None:
        flags += ["--input-shape", ",".join(map(str, args.input_shape))]
    if args.reset_interval is not None:
        flags += ["--reset-interval", str(args.reset_interval)]
    if args.sparse:
        flags.append("--sparse")
    return flags
