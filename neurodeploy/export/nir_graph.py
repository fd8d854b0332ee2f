"""Export a NetX network as a NIR graph (the ``nir`` package's HDF5 format).

Graph, in NetX layer order, node names carrying the NetX group index i
(each layer kind writes its own nodes, ``Layer.nir_synapse``, and each
neuron model its own, ``NeuronModel.nir_node``)::

    input -> [layer{i}_lif]                            (an input layer 0)
          -> layer{i}_conv -> layer{i}_lif             (conv: nir.Conv2d, groups = 1)
          -> layer{i}_flatten -> layer{i}_linear       (a dense layer after a flatten)
          -> layer{i}_linear -> layer{i}_lif           (dense: nir.Linear)
          -> output
    layer{i}_lif -> layer{i}_recurrent -> layer{i}_lif (dense_rec: nir.Linear of weight_rec)

Shapes are NIR's (C, H, W) for images and (n,) for vectors; netx flattens
in (C, H, W) order, which is ``nir.Flatten(start_dim=0)`` of a (C, H, W)
tensor, so dense weights [out, in] go over unchanged. A grouped conv is
written as the equivalent groups = 1 conv (``ungrouped``).

Units: float, one unit = 64 Loihi state units, which makes weights and
thresholds SLAYER's float values: ``weight = w_int / 64``,
``v_threshold = vThMant / 64``, ``v_leak`` from the bias mantissa b as
below. Time in seconds, one Loihi step being ``dt = 1e-4`` s (graph metadata
``dt``): the step snnTorch's importer assumes; Norse needs ``from_nir(graph,
dt=1e-4)``. See docs/nir.md for loading the graph in either.

Dynamics. Loihi, per step (``netx.neurons.cuba``; W s the integers the
synapse accumulates)::

    u[t] = trunc0(u[t-1] (1 - di)) + W s[t]            di = iDecay / 4096
    v[t] = trunc0(v[t-1] (1 - dv)) + u[t] + b          dv = vDecay / 4096
    spike when v[t] > vThMant, then v[t] = 0           (all x 64 in Lava)

NIR ``CubaLIF``, forward Euler with step dt, the current updated first::

    I[t] = I[t-1] + (dt / tau_syn) (-I[t-1] + w_in S[t])
    v[t] = v[t-1] + (dt / tau_mem) (v_leak - v[t-1] + r I[t])
    spike when v[t] > v_threshold, then v[t] = v_reset

They coincide (up to rounding) for ``tau_syn = dt / di``, ``w_in = tau_syn
/ dt``, ``tau_mem = dt / dv``, ``r = tau_mem / dt``, ``v_leak = b tau_mem
/ (64 dt)`` and ``v_reset = 0``. A zero decay has no finite time constant
(``NirExportError``).

NIR does not carry: the fixed-point arithmetic (integer weights, netx's
weight-exponent rescaling, the rounding toward zero of the decays, the
24-bit wrap and saturation of the state), Loihi's one-step delay per layer
(NIR edges have none), axonal delays (``NirExportError`` naming the layer),
``refDelay`` (Lava's CUBA neurons ignore it too). NIR has no node for
sigma-delta or resonate-and-fire neurons: refused, naming the layer. See
docs/nir.md.
"""
from __future__ import annotations

from pathlib import Path

import nir
import numpy as np

from neurodeploy.fileio import atomic_path
from neurodeploy.loihi.arithmetic import WEIGHT_SCALE
from neurodeploy.netx import Network, NetxError

# One Loihi step in seconds. snnTorch 1.0's import_from_nir fixes its step at 1e-4 s
# (and requires r = tau_mem / 1e-4); Norse's from_nir takes dt as an argument.
DT = 1e-4


class NirExportError(NetxError):
    """A NetX network feature NIR cannot express; names the file and layer."""


def _nir_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """NIR's shape of a Lava shape: (W, H, C) becomes (C, H, W)."""
    return tuple(reversed(shape))


def network_to_nir(network: Network) -> nir.NIRGraph:
    """The NIR graph of ``network`` (see the module docstring for the mapping).

    Raises ``NirExportError`` naming the file and NetX group ``layer/i`` for
    what NIR cannot express (each kind's ``nir_synapse`` and ``nir_node``).
    """
    source = network.path or "network"
    nodes: dict[str, nir.NIRNode] = {}
    edges: list[tuple[str, str]] = []
    shape = _nir_shape(network.input_shape)
    nodes["input"] = nir.Input(input_type=np.array(shape))
    last = "input"
    for index, layer in enumerate(network.layers):
        group = network.group_of(index)
        try:
            parts, shape = layer.nir_synapse(shape)
            bias = None if layer.bias is None else layer.bias.reshape(layer.lava_shape).transpose()  # (C, H, W)
            gain = 1.0 if layer.has_synapse else 1.0 / WEIGHT_SCALE
            parts.append(("lif", layer.neuron.nir_node(_nir_shape(layer.lava_shape), bias, gain, DT)))
            recurrent = layer.nir_recurrent()
        except NetxError as err:
            raise NirExportError(f"{source}: layer/{group}: {err}") from err
        for suffix, node in parts:
            name = f"layer{group}_{suffix}"
            nodes[name] = node
            edges.append((last, name))
            last = name
        if recurrent is not None:
            nodes[f"layer{group}_recurrent"] = recurrent
            edges += [(last, f"layer{group}_recurrent"), (f"layer{group}_recurrent", last)]
        shape = _nir_shape(layer.lava_shape)
    nodes["output"] = nir.Output(output_type=np.array(shape))
    edges.append((last, "output"))
    metadata = {"dt": DT, "time_unit": "s", "weight_scale": WEIGHT_SCALE,
                "source": f"NetX {Path(source).name}", "exporter": "neurodeploy"}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)


def export_nir(network: Network, path: Path) -> Path:
    """Write ``network`` as a NIR HDF5 file at ``path``, atomically; returns ``path``."""
    graph = network_to_nir(network)
    path = Path(path)
    with atomic_path(path) as tmp:
        nir.write(tmp, graph)
    return path
