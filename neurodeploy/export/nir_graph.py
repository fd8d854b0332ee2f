"""Export a NetX network as a NIR graph (the ``nir`` package's HDF5 format).

Graph, in NetX layer order, node names carrying the NetX group index i::

    input -> [layer{i}_lif]                            (an input layer 0)
          -> layer{i}_conv -> layer{i}_lif             (conv: nir.Conv2d, groups = 1)
          -> layer{i}_flatten                          (a flatten group)
          -> layer{i}_linear -> layer{i}_lif           (dense: nir.Linear)
          -> output

Shapes are NIR's (C, H, W) for images and (n,) for vectors; netx flattens
in (C, H, W) order, which is ``nir.Flatten(start_dim=0)`` of a (C, H, W)
tensor, so dense weights [out, in] go over unchanged. A grouped conv is
written as the equivalent groups = 1 conv (``ungrouped``).

Units: float, one unit = 64 Loihi state units, which makes weights and
thresholds SLAYER's float values: ``weight = w_int / 64``,
``v_threshold = vThMant / 64``, ``v_leak`` from the bias mantissa b as
below. Time: ``dt = 1`` step (graph metadata ``dt``).

Dynamics. Loihi, per step (``simulate.fixed_point``; W s the integers the
synapse accumulates)::

    u[t] = trunc0(u[t-1] (1 - di)) + W s[t]            di = iDecay / 4096
    v[t] = trunc0(v[t-1] (1 - dv)) + u[t] + b          dv = vDecay / 4096
    spike when v[t] > vThMant, then v[t] = 0           (all x 64 in Lava)

NIR ``CubaLIF``, forward Euler with dt = 1, the current updated first::

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
``refDelay`` (Lava's CUBA neurons ignore it too) and graded spikes (the
NetX reader already rejects them). See docs/nir.md.
"""
from __future__ import annotations

from pathlib import Path

import nir
import numpy as np

from neurodeploy.fileio import atomic_path
from neurodeploy.network.netx import (
    DECAY_MAX,
    ConvLayer,
    CubaNeuron,
    DenseLayer,
    InputLayer,
    Network,
    NetxError,
)

WEIGHT_SCALE = 64.0
DT = 1.0


class NirExportError(NetxError):
    """A NetX network feature NIR cannot express; names the file and layer."""


def cuba_lif(neuron: CubaNeuron, shape: tuple[int, ...], bias: np.ndarray | None = None,
             input_gain: float = 1.0) -> nir.CubaLIF:
    """The NIR CubaLIF equivalent of ``neuron`` for neurons of NIR ``shape``.

    bias: Loihi bias mantissas broadcastable to ``shape`` (per neuron, or
    per channel as [C, 1, 1]), or None. input_gain: what one unit on the
    node's input adds to the current (1 after a weight node, 1/64 for an
    input layer fed Loihi ``a_in`` integers). Raises ``NirExportError`` for a
    zero decay (no finite time constant).
    """
    for name in ("i_decay", "v_decay"):
        if getattr(neuron, name) == 0:
            raise NirExportError(f"neuron {name} = 0 (no leak) has no finite NIR time constant")
    tau_syn = DT * DECAY_MAX / neuron.i_decay
    tau_mem = DT * DECAY_MAX / neuron.v_decay
    ones = np.ones(shape, dtype=np.float64)
    bias_v = np.zeros(shape) if bias is None else np.broadcast_to(bias / WEIGHT_SCALE, shape)
    return nir.CubaLIF(
        tau_syn=ones * tau_syn,
        tau_mem=ones * tau_mem,
        r=ones * (tau_mem / DT),
        v_leak=ones * bias_v * (tau_mem / DT),
        v_threshold=ones * (neuron.v_th_mant / WEIGHT_SCALE),
        v_reset=np.zeros(shape),
        w_in=ones * (input_gain * tau_syn / DT),
    )


def ungrouped(weight: np.ndarray, groups: int) -> np.ndarray:
    """The groups = 1 weight [out, in, kH, kW] of a grouped conv weight [out, in/groups, kH, kW].

    Output channel o of group g = o // (out/groups) reads input channels
    g*(in/groups) .. (g+1)*(in/groups) - 1; the other entries are zero. nir
    1.0.8's ``Conv2d`` takes its input channel count from ``weight.shape[1]``
    whatever ``groups`` is, so a grouped weight fails its type check.
    """
    out_channels, per_group = weight.shape[:2]
    full = np.zeros((out_channels, per_group * groups, *weight.shape[2:]), dtype=weight.dtype)
    step = out_channels // groups
    for g in range(groups):
        full[g * step:(g + 1) * step, g * per_group:(g + 1) * per_group] = weight[g * step:(g + 1) * step]
    return full


def _check_exportable(layer: DenseLayer | ConvLayer | InputLayer) -> None:
    """Raise ``NirExportError`` for axonal delays (a zero delay is no delay)."""
    if isinstance(layer, DenseLayer) and layer.delay is not None and np.any(layer.delay):
        raise NirExportError(
            f"axonal delays (key 'delay', up to {int(layer.delay.max())} steps) cannot be expressed in NIR"
        )


def network_to_nir(network: Network) -> nir.NIRGraph:
    """The NIR graph of ``network`` (see the module docstring for the mapping).

    Raises ``NirExportError`` naming the file and NetX group ``layer/i`` for
    what NIR cannot express.
    """
    source = network.path or "network"
    nodes: dict[str, nir.NIRNode] = {}
    first = network.layers[0]
    if isinstance(first, InputLayer):
        shape: tuple[int, ...] = tuple(first.shape)
    elif isinstance(first, ConvLayer):
        shape = tuple(network.conv_input)
    else:
        shape = (first.weight.shape[1],)
    nodes["input"] = nir.Input(input_type=np.array(shape))
    group = 0
    for layer in network.layers:
        if isinstance(layer, DenseLayer) and layer.flatten_input:
            nodes[f"layer{group}_flatten"] = nir.Flatten(input_type=np.array(shape), start_dim=0, end_dim=-1)
            shape = (int(np.prod(shape)),)
            group += 1
        try:
            _check_exportable(layer)
            if isinstance(layer, InputLayer):
                nodes[f"layer{group}_lif"] = cuba_lif(layer.neuron, shape, input_gain=1.0 / WEIGHT_SCALE)
            elif isinstance(layer, DenseLayer):
                nodes[f"layer{group}_linear"] = nir.Linear(weight=layer.weight / WEIGHT_SCALE)
                shape = (layer.weight.shape[0],)
                nodes[f"layer{group}_lif"] = cuba_lif(layer.neuron, shape, layer.bias)
            else:
                nodes[f"layer{group}_conv"] = nir.Conv2d(
                    input_shape=np.array(shape[1:]), weight=ungrouped(layer.weight, layer.groups) / WEIGHT_SCALE,
                    stride=np.array(layer.stride), padding=np.array(layer.padding),
                    dilation=np.array(layer.dilation), groups=1,
                    bias=np.zeros(layer.weight.shape[0]),
                )
                shape = tuple(layer.shape)
                bias = None if layer.bias is None else layer.bias.reshape(-1, 1, 1)
                nodes[f"layer{group}_lif"] = cuba_lif(layer.neuron, shape, bias)
        except NetxError as err:
            raise NirExportError(f"{source}: layer/{group}: {err}") from err
        group += 1
    nodes["output"] = nir.Output(output_type=np.array(shape))
    names = list(nodes)
    metadata = {"dt": DT, "time_unit": "step", "weight_scale": WEIGHT_SCALE,
                "source": f"NetX {Path(source).name}", "exporter": "neurodeploy"}
    return nir.NIRGraph(nodes=nodes, edges=list(zip(names[:-1], names[1:])), metadata=metadata)


def export_nir(network: Network, path: Path) -> Path:
    """Write ``network`` as a NIR HDF5 file at ``path``, atomically; returns ``path``."""
    graph = network_to_nir(network)
    path = Path(path)
    with atomic_path(path) as tmp:
        nir.write(tmp, graph)
    return path
