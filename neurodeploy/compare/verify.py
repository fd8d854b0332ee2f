"""``neurodeploy verify``: the golden model against Lava ``fixed_pt`` on one stream.

Both sides run the same N samples as one stream with netx's resets
(``loihi.timing``); every spike of every recorded layer at every column
is compared. On a mismatch, the first divergence is located and both
sides' state of that neuron is read around it (Lava by a second run that
stops there). Graded messages are compared by value, not just by presence.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np

from neurodeploy.compare.against_reference import verify_reference
from neurodeploy.compare.caveats import silent_layers
from neurodeploy.compare.equivalence import Equivalence, compare_recordings, exact_samples
from neurodeploy.compare.recorded import read_reference
from neurodeploy.compare.synops import network_synops
from neurodeploy.compare.verification import Divergence, Timing, Verification, VerifiedLayer, states_around
from neurodeploy.netx import Network
from neurodeploy.limits import Limits
from neurodeploy.simulate.golden import GoldenModel, GoldenRun, message_bytes, run_bytes
from neurodeploy.simulate.harness import lava_process_count, run_lava
from neurodeploy.simulate.input_options import (InputOptionError, InputOptions, check_at_least_one,
                                                network_and_stimulus)
from neurodeploy.simulate.stimulus import Stimulus
from neurodeploy.loihi.timing import arrival, drain, owners

LAYER_CHOICES = ("all", "out")


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
           limits: Limits | None = None, batch_size: int | None = None,
           reset_interval: int | None = None) -> Verification:
    """Run both sides on ``stimulus`` and compare them (``Verification``).

    layers: ``all`` records and compares every layer in Lava, ``out`` the
    last one only (smaller recordings; synops from Lava's spikes are then
    unknown for the other layers). batch_size: the samples run ``batch_size``
    at a time, each batch its own stream from zero state on both sides (None:
    one stream of all); what is held is one batch's messages. reset_interval: netx's
    (default T).
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
        golden_spikes, lava_spikes, result = tally.add(network, golden, batch, recorded, sparse, reset_interval)
        if result.first is not None and first_divergence is None:
            first_divergence = _divergence(
                network, batch, sparse, result.first, golden_spikes, lava_spikes,
                golden.run_stream(batch, record_state=True, reset_interval=reset_interval), number, first_sample,
                reset_interval)
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
            sparse: bool, reset_interval: int | None = None
            ) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray], Equivalence]:
        """Run ``batch`` as one stream on both sides, compare, count; returns both sides'
        messages [n_l, columns] by layer and the comparison."""
        count = len(network.layers)
        start = time.perf_counter()
        golden_run = golden.run_stream(batch, reset_interval=reset_interval)
        self.golden_s += time.perf_counter() - start
        lava_run = run_lava(network, batch, layers=recorded, sparse=sparse, reset_interval=reset_interval)
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
                batch_size: int | None = None, reset_interval: int | None = None,
                reference: Path | None = None) -> Verification:
    """``verify`` of the NetX file ``path`` (its first ``num_layers`` layer groups) on the
    input ``options`` name, ``batch_size`` samples per stream, with netx's
    ``reset_interval`` (default T). With ``reference`` (a ``deploy`` recording or a
    folder of per-layer arrays, ``recorded``), against it instead of Lava
    (``against_reference``; the samples run as one stream, as they were recorded).
    ``warn`` gets a line for what netx does to the file, for layers with all-zero weight
    rows and for notes on the input, before anything runs. ``InputOptionError`` when
    ``options`` name no input, or for ``num_layers``, ``batch_size``, ``reset_interval``
    or ``layers`` (``LAYER_CHOICES``) out of range; ``recorded.ReferenceError`` for a
    reference that does not fit the network, the input or the run."""
    check_at_least_one("--batch-size", batch_size)
    check_at_least_one("--reset-interval", reset_interval)
    if reference is not None and batch_size is not None:
        raise InputOptionError("--batch-size does not apply with --reference: a recording is one stream")
    if layers not in LAYER_CHOICES:
        raise InputOptionError(f"--layers {layers!r} is not one of: {', '.join(LAYER_CHOICES)}")
    limits = limits or Limits()
    network, stimulus = network_and_stimulus(
        path, options, num_layers, input_shape, limits,
        lambda net, n, t: check_verify_memory(net, min(n, batch_size or n), t, limits), warn)
    if reference is not None:
        given = tuple(Path(item) for item in (options.spikes, options.events, options.bias) if item is not None)
        found = read_reference(reference, network, stimulus, reset_interval, given)
        return verify_reference(network, stimulus, found, sparse=sparse or bool(found.meta.get("sparse")),
                                reset_interval=reset_interval)
    return verify(network, stimulus, sparse=sparse, layers=layers, limits=limits, batch_size=batch_size,
                  reset_interval=reset_interval)


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
    reset_interval: int | None = None,
) -> Divergence:
    """Where and how the two sides first differ in the stream ``stimulus`` (batch number
    ``batch``, whose first sample is sample ``first_sample`` of all): both sides'
    message, and the neuron model's state variables after that step and the step
    before; Lava's from a run stopped there."""
    layer, neuron, column = first
    probe = run_lava(network, stimulus, layers=[layer], sparse=sparse, probe=first,
                     reset_interval=reset_interval).probe
    sample, step = owners(arrival(layer, network.starts_with_input), stimulus.num_samples, stimulus.steps,
                          golden_spikes[layer].shape[1])
    after, before = states_around(golden_state.state[layer], neuron, column)
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
        state_golden=after,
        state_lava=probe.after,
        state_before_golden=before,
        state_before_lava=probe.before,
        batch=batch,
    )
