"""The ``neurodeploy`` command: one subcommand per stage, and ``run`` for all."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, NoReturn, Sequence

from neurodeploy.fileio import check_output

if TYPE_CHECKING:
    from neurodeploy.limits import Limits
    from neurodeploy.netx import Network
    from neurodeploy.simulate.stimulus import Stimulus

DESCRIPTION = """\
Deploy spiking neural networks to Loihi-class chips: train a SLAYER SNN,
prune it, quantize and export it to NetX HDF5, run the dense and the pruned
network in Lava's fixed-point simulator, and compare spikes and synaptic
operations. Every stage reads and writes files in one run folder (--out)."""

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
    from neurodeploy.pipeline import BY_NAME

    run = sub.add_parser(
        "run", help="all stages, train to report",
        description="Run every stage on RECIPE into DIR and print a summary. "
        "Writes DIR/report.json and DIR/report.html. Resumes: a stage is skipped when DIR/stages.json "
        "records it with the same recipe settings and the files it read and wrote are unchanged "
        "(content digests); a changed setting or file reruns the stages that depend on it. "
        "The recipe is checked (layer geometry, pruning, memory and Lava processes) before anything runs.",
    )
    _recipe_argument(run)
    _out_argument(run)
    run.add_argument("--restart", action="store_true", help="run every stage, even those up to date")
    _limit_arguments(run, lava=True)
    for name in ("train", "prune", "export", "simulate", "report"):
        stage = BY_NAME[name]
        writes = " and ".join(f"DIR/{output}" for output in stage.outputs)
        reads = ("makes RECIPE the folder's recipe (DIR/recipe.json)" if name == "train" else
                 "reads DIR/recipe.json and the earlier stages' files, which must be up to date with it,")
        stage_parser = sub.add_parser(name, help=stage.summary, description=f"{stage.summary}; {reads} and writes {writes}.")
        if name == "train":
            _recipe_argument(stage_parser)
        _out_argument(stage_parser)
        if name in ("train", "simulate"):
            _limit_arguments(stage_parser, lava=name == "simulate")
        if name == "export":
            from neurodeploy.export.formats import CONVERTERS

            stage_parser.add_argument("--format", choices=("netx", *CONVERTERS), default="netx",
                               help="also convert both NetX files to this format: DIR/dense.F and "
                               "DIR/pruned.F (default netx: the NetX files only)")
        if name == "report":
            stage_parser.add_argument("--sweep", type=Path, metavar="SWEEP_DIR",
                               help="a sweep folder (neurodeploy sweep --out) whose accuracy curves "
                               "the HTML report shows")
    _add_verify(sub)
    _add_inspect(sub)
    _add_compare(sub)
    _add_analyze(sub)
    _add_sweep(sub)
    _add_supermask(sub)
    return parser


INPUT_HELP = """\
input (one of): --spikes FILE.npy, integers [neurons, T] or [samples,
neurons, T] (neurons in Lava's order), or the first layer's Lava shape and T,
e.g. [W, H, C, T] (with or without a samples axis), as Lava's RingBuffer takes
it: 0/1 spikes, or any int32 values for a network whose layer 0 is an input
layer (fed into its neurons' a_in, e.g. a sigma-delta Delta); --events FILE.npy, rows of (x, channel, t in ms) binned into
1 ms steps as lava-dl's slayer.io.read_np_spikes(FILE).to_tensor() does;
--bias FILE.npy, an image [W, H, C] (or a stack [N, W, H, C]) for a network
fed through its input layer's bias; --random-rate R, Bernoulli spikes."""


EXIT_HELP = """\
exit codes: 0 equivalent, and every compared layer sent messages; 3 equivalent,
but some layer sent none on either side, so nothing was compared there (the
JSON's silent_layers names them); 1 not equivalent; 2 bad input (one line
naming the file, layer and key, or the option); 130 Ctrl-C, 143 SIGTERM,
129 SIGHUP."""


def _input_arguments(parser: argparse.ArgumentParser, recipe: bool) -> None:
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
                        help="steps per sample (needed for --bias and --random-rate; cuts --spikes; sets --events' length)")
    parser.add_argument("--samples", type=int, metavar="N", help="use the first N samples (random: make N; default 1)")
    parser.add_argument("--seed", type=int, help="seed of --random-rate (default 0)")
    parser.add_argument("--num-layers", type=int, metavar="K",
                        help="use only the first K layer groups of each file, as netx's num_layers")
    parser.add_argument("--input-shape", type=_chw, metavar="C,H,W",
                        help="input image shape of a network whose layer 0 is conv (NetX files do not "
                        "store it; inferred when that layer's stride is 1); input neurons are then in "
                        "Lava's (W, H, C) order")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the result as JSON")
    _limit_arguments(parser, lava=not recipe)


def _chw(text: str) -> tuple[int, int, int]:
    """``C,H,W`` as three positive integers (argparse type of ``--input-shape``)."""
    parts = text.split(",")
    if len(parts) != 3 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"expected C,H,W (three positive integers), got {text!r}")
    return tuple(int(p) for p in parts)


def _add_verify(sub) -> None:
    verify = sub.add_parser(
        "verify", help="check a NetX network's golden model against Lava fixed_pt",
        description="Run the golden model and Lava fixed_pt on the same input stream and compare "
        "every message of every layer at every step (spikes, and the values of graded messages). What "
        "netx does to the file (clipped or ignored values) and layers with all-zero weight rows (neurons "
        "pruning left without input) get a warning line on stderr.\n\n" + EXIT_HELP + "\n\n" + INPUT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verify.add_argument("net", type=Path, metavar="NET.net", help="NetX HDF5 network")
    _input_arguments(verify, recipe=False)
    verify.add_argument("--sparse", action="store_true", help="Lava Sparse synapses for dense layers")
    verify.add_argument("--layers", choices=("all", "out"), default="all",
                        help="layers Lava records and compares (default all)")


def _add_inspect(sub) -> None:
    inspect = sub.add_parser(
        "inspect", help="layers, neuron parameters, weights, sparsity, chip cores and warnings of a NetX network",
        description="Print a NetX network's layers and shapes, neuron parameters decoded to SLAYER floats "
        "(threshold = vThMant/64, decays = iDecay/4096, vDecay/4096), weight range, bits and sparsity per "
        "layer, synaptic memory and the cores each chip profile in hardware/ needs, and warnings: weights "
        "netx would clip, keys netx ignores, all-zero layers or neurons, thresholds no input can reach. "
        "See docs/hardware.md.",
    )
    inspect.add_argument("net", type=Path, metavar="NET.net", help="NetX HDF5 network")
    inspect.add_argument("--input-shape", type=_chw, metavar="C,H,W",
                         help="input image shape of a network whose layer 0 is conv with stride > 1")
    inspect.add_argument("--num-layers", type=int, metavar="K", help="use only the first K layer groups")
    inspect.add_argument("--json", type=Path, metavar="OUT", help="also write the result as JSON")


def _inspect(args: argparse.Namespace) -> int:
    """Run ``inspect``; print its summary; 0 (warnings do not fail it)."""
    from neurodeploy.report.inspect import inspect_network, summary_lines
    from neurodeploy.netx.probe import probe_hdf5
    from neurodeploy.netx.registry import layer_kind

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
    _write_json(args.json, result)
    print("\n".join(summary_lines(result)))
    return 0


def _add_compare(sub) -> None:
    compare = sub.add_parser(
        "compare", help="compare two NetX networks, or run the compare stage of a run folder",
        description="With A.net B.net: run both in the golden model on the same input set and report "
        "output spike and class agreement, spikes and synaptic operations per layer, and the synops "
        "ratio B / A (layers with all-zero weight rows get a warning line on stderr). With --out DIR: the pipeline's compare stage (spike equivalence, accuracy and "
        "synaptic operations of DIR's networks; writes DIR/comparison.json).\n\n" + INPUT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    compare.add_argument("nets", type=Path, nargs="*", metavar="NET.net", help="two NetX networks, A and B")
    compare.add_argument("--out", type=Path, metavar="DIR", help="run folder (compare stage)")
    _input_arguments(compare, recipe=True)


def _add_analyze(sub) -> None:
    analyze = sub.add_parser(
        "analyze", help="the paper's crisis-probability bound against measured spike flips, per layer",
        description="For the perturbation pruning (dense weights against the same weights times the "
        "pruned masks, no retraining) or quantization (float against 8-bit weights) causes in DIR's "
        "network: per layer, the membrane potential density at the threshold, the crisis probability "
        "and the Theorem 3.5 bound, against the measured rate of spike flips. Writes "
        "DIR/analysis_<perturbation>.json, .csv and .png; see docs/analysis.md.",
    )
    _out_argument(analyze)
    analyze.add_argument("--perturbation", choices=("prune", "quantize"), default="prune",
                         help="what perturbs the weights (default prune)")
    analyze.add_argument("--samples", type=int, metavar="N",
                         help="use the first N training and test samples (default all)")


def _comma_list(kind: type) -> Callable[[str], list]:
    """argparse type: ``a,b,c`` as a list of ``kind``."""
    def parse(text: str) -> list:
        try:
            values = [kind(part) for part in text.split(",")]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of {kind.__name__}, got {text!r}")
        return values
    return parse


def _add_sweep(sub) -> None:
    sweep = sub.add_parser(
        "sweep", help="prune by every criterion to every sparsity with every seed, in parallel",
        description="For each seed, train RECIPE's dense network; for each criterion, sparsity and seed, "
        "prune it as RECIPE's prune section says (rounds, rewinding, scope, excluded layers) with that "
        "criterion and final sparsity, export it and measure the exported network in the golden model "
        "on the whole test set: accuracy, synaptic operations and spikes per sample. Writes "
        "DIR/sweep.csv and DIR/sweep.json (every row, and mean and standard deviation over seeds) and "
        "DIR/accuracy_vs_sparsity.png, DIR/accuracy_vs_synops.png. Run again to resume: finished "
        "points whose settings are unchanged are not redone.",
    )
    _recipe_argument(sweep)
    sweep.add_argument("--criteria", type=_comma_list(str), default=["magnitude", "sf", "random"],
                       metavar="C,...", help="criteria (magnitude, sf, random; default all three)")
    sweep.add_argument("--sparsity", type=_comma_list(float), default=[0.5, 0.8, 0.9, 0.95, 0.98],
                       metavar="S,...", help="final sparsities of the pruned layers, in (0, 1) "
                       "(default 0.5,0.8,0.9,0.95,0.98)")
    sweep.add_argument("--seeds", type=int, default=3, metavar="N",
                       help="seeds recipe.seed .. recipe.seed + N - 1 (default 3)")
    sweep.add_argument("--workers", type=int, metavar="W", help="parallel processes (default: one per CPU)")
    _out_argument(sweep)
    _limit_arguments(sweep, lava=False)


def _add_supermask(sub) -> None:
    supermask = sub.add_parser(
        "supermask", help="edge-popup: untrained subnetworks of a random network, accuracy against k",
        description="For every kept fraction k and seed: RECIPE's network with signed-constant random "
        "weights that never train, and a score per weight trained as the recipe's supermask section "
        "says; the top k of the scores of every layer are kept in the forward pass, with straight-through "
        "score gradients (Eq. 11). The mask is then written into the weights, the network evaluated, "
        "saved and exported. Writes DIR/supermask.csv, DIR/supermask.json and DIR/supermask/.",
    )
    _recipe_argument(supermask)
    supermask.add_argument("--k", type=_comma_list(float), default=[0.1, 0.3, 0.5, 0.7, 0.9], metavar="K,...",
                           help="fractions of weights kept per layer, in (0, 1] (default 0.1,0.3,0.5,0.7,0.9)")
    supermask.add_argument("--seeds", type=int, default=1, metavar="N",
                           help="seeds recipe.seed .. recipe.seed + N - 1 (default 1)")
    _out_argument(supermask)


def _recipe_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "recipe", nargs="?", type=Path, default=None, metavar="RECIPE",
        help="model recipe (YAML); default: models/digits_mlp.yaml",
    )


def _out_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="run folder")


def _positive(kind: type) -> Callable[[str], float]:
    """argparse type: a positive ``kind``."""
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text!r}")
        if not value > 0 or value != value:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text!r}")
        return value
    return parse


def _limit_arguments(parser: argparse.ArgumentParser, lava: bool) -> None:
    """``--max-memory`` (and ``--max-lava-processes``): the limits checked before work starts."""
    parser.add_argument("--max-memory", type=_positive(float), metavar="GIB",
                        help="refuse work whose arrays would need more memory than this, in GiB "
                        "(default: half of this machine's memory)")
    if lava:
        parser.add_argument("--max-lava-processes", type=_positive(int), metavar="N",
                            help="refuse a Lava run that would fork more OS processes than this (default 128)")


def _limits(args: argparse.Namespace) -> Limits:
    from neurodeploy.limits import GIB, Limits

    memory = getattr(args, "max_memory", None)
    processes = getattr(args, "max_lava_processes", None)
    defaults = Limits()
    return Limits(memory=int(memory * GIB) if memory else defaults.memory,
                  lava_processes=processes or defaults.lava_processes)


def dispatch(args: argparse.Namespace) -> int:
    """Run the command ``args`` names; returns the exit code."""
    if args.command == "verify":
        return _verify(args)
    if args.command == "inspect":
        return _inspect(args)
    if args.command == "compare" and args.nets:
        _compare_networks(args)
        return 0
    from neurodeploy import pipeline
    from neurodeploy.recipe import load_recipe

    out: Path = args.out
    if args.command == "sweep":
        return _sweep(args, load_recipe(args.recipe))
    if args.command == "supermask":
        return _supermask(args, load_recipe(args.recipe))
    if args.command == "run":
        recipe = load_recipe(args.recipe)
        report = pipeline.run(recipe, out, restart=args.restart, progress=print, limits=_limits(args))
        _print_summary(report)
        return 0
    if args.command == "compare" and args.out is None:
        raise UsageError("neurodeploy compare: give two networks (A.net B.net) or --out DIR")
    if args.command == "train":
        pipeline.run_stage("train", out, load_recipe(args.recipe), _limits(args))
        return 0
    if not out.is_dir():
        raise UsageError(f"neurodeploy {args.command}: run folder {out} does not exist")
    if args.command == "analyze":
        from neurodeploy.analyze import analyze_run, summary_lines

        print("\n".join(summary_lines(analyze_run(out, args.perturbation, args.samples))))
        return 0
    if args.command == "compare":
        given = [f"--{name.replace('_', '-')}" for name in COMPARE_NETWORK_OPTIONS if getattr(args, name) is not None]
        if given:
            raise UsageError(f"neurodeploy compare --out DIR: {', '.join(given)} apply to A.net B.net only")
    sweep_dir = getattr(args, "sweep", None)
    if sweep_dir is not None and not (sweep_dir / "sweep.json").is_file():
        raise UsageError(f"neurodeploy report: {sweep_dir / 'sweep.json'} does not exist (run neurodeploy sweep)")
    path = pipeline.run_stage(args.command, out, limits=_limits(args), sweep_dir=sweep_dir)
    if args.command == "export" and args.format != "netx":
        from neurodeploy.export.formats import convert_stage
        from neurodeploy.lock import folder_lock

        with folder_lock(out):
            for converted in convert_stage(out, args.format):
                print(f"wrote {converted}")
    if args.command == "report":
        _print_summary(path)
    return 0


# The options of ``compare A.net B.net`` that the compare stage (``--out DIR``) does not take.
COMPARE_NETWORK_OPTIONS = ("spikes", "events", "bias", "random_rate", "recipe", "steps", "samples",
                           "num_layers", "input_shape", "json", "max_memory")


def _check_input_options(args: argparse.Namespace) -> None:
    """The counts are positive, and no option is given that the chosen input ignores."""
    for name in ("steps", "samples", "num_layers"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UsageError(f"neurodeploy {args.command}: --{name.replace('_', '-')} must be at least 1, got {value}")
    if args.seed is not None and args.random_rate is None:
        raise UsageError(f"neurodeploy {args.command}: --seed applies to --random-rate only")
    if args.seed is not None and args.seed < 0:
        raise UsageError(f"neurodeploy {args.command}: --seed must be at least 0, got {args.seed}")
    if getattr(args, "recipe", None) is not None and args.steps is not None:
        raise UsageError(f"neurodeploy {args.command}: --steps does not apply to --recipe "
                         "(its samples have the recipe's data.steps)")
    if args.events is not None and args.samples is not None and args.samples != 1:
        raise UsageError(f"neurodeploy {args.command}: --events holds one sample; --samples {args.samples} does not apply")
    if args.json is not None:
        check_output(args.json)


def _check_network_options(args: argparse.Namespace, network: Network) -> None:
    """``--input-shape`` is for a conv layer 0 only (elsewhere the file says the input)."""
    if args.input_shape is not None and not network.layers[0].needs_input_shape:
        raise UsageError(f"{network.path}: --input-shape is only for a network whose layer 0 is conv "
                         f"(layer 0 here is {network.kinds[0]}, whose input the file gives)")


def _stimulus(args: argparse.Namespace, network: Network, limits: Limits,
              check: Callable[[int, int], None]) -> Stimulus:
    """The input the options ask for, as a ``Stimulus`` for ``network``. ``check(samples,
    steps)`` checks the command's memory for that input; inputs whose size the options
    give are checked before they are made."""
    import numpy as np

    from neurodeploy.simulate import inputs
    from neurodeploy.simulate.stimulus import Stimulus

    size = int(np.prod(network.input_shape))
    if args.bias is not None:
        if not network.starts_with_input:
            raise UsageError(f"{network.path}: --bias needs a network whose layer 0 is an input layer")
        if args.steps is None:
            raise UsageError(f"neurodeploy {args.command}: --bias needs --steps")
        bias = inputs.load_bias(args.bias, network.input_shape, limits)[: args.samples]
        check(len(bias), args.steps)
        return Stimulus(spikes=None, bias=bias, steps=args.steps)
    if args.random_rate is not None:
        if args.steps is None:
            raise UsageError(f"neurodeploy {args.command}: --random-rate needs --steps")
        check(args.samples or 1, args.steps)
        spikes = inputs.random_spikes(args.samples or 1, size, args.steps, args.random_rate, args.seed or 0, limits)
    elif args.events is not None:
        notes: list[str] = []
        spikes = inputs.load_events(args.events, size, args.steps, limits, notes)
        for line in notes:
            print(f"neurodeploy: warning: {line}", file=sys.stderr)
    else:
        spikes = inputs.load_spikes(args.spikes, network.input_shape, network.starts_with_input, limits)[: args.samples]
        if args.steps is not None:
            if args.steps > spikes.shape[-1]:
                raise UsageError(f"{args.spikes}: --steps {args.steps} exceeds the file's {spikes.shape[-1]} steps")
            spikes = spikes[..., : args.steps]
    return Stimulus(spikes=spikes, bias=None, steps=spikes.shape[-1])


def _write_json(path: Path | None, result: dict) -> None:
    from neurodeploy.fileio import write_json

    if path is not None:
        write_json(path, result)


def _warn(network: Network) -> None:
    """Print a warning line on stderr for what netx does to the file (clipped or ignored
    values), each layer's notes and each layer with all-zero weight rows (none is an error)."""
    from neurodeploy.netx import network_warnings

    for line in network_warnings(network):
        print(f"neurodeploy: warning: {line}", file=sys.stderr)


def _verify(args: argparse.Namespace) -> int:
    """Run ``verify``; print the per-layer table; 0 when equivalent, else 1."""
    from neurodeploy.compare.verify import check_verify_memory, verify
    from neurodeploy.netx import read_netx
    from neurodeploy.netx.probe import probe_hdf5

    _check_input_options(args)
    limits = _limits(args)
    probe_hdf5(args.net)
    network = read_netx(args.net, args.num_layers, args.input_shape)
    _check_network_options(args, network)
    _warn(network)
    stimulus = _stimulus(args, network, limits, lambda n, t: check_verify_memory(network, n, t, limits))
    result = verify(network, stimulus, sparse=args.sparse, layers=args.layers, limits=limits)
    _write_json(args.json, result)
    print(f"{args.net}: {result['samples']} sample(s) x {result['steps']} steps, "
          f"{result['columns']} columns, {'Sparse' if args.sparse else 'Dense'} synapses")
    print(f"{'layer':>5}  {'type':<9} {'neurons':>7}  {'golden':>9}  {'lava':>9}  {'mismatch':>8}  {'synops':>11}  "
          "neuron")
    for layer in result["layers"]:
        lava = "-" if layer["spikes_lava"] is None else layer["spikes_lava"]
        mismatch = "-" if layer["mismatches"] is None else layer["mismatches"]
        print(f"{layer['group']:>5}  {layer['type']:<9} {layer['neurons']:>7}  {layer['spikes_golden']:>9}  "
              f"{lava:>9}  {mismatch:>8}  {layer['synops']:>11}  {layer['neuron']}")
    print("golden, lava: nonzero messages (spikes, or graded messages, whose values are compared too)")
    timing = result["timing"]
    print(f"time: golden {timing['golden_s']:.2f} s, Lava {timing['lava_s']:.2f} s")
    first = result["first_divergence"]
    if first is None:
        print(f"EQUIVALENT: {result['compared_entries']} message entries compared, none differ")
        if result["silent_layers"]:
            print(f"but layer(s) {', '.join(map(str, result['silent_layers']))} had no spike on either side: "
                  "nothing was compared there (exit code 3)")
            return 3
        return 0
    def state(values: dict[str, int]) -> str:
        return ", ".join(f"{name} {value}" for name, value in values.items())

    print(f"NOT EQUIVALENT: first divergence at layer/{first['group']} neuron {first['neuron']} "
          f"{tuple(first['neuron_index'])} column {first['column']} (sample {first['sample']} step {first['step']}): "
          f"message golden {first['message_golden']} / Lava {first['message_lava']}; "
          f"state golden {state(first['state_golden'])} / Lava {state(first['state_lava'])} "
          f"(step before: {state(first['state_before_golden'])} / {state(first['state_before_lava'])})")
    return 1


def _compare_networks(args: argparse.Namespace) -> None:
    """Run ``compare A.net B.net`` and print its summary."""
    from neurodeploy.compare.networks import NetworkMismatchError, check_compare_memory, compare_networks
    from neurodeploy.netx import read_netx
    from neurodeploy.netx.probe import probe_hdf5

    if len(args.nets) != 2:
        raise UsageError(f"neurodeploy compare: give exactly two networks, got {len(args.nets)}")
    if args.out is not None:
        raise UsageError("neurodeploy compare: --out is for the compare stage, not for A.net B.net")
    _check_input_options(args)
    limits = _limits(args)
    for path in args.nets:
        probe_hdf5(path)
    a, b = (read_netx(path, args.num_layers, args.input_shape) for path in args.nets)
    _check_network_options(args, a)
    _warn(a)
    _warn(b)
    labels = None
    if args.recipe is not None:
        from neurodeploy.data.dataset import dataset_bytes, load_dataset
        from neurodeploy.recipe import load_recipe
        from neurodeploy.simulate.stimulus import Stimulus

        recipe = load_recipe(args.recipe)
        limits.check_memory(dataset_bytes(recipe.data), f"{args.recipe}'s dataset")
        data = load_dataset(recipe.data, recipe.seed)
        if args.samples is not None and args.samples > len(data.x_test):
            raise UsageError(f"neurodeploy compare: --samples {args.samples} exceeds the "
                             f"{len(data.x_test)} test samples of {args.recipe}")
        count = args.samples or len(data.x_test)
        stimulus, labels = Stimulus(a.to_lava_order(data.x_test[:count]), None, recipe.data.steps), data.y_test[:count]
    elif any(getattr(args, name) is not None for name in ("spikes", "events", "bias", "random_rate")):
        stimulus = _stimulus(args, a, limits, lambda n, t: check_compare_memory((a, b), n, t, limits))
    else:
        raise UsageError("neurodeploy compare: give an input set (--spikes, --events, --bias, --random-rate or --recipe)")
    try:
        result = compare_networks(a, b, stimulus, labels, limits)
    except NetworkMismatchError as err:
        raise UsageError(f"neurodeploy compare: {err}") from err
    _write_json(args.json, result)
    print(f"{result['samples']} sample(s) x {result['steps']} steps; A = {args.nets[0]}, B = {args.nets[1]}")
    for side in ("a", "b"):
        layers = ", ".join(f"{l['spikes_per_sample']:.1f}" for l in result[side]["layers"])
        print(f"{side.upper()}: synops per sample {result[side]['synops_per_sample']:.0f}; spikes per sample by layer [{layers}]")
    print(f"output spike agreement {result['output_agreement']:.4f}, identical samples {result['output_identical_samples']:.4f}")
    if result["class_agreement"] is not None:
        print(f"class agreement {result['class_agreement']:.4f}")
    if "accuracy_a" in result:
        print(f"accuracy A {result['accuracy_a']:.4f}, B {result['accuracy_b']:.4f}")
    if result["synops_ratio"] is not None:
        print(f"synops ratio B / A: {result['synops_ratio']:.4f}")
    for line in result["caveats"]:
        print(f"caveat: {line}")


def _sweep(args: argparse.Namespace, recipe) -> int:
    import json

    from neurodeploy.sweep.run import sweep

    if args.seeds < 1 or (args.workers is not None and args.workers < 1):
        raise UsageError("neurodeploy sweep: --seeds and --workers must be at least 1")
    path = sweep(recipe, args.criteria, args.sparsity, range(recipe.seed, recipe.seed + args.seeds),
                 args.out, args.workers, progress=print, limits=_limits(args))
    for entry in json.loads(path.read_text())["summary"]:
        print(f"{entry['criterion']:>9} {entry['sparsity']:<5g} accuracy {entry['accuracy_mean']:.4f} "
              f"+- {entry['accuracy_std']:.4f}  synops/sample {entry['synops_per_sample_mean']:.0f}  "
              f"spikes/sample {entry['spikes_per_sample_mean']:.0f}  ({entry['seeds']} seeds)")
    print(f"table: {path.with_suffix('.csv')}, {path}")
    return 0


def _supermask(args: argparse.Namespace, recipe) -> int:
    import json

    from neurodeploy.preflight import check_recipe
    from neurodeploy.prune.supermask import supermask_search

    if args.seeds < 1:
        raise UsageError("neurodeploy supermask: --seeds must be at least 1")
    bad = [k for k in args.k if not 0.0 < k <= 1.0]
    if bad:
        raise UsageError(f"neurodeploy supermask: --k {bad[0]} is outside (0, 1]")
    check_recipe(recipe, _limits(args), lava=False)
    settings = recipe.supermask
    path = supermask_search(
        recipe, args.k, args.out, seeds=range(recipe.seed, recipe.seed + args.seeds), epochs=settings.epochs,
        batch_size=settings.batch_size, lr=settings.lr, optimizer=settings.optimizer, momentum=settings.momentum,
        weight_decay=settings.weight_decay, weight_scale=settings.weight_scale,
    )
    for row in json.loads(path.read_text())["rows"]:
        print(f"k {row['k']:<4g} seed {row['seed']}: test accuracy {row['test_accuracy']:.4f} "
              f"(exported, golden model {row['golden_test_accuracy']:.4f}), train {row['train_accuracy']:.4f}")
    print(f"table: {path.with_suffix('.csv')}, {path}")
    return 0


def _print_summary(report_path: Path) -> None:
    import json

    from neurodeploy.report.stage import summary

    print(summary(json.loads(report_path.read_text())))
    print(f"report: {report_path} and {report_path.with_suffix('.html')}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (``EXIT_HELP``: 0 ok, 1 not equivalent, 2 bad
    input, 3 equivalent with silent layers, 128 + N for signal N: 130 Ctrl-C, 143 SIGTERM).

    Child processes die with this one (``processes.die_with_parent``), and SIGTERM and
    SIGHUP stop it as Ctrl-C does, running the same cleanup."""
    try:
        args = build_parser().parse_args(argv)
    except UsageError as err:
        print(err, file=sys.stderr)
        return 2
    import signal

    from neurodeploy.errors import USER_ERRORS, describe
    from neurodeploy.processes import die_with_parent, exit_code, terminate_like_interrupt

    die_with_parent()
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGHUP)}
    terminate_like_interrupt()
    try:
        return dispatch(args)
    except UsageError as err:
        print(err, file=sys.stderr)
        return 2
    except USER_ERRORS as err:
        print(f"neurodeploy: error: {describe(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupt:
        print(f"neurodeploy: {'interrupted' if exit_code(interrupt) == 130 else f'stopped by {interrupt}'}",
              file=sys.stderr)
        return exit_code(interrupt)
    finally:
        for signum, handler in handlers.items():
            if handler is not None:
                signal.signal(signum, handler)


if __name__ == "__main__":
    sys.exit(main())
