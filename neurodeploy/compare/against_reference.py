"""``verify --reference``: the golden model against recorded messages instead of Lava.

The golden model runs the input as one stream with netx's resets, exactly as
``verify`` runs it against Lava. Each reference layer (``recorded.Reference``)
is compared entry by entry with the golden model's messages of that layer:

- a recording: column t of the reference is stream column t (lag 0), every
  column compared;
- a folder's file: column t is stream column t + d, with d the shift in
  [-(a + 2), a + 2] (a: the first column compared, below) that leaves the fewest differing
  entries (ties: the most columns compared, then the smallest |d|; shifts that
  compare less than half the columns another compares are not considered),
  reported as the layer's ``lag``. Its columns that fall outside the stream
  are not compared, nor, for a neuron model netx resets (CUBA), those before
  the first sample reaches the layer (``timing.arrival``): netx's first reset
  discards what the layer did until then, and producers disagree there (SLAYER's
  step 0). A sigma-delta layer is never reset; all its columns count.

Every compared entry counts; a layer whose compared entries are all zero on
both sides is named silent. The first divergence (earliest stream column,
lowest layer) is located with the golden model's state there; the
reference has no state, so its side is empty.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from neurodeploy.compare.chip_check import chip_check
from neurodeploy.compare.recorded import Reference, ReferenceError, ReferenceLayer
from neurodeploy.compare.synops import network_synops
from neurodeploy.compare.verification import Divergence, Timing, Verification, VerifiedLayer, states_around
from neurodeploy.loihi.timing import arrival, owners
from neurodeploy.netx import Network
from neurodeploy.simulate.golden import GoldenModel
from neurodeploy.simulate.stimulus import Stimulus


@dataclass(frozen=True)
class Aligned:
    """One reference layer against the golden model: the lag used, the reference's
    compared columns (ints into its [n, T_ref]), and the (neuron, reference column)
    entries that differ."""

    lag: int
    columns: np.ndarray
    differ: np.ndarray


def align(golden: np.ndarray, reference: ReferenceLayer, first: int) -> Aligned:
    """``reference`` against ``golden`` [n, L] (module doc); first: the first stream column
    a folder's file may be compared at (the layer's arrival for a layer netx resets)."""
    length, span = golden.shape[1], reference.messages.shape[1]
    lags = [reference.lag] if reference.lag is not None else range(-(first + 2), first + 3)
    first = first if reference.lag is None else 0
    spans = {lag: np.arange(max(0, first - lag), min(span, length - lag)) for lag in lags}
    most = max(len(columns) for columns in spans.values())
    best: tuple[tuple[int, int, int], Aligned] | None = None
    for lag, columns in spans.items():
        if reference.lag is None and 2 * len(columns) < most or not len(columns):
            continue  # a shift that leaves out half of what another compares is not an alignment
        differ = np.argwhere(golden[:, columns + lag] != reference.messages[:, columns])
        differ[:, 1] = columns[differ[:, 1]]
        rank = (len(differ), -len(columns), abs(lag))
        if best is None or rank < best[0]:
            best = (rank, Aligned(lag, columns, differ))
    if best is None:
        raise ReferenceError(f"{reference.source}: no column of it falls in this run's stream after layer "
                             f"{reference.layer} first receives input (column {first})")
    return best[1]


def verify_reference(network: Network, stimulus: Stimulus, reference: Reference, sparse: bool = False,
                     reset_interval: int | None = None) -> Verification:
    """The golden model on ``stimulus`` against ``reference`` (module doc), as a
    ``Verification`` whose ``against`` names the reference and whose Lava fields hold the
    reference's figures (its messages in the compared columns, no state, no time)."""
    golden = GoldenModel(network, sparse=sparse)
    start = time.perf_counter()
    run = golden.run_stream(stimulus, reset_interval=reset_interval)
    seconds = time.perf_counter() - start
    messages = [spikes[0] for spikes in run.spikes]  # run.spikes: [1, n_l, L] per layer
    length = stimulus.stream_length(golden.drain_steps)
    aligned = {ref.layer: (ref, align(messages[ref.layer], ref, _first_column(network, ref.layer)))
               for ref in reference.layers}
    stream = stimulus.stream_spikes(golden.drain_steps)
    inputs = None if stream is None else stream[None]
    synops = network_synops(network, inputs, run.spikes)[0]
    first = _first(aligned)
    silent = tuple(layer for layer, (ref, found) in sorted(aligned.items())
                   if not messages[layer][:, found.columns + found.lag].any() and
                   not ref.messages[:, found.columns].any())
    return Verification(
        network=str(network.path),
        equivalent=first is None,
        samples=stimulus.num_samples,
        steps=stimulus.steps,
        batch_size=stimulus.num_samples,
        batches=1,
        columns=length,
        sparse_synapses=sparse,
        layers_compared=",".join(str(layer) for layer in sorted(aligned)),
        compared_entries=int(sum(ref.messages.shape[0] * len(found.columns) for ref, found in aligned.values())),
        exact_samples=_exact_samples(network, stimulus, aligned, length),
        silent_layers=silent,
        layers=tuple(_layer(network, i, messages[i], int(synops[i]), aligned.get(i))
                     for i in range(len(network.layers))),
        first_divergence=None if first is None else _divergence(network, golden, stimulus, reset_interval, messages,
                                                                aligned, first),
        timing=Timing(golden_s=seconds, lava_s=0.0),
        against=reference.ran_on,
        unused_references=reference.unused,
        chip=chip_check(network, inputs, run.spikes, sparse, reset_interval or stimulus.steps, reference.chip),
    )


def _first_column(network: Network, layer: int) -> int:
    """The first stream column a folder's file of ``layer`` is compared at: its arrival
    for a neuron model netx resets, else 0."""
    return arrival(layer, network.starts_with_input) if network.layers[layer].neuron.resets else 0


def _layer(network: Network, index: int, golden: np.ndarray, synops: int,
           found: tuple[ReferenceLayer, Aligned] | None) -> VerifiedLayer:
    """The table row of layer ``index``; the reference's columns None where it has none."""
    ref, aligned = found if found is not None else (None, None)
    return VerifiedLayer(
        index=index, group=network.group_of(index), type=network.kinds[index],
        neuron=network.layers[index].neuron.describe()["summary"], neurons=network.layers[index].size,
        spikes_golden=int(np.count_nonzero(golden)),
        spikes_lava=None if ref is None else int(np.count_nonzero(ref.messages[:, aligned.columns])),
        mismatches=None if ref is None else len(aligned.differ),
        synops=synops, synops_lava=None,
        reference=None if ref is None else ref.source,
        lag=None if ref is None else aligned.lag,
        columns_compared=None if ref is None else len(aligned.columns),
    )


def _first(aligned: dict[int, tuple[ReferenceLayer, Aligned]]) -> tuple[int, int, int] | None:
    """(layer, neuron, stream column) of the earliest differing entry, the lowest layer
    first within a column; None when none differs."""
    found = None
    for layer, (_, entry) in sorted(aligned.items()):
        if len(entry.differ):
            at = int(np.argmin(entry.differ[:, 1]))
            candidate = (layer, int(entry.differ[at, 0]), int(entry.differ[at, 1]) + entry.lag)
            if found is None or candidate[2] < found[2]:
                found = candidate
    return found


def _exact_samples(network: Network, stimulus: Stimulus, aligned: dict[int, tuple[ReferenceLayer, Aligned]],
                   length: int) -> int:
    """Samples none of whose compared entries differ."""
    bad: set[int] = set()
    for layer, (_, entry) in aligned.items():
        sample, _ = owners(arrival(layer, network.starts_with_input), stimulus.num_samples, stimulus.steps, length)
        bad.update(int(s) for s in sample[entry.differ[:, 1] + entry.lag] if s < stimulus.num_samples)
    return stimulus.num_samples - len(bad)


def _divergence(network: Network, golden: GoldenModel, stimulus: Stimulus, reset_interval: int | None,
                messages: list[np.ndarray], aligned: dict[int, tuple[ReferenceLayer, Aligned]],
                first: tuple[int, int, int]) -> Divergence:
    """The first divergence with the golden model's state around it."""
    layer, neuron, column = first
    ref, entry = aligned[layer]
    after, before = states_around(
        golden.run_stream(stimulus, record_state=True, reset_interval=reset_interval).state[layer], neuron, column)
    sample, step = owners(arrival(layer, network.starts_with_input), stimulus.num_samples, stimulus.steps,
                          messages[layer].shape[1])
    return Divergence(
        layer=layer, group=network.group_of(layer), neuron=neuron,
        neuron_index=tuple(int(i) for i in np.unravel_index(neuron, network.layers[layer].lava_shape)),
        column=column, sample=int(sample[column]), step=int(step[column]),
        message_golden=int(messages[layer][neuron, column]),
        message_lava=int(ref.messages[neuron, column - entry.lag]),
        state_golden=after,
        state_lava={},
        state_before_golden=before,
        state_before_lava={},
        batch=0,
    )
