"""Property test: random networks of every layer kind and neuron model, written as NetX
files, read back and run in the golden model and in Lava; every message of every layer
at every step must be equal, values included.

A seed draws the whole network (``netx_builders.random_network``): an optional input layer
(CUBA or a sigma-delta Delta), then one to four layers, each conv (where the input is an
image), dense (with bias and axonal delays), recurrent dense or complex dense, with CUBA,
sigma-delta, resonate-and-fire (RF or RF_IZ) or, last, Sigma neurons; weights of any sign
and scale netx accepts, decays over the whole range. Draws are repeated (with stronger
weights) until the golden model shows every layer sending something, so no comparison is
empty; odd seeds run on Lava's Sparse synapses. ``test_the_draws_cover_every_kind`` checks the seeds reach every
kind, so that a narrower generator fails here rather than passing quietly.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from netx_builders import RANDOM_STEPS, random_network

from neurodeploy.compare.equivalence import compare_recordings
from neurodeploy.netx import Network
from neurodeploy.simulate.golden import GoldenModel
from neurodeploy.simulate.harness import run_lava
from neurodeploy.simulate.stimulus import Stimulus

SEEDS = range(12)


def _kinds(network: Network) -> set[str]:
    """What the network exercises: layer kinds, neuron models (by type and role), delays."""
    found = set(network.kinds)
    for layer in network.layers:
        found.add(layer.neuron.describe()["type"] + ":" + getattr(layer.neuron, "role", ""))
        if getattr(layer, "delay", None) is not None:
            found.add("delay")
        if getattr(layer, "weight_imag", None) is not None:
            found.add("complex")
    return found


def test_the_draws_cover_every_kind(tmp_path: Path) -> None:
    seen: Counter = Counter()
    for seed in SEEDS:
        seen.update(_kinds(random_network(seed, tmp_path)[0]))
    expected = {"input", "dense", "dense_rec", "conv", "complex", "delay", "CUBA:", "SDNN:delta",
                "SDNN:sigma_delta", "SDNN:sigma", "RF_PHASE:", "RF_IZHIKEVICH:"}
    assert expected <= set(seen), f"not drawn: {expected - set(seen)}"


@pytest.mark.lava
@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_random_network_golden_equals_lava(tmp_path: Path, seed: int) -> None:
    network, inputs = random_network(seed, tmp_path)
    sparse = seed % 2 == 1
    stimulus = Stimulus(inputs, None, RANDOM_STEPS)
    golden = {i: s[0] for i, s in enumerate(GoldenModel(network, sparse=sparse).run_stream(stimulus).spikes)}
    lava = run_lava(network, stimulus, sparse=sparse).spikes
    result = compare_recordings(golden, lava)
    assert result.compared == sum(s.size for s in golden.values()) > 0
    assert result.equivalent, (f"seed {seed} ({network.kinds}, {[l.neuron.describe()['summary'] for l in network.layers]}): "
                               f"mismatches {result.mismatches}, first {result.first}")
    assert all(np.count_nonzero(s) for s in lava.values())
