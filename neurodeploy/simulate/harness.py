"""The Lava harness: many samples through one compiled netx network in ``fixed_pt``.

The stream layout and the reset schedule are ``timing``'s: sample k's input
occupies columns [kT, kT + T), netx resets each layer's u and v when
sample k reaches it (``reset_interval=T``, ``reset_offset=timing.reset_offset``),
and ``drain`` silent columns follow the last sample. An input layer's bias
(an image) is set before each sample's window and zeroed for the drain.
Spikes of the layers asked for are recorded by ``SpikeRecorder``
(bit-packed, so reading them costs 1/48 of a ring-buffer sink), graded
messages by ``ValueRecorder``.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from neurodeploy.lavacompat import Loihi2SimCfg, Monitor, RunSteps, SourceRingBuffer, netx
from neurodeploy.loihi.timing import drain, reset_offset
from neurodeploy.netx import Network
from neurodeploy.netx.base import Layer
from neurodeploy.simulate.lava_runtime import started
from neurodeploy.simulate.recorder.process import SpikeRecorder, ValueRecorder, unpack
from neurodeploy.simulate.stimulus import Stimulus


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
    """Lava's state of one neuron around one column: each of its neuron model's state
    variables after the step of ``column`` (``after``) and after the step before it
    (``before``; zeros when ``column`` is 0)."""

    layer: int
    neuron: int
    column: int
    after: dict[str, int]
    before: dict[str, int]


@dataclass(frozen=True)
class LavaRun:
    """Messages per recorded layer, [n_l, length] (uint8 spikes or int32 graded values);
    wall seconds of the whole run; the voltages asked for, int64 [n_l, length] per layer
    (``v`` after each step, read by Lava's ``Monitor``)."""

    spikes: dict[int, np.ndarray]
    seconds: float
    probe: Probe | None = None
    voltages: dict[int, np.ndarray] = field(default_factory=dict)


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


def _recorder(layer: Layer, length: int) -> tuple[object, Callable[[object], np.ndarray]]:
    """A recorder of ``layer``'s messages and how to read it: bit-packed spikes, or values."""
    if layer.neuron.message_bits:
        recorder = ValueRecorder(size=layer.size, num_steps=length)
        return recorder, lambda r: r.values.get().astype(np.int64).astype(np.int32)
    recorder = SpikeRecorder(size=layer.size, num_steps=length)
    return recorder, lambda r: unpack(r.words.get(), length)


def run_lava(
    network: Network,
    stimulus: Stimulus,
    layers: Sequence[int] | None = None,
    sparse: bool = False,
    probe: tuple[int, int, int] | None = None,
    reset_interval: int | None = None,
    voltages: Sequence[int] = (),
) -> LavaRun:
    """Run ``stimulus`` through ``network``'s file in Lava ``fixed_pt`` as one stream.

    netx builds the same layers from the file (its first ``network.group_count``
    groups; a network without an input layer gets ``network.input_shape``,
    which a conv layer 0 needs and the file does not store). The stream has
    N*T + drain columns (``Stimulus.stream_spikes``, ``timing.drain``),
    neurons in Lava order (``Network.to_lava_order``); the input goes to
    ``net.inp``, or to an input layer's ``a_in``; an input layer's image
    goes to its bias Var (``NeuronModel.input_bias_var``), sample k's in its
    window and zero after the last. layers: indices to record (default
    all). sparse: Lava ``Sparse`` synapses for dense layers
    (``sparse_fc_layer``). probe: (layer, neuron, column) whose state
    variables to read around that column. reset_interval: netx's (default T, once per
    sample). voltages: layers whose neurons' ``v`` (a readout's output, which sends no
    message) to record at every column, each by a Lava ``Monitor`` (one more process
    per layer, not in ``lava_process_count``: the tests use it, no command does).
    """
    drain_steps = drain(len(network.layers), network.starts_with_input)
    length = stimulus.stream_length(drain_steps)
    steps = stimulus.steps
    spikes = stimulus.stream_spikes(drain_steps)
    start = time.perf_counter()
    with warnings.catch_warnings():  # netx warns that sigma-delta neurons ignore the reset interval
        warnings.filterwarnings("ignore", message="Reset is not supported with Sigma Delta")
        net = netx.hdf5.Network(
            net_config=str(network.path),
            num_layers=network.group_count,
            reset_interval=reset_interval or steps,
            reset_offset=reset_offset(network.starts_with_input),
            sparse_fc_layer=sparse,
            input_shape=None if network.starts_with_input else network.input_shape,
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
        recorder, read = _recorder(network.layers[index], length)
        (out.flatten() if len(out.shape) > 1 else out).connect(recorder.a_in)
        recorders[index] = (recorder, read)
    monitors = {}
    for index in voltages:
        monitors[index] = Monitor()
        monitors[index].probe(net.layers[index].neuron.v, length)
    stops = [] if probe is None else [probe[2], probe[2] + 1]
    state: dict[int, dict[str, int]] = {}
    schedule = _schedule(length, steps, stimulus.bias, stops)
    bias_var = network.layers[0].neuron.input_bias_var
    bias = getattr(in_layer.neuron, bias_var) if bias_var is not None and network.starts_with_input else None
    if schedule[0][2] is not None:
        bias.init = schedule[0][2].reshape(bias.shape)
    with started(net, Loihi2SimCfg(select_tag="fixed_pt")):
        for first, stop, segment_bias in schedule:
            if segment_bias is not None and first > 0:
                bias.set(segment_bias.reshape(bias.shape))
            net.run(condition=RunSteps(num_steps=stop - first))
            if probe is not None and stop in (probe[2], probe[2] + 1):
                neuron = net.layers[probe[0]].neuron
                state[stop] = {name: int(getattr(neuron, name).get().reshape(-1)[probe[1]])
                               for name in network.layers[probe[0]].neuron.state_names}
        recorded = {i: read(r) for i, (r, read) in recorders.items()}
        voltage = {i: _monitored(monitor, length) for i, monitor in monitors.items()}
    found = None
    if probe is not None:
        layer, neuron, column = probe
        names = network.layers[layer].neuron.state_names
        found = Probe(layer, neuron, column, state[column + 1], state.get(column, dict.fromkeys(names, 0)))
    return LavaRun(recorded, time.perf_counter() - start, found, voltage)


def _monitored(monitor: object, length: int) -> np.ndarray:
    """The one Var a ``Monitor`` recorded, [length, *shape] floats of integers, as int64
    [n, length] (Lava's flat neuron order)."""
    (recorded,) = monitor.get_data().values()
    (values,) = recorded.values()
    return np.asarray(values).reshape(length, -1).T.astype(np.int64)
