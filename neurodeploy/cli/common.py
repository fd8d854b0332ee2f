"""What several commands share: argument types, the recipe, run folder, limits and input
options, their checks, and writing JSON and warnings."""
from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, get_type_hints

from neurodeploy.fileio import NamedPath, check_distinct, check_output
from neurodeploy.limits import Limits

if TYPE_CHECKING:
    from neurodeploy.recipe import Recipe


class UsageError(Exception):
    """A bad argument or input file: reported as one line, exit code 2."""


def positive(kind: type) -> Callable[[str], Any]:
    """argparse type: a positive ``kind``."""
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text!r}")
        if not value > 0 or value != value:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text!r}")
        return value
    return parse


def comma_list(kind: type) -> Callable[[str], list]:
    """argparse type: ``a,b,c`` as a list of ``kind``."""
    def parse(text: str) -> list:
        try:
            values = [kind(part) for part in text.split(",")]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of {kind.__name__}, got {text!r}")
        return values
    return parse


def chw(text: str) -> tuple[int, int, int]:
    """``C,H,W`` as three positive integers (argparse type of ``--input-shape``)."""
    parts = text.split(",")
    if len(parts) != 3 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"expected C,H,W (three positive integers), got {text!r}")
    return tuple(int(p) for p in parts)


def recipe_argument(parser: argparse.ArgumentParser, device: bool = False) -> None:
    """The optional positional ``RECIPE``; ``device``: also ``--device`` (commands that train)."""
    parser.add_argument(
        "recipe", nargs="?", type=Path, default=None, metavar="RECIPE",
        help="model recipe (YAML); default: models/digits_mlp.yaml",
    )
    if device:
        parser.add_argument("--device", metavar="DEVICE",
                            help="where training, pruning and the pruning statistics run: cpu, cuda or cuda:N "
                            "(default: the recipe's train.device, cpu unless it says otherwise); export and "
                            "simulation always run on the CPU")


def load_recipe_argument(args: argparse.Namespace) -> "Recipe":
    """The recipe ``RECIPE`` names, with ``--device`` (when the command has it and it is
    given) as its ``train.device``. ``UsageError`` for a device that is not cpu, cuda or
    cuda:N; a CUDA device this machine lacks is refused by ``preflight.check_recipe``."""
    import dataclasses

    from neurodeploy.recipe import DEVICE_PATTERN, load_recipe

    recipe = load_recipe(args.recipe)
    device = getattr(args, "device", None)
    if device is None:
        return recipe
    if not DEVICE_PATTERN.fullmatch(device):
        raise UsageError(f"neurodeploy {args.command}: --device {device!r} is not cpu, cuda or cuda:N")
    return dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, device=device))


def check_out_files(args: argparse.Namespace, files: tuple[str, ...], folders: tuple[str, ...] = (),
                    inputs: tuple[NamedPath, ...] = ()) -> None:
    """``PathError`` when RECIPE (of a command that takes one) or another of ``inputs`` is
    one of the ``files`` the command writes in ``--out`` (or its lock file), or lies in
    one of the ``folders`` of ``--out`` it writes into (``check_distinct``)."""
    from neurodeploy.lock import LOCK_NAME
    from neurodeploy.recipe import DEFAULT_RECIPE

    recipe = (("RECIPE", args.recipe or DEFAULT_RECIPE),) if hasattr(args, "recipe") else ()
    check_distinct(recipe + inputs, [(f"--out's {name}", args.out / name) for name in (*files, LOCK_NAME)],
                   [(f"--out's {name}/", args.out / name) for name in folders])


def out_argument(parser: argparse.ArgumentParser) -> None:
    """The required ``--out DIR``."""
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="run folder")


def run_folder(args: argparse.Namespace) -> Path:
    """``--out``, which must be an existing folder."""
    if not args.out.is_dir():
        raise UsageError(f"neurodeploy {args.command}: run folder {args.out} does not exist")
    return args.out


def limit_arguments(parser: argparse.ArgumentParser, lava: bool) -> None:
    """``--max-NAME`` for each field of ``Limits`` (``lava``: also those only Lava runs
    need), with its help, metavar and default from the field: the limits checked before
    work starts."""
    types = get_type_hints(Limits)
    for item in fields(Limits):
        meta = item.metadata
        if meta.get("lava") and not lava:
            continue
        default = f": {meta['default']}" if "default" in meta else f" {item.default}"
        parser.add_argument(f"--max-{item.name.replace('_', '-')}", metavar=meta["metavar"],
                            type=positive(float if "unit" in meta else types[item.name]),
                            help=f"{meta['help']} (default{default})")


def limits(args: argparse.Namespace) -> Limits:
    """The ``Limits`` the ``--max-*`` options give (defaults for those not given or not taken)."""
    given: dict[str, Any] = {}
    for item in fields(Limits):
        value = getattr(args, f"max_{item.name}", None)
        if value is not None:
            given[item.name] = int(value * item.metadata["unit"]) if "unit" in item.metadata else value
    return Limits(**given)


INPUT_HELP = """\
input (one of): --spikes FILE.npy, integers [neurons, T] or [samples,
neurons, T] (neurons in Lava's order), or the first layer's Lava shape and T,
e.g. [W, H, C, T] (with or without a samples axis), as Lava's RingBuffer takes
it: 0/1 spikes, or any int32 values for a network whose layer 0 is an input
layer (fed into its neurons' a_in, e.g. a sigma-delta Delta); --events FILE.npy, rows of (x, channel, t in ms) binned into
1 ms steps as lava-dl's slayer.io.read_np_spikes(FILE).to_tensor() does;
--bias FILE.npy, an image [W, H, C] (or a stack [N, W, H, C]) for a network
fed through its input layer's bias; --random-rate R, Bernoulli spikes."""


def input_arguments(parser: argparse.ArgumentParser, recipe: bool) -> None:
    """The input options of ``verify`` (one required) and ``compare`` (optional, or ``--recipe``)."""
    group = parser.add_mutually_exclusive_group(required=not recipe)
    group.add_argument("--spikes", type=Path, metavar="FILE", help="input spikes (.npy)")
    group.add_argument("--events", type=Path, metavar="FILE", help="input events (.npy: x, channel, t ms)")
    group.add_argument("--bias", type=Path, metavar="FILE", help="input-layer bias image(s) (.npy)")
    group.add_argument("--random-rate", type=float, metavar="R", help="random input spikes with probability R")
    if recipe:
        group.add_argument("--recipe", type=Path, metavar="RECIPE",
                           help="the test set of RECIPE's dataset, encoded as the recipe says, with its labels")
    parser.add_argument("--steps", type=int, metavar="T",
                        help="steps per sample (needed for --bias and --random-rate; cuts --spikes, or repeats its steps "
                        "in order as Lava's io.source.RingBuffer does; sets --events' length)")
    parser.add_argument("--samples", type=int, metavar="N", help="use the first N samples (random: make N; default 1)")
    parser.add_argument("--seed", type=int, help="seed of --random-rate (default 0)")
    parser.add_argument("--num-layers", type=int, metavar="K",
                        help="use only the first K layer groups of each file, as netx's num_layers")
    parser.add_argument("--input-shape", type=chw, metavar="C,H,W",
                        help="input image shape of a network whose layer 0 is conv (NetX files do not "
                        "store it; inferred when that layer's stride is 1); input neurons are then in "
                        "Lava's (W, H, C) order")
    parser.add_argument("--batch-size", type=positive(int), metavar="B",
                        help="run B samples at a time, so that memory holds one batch's messages whatever the "
                        "number of samples (default: all at once); " + (
                            "the figures do not depend on it" if recipe else
                            "each batch is its own stream from zero state on both sides (Lava is built once "
                            "per batch), so a sigma-delta or resonate-and-fire neuron's state restarts there"))
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the result as JSON")
    limit_arguments(parser, lava=not recipe)


def reset_interval_argument(parser: argparse.ArgumentParser) -> None:
    """``--reset-interval R``: netx's reset interval, for ``verify`` and ``deploy``."""
    parser.add_argument("--reset-interval", type=positive(int), metavar="R",
                        help="netx's reset_interval: each layer's u and v are reset every R steps, from the "
                        "step the first sample reaches it (default: --steps, once per sample)")


def check_files(inputs: list[NamedPath], outputs: list[NamedPath]) -> None:
    """Before any work: each output given is writable (``check_output``) and none is an
    input or another output (``check_distinct``); ``PathError`` naming the paths."""
    for _, path in outputs:
        if path is not None:
            check_output(path)
    check_distinct(inputs, outputs)


def input_files(args: argparse.Namespace) -> list[NamedPath]:
    """The files the input options of ``args`` name (``--spikes``, ``--events``, ``--bias``,
    ``--recipe``), for ``check_files``."""
    return [(f"--{name}", getattr(args, name, None)) for name in ("spikes", "events", "bias", "recipe")]


def input_keywords(args: argparse.Namespace, networks: list[NamedPath]) -> dict[str, Any]:
    """The input options of ``args`` as the keyword arguments ``neurodeploy.api.verify`` and
    ``compare`` take (``InputOptions``' fields, which checks them); ``--json`` checked
    first (``check_files``) against ``networks`` and the input files."""
    from neurodeploy.simulate.input_options import InputOptions

    check_files(networks + input_files(args), [("--json", args.json)])
    return {item.name: getattr(args, item.name) for item in fields(InputOptions)}


def write_json(path: Path | None, result: dict) -> None:
    """Write ``result`` to ``path`` (``--json``), if given."""
    from neurodeploy.fileio import write_json as write

    if path is not None:
        write(path, result)


def warn(line: str) -> None:
    """Print ``line`` as a warning on stderr (a warning is never an error)."""
    print(f"neurodeploy: warning: {line}", file=sys.stderr)
