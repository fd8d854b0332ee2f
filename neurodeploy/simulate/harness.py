"""The Lava harness: many samples through one compiled netx network in ``fixed_pt``.

The stream layout and the reset schedule are ``timing``'s: sample k's input
occupies columns [kT, kT + T), netx resets each layer's u and v when
sample k reaches it (``reset_interval=T``, ``reset_offset=timing.reset_offset``),
and ``drain`` silent columns follow the last sample. An input layer's bias
(an image) is set before each sample's window and zeroed for the drain.
Spikes of the layers asked for are recorded by ``SpikeRecorder``
(bit-packed, so reading them costs 1/48 of a ring-buffer sink).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from neurodeploy.lavacompat import Loihi2SimCfg, RunSteps, SourceRingBuffer, netx
from neurodeploy.network.netx import Network
from neurodeploy.simulate.lava_runtime import started
from neurodeploy.simulate.stimulus import Stimulus
from neurodeploy.simulate.recorder.process import SpikeRecorder, unpack
from neurodeploy.simulate.timing import drain, reset_offset


# Lava's own processes beside the network's: the runtime service, the
# shared-memory server and Python's resource tracker.
LAVA_RUNTIME_PROCESSES = 3


def lava_process_count(layers: int, starts_with_input: bool, recorded: int, source: bool) -> int:
    """OS processes a ``run_lava`` of a network of ``layers`` layers forks: two per
    layer (its synapse and its neurons; one for an input layer, which has no
    synapse), one per recorded layer, one for the spike source, and the runtime's
    three (measured on lava-nc 0.10.0: 10 for the 2-layer oxford network, its
    source and two recorders)."""
    return 2 * layers - int(starts_with_input) + recorded + int(source) + LAVA_RUNTIME_PROCESSES


@dataclass(frozen=True)
class Probe:
    """Lava's state of one neuron around one column.

    u, v: after the step of ``column``; u_before, v_before: after the step
    before it (0 when ``column`` is 0).
    """

    layer: int
    neuron: int
    column: int
    u: int
    v: int
    u_before: int
    v_before: int


@dataclass(frozen=True)
class LavaRun:
    """Spikes per recorded layer, uint8 [n_l, length]; wall seconds of the whole run."""

    spikes: dict[int, np.ndarray]
    seconds: float
    probe: Probe | None = None


def _schedule(length: int, steps: int, bias: np.ndarray | None, stops: Sequence[int]) -> list[tuple[int, int, np.ndarray | None]]:
    """Segments (start, stop, bias to set first or None) covering [0, length).

    A new segment starts at every window start when there is a bias, at the
    drain (bias zeroed), and at each column in ``stops``.
    """
    cuts = {0, length, *[s for s in stops if 0 < s < length]}
    biases: dict[int, np.ndarray] = {}
    if bias is not None:
        for k in range(len(bias)):
            biases[k * steps] = bias[k]
        biases[len(bias) * steps] = np.zeros_like(bias[0])
        cuts.update(c for c in biases if c < length)
    points = sorted(cuts)
    return [(a, b, biases.get(a)) for a, b in zip(points[:-1], points[1:])]


def run_lava(
    network: Network,
    stimulus: Stimulus,
    layers: Sequence[int] | None = None,
    sparse: bool = False,
    probe: tuple[int, int, int] | None = None,
) -> LavaRun:
    """Run ``stimulus`` through ``network``'s file in Lava ``fixed_pt`` as one stream.

    netx builds the same layers from the file (its first ``network.groups``
    groups; a conv layer 0 gets ``network.input_shape``, which the file does
    not store). The stream has N*T + drain columns (``Stimulus.stream_spikes``,
    ``timing.drain``), neurons in Lava order (``Network.to_lava_order``);
    spikes go to ``net.inp``, or to an input layer's ``a_in``; an input
    layer's bias is sample k's in its window and zero after the last.
    layers: indices to record (default all). sparse: Lava ``Sparse``
    synapses for dense layers (``sparse_fc_layer``). probe: (layer, neuron,
    column) whose u and v to read around that column.
    """
    extra = drain(len(network.layers), network.starts_with_input)
    length = stimulus.stream_length(extra)
    steps = stimulus.steps
    spikes = stimulus.stream_spikes(extra)
    start = time.perf_counter()
    net = netx.hdf5.Network(
        net_config=str(network.path),
        num_layers=network.groups,
        reset_interval=steps,
        reset_offset=reset_offset(network.starts_with_input),
        sparse_fc_layer=sparse,
        input_shape=network.input_shape if network.starts_with_conv else None,
    )
    in_layer = net.layers[0]
    if spikes is not None:
        target = in_layer.neuron.a_in if network.starts_with_input else net.inp
        source = SourceRingBuffer(data=spikes.reshape(*target.shape, length).astype(np.int32))
        source.s_out.connect(target)
    wanted = list(range(len(net.layers))) if layers is None else list(layers)
    recorders = {}
    for index in wanted:
        out = net.layers[index].out
        recorder = SpikeRecorder(size=int(np.prod(out.shape)), num_steps=length)
        (out.flatten() if len(out.shape) > 1 else out).connect(recorder.a_in)
        recorders[index] = recorder
    stops = [] if probe is None else [probe[2], probe[2] + 1]
    state: dict[int, tuple[int, int]] = {}
    schedule = _schedule(length, steps, stimulus.bias, stops)
    bias = in_layer.neuron.bias_mant
    if schedule[0][2] is not None:
        bias.init = schedule[0][2].reshape(bias.shape)
    with started(net, Loihi2SimCfg(select_tag="fixed_pt")):
        for first, stop, segment_bias in schedule:
            if segment_bias is not None and first > 0:
                bias.set(segment_bias.reshape(bias.shape))
            net.run(condition=RunSteps(num_steps=stop - first))
            if probe is not None and stop in (probe[2], probe[2] + 1):
                neuron = net.layers[probe[0]].neuron
                state[stop] = (int(neuron.u.get().reshape(-1)[probe[1]]), int(neuron.v.get().reshape(-1)[probe[1]]))
        recorded = {i: unpack(r.words.get(), length) for i, r in recorders.items()}
    found = None
    if probe is not None:
        layer, neuron, column = probe
        u, v = state[column + 1]
        u_before, v_before = state.get(column, (0, 0))
        found = Probe(layer, neuron, column, u, v, u_before, v_before)
    return LavaRun(recorded, time.perf_counter() - start, found)
