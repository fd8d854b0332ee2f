"""``neurodeploy compare A.net B.net``: two networks on one input set, golden model only.

Typically A is a dense network and B its pruned version. Each sample runs
alone from zero state for T + drain steps (``loihi.timing``), so every
spike it causes is counted.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from neurodeploy.compare.caveats import (agreement_caveat, layer_caveats, prediction_caveats, silent_layers,
                                         silent_outputs)
from neurodeploy.compare.neurobench import NeuroBenchFigures, NeuroBenchTally
from neurodeploy.compare.synops import network_synops
from neurodeploy.hardware.profile import available_profiles, load_profile
from neurodeploy.hardware.cost import NetworkCost
from neurodeploy.netx import Network, network_warnings, read_netx
from neurodeploy.netx.probe import probe_hdf5
from neurodeploy.limits import Limits
from neurodeploy.simulate.golden import GoldenModel, GoldenRun, message_bytes, run_bytes
from neurodeploy.loihi.timing import drain
from neurodeploy.simulate.input_options import (InputOptionError, InputOptions, check_at_least_one,
                                                check_input_shape, make_stimulus, recipe_test_set)
from neurodeploy.simulate.stimulus import Stimulus
from neurodeploy.train.model import classify


class NetworkMismatchError(ValueError):
    """Two networks that cannot be compared: their inputs or outputs differ."""


@dataclass(frozen=True)
class ComparedLayer:
    """One layer of one network in a comparison: index (among the layers with neurons),
    NetX type, neuron count, and per sample its messages (spikes, or nonzero graded
    messages) and synaptic operations, means over the samples."""

    index: int
    type: str
    neurons: int
    spikes_per_sample: float
    synops_per_sample: float


@dataclass(frozen=True)
class NetworkFigures:
    """One network of a comparison: its file, its layers (``ComparedLayer``), its synaptic
    operations per sample (all layers), the golden model's wall seconds, the cores it
    maps to on each chip profile (``hardware.resources``, its dense layers on netx's
    ``Dense`` or, where asked, ``Sparse`` synapses), and per profile its cores, time per
    step, energy per inference and activity per core (``hardware.cost.NetworkCost.figures``);
    neurobench: NeuroBench 2.3's metrics under its names (``compare.neurobench``)."""

    network: str
    layers: tuple[ComparedLayer, ...]
    synops_per_sample: float
    golden_s: float
    cores: dict[str, int]
    hardware: dict[str, dict[str, Any]]
    neurobench: NeuroBenchFigures


@dataclass(frozen=True)
class Comparison:
    """Two networks, A and B, in the golden model on one input set (``compare_networks``).

    samples, steps: the input set (N samples of T steps); batch_size: samples
    run at a time; a, b: each network's figures; output_agreement: fraction of
    output (neuron, step) entries equal; output_identical_samples: fraction of
    samples whose output messages are identical; class_agreement: fraction of
    samples given the same class (``train.model.classify`` over the first T
    steps; None for a single output neuron); accuracy_a, accuracy_b: against
    the labels (a recipe's test set; None without labels); caveats: a line for
    each figure that rests on nothing (``caveats``: silent layers, silent
    outputs, a single predicted class); synops_ratio: B's synaptic operations
    over A's (None when A has none).
    """

    samples: int
    steps: int
    batch_size: int
    a: NetworkFigures
    b: NetworkFigures
    output_agreement: float
    output_identical_samples: float
    class_agreement: float | None
    accuracy_a: float | None
    accuracy_b: float | None
    caveats: tuple[str, ...]
    synops_ratio: float | None

    def to_dict(self) -> dict[str, Any]:
        """The JSON ``neurodeploy compare A.net B.net --json`` writes: these fields (the
        accuracies only when there are labels), nested dataclasses as objects, tuples as
        lists."""
        result = asdict(self)
        if self.accuracy_a is None:
            del result["accuracy_a"], result["accuracy_b"]
        return result


def run_batch(golden: GoldenModel, stimulus: Stimulus, record_state: bool = False
              ) -> tuple[GoldenRun, np.ndarray, np.ndarray, float]:
    """Golden run of every sample alone: spikes [N, n_l, T + drain] per layer (and, with
    ``record_state``, its state), the inputs as it ran them [N, n_in, T + drain], synaptic
    operations int64 [N, L], and wall seconds."""
    start = time.perf_counter()
    run = golden.run_samples(stimulus, record_state=record_state)
    seconds = time.perf_counter() - start
    inputs = stimulus.batch_spikes(golden.drain_steps)
    return run, inputs, network_synops(golden.network, inputs, run.spikes), seconds


@dataclass
class _Tally:
    """One network's figures, summed batch by batch: messages per layer (int64 [L]), the
    layers silent in every batch so far (``caveats.silent_layers``), synaptic operations
    per sample ([n, L] per batch), golden seconds, and per sample its class and whether
    its output was silent."""

    golden: GoldenModel
    cost: NetworkCost
    neurobench: NeuroBenchTally
    messages: np.ndarray
    silent_layers: set[int]
    synops: list[np.ndarray] = field(default_factory=list)
    seconds: float = 0.0
    classes: list[np.ndarray] = field(default_factory=list)
    silent: list[np.ndarray] = field(default_factory=list)

    @classmethod
    def of(cls, network: Network, sparse: bool) -> "_Tally":
        count = len(network.layers)
        cost = NetworkCost(network, [load_profile(name) for name in available_profiles()], sparse)
        return cls(GoldenModel(network), cost, NeuroBenchTally(network), np.zeros(count, dtype=np.int64),
                   set(range(count)))

    def add(self, stimulus: Stimulus) -> np.ndarray:
        """Run a batch; keep its figures; return its output messages [n, n_out, T + drain]."""
        run, inputs, synops, seconds = run_batch(self.golden, stimulus, record_state=True)
        self.cost.add(inputs, run.spikes)
        self.neurobench.add(inputs, run.spikes, run.state)
        self.messages += [np.count_nonzero(spikes) for spikes in run.spikes]
        self.silent_layers &= set(silent_layers(run.spikes))
        self.synops.append(synops)
        self.seconds += seconds
        return run.spikes[-1]

    def summary(self, samples: int, steps: int) -> NetworkFigures:
        """The network's figures over ``samples`` samples of ``steps`` steps."""
        synops = np.concatenate(self.synops)
        network = self.golden.network
        hardware = self.cost.figures(steps)
        return NetworkFigures(
            network=str(network.path),
            layers=tuple(
                ComparedLayer(index=i, type=kind, neurons=layer.size,
                              spikes_per_sample=float(self.messages[i] / samples),
                              synops_per_sample=float(synops[:, i].mean()))
                for i, (kind, layer) in enumerate(zip(network.kinds, network.layers))
            ),
            synops_per_sample=float(synops.sum(axis=1).mean()),
            golden_s=self.seconds,
            cores={name: figures["cores"] for name, figures in hardware.items()},
            hardware=hardware,
            neurobench=self.neurobench.figures(),
        )


def check_compare_memory(networks: tuple[Network, ...], samples: int, steps: int, limits: Limits) -> None:
    """``LimitError`` unless running every network on ``samples`` x ``steps`` fits ``limits``."""
    length = steps + max(drain(len(n.layers), n.starts_with_input) for n in networks)
    needed = sum(run_bytes(int(np.prod(n.input_shape)), n.sizes, samples, length, record_state=True,
                           message_size=message_bytes(n))
                 for n in networks)
    limits.check_memory(needed, f"compare ({samples} samples x {length} steps, {len(networks)} networks)")


def compare_networks(a: Network, b: Network, stimulus: Stimulus, labels: np.ndarray | None = None,
                     limits: Limits | None = None, batch_size: int | None = None, sparse: bool = False
                     ) -> Comparison:
    """Compare A and B on every sample of ``stimulus``, ``batch_size`` samples at a time
    (None: all at once): what is held beyond the input is one batch's messages, and a
    few numbers per sample; the figures do not depend on the batch size. labels: int [N],
    the samples' classes, for the accuracies. sparse: map dense layers onto the chip as
    netx's ``Sparse`` synapses store them (no zero weight), else ``Dense`` (netx's
    default). ``NetworkMismatchError`` when A and B differ in input or output shape.
    """
    if a.input_shape != b.input_shape or a.layers[-1].lava_shape != b.layers[-1].lava_shape:
        raise NetworkMismatchError(
            f"{a.path} and {b.path} differ in input {a.input_shape} / {b.input_shape} "
            f"or output {a.layers[-1].lava_shape} / {b.layers[-1].lava_shape}"
        )
    samples, steps = stimulus.num_samples, stimulus.steps
    batch_size = min(batch_size or samples, samples)
    check_compare_memory((a, b), batch_size, steps, limits or Limits())
    tallies = (_Tally.of(a, sparse), _Tally.of(b, sparse))
    classes = a.layers[-1].size > 1
    equal = entries = identical = 0
    for _, batch in stimulus.batches(batch_size):
        out_a, out_b = (tally.add(batch) for tally in tallies)
        common = min(out_a.shape[-1], out_b.shape[-1])
        same = out_a[..., :common] == out_b[..., :common]
        equal, entries = equal + int(same.sum()), entries + same.size
        identical += int(same.all(axis=(1, 2)).sum())
        for tally, out in zip(tallies, (out_a, out_b)):
            tally.silent.append(silent_outputs(out[..., :common]))
            if classes:
                tally.classes.append(classify(out[..., :common], steps))
    tally_a, tally_b = tallies
    caveats = [*layer_caveats("A", sorted(tally_a.silent_layers), samples),
               *layer_caveats("B", sorted(tally_b.silent_layers), samples)]
    class_agreement = accuracy_a = accuracy_b = None
    if classes:
        class_a, class_b = np.concatenate(tally_a.classes), np.concatenate(tally_b.classes)
        silent_a, silent_b = np.concatenate(tally_a.silent), np.concatenate(tally_b.silent)
        class_agreement = float((class_a == class_b).mean())
        caveats += [*prediction_caveats("A", silent_a, class_a), *prediction_caveats("B", silent_b, class_b),
                    *agreement_caveat(silent_a, silent_b)]
        if labels is not None:
            accuracy_a, accuracy_b = float((class_a == labels).mean()), float((class_b == labels).mean())
    figures_a, figures_b = tally_a.summary(samples, steps), tally_b.summary(samples, steps)
    return Comparison(
        samples=samples,
        steps=steps,
        batch_size=batch_size,
        a=figures_a,
        b=figures_b,
        output_agreement=equal / entries,
        output_identical_samples=identical / samples,
        class_agreement=class_agreement,
        accuracy_a=accuracy_a,
        accuracy_b=accuracy_b,
        caveats=tuple(caveats),
        synops_ratio=figures_b.synops_per_sample / figures_a.synops_per_sample if figures_a.synops_per_sample else None,
    )


def check_input_set(options: InputOptions, recipe: str | Path | None) -> None:
    """``InputOptionError`` for a ``recipe`` (whose test set is the input set) given with
    one of the ``options``' inputs or with their ``steps``."""
    if recipe is None:
        return
    if options.given:
        raise InputOptionError("--recipe is an input set of its own: give it or one of --spikes, --events, "
                               "--bias and --random-rate")
    if options.steps is not None:
        raise InputOptionError("--steps does not apply to --recipe (its samples have the recipe's data.steps)")


def compare_files(paths: Sequence[str | Path], options: InputOptions, recipe: str | Path | None = None,
                  num_layers: int | None = None, input_shape: tuple[int, int, int] | None = None,
                  limits: Limits | None = None, warn: Callable[[str], None] = lambda line: None,
                  batch_size: int | None = None, sparse: bool = False) -> Comparison:
    """``compare_networks`` of the NetX files ``paths`` (A and B, their first ``num_layers``
    layer groups) on the input ``options`` name, or on the test set of the recipe at
    ``recipe`` with its labels, ``batch_size`` samples at a time. ``warn`` gets a line for
    what netx does to each file, for layers with all-zero weight rows and for notes on the
    input, before anything runs. ``InputOptionError`` for no input set or two
    (``check_input_set``), or ``num_layers`` or ``batch_size`` below 1."""
    check_input_set(options, recipe)
    check_at_least_one("--num-layers", num_layers)
    check_at_least_one("--batch-size", batch_size)
    limits = limits or Limits()
    for path in paths:
        probe_hdf5(path)
    a, b = (read_netx(path, num_layers, input_shape) for path in paths)
    check_input_shape(a, input_shape)
    for line in (*network_warnings(a), *network_warnings(b)):
        warn(line)
    labels = None
    if recipe is not None:
        stimulus, labels = recipe_test_set(recipe, a, options.samples, limits)
    elif options.given:
        stimulus = make_stimulus(options, a, limits, lambda n, t: check_compare_memory(
            (a, b), min(n, batch_size or n), t, limits), warn)
    else:
        raise InputOptionError("give an input set (--spikes, --events, --bias, --random-rate or --recipe)")
    return compare_networks(a, b, stimulus, labels, limits, batch_size, sparse)
