"""Per-core activity of a mapped network, in the counters of Intel's Loihi2Activity profiler.

From the golden model's messages and the mapping (``resources.core_of`` of
every neuron), per sample n, step s and core c (cores in layer order, each
layer's in the mapper's order):

- ``syn_ops``: synaptic operations, sum over presynaptic messages m_i of
  the nonzero synapses from i onto the core's neurons (``F[c, i]``), as
  ``compare.synops`` counts them, split by core: sum_i [m_i != 0] F[c, i];
- ``dendrite_updates``: the core's neurons (Loihi updates every configured
  neuron in every step);
- ``spikes_in``: messages the core receives: each presynaptic message once
  per core it has a synapse on, sum_i [m_i != 0] [F[c, i] > 0];
- ``spikes_out``: messages the core's neurons send (spikes, or nonzero
  graded messages);
- ``axon_out``: messages the core routes onward: each of its messages once
  per core of the next layer (and, for a recurrent layer, of its own) that
  it has a synapse on. The last layer's messages leave for the host and
  route nothing; input from the host is not counted.

The work a message causes on the receiving core is charged to the step that
sent it (the chip does it at the start of the next step; over a periodic
stream, the same mean). Sums over cores are exact: ``syn_ops`` of a layer's
cores add up to ``compare.synops``'s count for the layer.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse

from neurodeploy.hardware.resources import NetworkResources, core_entries, network_connections
from neurodeploy.netx import Network
from neurodeploy.netx.base import Connections

EVENTS = ("syn_ops", "dendrite_updates", "spikes_in", "spikes_out", "axon_out")


@dataclass(frozen=True)
class _Route:
    """One layer's wiring on the cores: ``first`` its first core's index, ``core_of``
    [n] the core of each neuron (within the layer), ``fan`` per synapse matrix of the
    layer the CSR [cores, n_pre] of nonzero synapses per (core, presynaptic neuron) and
    whether it is recurrent, ``destinations`` [n] the cores each of its messages reaches."""

    first: int
    core_of: np.ndarray
    fan: tuple[tuple[scipy.sparse.csr_matrix, bool], ...]
    destinations: np.ndarray


@dataclass(frozen=True)
class CoreRoutes:
    """How messages reach cores (``core_routes``): per layer its ``_Route``, and per core
    its layer (``layer_of`` [C]) and neurons (``neurons`` [C])."""

    routes: tuple[_Route, ...]
    layer_of: np.ndarray
    neurons: np.ndarray

    @property
    def cores(self) -> int:
        return int(self.layer_of.size)


def _fan(block: Connections, core_of: np.ndarray) -> scipy.sparse.csr_matrix:
    """CSR [cores, n_pre]: nonzero synapses from each presynaptic neuron onto each core."""
    weights = scipy.sparse.csr_matrix(block.weights, copy=True)
    weights.eliminate_zeros()
    return core_entries(weights, core_of)


def _cores_reached(fans: list[scipy.sparse.csr_matrix], neurons: int) -> np.ndarray:
    """int64 [neurons]: the cores each presynaptic neuron has a synapse on, through any of
    ``fans`` (matrices onto the same cores)."""
    if not fans:
        return np.zeros(neurons, dtype=np.int64)
    union = sum(fans[1:], fans[0]).tocsc()
    return np.diff(union.indptr).astype(np.int64)


def core_routes(network: Network, resources: NetworkResources,
                connections: list[list[Connections]] | None = None) -> CoreRoutes:
    """The routes of ``network`` as ``resources`` maps it; ``connections``:
    ``resources.network_connections(network)`` when already computed."""
    connections = network_connections(network) if connections is None else connections
    first, fans = 0, []
    for layer, blocks in zip(resources.layers, connections):
        fans.append(tuple((_fan(block, layer.core_of), block.recurrent) for block in blocks))
    routes, layer_of, neurons = [], [], []
    for index, layer in enumerate(resources.layers):
        # a message reaches each core of the next layer once, through however many of
        # its matrices (a complex layer's two), and each core of its own layer's recurrence
        following = fans[index + 1] if index + 1 < len(resources.layers) else ()
        reached = sum((_cores_reached([fan for fan, recurrent in group if recurrent == wanted], layer.neurons)
                       for group, wanted in ((fans[index], True), (following, False))),
                      np.zeros(layer.neurons, dtype=np.int64))
        routes.append(_Route(first, layer.core_of, fans[index], reached))
        layer_of += [index] * layer.cores
        neurons.append(np.bincount(layer.core_of, minlength=layer.cores))
        first += layer.cores
    return CoreRoutes(tuple(routes), np.asarray(layer_of, dtype=np.int64), np.concatenate(neurons))


def _sent(messages: np.ndarray) -> scipy.sparse.csr_matrix:
    """[n, N S] 0/1 of which neuron sent a message at each (sample, step), from [N, n, S]."""
    sent = np.asarray(messages) != 0
    return scipy.sparse.csr_matrix(sent.transpose(1, 0, 2).reshape(sent.shape[1], -1), dtype=np.int64)


def core_events(routes: CoreRoutes, inputs: np.ndarray | None, layer_spikes: list[np.ndarray]) -> np.ndarray:
    """int64 [N, S, C, len(EVENTS)]: the events of every core at every step (module docstring).

    inputs: [N, n_in, S] messages into layer 0's synapse (None for none: an input
    layer's bias, or a network starting with an input layer); layer_spikes[l]: [N, n_l, S]
    messages of layer l (the golden model's)."""
    samples, _, steps = layer_spikes[0].shape
    events = np.zeros((samples * steps, routes.cores, len(EVENTS)), dtype=np.int64)
    events[:, :, EVENTS.index("dendrite_updates")] = routes.neurons
    syn, into, out, axon = (EVENTS.index(e) for e in ("syn_ops", "spikes_in", "spikes_out", "axon_out"))
    presynaptic = [inputs, *layer_spikes[:-1]]
    for index, (route, own) in enumerate(zip(routes.routes, layer_spikes)):
        cores = slice(route.first, route.first + int(route.core_of.max()) + 1)
        sent = _sent(own)
        for fan, recurrent in route.fan:
            pre = sent if recurrent else (None if presynaptic[index] is None else _sent(presynaptic[index]))
            if pre is None:
                continue
            events[:, cores, syn] += (fan @ pre).T.toarray()
            events[:, cores, into] += ((fan > 0).astype(np.int64) @ pre).T.toarray()
        owner = scipy.sparse.csr_matrix((np.ones(route.core_of.size, dtype=np.int64),
                                         (route.core_of, np.arange(route.core_of.size))))
        events[:, cores, out] += (owner @ sent).T.toarray()
        events[:, cores, axon] += (owner @ sent.multiply(route.destinations[:, None]).tocsr()).T.toarray()
    return events.reshape(samples, steps, routes.cores, len(EVENTS))
