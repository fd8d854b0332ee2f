"""``neurodeploy verify``: the golden model against Lava ``fixed_pt`` on one stream.

Both sides run the same N samples as one stream with netx's resets
(``loihi.timing``); every spike of every recorded layer at every column
is compared. On a mismatch, the first divergence is located and both
sides' state of that neuron is read around it (Lava by a second run that
stops there). Graded messages are compared by value, not just by presence.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from neurodeploy.compare.caveats import silent_layers
from neurodeploy.compare.equivalence import Equivalence, compare_recordings, exact_samples
from neurodeploy.compare.synops import network_synops
from neurodeploy.netx import Network, network_warnings, read_netx
from neurodeploy.netx.probe import probe_hdf5
from neurodeploy.limits import Limits
from neurodeploy.simulate.golden import GoldenModel, GoldenRun, message_bytes, run_bytes
from neurodeploy.simulate.harness import lava_process_count, run_lava
from neurodeploy.simulate.input_options import (InputOptionError, InputOptions, check_at_least_one,
                                                check_input_shape, make_stimulus)
from neurodeploy.simulate.stimulus import Stimulus
from neurodeploy.loihi.timing import arrival, drain, owners

LAYER_CHOICES = ("all", "out")


@dataclass(frozen=True)
class VerifiedLayer:
    """One layer of a verification, its figures summed over every batch.

    index: its place among the layers with neurons; group: the ``layer/i`` group it
    was read from; type: its NetX type; neuron: its neuron model in one line;
    neurons: its neuron count; spikes_golden, spikes_lava: nonzero messages (spikes,
    or graded messages) on each side, Lava's None for a layer it did not record;
    mismatches: (neuron, column) entries that differ, None when not recorded;
    synops, synops_lava: synaptic operations from each side's messages, Lava's None
    where its messages do not give them (a layer it did not record feeds this one).
    """

    index: int
    group: int
    type: str
    neuron: str
    neurons: int
    spikes_golden: int
    spikes_lava: int | None
    mismatches: int | None
    synops: int
    synops_lava: int | None


@dataclass(frozen=True)
class Divergence:
    """Where the golden model and Lava first differ, and how.

    layer, group: the layer (its index and ``layer/i`` group); neuron: its index
    in Lava's flat (W, H, C) order, neuron_index: the same in the layer's Lava
    shape; column: the column of its batch's stream; sample, step: the sample (over
    all batches) and its step that column belongs to; message_golden,
    message_lava: both sides' message there (0/1, or the graded value);
    state_golden, state_lava: the neuron model's state variables after that step
    (u and v for CUBA; sigma, act and residue for sigma-delta; real and imag for
    resonate-and-fire, integers as Lava holds them), state_before_*: after the step
    before; batch: the batch (stream) it is in, from 0.
    """

    layer: int
    group: int
    neuron: int
    neuron_index: tuple[int, ...]
    column: int
    sample: int
    step: int
    message_golden: int
    message_lava: int
    state_golden: dict[str, int]
    state_lava: dict[str, int]
    state_before_golden: dict[str, int]
    state_before_lava: dict[str, int]
    batch: int


@dataclass(frozen=True)
class Timing:
    """Wall seconds each side ran, over every batch (Lava's includes building its network)."""

    golden_s: float
    lava_s: float


@dataclass(frozen=True)
class Verification:
    """The golden model against Lava ``fixed_pt`` on one input set (``verify``).

    network: the NetX file; equivalent: no compared message differs (then
    first_divergence is None); samples, steps: the input set (N samples of T
    steps); batch_size, batches: the samples per stream and the number of
    streams; columns: stream columns over all batches (each stream is its
    samples' steps and the steps the last messages take to leave the network);
    sparse_synapses: Lava ran dense layers on ``Sparse`` synapses;
    layers_compared: ``all`` or ``out`` (the last layer only); compared_entries:
    (neuron, column) entries compared; exact_samples: samples whose every
    compared message agrees; silent_layers: compared layers with no message on
    either side, where nothing was compared; layers: per layer
    (``VerifiedLayer``); first_divergence: in the first batch that has one;
    timing: seconds per side.
    """

    network: str
    equivalent: bool
    samples: int
    steps: int
    batch_size: int
    batches: int
    columns: int
    sparse_synapses: bool
    layers_compared: str
    compared_entries: int
    exact_samples: int
    silent_layers: tuple[int, ...]
    layers: tuple[VerifiedLayer, ...]
    first_divergence: Divergence | None
    timing: Timing

    def to_dict(self) -> dict[str, Any]:
        """The JSON ``neurodeploy verify --json`` writes: these fields, nested dataclasses as
        objects, tuples as lists."""
        return asdict(self)


def check_verify_memory(network: Network, samples: int, steps: int, limits: Limits) -> None:
    """``LimitError`` unless a verify of ``samples`` x ``steps`` fits ``limits``: the golden
    model's stream with its state, Lava's source (int32) and recordings."""
    length = samples * steps + drain(len(network.layers), network.starts_with_input)
    input_size = int(np.prod(network.input_shape))
    needed = run_bytes(input_size, network.sizes, 1, length, record_state=True,
                       message_size=message_bytes(network)) + \
        length * (8 * input_size + 2 * sum(network.sizes))
    limits.check_memory(needed, f"verify ({samples} samples x {steps} steps = {length} columns)")


def verify(network: Network, stimulus: Stimulus, sparse: bool = False, layers: str = "all",
           limits: Limits | None = None, batch_size: int | None = None) -> Verification:
    """Run both sides on ``stimulus`` and compare them (``Verification``).

    layers: ``all`` records and compares every layer in Lava, ``out`` the
    last one only (smaller recordings; synops from Lava's spikes are then
    unknown for the other layers). batch_size: the samples run ``batch_size``
    at a time, each batch its own stream from zero state on both sides (None:
    one stream of all); what is held is one batch's messages.
    """
    count = len(network.layers)
    golden = GoldenModel(network, sparse=sparse)
    recorded = list(range(count)) if layers == "all" else [count - 1]
    limits = limits or Limits()
    limits.check_lava_processes(
        lava_process_count(count, network.starts_with_input, len(recorded), stimulus.spikes is not None),
        f"verify of {network.path} ({count} layers)")
    batch_size = min(batch_size or stimulus.num_samples, stimulus.num_samples)
    check_verify_memory(network, batch_size, stimulus.steps, limits)
    tally = _Tally(count, recorded)
    first_divergence = None
    batches = stimulus.batches(batch_size)
    for number, (first_sample, batch) in enumerate(batches):
        golden_spikes, lava_spikes, result = tally.add(network, golden, batch, recorded, sparse)
        if result.first is not None and first_divergence is None:
            first_divergence = _divergence(network, batch, sparse, result.first, golden_spikes, lava_spikes,
                                           golden.run_stream(batch, record_state=True), number, first_sample)
    return Verification(
        network=str(network.path),
        equivalent=first_divergence is None,
        samples=stimulus.num_samples,
        steps=stimulus.steps,
        batch_size=batch_size,
        batches=len(batches),
        columns=tally.columns,
        sparse_synapses=sparse,
        layers_compared=layers,
        compared_entries=tally.compared,
        exact_samples=tally.exact,
        silent_layers=tuple(i for i in sorted(tally.silent) if i in recorded),
        layers=tuple(
            VerifiedLayer(
                index=i,
                group=network.group_of(i),
                type=kind,
                neuron=network.layers[i].neuron.describe()["summary"],
                neurons=network.layers[i].size,
                spikes_golden=int(tally.golden_messages[i]),
                spikes_lava=int(tally.lava_messages[i]) if i in recorded else None,
                mismatches=tally.mismatches[i] if i in recorded else None,
                synops=int(tally.synops[i]),
                synops_lava=int(tally.synops_lava[i]) if tally.synops_lava[i] >= 0 else None,
            )
            for i, kind in enumerate(network.kinds)
        ),
        first_divergence=first_divergence,
        timing=Timing(golden_s=tally.golden_s, lava_s=tally.lava_s),
    )


class _Tally:
    """The figures of ``verify``, summed over its batches."""

    def __init__(self, count: int, recorded: list[int]) -> None:
        self.golden_messages = np.zeros(count, dtype=np.int64)
        self.lava_messages = np.zeros(count, dtype=np.int64)
        self.mismatches = {i: 0 for i in recorded}
        self.synops = np.zeros(count, dtype=np.int64)
        self.synops_lava: np.ndarray | None = None  # -1 where Lava's messages do not give them
        self.silent = set(range(count))  # layers silent on both sides in every batch so far
        self.compared = self.exact = self.columns = 0
        self.golden_s = self.lava_s = 0.0

    def add(self, network: Network, golden: GoldenModel, batch: Stimulus, recorded: list[int],
            sparse: bool) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray], Equivalence]:
        """Run ``batch`` as one stream on both sides, compare, count; returns both sides'
        messages [n_l, columns] by layer and the comparison."""
        count = len(network.layers)
        start = time.perf_counter()
        golden_run = golden.run_stream(batch)
        self.golden_s += time.perf_counter() - start
        lava_run = run_lava(network, batch, layers=recorded, sparse=sparse)
        self.lava_s += lava_run.seconds
        golden_spikes = {i: golden_run.spikes[i][0] for i in range(count)}
        result = compare_recordings(golden_spikes, lava_run.spikes)
        stream = batch.stream_spikes(golden.drain_steps)
        inputs = None if stream is None else stream[None]
        self.synops += network_synops(network, inputs, [s[None] for s in golden_spikes.values()])[0]
        lava_synops = network_synops(network, inputs, [lava_run.spikes[i][None] if i in lava_run.spikes else None
                                                       for i in range(count)])[0]
        self.synops_lava = lava_synops if self.synops_lava is None else \
            np.where(lava_synops >= 0, self.synops_lava + lava_synops, -1)
        self.silent &= set(silent_layers([golden_spikes[i] if i in lava_run.spikes else None for i in range(count)],
                                         [lava_run.spikes.get(i) for i in range(count)]))
        for i in range(count):
            self.golden_messages[i] += np.count_nonzero(golden_spikes[i])
            if i in lava_run.spikes:
                self.lava_messages[i] += np.count_nonzero(lava_run.spikes[i])
                self.mismatches[i] += result.mismatches[i]
        arrivals = {i: arrival(i, network.starts_with_input) for i in recorded}
        self.exact += int(exact_samples(golden_spikes, lava_run.spikes, arrivals, batch.num_samples,
                                        batch.steps).sum())
        self.compared += result.compared
        self.columns += batch.stream_length(golden.drain_steps)
        return golden_spikes, lava_run.spikes, result


def verify_file(path: str | Path, options: InputOptions, num_layers: int | None = None,
                input_shape: tuple[int, int, int] | None = None, sparse: bool = False, layers: str = "all",
                limits: Limits | None = None, warn: Callable[[str], None] = lambda line: None,
                batch_size: int | None = None) -> Verification:
    """``verify`` of the NetX file ``path`` (its first ``num_layers`` layer groups) on the
    input ``options`` name, ``batch_size`` samples per stream. ``warn`` gets a line for what
    netx does to the file, for layers with all-zero weight rows and for notes on the input,
    before anything runs. ``InputOptionError`` when ``options`` name no input, or for
    ``num_layers``, ``batch_size`` or ``layers`` (``LAYER_CHOICES``) out of range."""
    check_at_least_one("--num-layers", num_layers)
    check_at_least_one("--batch-size", batch_size)
    if layers not in LAYER_CHOICES:
        raise InputOptionError(f"--layers {layers!r} is not one of: {', '.join(LAYER_CHOICES)}")
    if not options.given:
        raise InputOptionError("give an input (--spikes, --events, --bias or --random-rate)")
    limits = limits or Limits()
    probe_hdf5(path)
    network = read_netx(path, num_layers, input_shape)
    check_input_shape(network, input_shape)
    for line in network_warnings(network):
        warn(line)
    stimulus = make_stimulus(options, network, limits, lambda n, t: check_verify_memory(
        network, min(n, batch_size or n), t, limits), warn)
    return verify(network, stimulus, sparse=sparse, layers=layers, limits=limits, batch_size=batch_size)


def _divergence(
    network: Network,
    stimulus: Stimulus,
    sparse: bool,
    first: tuple[int, int, int],
    golden_spikes: dict[int, np.ndarray],
    lava_spikes: dict[int, np.ndarray],
    golden_state: GoldenRun,
    batch: int,
    first_sample: int,
) -> Divergence:
    """Where and how the two sides first differ in the stream ``stimulus`` (batch number
    ``batch``, whose first sample is sample ``first_sample`` of all): both sides'
    message, and the neuron model's state variables after that step and the step
    before; Lava's from a run stopped there."""
    layer, neuron, column = first
    probe = run_lava(network, stimulus, layers=[layer], sparse=sparse, probe=first).probe
    sample, step = owners(arrival(layer, network.starts_with_input), stimulus.num_samples, stimulus.steps,
                          golden_spikes[layer].shape[1])
    state = golden_state.state[layer]
    return Divergence(
        layer=layer,
        group=network.group_of(layer),
        neuron=neuron,
        neuron_index=tuple(int(i) for i in np.unravel_index(neuron, network.layers[layer].lava_shape)),
        column=column,
        sample=first_sample + int(sample[column]),
        step=int(step[column]),
        message_golden=int(golden_spikes[layer][neuron, column]),
        message_lava=int(lava_spikes[layer][neuron, column]),
        state_golden={name: int(values[0, neuron, column]) for name, values in state.items()},
        state_lava=probe.after,
        state_before_golden={name: int(values[0, neuron, column - 1]) if column else 0
                             for name, values in state.items()},
        state_before_lava=probe.before,
        batch=batch,
    )
