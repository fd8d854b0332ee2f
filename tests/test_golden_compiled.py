"""Property tests: the golden model's compiled path equals its plain reference path.

The reference path (``GoldenModel(reference=True)``) is the readable
specification, itself checked against Lava (test_random_networks,
test_golden, the fixtures). Here random networks of every kind
(``netx_builders.random_network``: input layers, dense with delays, recurrent,
complex, conv, CUBA, sigma-delta, RF and RF_IZ neurons, Sigma outputs) run in
both paths, in batch mode and as a stream with netx's resets, Dense and
Sparse synapses, on their inputs and on extreme ones that make every wrap and
saturation fire: every message and every state variable at every step must
be equal. The compiled scalar arithmetic is checked against the numpy
definitions on random and edge values.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from netx_builders import RANDOM_STEPS, random_network

from neurodeploy.loihi import arithmetic, scalar
from neurodeploy.loihi.weights import shift_accumulated
import dataclasses

from neurodeploy.netx import DenseLayer, Network, read_netx, write_netx
from neurodeploy.netx import fanout as fanouts
from neurodeploy.simulate.golden import GoldenModel, GoldenRun
from neurodeploy.simulate.stimulus import Stimulus

SEEDS = range(36)


def _edge_values(rng: np.random.Generator) -> np.ndarray:
    """int64 values around every boundary the arithmetic has, and random ones of every scale."""
    edges = [np.array([0, 1, -1, 4095, -4095, 4096, -4096], dtype=np.int64)]
    for bits in (15, 16, 23, 24, 31, 32, 40):
        edges.append((np.array([1 << bits, -(1 << bits)])[:, None] + np.arange(-2, 3)).ravel())
    scales = rng.integers(0, 48, size=4000)
    randoms = rng.integers(-(1 << 47), 1 << 47, size=4000) >> scales
    return np.concatenate(edges + [randoms])


def test_scalar_arithmetic_equals_the_numpy_definitions() -> None:
    values = _edge_values(np.random.default_rng(0))
    contracts = {
        scalar.wrap32: arithmetic.wrap32,
        scalar.wrap16: lambda x: arithmetic.signed_wrap(x, 16),
        scalar.wrap24_modular: lambda x: arithmetic.signed_wrap(x, 24),
        scalar.saturate24: arithmetic.saturate24,
        scalar.trunc_shift12: lambda x: np.sign(x) * np.right_shift(np.abs(x), 12),
        scalar.int32_cast: lambda x: np.where(np.abs(x.astype(np.float64)) >= 2.0**31, -(1 << 31), x),
    }
    for compiled, numpy_rule in contracts.items():
        expected = numpy_rule(values)
        assert [compiled(int(v)) for v in values] == expected.tolist(), compiled.__name__
    small = values[np.abs(values) < 1 << 30]
    assert [scalar.wrap24_once(int(v)) for v in small] == arithmetic.wrap24(small).tolist()
    int32 = arithmetic.wrap32(values)
    assert [scalar.abs32(int(v)) for v in int32] == np.abs(int32.astype(np.int32)).astype(np.int64).tolist()
    for amount in (0, 1, 7, 1024, 2048, 4095, 4096):
        assert [scalar.decay(int(v), amount) for v in small] == arithmetic.decay(small, amount).tolist(), amount
    for exponent in (-7, -1, 0, 3):
        assert [scalar.shift(int(v), exponent) for v in small] == shift_accumulated(small, exponent).tolist()


def _both(network: Network, inputs: np.ndarray, sparse: bool, stream: bool, batch_size: int) -> tuple[GoldenRun, GoldenRun]:
    stimulus = Stimulus(inputs, None, RANDOM_STEPS)
    runs = []
    for reference in (False, True):
        model = GoldenModel(network, sparse=sparse, reference=reference)
        if stream:
            runs.append(model.run_stream(stimulus, record_state=True))
        else:
            drain = model.drain_steps
            runs.append(model.run(stimulus.batch_spikes(drain), None, record_state=True, batch_size=batch_size))
    return runs[0], runs[1]


def _assert_equal(fast: GoldenRun, plain: GoldenRun, what: str) -> None:
    assert len(fast.spikes) == len(plain.spikes)
    for index, (a, b) in enumerate(zip(fast.spikes, plain.spikes)):
        assert a.dtype == b.dtype and a.shape == b.shape, (what, index)
        assert np.array_equal(a, b), f"{what}: layer {index} messages differ at {np.argwhere(a != b)[:3].tolist()}"
    for index, (a, b) in enumerate(zip(fast.state, plain.state)):
        assert a.keys() == b.keys()
        for name in a:
            assert np.array_equal(a[name], b[name]), f"{what}: layer {index} state {name} differs"


def _extreme(inputs: np.ndarray, network: Network, seed: int) -> np.ndarray:
    """Inputs that overflow everything: int32-scale values into an input layer, every
    neuron spiking into a synapse."""
    rng = np.random.default_rng(seed)
    if network.starts_with_input:
        return rng.integers(-(1 << 33), 1 << 33, size=inputs.shape) >> rng.integers(0, 34, size=inputs.shape)
    return (rng.random(inputs.shape) < 0.9).astype(np.int64)


def _pruned(network: Network, seed: int, folder: Path) -> Network:
    """The network with 85 % of every dense matrix's weights zeroed (one kept in each), so that
    its synapses take the compiled path's sparse (CSR) form."""
    rng = np.random.default_rng(seed)

    def prune(weight: np.ndarray) -> np.ndarray:
        kept = np.where(rng.random(weight.shape) < 0.15, weight, 0)
        kept.flat[np.flatnonzero(weight)[:1]] = weight.flat[np.flatnonzero(weight)[:1]]
        return kept

    layers = []
    for layer in network.layers:
        if isinstance(layer, DenseLayer):
            changes = {"weight": prune(layer.weight)}
            for name in ("weight_imag", "weight_rec"):
                if getattr(layer, name, None) is not None:
                    changes[name] = prune(getattr(layer, name))
            layer = dataclasses.replace(layer, **changes)
        layers.append(layer)
    path = folder / f"pruned_{seed}.net"
    write_netx(path, layers)
    shape = network.input_shape
    return read_netx(path, input_shape=tuple(reversed(shape)) if len(shape) == 3 else None)


@pytest.mark.parametrize("seed", SEEDS)
def test_compiled_path_equals_reference_path(tmp_path: Path, seed: int) -> None:
    network, inputs = random_network(seed, tmp_path)
    sparse = seed % 2 == 1
    for name, values in (("inputs", inputs), ("extreme inputs", _extreme(inputs, network, seed))):
        for stream in (False, True):
            fast, plain = _both(network, values, sparse, stream, batch_size=1 + seed % 3)
            _assert_equal(fast, plain, f"seed {seed}, {name}, {'stream' if stream else 'batch'}")
            assert sum(np.count_nonzero(m) for m in fast.spikes) > 0
    pruned = _pruned(network, seed, tmp_path)
    fast, plain = _both(pruned, _extreme(inputs, network, seed), sparse, stream=True, batch_size=2)
    _assert_equal(fast, plain, f"seed {seed}, pruned, stream")


def test_the_draws_reach_every_synapse_mode(tmp_path: Path) -> None:
    """The seeds above exercise every way a synapse turns its sums into an input, and every
    form a fanout keeps its weights in, with spikes and with graded messages (and a conv
    of spikes with its channels' weights combined, and without: grouped)."""
    seen: Counter = Counter()
    combined: Counter = Counter()
    for seed in SEEDS:
        drawn, _ = random_network(seed, tmp_path)
        for network in (drawn, _pruned(drawn, seed, tmp_path)):
            for index, layer in enumerate(network.layers):
                graded, sparse = network.graded_into(index), seed % 2 == 1
                for fanout in (layer.fanout(network.previous(index), graded, sparse),
                               layer.recurrent_fanout(graded, sparse)):
                    if fanout is not None:
                        seen[(fanout.form, fanout.mode, fanout.binary)] += 1
                        combined[fanout.combined] += fanout.form == fanouts.CONV_TAPS and fanout.binary
    assert {mode for _, mode, _ in seen} == {fanouts.DENSE_BINARY, fanouts.DENSE_GRADED,
                                              fanouts.DELAY_DENSE_GRADED, fanouts.CONV}, seen
    for form in (fanouts.FULL, fanouts.CSR, fanouts.CONV_TAPS):
        assert {binary for f, _, binary in seen if f == form} == {True, False}, (form, seen)
    assert any(form == fanouts.DIRECT for form, _, _ in seen), seen
    assert combined[True] and combined[False], combined
