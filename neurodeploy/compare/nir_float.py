"""How far quantization moved an imported NIR graph: the float graph against the NetX
network it became, run in the golden model, layer by layer.

The float graph runs in Norse (``norse.torch.from_nir(graph, dt=dt)``, forward Euler
with step dt, every edge within the step) once each LIF's and IF's ``r`` is folded
into its weights (Norse 1.1 ignores it), where Norse 1.1 runs it as NIR defines it:
only Input, Output, Affine, Linear, Conv2d, Flatten, SumPool2d without padding, IF,
LIF, and CubaLIF with v_leak 0 (Norse 1.1 lets a CubaLIF's current leak towards
v_leak too), no subgraph, no loop. Any other graph runs in our own float reference
(``nir_reference``), and ``Agreement.engine`` and a note say which and why.

Loihi delays each layer by one step, so the NIR graph's step s of layer l is the
golden model's column ``s + arrival(l)`` (``loihi.timing``); both sides are compared
over the columns the golden model runs (T input steps, then ``drain`` silent ones).
A spiking layer compares spikes; a readout (LI, CubaLI, I, or the weighted sum that
ends a graph) compares its voltage, the golden model's v / (64 S) (S: the layer's
scale, ``ImportedLayer.scale``) against the float graph's value.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import nir
import numpy as np

from neurodeploy.compare.caveats import layer_caveats, silent_layers
from neurodeploy.compare.nir_reference import run_reference
from neurodeploy.export.nir_import import ImportedLayer
from neurodeploy.export.nir_walk import flat
from neurodeploy.loihi.order import whc_to_chw
from neurodeploy.loihi.timing import arrival, drain
from neurodeploy.netx import Network, NetxError
from neurodeploy.simulate.golden import GoldenModel, GoldenRun, run_bytes


@dataclass(frozen=True)
class LayerAgreement:
    """One layer: ``node`` (its NIR neuron node), ``spikes_float`` (the float graph) and
    ``spikes_fixed`` (golden model) summed over samples and steps, ``agreement`` (the
    fraction of (sample, neuron, step) entries where both sides agree; 1.0 = identical).
    A readout (``readout``) sends no spike: ``agreement`` is then the fraction of entries
    within 1 % of the float values' largest magnitude, and ``error`` the RMS difference
    over the RMS float value (0 = identical)."""

    node: str
    neurons: int
    spikes_float: int
    spikes_fixed: int
    agreement: float
    readout: bool = False
    error: float | None = None


@dataclass(frozen=True)
class Agreement:
    """Every layer's ``LayerAgreement`` over ``samples`` inputs of ``steps`` steps (run
    for ``steps + drain`` columns); ``class_agreement``: the fraction of samples whose
    most active output neuron (lowest index on a tie) is the same on both sides; ``notes``:
    a layer silent on both sides (its agreement compares nothing), and why the float
    graph ran in our reference, one line each; ``engine``: "Norse" or "reference"."""

    samples: int
    steps: int
    layers: tuple[LayerAgreement, ...]
    class_agreement: float
    notes: tuple[str, ...] = ()
    engine: str = "Norse"


def agreement_bytes(input_size: int, sizes: list[int], samples: int, steps: int) -> int:
    """An upper bound of the memory ``float_agreement`` takes on ``samples`` x
    ``input_size`` x ``steps`` input spikes for a network of layers of ``sizes`` neurons
    (no input layer: an imported network has none), over its ``steps + drain`` columns:
    per input entry the padded spikes (1 B), Norse's float32 copy (4 B) and Lava's order
    (1 B); per neuron entry Norse's recorded float32 steps and their stack (8 B), its
    uint8 spikes (1 B) and the compared bool arrays (4 B); and the golden run (``run_bytes``,
    its state recorded for a readout)."""
    columns = steps + drain(len(sizes), False)
    entries_in, entries_out = samples * input_size * columns, samples * sum(sizes) * columns
    return 6 * entries_in + 13 * entries_out + run_bytes(input_size, sizes, samples, columns, record_state=True)


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


NORSE_TYPES = (nir.Input, nir.Output, nir.Affine, nir.Linear, nir.Conv2d, nir.Flatten, nir.SumPool2d, nir.IF,
               nir.LIF, nir.CubaLIF)


def norse_gaps(graph: nir.NIRGraph) -> list[str]:
    """What in ``graph`` Norse 1.1 does not run as NIR defines it (empty: Norse runs it)."""
    gaps = sorted({f"{type(node).__name__} nodes" for node in graph.nodes.values()
                   if not isinstance(node, NORSE_TYPES)})
    targets = [post for _, post in graph.edges]
    if len(set(targets)) != len(targets):
        gaps.append("a node with two inputs (a loop)")
    if any(isinstance(node, nir.SumPool2d) and np.any(np.asarray(node.padding)) for node in graph.nodes.values()):
        gaps.append("a padded SumPool2d")
    if any(isinstance(node, nir.Conv2d) and isinstance(node.padding, str) for node in graph.nodes.values()):
        gaps.append("a Conv2d padded by name")
    if any(isinstance(node, nir.CubaLIF) and np.any(np.asarray(node.v_leak)) for node in graph.nodes.values()):
        gaps.append("a CubaLIF with v_leak != 0 (its current leaks towards it)")
    return gaps


@dataclass(frozen=True)
class FloatRun:
    """The float graph run once on the comparison's inputs: ``inputs`` [N, n_in, C] (the
    spikes, NIR's order, then ``drain`` silent columns: C columns in all), ``values`` per
    layer [N, n_l, C] (its spikes, or a readout's voltage; NIR's neuron order, the float
    graph's own steps), ``steps`` T, ``notes`` (why our reference ran, if it did) and
    ``engine`` ("Norse" or "reference")."""

    inputs: np.ndarray
    values: tuple[np.ndarray, ...]
    steps: int
    notes: tuple[str, ...]
    engine: str


def run_float(graph: nir.NIRGraph, dt: float | None, network: Network, layers: list[ImportedLayer],
              spikes: np.ndarray, source: str = "graph") -> FloatRun:
    """Run ``graph`` in float (Norse, or our reference where Norse 1.1 cannot) on spikes
    [N, n_in, T] (binary, NIR's (C, H, W) order flattened) for the columns the golden
    model runs ``network`` (the NetX network made from it, one layer per ``ImportedLayer``)."""
    samples, inputs, steps = spikes.shape
    columns = steps + drain(len(network.layers), network.starts_with_input)
    padded = np.concatenate([spikes, np.zeros((samples, inputs, columns - steps), spikes.dtype)], axis=-1)
    input_shape = tuple(reversed(network.input_shape))  # NIR's (C, H, W) or (n,)
    names = [layer.name for layer in layers]
    gaps = norse_gaps(graph)
    if gaps:
        flat_graph = flat(graph, source)
        stored = tuple(int(v) for v in np.asarray(next(iter(flat_graph.nodes[flat_graph.input].input_type.values()))))
        values = run_reference(flat_graph, padded.reshape(samples, *stored, columns), dt, names)
        notes = (f"the float graph ran in neurodeploy's float reference (compare/nir_reference.py), not Norse 1.1, "
                 f"which lacks: {', '.join(gaps)}",)
    else:
        values = run_norse(graph, padded.reshape(samples, *input_shape, columns), dt, names)
        notes = ()
    return FloatRun(padded, tuple(values), steps, notes, "reference" if gaps else "Norse")


def golden_run(network: Network, run: FloatRun, record_state: bool) -> GoldenRun:
    """``network`` (the first layers of the imported network, or all of them) in the golden
    model on ``run``'s inputs; ``record_state``: keep the voltages (for a readout)."""
    return GoldenModel(network).run(network.to_lava_order(run.inputs.astype(np.uint8)), record_state=record_state)


def compare_layer(index: int, network: Network, imported: ImportedLayer, golden: GoldenRun,
                  run: FloatRun) -> tuple[LayerAgreement, np.ndarray, np.ndarray]:
    """Layer ``index`` of ``network`` (made from ``imported``) in ``golden`` against the float
    graph's (``run``): its ``LayerAgreement`` and both sides [N, n, C] in NIR's order, the
    float side moved to the golden model's columns (module docstring)."""
    layer = network.layers[index]
    columns = run.inputs.shape[-1]
    reorder = whc_to_chw(layer.lava_shape) if len(layer.lava_shape) == 3 else slice(None)
    shift = arrival(index, network.starts_with_input)
    fixed = (golden.state[index]["v"].astype(np.float64) / (64 * imported.scale) if not imported.spiking
             else golden.spikes[index].astype(np.float64))[:, reorder]
    aligned = np.zeros(fixed.shape)
    aligned[..., shift:] = run.values[index][..., : columns - shift]
    if imported.spiking:
        return LayerAgreement(node=imported.name, neurons=fixed.shape[1], spikes_float=int((aligned != 0).sum()),
                              spikes_fixed=int(fixed.sum()),
                              agreement=float(((fixed != 0) == (aligned != 0)).mean())), fixed, aligned
    scale = float(np.abs(aligned).max())
    rms = float(np.sqrt(np.mean(aligned ** 2)))
    difference = float(np.sqrt(np.mean((fixed - aligned) ** 2)))
    return LayerAgreement(node=imported.name, neurons=fixed.shape[1], spikes_float=0, spikes_fixed=0,
                          agreement=float((np.abs(fixed - aligned) <= 0.01 * scale).mean()), readout=True,
                          error=difference / rms if rms else float(difference > 0)), fixed, aligned


def float_agreement(run: FloatRun, network: Network, layers: list[ImportedLayer]) -> Agreement:
    """Compare the float graph (``run``, from ``run_float``) with ``network`` (the NetX
    network made from it, one layer per ``ImportedLayer``) in the golden model."""
    golden = golden_run(network, run, any(not layer.spiking for layer in layers))
    compared = [compare_layer(index, network, imported, golden, run) for index, imported in enumerate(layers)]
    samples = run.inputs.shape[0]
    classes = [side.sum(axis=-1).argmax(axis=-1) for side in compared[-1][1:]]
    spiking = [(fixed != 0, aligned != 0) for (_, fixed, aligned), layer in zip(compared, layers) if layer.spiking]
    silent = layer_caveats("float and fixed", silent_layers([pair[0] for pair in spiking], [pair[1] for pair in spiking]),
                           samples) if spiking else []
    return Agreement(samples=samples, steps=run.steps, layers=tuple(result for result, _, _ in compared),
                     class_agreement=float((classes[0] == classes[1]).mean()), notes=tuple(silent) + run.notes,
                     engine=run.engine)


def _norse_form(graph: nir.NIRGraph) -> nir.NIRGraph:
    """``graph`` in the form Norse 1.1 runs as NIR defines it on a batch: each LIF's and IF's
    ``r`` folded into the weight node before it (weight and bias times r, then r = 1; Norse
    ignores r, logging a warning), and each Flatten's dimensions moved past the batch
    (Norse makes ``torch.nn.Flatten(start_dim, end_dim)`` of them, which would flatten
    the batch with a NIR start_dim of 0)."""
    nodes = dict(graph.nodes)
    before = {post: pre for pre, post in graph.edges}
    for name, node in graph.nodes.items():
        if isinstance(node, nir.Flatten) and node.start_dim >= 0:
            nodes[name] = dataclasses.replace(node, start_dim=node.start_dim + 1,
                                              end_dim=node.end_dim + 1 if node.end_dim >= 0 else node.end_dim)
        if isinstance(node, (nir.LIF, nir.IF)) and not np.allclose(node.r, 1):
            synapse = nodes[before[name]]
            r = np.asarray(node.r, dtype=np.float64).reshape(-1)
            rows = r.reshape((-1,) + (1,) * (np.ndim(synapse.weight) - 1)) if r.size > 1 else r[0]
            changes = {"weight": np.asarray(synapse.weight) * rows}
            if getattr(synapse, "bias", None) is not None:
                changes["bias"] = np.asarray(synapse.bias) * (r if r.size > 1 else r[0])
            nodes[before[name]] = dataclasses.replace(synapse, **changes)
            nodes[name] = dataclasses.replace(node, r=np.ones_like(np.asarray(node.r)))
    return nir.NIRGraph(nodes=nodes, edges=list(graph.edges), metadata=dict(graph.metadata or {}), type_check=False)
