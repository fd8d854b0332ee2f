"""The layers of a NIR graph, found by following its edges (never its node order).

A NIR graph is nodes and directed edges; nested ``NIRGraph`` nodes (subgraphs,
as snnTorch writes a recurrent layer and the NIR paper's Braille network is
written) are first flattened into one graph (``flat``): an inner node ``x`` of
subgraph ``g`` becomes ``g.x``, an edge to ``g`` goes to its ``Input``, an edge
from ``g`` leaves its ``Output``, and pass-through nodes (inner ``Input`` and
``Output``, ``Identity``) are removed, their inputs wired to their outputs.

NetX holds a chain of layers, each a synapse into neurons and, for
``dense_rec``, a synapse from those neurons back to themselves. ``layers``
walks from the graph's one ``Input`` to its one ``Output``::

    source -> [linear nodes] -> neuron -> [linear nodes] -> neuron ... -> Output
    neuron -> [linear nodes] -> the same neuron         (a recurrent loop)

where a source is the ``Input`` or the previous neuron, and a path of linear
nodes (weights, pools, scales, flattens, delays) is turned into one synapse by
``nir_synapse``. A path that reaches the ``Output`` without a neuron is a
readout of its weighted sum. Anything else (a branch, a merge, a loop not
through one neuron) is refused naming the node: NetX has no such structure.
"""
from __future__ import annotations

from dataclasses import dataclass

import nir

from neurodeploy.export.nir_neurons import NEURONS
from neurodeploy.export.nir_params import NirImportError

PASS_THROUGH = (nir.ir.graph.Identity,)


@dataclass(frozen=True)
class FlatGraph:
    """A graph without subgraphs: ``nodes`` by (dotted) name, ``edges`` between them,
    ``input`` and ``output``: the names of its one Input and one Output."""

    nodes: dict[str, nir.NIRNode]
    edges: list[tuple[str, str]]
    input: str
    output: str


@dataclass(frozen=True)
class LayerNodes:
    """One layer: ``synapse`` (the node names from the source to the neuron, in order),
    ``neuron`` (its neuron node, or None for a readout of the weighted sum that ends the
    graph) and ``recurrent`` (the names on its loop back to itself, or ())."""

    synapse: tuple[str, ...]
    neuron: str | None
    recurrent: tuple[str, ...] = ()


def _endpoint(graph: nir.NIRGraph, name: str, end: type, source: str) -> str:
    """The flat name an edge endpoint ``name`` of ``graph`` refers to: a subgraph's Input
    (``end`` = nir.Input) or Output, ``g.x`` for an inner node, else ``name``."""
    node = graph.nodes.get(name)
    if isinstance(node, nir.NIRGraph):
        inner = [key for key, value in node.nodes.items() if isinstance(value, end)]
        if len(inner) != 1:
            raise NirImportError(f"{source}: subgraph '{name}' has {len(inner)} {end.__name__} nodes; one is "
                                 "imported")
        return f"{name}.{inner[0]}"
    head, _, tail = name.partition(".")
    if node is None and isinstance(graph.nodes.get(head), nir.NIRGraph) and tail in graph.nodes[head].nodes:
        return name
    if node is None:
        raise NirImportError(f"{source}: an edge names node '{name}', which the graph does not have")
    return name


def _flatten(graph: nir.NIRGraph, prefix: str, source: str) -> tuple[dict[str, nir.NIRNode], list[tuple[str, str]]]:
    """(nodes, edges) of ``graph`` with subgraphs expanded, names prefixed by ``prefix``."""
    nodes: dict[str, nir.NIRNode] = {}
    edges: list[tuple[str, str]] = []
    for name, node in graph.nodes.items():
        if isinstance(node, nir.NIRGraph):
            inner_nodes, inner_edges = _flatten(node, f"{prefix}{name}.", source)
            nodes.update(inner_nodes)
            edges += inner_edges
        else:
            nodes[f"{prefix}{name}"] = node
    for pre, post in graph.edges:
        edges.append((prefix + _endpoint(graph, pre, nir.Output, source),
                      prefix + _endpoint(graph, post, nir.Input, source)))
    return nodes, edges


def flat(graph: nir.NIRGraph, source: str) -> FlatGraph:
    """``graph`` as one level of nodes (see the module docstring); ``source`` names the file."""
    nodes, edges = _flatten(graph, "", source)
    top_inputs = [name for name, node in graph.nodes.items() if isinstance(node, nir.Input)]
    top_outputs = [name for name, node in graph.nodes.items() if isinstance(node, nir.Output)]
    if len(top_inputs) != 1 or len(top_outputs) != 1:
        raise NirImportError(f"{source}: the graph has {len(top_inputs)} Input and {len(top_outputs)} Output nodes; "
                             "a NetX network has one input and one output")
    passing = [name for name, node in nodes.items() if isinstance(node, PASS_THROUGH + (nir.Input, nir.Output))
               and name not in (top_inputs[0], top_outputs[0])]
    for name in passing:
        before = [pre for pre, post in edges if post == name]
        after = [post for pre, post in edges if pre == name]
        edges = [edge for edge in edges if name not in edge] + [(pre, post) for pre in before for post in after]
        del nodes[name]
    return FlatGraph(nodes, edges, top_inputs[0], top_outputs[0])


def _is_neuron(node: nir.NIRNode) -> bool:
    return type(node) in NEURONS


def layers(graph: FlatGraph, source: str) -> list[LayerNodes]:
    """The layers from the Input to the Output, in order (module docstring); refuses
    branches, merges and other loops naming the node, and nodes off the chain."""
    successors: dict[str, list[str]] = {name: [] for name in graph.nodes}
    predecessors: dict[str, list[str]] = {name: [] for name in graph.nodes}
    for pre, post in graph.edges:
        successors[pre].append(post)
        predecessors[post].append(pre)

    def path(start: str, stop_at: str | None) -> list[str]:
        """Nodes after ``start`` up to (not including) the first neuron, Output or ``stop_at``."""
        names: list[str] = []
        name = start
        while True:
            following = successors[name]
            if len(following) != 1:
                raise NirImportError(f"{source}: node '{name}' leads to {len(following)} nodes "
                                     f"({', '.join(following) or 'none'}); NetX layers form one chain (no branches)")
            name = following[0]
            if name == stop_at or _is_neuron(graph.nodes[name]) or name == graph.output:
                return names
            if len(predecessors[name]) != 1:
                raise NirImportError(f"{source}: node '{name}' has {len(predecessors[name])} inputs (a merge); "
                                     "only a neuron may take a second input, from itself (a recurrent loop)")
            if name in names or len(names) > len(graph.nodes):
                raise NirImportError(f"{source}: node '{name}' is on a loop without a neuron")
            names.append(name)

    def loop(neuron: str) -> tuple[str, ...]:
        """The nodes of the path from ``neuron`` back to itself, or () when it has none."""
        loops = []
        for first in successors[neuron]:
            names, name = [first], first
            while name != neuron and not _is_neuron(graph.nodes[name]) and name != graph.output \
                    and len(successors[name]) == 1 and len(predecessors[name]) == 1 and len(names) <= len(graph.nodes):
                name = successors[name][0]
                names.append(name)
            if name == neuron:
                loops.append(tuple(names[:-1]))
        if len(loops) > 1:
            raise NirImportError(f"{source}: node '{neuron}' feeds itself through {len(loops)} loops; NetX's "
                                 "dense_rec holds one recurrent synapse")
        return loops[0] if loops else ()

    found: list[LayerNodes] = []
    current = graph.input
    while current != graph.output:
        recurrent = loop(current) if current != graph.input else ()
        if recurrent:  # follow the other successor
            successors[current] = [name for name in successors[current] if name != (recurrent[0])]
        synapse = path(current, None)
        end = successors[synapse[-1] if synapse else current][0]
        if end == graph.output:
            if not synapse:
                break
            found.append(LayerNodes(tuple(synapse), None))
            break
        feeding = [name for name in predecessors[end] if name != (synapse[-1] if synapse else current)]
        own = loop(end)
        if len(feeding) != (1 if own else 0):
            raise NirImportError(f"{source}: node '{end}' has {len(predecessors[end])} inputs (a merge); a neuron "
                                 "takes one input and at most one loop from itself")
        if any(name in layer.synapse or name == layer.neuron for layer in found for name in (end, *synapse)):
            raise NirImportError(f"{source}: node '{end}' is reached twice (a loop through several layers)")
        found.append(LayerNodes(tuple(synapse), end, own))
        current = end
    if len(predecessors[graph.output]) != 1:
        raise NirImportError(f"{source}: the Output '{graph.output}' has {len(predecessors[graph.output])} inputs; "
                             "one chain is imported")
    seen = {graph.input, graph.output} | {name for layer in found for name in
                                          (*layer.synapse, *layer.recurrent, *([layer.neuron] if layer.neuron else []))}
    rest = sorted(set(graph.nodes) - seen)
    if rest:
        raise NirImportError(f"{source}: node(s) {', '.join(rest)} are not on the chain from the Input to the Output")
    return found
