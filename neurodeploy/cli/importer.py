"""``neurodeploy import GRAPH.nir --out NET.net``: a NIR graph as a NetX network in Loihi's
fixed point, and how far quantization moved it (the float graph in Norse against the
NetX network in the golden model)."""
from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from neurodeploy.cli.common import UsageError, check_files, limit_arguments, limits, positive, write_json

DEFAULT_RATE = 0.2
DEFAULT_STEPS = 32
DEFAULT_SAMPLES = 16


def add_parser(subparsers: argparse._SubParsersAction) -> list[argparse.ArgumentParser]:
    """Add ``import``; returns its parser."""
    parser = subparsers.add_parser(
        "import", help="turn a NIR graph into a NetX network quantized to Loihi's fixed point",
        description="Read a NIR graph (a chain of layers: Linear, Affine, Conv1d or Conv2d with pools, "
        "scales, flattens and delays folded in, then CubaLIF, LIF, IF, Threshold or a CubaLI, LI or I readout, "
        "with at most one recurrent loop per layer; subgraphs flattened; as snnTorch, Norse, Sinabs, Rockpool and "
        "neurodeploy write them), quantize it to Loihi's fixed point (8-bit weights; each layer's scale "
        "chosen among the largest that fits and its halvings by its agreement with the float graph; decays "
        "to 1/4096) and write it as NetX. Then run the float graph (in Norse, or in neurodeploy's "
        "float reference where Norse 1.1 cannot) and the NetX network in the golden model on the same inputs and "
        "print, per layer, spikes on each side and the fraction of (sample, neuron, step) entries that agree "
        "(a readout: its voltage's relative error). See docs/nir.md.",
    )
    parser.add_argument("graph", type=Path, metavar="GRAPH.nir", help="NIR graph (nir.write's HDF5)")
    parser.add_argument("--out", type=Path, required=True, metavar="NET.net", help="the NetX file to write")
    parser.add_argument("--dt", type=float, metavar="SECONDS",
                        help="the graph's time step (default: the graph's metadata 'dt', which neurodeploy "
                        "writes; snnTorch's export assumes 1e-4 without writing it, Norse's default is 0.001, "
                        "Rockpool's 1e-3; a graph of IF, I and Threshold neurons needs none)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--spikes", type=Path, metavar="FILE",
                       help="inputs for the comparison: .npy [N, n_in, T] or [n_in, T] of 0/1, inputs in the "
                       "graph's (C, H, W) order flattened")
    group.add_argument("--random-rate", type=float, metavar="R",
                       help=f"random input spikes with probability R per input and step (the default, R = "
                       f"{DEFAULT_RATE})")
    parser.add_argument("--steps", type=positive(int), metavar="T",
                        help=f"steps per sample (random inputs: default {DEFAULT_STEPS}; cuts --spikes)")
    parser.add_argument("--samples", type=positive(int), metavar="N",
                        help=f"samples (random inputs: default {DEFAULT_SAMPLES}; the first N of --spikes)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the result as JSON")
    limit_arguments(parser, lava=False)
    return [parser]


def run(args: argparse.Namespace) -> int:
    """Run ``import``; print the layers written and the agreement table; 0."""
    import numpy as np

    from neurodeploy.compare.nir_float import float_agreement, run_float
    from neurodeploy.compare.nir_scale import check_search_memory, choose_scales
    from neurodeploy.export.nir_import import read_nir
    from neurodeploy.simulate.inputs import load_spikes, random_spikes

    if args.random_rate is not None and not 0 <= args.random_rate <= 1:
        raise UsageError(f"neurodeploy import: --random-rate must be within [0, 1], got {args.random_rate}")
    check_files([("GRAPH.nir", args.graph), ("--spikes", args.spikes)],
                [("--out", args.out), ("--json", args.json)])
    memory = limits(args)
    imported = read_nir(args.graph, args.dt, memory)
    inputs = int(np.prod(imported.input_shape))
    if args.spikes is not None:  # read before anything is written
        spikes = load_spikes(args.spikes, inputs, limits=memory)[: args.samples]
        spikes = spikes[..., : args.steps] if args.steps is not None else spikes
        check_search_memory(imported, spikes.shape[0], spikes.shape[2], memory)
        source = str(args.spikes)
    else:
        rate = DEFAULT_RATE if args.random_rate is None else args.random_rate
        samples, steps = args.samples or DEFAULT_SAMPLES, args.steps or DEFAULT_STEPS
        check_search_memory(imported, samples, steps, memory)
        spikes = random_spikes(samples, inputs, steps, rate, args.seed, memory)
        source = f"random spikes, rate {rate}, seed {args.seed}"
    run_ = run_float(imported.graph, imported.dt, imported.network(), list(imported.layers), spikes, str(args.graph))
    imported, choices = choose_scales(imported, run_)
    with imported.written(args.out) as network:  # replaces --out only once the comparison has run
        result = float_agreement(run_, network, list(imported.layers))
    step = "none needed" if imported.dt is None else f"{imported.dt:g} s"
    print(f"wrote {args.out}: {len(imported.layers)} layer(s) from {args.graph}, dt = {step}")
    for line in imported.notes:
        print(f"note: {line}")
    for index, layer in enumerate(imported.layers):
        neuron, nodes = layer.layer.neuron, layer.nodes
        path = " -> ".join((*nodes.synapse, *([nodes.neuron] if nodes.neuron else [])))
        loop = f" (loop {' -> '.join(nodes.recurrent)})" if nodes.recurrent else ""
        kind = f"vThMant {neuron.v_th_mant}" if layer.spiking else f"readout, scale {layer.scale}"
        print(f"  layer/{network.group_of(index)} {layer.layer.netx_type}: nodes {path}{loop}; "
              f"{kind}, iDecay {neuron.i_decay}, vDecay {neuron.v_decay}")
        for line in layer.notes:
            print(f"  note: {line}")
    measure = "agreement" if all(layer.spiking for layer in imported.layers) else "agreement (a readout: error)"
    print(f"scale per layer, chosen among the largest that fits 8 bits and its halvings by {measure} with the "
          "float graph on these inputs, each layer after the ones chosen before it:")
    for index, choice in enumerate(choices):
        tried = ", ".join(f"{scale}: {figure:.4f}" for scale, figure in choice.tried)
        print(f"  layer/{network.group_of(index)} {choice.node}: scale {choice.scale} (largest {choice.largest}); "
              f"{'error' if choice.readout else 'agreement'} at {tried}")
    write_json(args.json, {"netx": str(args.out), "dt": imported.dt, "inputs": source, **asdict(result),
                           "scales": [asdict(choice) for choice in choices]})
    engine = "Norse" if result.engine == "Norse" else "neurodeploy's float reference"
    print(f"float graph ({engine}) against the NetX network (golden model): {result.samples} sample(s) x "
          f"{result.steps} steps of {source}")
    print(f"{'layer':>5}  {'node':<16} {'neurons':>7}  {'float':>9}  {'fixed':>9}  {'agreement':>9}")
    for index, layer in enumerate(result.layers):
        figures = (f"{'readout':>9}  {'error':>9}  {layer.error:>9.4f}" if layer.readout else
                   f"{layer.spikes_float:>9}  {layer.spikes_fixed:>9}  {layer.agreement:>9.4f}")
        print(f"{network.group_of(index):>5}  {layer.node:<16} {layer.neurons:>7}  {figures}")
    print("float, fixed: spikes; agreement: fraction of (sample, neuron, step) entries equal; a readout's error: "
          "RMS voltage difference / RMS float voltage")
    print(f"most active output neuron the same in {result.class_agreement:.4f} of samples")
    for line in result.notes:
        print(f"note: {line}")
    return 0
