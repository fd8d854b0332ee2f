"""How far quantization moved an imported NIR graph: the float graph run in Norse against
the NetX network it became, run in the golden model, layer by layer.

Norse (``norse.torch.from_nir(graph, dt=dt)``, forward Euler with step dt) runs the
graph as NIR defines it, every edge within the step, once each LIF's ``r`` is folded
into its weights (Norse 1.1's LIF ignores r). Norse 1.1 also gives a CubaLIF's
synaptic current the node's ``v_leak``: a CubaLIF with a nonzero v_leak is not run as
NIR defines it there (``Agreement.notes``). Loihi delays each layer by one
step, so the NIR graph's step s of spiking layer l is the golden model's column
``s + arrival(l)`` (``loihi.timing``); both sides are compared over the columns the
golden model runs (T input steps, then ``drain`` silent ones).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import nir
import numpy as np

from neurodeploy.compare.caveats import layer_caveats, silent_layers
from neurodeploy.limits import Limits
from neurodeploy.loihi.order import whc_to_chw
from neurodeploy.loihi.timing import arrival, drain
from neurodeploy.netx import Network, NetxError
from neurodeploy.simulate.golden import GoldenModel, run_bytes


@dataclass(frozen=True)
class LayerAgreement:
    """One spiking layer: ``node`` (its NIR neuron node), ``spikes_float`` (Norse) and
    ``spikes_fixed`` (golden model) summed over samples and steps, ``agreement`` (the
    fraction of (sample, neuron, step) entries where both sides agree; 1.0 = identical)."""

    node: str
    neurons: int
    spikes_float: int
    spikes_fixed: int
    agreement: float


@dataclass(frozen=True)
class Agreement:
    """Every layer's ``LayerAgreement`` over ``samples`` inputs of ``steps`` steps (run
    for ``steps + drain`` columns); ``class_agreement``: the fraction of samples whose
    most active output neuron (lowest index on a tie) is the same on both sides; ``notes``:
    a layer silent on both sides (its agreement compares nothing), and where Norse does not
    run the graph as NIR defines it, one line each."""

    samples: int
    steps: int
    layers: tuple[LayerAgreement, ...]
    class_agreement: float
    notes: tuple[str, ...] = ()


def agreement_bytes(input_size: int, sizes: list[int], samples: int, steps: int) -> int:
    """An upper bound of the memory ``float_agreement`` takes on ``samples`` x
    ``input_size`` x ``steps`` input spikes for a network of layers of ``sizes`` neurons
    (no input layer: an imported network has none), over its ``steps + drain`` columns:
    per input entry the padded spikes (1 B), Norse's float32 copy (4 B) and Lava's order
    (1 B); per neuron entry Norse's recorded float32 steps and their stack (8 B), its
    uint8 spikes (1 B) and the compared bool arrays (4 B); and the golden run (``run_bytes``)."""
    columns = steps + drain(len(sizes), False)
    entries_in, entries_out = samples * input_size * columns, samples * sum(sizes) * columns
    return 6 * entries_in + 13 * entries_out + run_bytes(input_size, sizes, samples, columns)


def check_agreement_memory(input_size: int, sizes: list[int], samples: int, steps: int, limits: Limits) -> None:
    """``LimitError`` (naming --max-memory) unless ``agreement_bytes`` fits ``limits``."""
    limits.check_memory(agreement_bytes(input_size, sizes, samples, steps),
                        f"the comparison ({samples} samples x {steps} steps, the float graph in Norse and the NetX "
                        "network in the golden model)")


def run_norse(graph: nir.NIRGraph, x: np.ndarray, dt: float, nodes: list[str]) -> list[np.ndarray]:
    """Run ``graph`` in Norse on x [N, *input shape, S] (NIR order, floats); returns the
    spikes of each node in ``nodes`` as uint8 [N, n, S] (flattened)."""
    try:
        import torch
        from norse.torch import from_nir
    except ImportError as err:
        raise NetxError(f"the float graph runs in Norse, which is not installed ({err}); `make setup` "
                        "installs norse==1.1.0") from err
    model = from_nir(_norse_form(graph), dt=dt)
    modules = dict(model.named_modules())
    recorded: dict[str, list[torch.Tensor]] = {name: [] for name in nodes}
    for name in nodes:
        module = modules.get(name, modules.get(name.replace(".", "_")))
        if module is None:
            raise NetxError(f"Norse's module for node '{name}' was not found")
        module.register_forward_hook(lambda _m, _i, out, name=name: recorded[name].append(
            (out[0] if isinstance(out, tuple) else out).detach().reshape(len(x), -1)))
    inputs = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    state = None
    try:
        with torch.no_grad():
            for step in range(x.shape[-1]):
                _, state = model(inputs[..., step], state)
    except RuntimeError as err:  # torch's CPU allocator fails with a RuntimeError, not a MemoryError
        if "allocate" not in str(err):
            raise
        raise MemoryError(str(err)) from err
    return [torch.stack(recorded[name], dim=-1).numpy().astype(np.uint8) for name in nodes]


def float_agreement(graph: nir.NIRGraph, dt: float, network: Network, neuron_nodes: list[str],
                    spikes: np.ndarray) -> Agreement:
    """Compare ``graph`` run in Norse with ``network`` (the NetX network made from it, one
    layer per node of ``neuron_nodes``) in the golden model, on spikes [N, n_in, T] (binary,
    NIR's (C, H, W) order flattened)."""
    samples, inputs, steps = spikes.shape
    columns = steps + drain(len(network.layers), network.starts_with_input)
    padded = np.concatenate([spikes, np.zeros((samples, inputs, columns - steps), spikes.dtype)], axis=-1)
    input_shape = tuple(reversed(network.input_shape))  # NIR's (C, H, W) or (n,)
    floats = run_norse(graph, padded.reshape(samples, *input_shape, columns), dt, neuron_nodes)
    fixed = GoldenModel(network).run(network.to_lava_order(padded.astype(np.uint8))).spikes
    goldens, alignments = [], []
    for index, (ours, golden, layer) in enumerate(zip(floats, fixed, network.layers)):
        if len(layer.lava_shape) == 3:
            golden = golden[:, whc_to_chw(layer.lava_shape)]
        shift = arrival(index, network.starts_with_input)
        aligned = np.zeros(golden.shape, dtype=bool)
        aligned[..., shift:] = ours[..., : columns - shift] != 0
        goldens.append(golden != 0)
        alignments.append(aligned)
    layers = tuple(LayerAgreement(node=name, neurons=golden.shape[1], spikes_float=int(aligned.sum()),
                                  spikes_fixed=int(golden.sum()), agreement=float((golden == aligned).mean()))
                   for name, golden, aligned in zip(neuron_nodes, goldens, alignments))
    classes = [side[-1].sum(axis=-1, dtype=np.int64).argmax(axis=-1) for side in (goldens, alignments)]
    silent = layer_caveats("float and fixed", silent_layers(goldens, alignments), samples)
    leaks = [f"node '{name}': Norse 1.1 lets this CubaLIF's synaptic current leak towards its nonzero v_leak "
             "too, so its float spikes are not NIR's" for name in neuron_nodes
             if isinstance(graph.nodes[name], nir.CubaLIF) and np.any(np.asarray(graph.nodes[name].v_leak))]
    return Agreement(samples=samples, steps=steps, layers=layers,
                     class_agreement=float((classes[0] == classes[1]).mean()), notes=tuple(silent + leaks))


def _norse_form(graph: nir.NIRGraph) -> nir.NIRGraph:
    """``graph`` in the form Norse 1.1 runs as NIR defines it on a batch: each LIF's ``r``
    folded into the weight node before it (weight and bias times r, then r = 1; Norse's LIF
    ignores r, logging a warning), and each Flatten's dimensions moved past the batch
    (Norse makes ``torch.nn.Flatten(start_dim, end_dim)`` of them, which would flatten
    the batch with a NIR start_dim of 0)."""
    nodes = dict(graph.nodes)
    before = {post: pre for pre, post in graph.edges}
    for name, node in graph.nodes.items():
        if isinstance(node, nir.Flatten) and node.start_dim >= 0:
            nodes[name] = dataclasses.replace(node, start_dim=node.start_dim + 1,
                                              end_dim=node.end_dim + 1 if node.end_dim >= 0 else node.end_dim)
        if isinstance(node, nir.LIF) and not np.allclose(node.r, 1):
            synapse = nodes[before[name]]
            r = np.asarray(node.r, dtype=np.float64).reshape(-1)
            rows = r.reshape((-1,) + (1,) * (np.ndim(synapse.weight) - 1)) if r.size > 1 else r[0]
            changes = {"weight": np.asarray(synapse.weight) * rows}
            if getattr(synapse, "bias", None) is not None:
                changes["bias"] = np.asarray(synapse.bias) * (r if r.size > 1 else r[0])
            nodes[before[name]] = dataclasses.replace(synapse, **changes)
            nodes[name] = dataclasses.replace(node, r=np.ones_like(np.asarray(node.r)))
    return nir.NIRGraph(nodes=nodes, edges=list(graph.edges), metadata=dict(graph.metadata or {}), type_check=False)
