"""Theorem 3.5 analysis: pure functions by hand, a synthetic SLAYER layer of known potential
distribution, and ``analyze_run`` on a real tiny run."""
import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import integrate
from scipy.stats import norm

from neurodeploy.analyze import AnalysisError, analyze_run, summary_lines, theory
from neurodeploy.analyze.flips import (
    equal_history, first_flips, flip_rates, layer_first_flips, max_error_with_equal_history,
)
from neurodeploy.analyze.measure import neuron_constants, neuron_traces
from neurodeploy.analyze.record import layer_record
from neurodeploy.lavacompat import slayer
from neurodeploy.pipeline import StageError

TINY = Path(__file__).parent / "recipes" / "tiny.yaml"


# ---- pure functions, hand-computed ----

def test_voltage_error_bound_is_the_geometric_sum():
    assert theory.voltage_error_bound(0.1, 0.0, 0.5) == pytest.approx(0.2)  # paper: eps / (1 - beta)
    assert theory.voltage_error_bound(0.1, 0.5, 0.5) == pytest.approx(0.4)
    # rounding: ((0.1 + 0.01) / 0.5 + 0.01) / 0.25
    assert theory.voltage_error_bound(0.1, 0.5, 0.75, lsb=0.01) == pytest.approx(0.92)
    # beta_current = 0 multiplies by 0 exactly: no rounding in the current
    assert theory.voltage_error_bound(0.1, 0.0, 0.75, lsb=0.01) == pytest.approx(0.44)
    assert theory.voltage_error_bound(0.0, 0.5, 0.75, lsb=0.01) == 0.0
    assert theory.voltage_error_bound(0.1, 0.5, 1.0) == math.inf
    per_neuron = theory.voltage_error_bound(np.array([0.0, 0.1, 0.2]), 0.5, 0.5)
    np.testing.assert_allclose(per_neuron, [0.0, 0.4, 0.8])
    with pytest.raises(ValueError, match="input error"):
        theory.voltage_error_bound(-0.1, 0.5, 0.5)
    with pytest.raises(ValueError, match="beta_voltage"):
        theory.voltage_error_bound(0.1, 0.5, 1.5)


def test_pathwise_bound_follows_each_trajectory():
    dx = np.array([[0.1, 0.0, 0.0]])
    np.testing.assert_allclose(theory.pathwise_voltage_error_bound(dx, 0.5, 0.5), [[0.1, 0.1, 0.075]])
    # rounding adds lsb once a state error exists: E_i = 0.1, 0.06, 0.04; E = 0.1, 0.12, 0.11
    np.testing.assert_allclose(theory.pathwise_voltage_error_bound(-dx, 0.5, 0.5, lsb=0.01), [[0.1, 0.12, 0.11]])
    steady = theory.pathwise_voltage_error_bound(np.full((1, 400), 0.1), 0.5, 0.75, lsb=0.01)
    assert steady[0, -1] == pytest.approx(theory.voltage_error_bound(0.1, 0.5, 0.75, lsb=0.01))
    assert np.all(np.diff(steady) >= 0)


def test_crisis_probability_counts_the_closed_neighbourhood():
    u = np.array([0.5, 0.875, 1.0, 1.125, 1.5])
    assert theory.crisis_probability(u, 1.0, 0.125) == pytest.approx(3 / 5)
    assert theory.crisis_probability(u, 1.0, 0.0) == pytest.approx(1 / 5)
    layer = np.array([[[0.5, 1.0, 0.0], [0.0, 0.0, 0.9375]]])  # [1 sample, 2 neurons, 3 steps]
    assert theory.layer_crisis_probability(layer, 1.0, 0.0625) == pytest.approx(2 / 3)
    per_neuron = np.array([[0.0], [0.0625]])
    assert theory.crisis_probability(layer, 1.0, per_neuron) == pytest.approx(2 / 6)


def test_densities_by_hand():
    u = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    assert theory.density_at(u, 0.5, 0.5) == pytest.approx(3 / (5 * 0.5))
    # neighbourhood [0.5, 1.5] in two bins [0.5, 1) and [1, 1.5]: counts 1 and 4 -> 4 / (5 * 0.5)
    v = np.array([0.5, 1.0, 1.0, 1.0, 1.5])
    p_sup = theory.sup_density(v, 1.0, 0.5, 0.5)
    assert p_sup == pytest.approx(1.6)
    assert theory.crisis_probability(v, 1.0, 0.5) <= 2 * 0.5 * p_sup
    assert theory.sup_density(v, 1.0, 0.0, 0.5) == theory.density_at(v, 1.0, 0.5)
    # neuron 0 takes 0 and 2 (mean 1, variance 1); neuron 1 is constant 5 (adds 0)
    g = np.array([[[0.0, 2.0], [5.0, 5.0]], [[2.0, 0.0], [5.0, 5.0]]])
    assert theory.gaussian_density_at(g, 1.0) == pytest.approx(norm.pdf(0.0) / 2)
    assert theory.crisis_bound(0.5, 0.1, neurons=10) == pytest.approx(1.0)
    assert theory.crisis_bound(np.inf, 0.0) == 0.0
    assert theory.density_bin_width(np.ones(10), min_width=0.25) == 0.25
    with pytest.raises(ValueError, match="all potentials are equal"):
        theory.density_bin_width(np.ones(10))


def test_flips_by_hand():
    ref = np.array([[[0, 1, 0, 1], [0, 0, 1, 0]]], dtype=bool)
    pert = np.array([[[0, 0, 0, 0], [0, 0, 1, 1]]], dtype=bool)
    np.testing.assert_array_equal(equal_history(ref, pert)[0], [[1, 1, 0, 0], [1, 1, 1, 1]])
    np.testing.assert_array_equal(first_flips(ref, pert)[0], [[0, 1, 0, 0], [0, 0, 0, 1]])
    np.testing.assert_array_equal(layer_first_flips(ref, pert)[0], [0, 1, 0, 0])
    rates = flip_rates(ref, pert)
    assert rates.first_flips == 2 and rates.neuron_steps == 8 and rates.equal_history_steps == 6
    assert rates.first_flip_rate == pytest.approx(2 / 8)
    assert rates.first_flip_rate_equal_history == pytest.approx(2 / 6)
    assert rates.flip_rate == pytest.approx(3 / 8)
    assert rates.layer_first_flip_rate == pytest.approx(1 / 4)
    v_ref = np.zeros((1, 2, 4))
    v_pert = np.array([[[0.1, 0.2, 9.0, 9.0], [0.0, 0.0, 0.3, 0.05]]])
    assert max_error_with_equal_history(v_ref, v_pert, ref, pert) == pytest.approx(0.3)
    with pytest.raises(ValueError, match="one shape"):
        flip_rates(ref, pert[:, :1])


# ---- a synthetic layer: real SLAYER CUBA neurons driven by Gaussian synaptic input ----

MU, SIGMA, THETA = 0.8, 0.3, 1.0
EPSILONS = (0.01, 0.03, 0.1, 0.3)


def _synthetic(current_decay: float, voltage_decay: float, shape=(200, 50, 20), seed=0):
    """Records of one CUBA population for input N(MU, SIGMA^2) and errors eps * U[-1, 1]."""
    neuron = slayer.neuron.cuba.Neuron(threshold=THETA, current_decay=current_decay, voltage_decay=voltage_decay)
    g = torch.Generator().manual_seed(seed)
    z = MU + SIGMA * torch.randn(*shape, generator=g)
    r = 2 * torch.rand(*shape, generator=g) - 1
    constants = neuron_constants(neuron)
    records = []
    for eps in EPSILONS:
        traces = neuron_traces(neuron, z, z + eps * r)
        records.append(layer_record(constants, traces, traces))
    return constants, records


def _flip_probability_memoryless(eps: float) -> float:
    """P[flip] for u ~ N(MU, SIGMA^2) and u' = u + eps r, r ~ U[-1, 1]: a flip needs
    |u - THETA| = d <= eps and r past it, probability (1 - d / eps) / 2."""
    def integrand(d):
        return norm.pdf(THETA + d, MU, SIGMA) * (1 - abs(d) / eps) / 2
    return integrate.quad(integrand, -eps, eps, points=[0.0])[0]


def test_memoryless_layer_matches_the_closed_form_and_stays_within_the_bound():
    constants, records = _synthetic(current_decay=1.0, voltage_decay=1.0)  # beta = 0: u^t = x^t
    assert constants.beta_current == 0.0 and constants.beta_voltage == 0.0
    density = norm.pdf(THETA, MU, SIGMA)
    n = 200 * 50 * 20
    flips = []
    for eps, rec in zip(EPSILONS, records):
        assert rec["eps"] == pytest.approx(eps, rel=0.01)
        assert rec["eps_voltage"] == rec["eps"]  # no memory, no rounding: eps' = eps
        assert rec["density_threshold"] == pytest.approx(density, rel=0.06)
        assert rec["density_threshold_gaussian"] == pytest.approx(density, rel=0.02)
        closed = norm.cdf(THETA + rec["eps_voltage"], MU, SIGMA) - norm.cdf(THETA - rec["eps_voltage"], MU, SIGMA)
        assert abs(rec["crisis_probability"] - closed) < 4 * math.sqrt(closed / n) + 0.01 * closed
        expected = _flip_probability_memoryless(eps)
        assert abs(rec["flip_rate"] - expected) < 4 * math.sqrt(expected / n) + 0.03 * expected
        # without memory every flip needs u in the crisis neighbourhood, first or not
        assert rec["first_flip_rate"] <= rec["flip_rate"] <= rec["crisis_probability"] <= rec["bound_neuron_step"]
        assert rec["first_flip_rate_equal_history"] <= rec["bound_neuron_step"]
        assert rec["voltage_error_max_test"] <= rec["eps_voltage"]
        assert rec["pathwise_bound_holds_test"]
        assert rec["first_flip_rate"] <= rec["crisis_probability_pathwise"] <= rec["crisis_probability"]
        flips.append(rec["flip_rate"])
    assert all(a < b for a, b in zip(flips, flips[1:])), flips
    assert flips[0] > 0


def test_layer_with_memory_stays_within_the_cuba_bound():
    constants, records = _synthetic(current_decay=0.5, voltage_decay=0.2)
    assert constants.beta_current == 0.5 and 0.79 < constants.beta_voltage < 0.81
    first, any_flip = [], []
    for rec in records:
        assert rec["eps_voltage"] > rec["eps"] / (0.5 * 0.2)  # the two geometric factors, plus rounding
        assert rec["voltage_error_max_test"] <= rec["eps_voltage"]
        assert rec["first_flip_rate"] <= rec["crisis_probability"] <= rec["bound_neuron_step"]
        assert rec["first_flip_rate_equal_history"] <= min(1.0, rec["bound_neuron_step"])
        assert rec["layer_first_flip_rate"] <= rec["layer_crisis_probability"]
        assert rec["pathwise_bound_holds_test"]
        assert rec["first_flip_rate"] <= rec["crisis_probability_pathwise"] <= rec["crisis_probability"]
        first.append(rec["first_flip_rate_equal_history"])
        any_flip.append(rec["flip_rate"])
    assert all(a < b for a, b in zip(first, first[1:])), first
    assert all(a < b for a, b in zip(any_flip, any_flip[1:])), any_flip


def test_cuba_bound_is_reached_by_an_aligned_error():
    """The same error +eps at every step, no spike: |v' - v| climbs to eps' (geometric sums)."""
    neuron = slayer.neuron.cuba.Neuron(threshold=100.0, current_decay=0.5, voltage_decay=0.2)
    c = neuron_constants(neuron)
    z = torch.full((1, 1, 80), 0.25)
    eps = 0.125
    traces = neuron_traces(neuron, z, z + eps)
    assert not traces.s_ref.any() and not traces.s_pert.any()
    bound = theory.voltage_error_bound(eps, c.beta_current, c.beta_voltage, c.lsb)
    error = max_error_with_equal_history(traces.v_ref, traces.v_pert, traces.s_ref, traces.s_pert)
    assert 0.99 * bound <= error <= bound
    assert bound == pytest.approx(eps / ((1 - c.beta_current) * (1 - c.beta_voltage)), rel=0.01)


def test_traces_spike_as_the_block_does():
    torch.manual_seed(0)
    params = {"threshold": 1.25, "current_decay": 0.25, "voltage_decay": 0.03}
    block = slayer.block.cuba.Dense(params, 16, 8)
    x = (torch.rand(4, 16, 12) < 0.3).float()
    with torch.no_grad():
        out = block(x)
        z = block.synapse(x)
    traces = neuron_traces(block.neuron, z, z)
    np.testing.assert_array_equal(traces.s_ref[..., :-1], out[..., 1:].numpy() > 0)
    threshold = neuron_constants(block.neuron).threshold
    np.testing.assert_array_equal(traces.s_ref, traces.v_ref >= threshold)
    np.testing.assert_array_equal(traces.x_ref * 4096, np.round(traces.x_ref * 4096))


# ---- analyze_run on a real tiny run ----

@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from neurodeploy.pipeline import run_stage
    from neurodeploy.recipe import load_recipe

    out = tmp_path_factory.mktemp("analyze_run")
    run_stage("train", out, load_recipe(TINY))
    run_stage("prune", out)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("perturbation", ["prune", "quantize"])
def test_analyze_run_writes_prediction_and_measurement(tiny_run, perturbation):
    path = analyze_run(tiny_run, perturbation, samples=120)
    assert path == tiny_run / f"analysis_{perturbation}.json"
    analysis = json.loads(path.read_text())
    assert analysis["statistics_samples"] == 120 == analysis["flip_samples"]
    assert all(analysis["checks"].values()), analysis["checks"]
    layers = analysis["layers"]
    assert [row["layer"] for row in layers] == [0, 1]
    for row in layers:
        assert row["eps"] > 0 and row["voltage_error_max_test"] <= row["eps_voltage_test"]
        assert row["crisis_probability"] <= row["bound_neuron_step"]
        assert row["bound_layer"] == pytest.approx(row["neurons"] * row["bound_neuron_step"])
        assert 0 <= row["first_flip_rate"] <= row["flip_rate"] <= 1
    # layer 0 sees the same input in both measurements; the network output is delayed a step
    assert layers[0]["end_to_end_flip_rate"] <= layers[0]["flip_rate"]
    with open(tiny_run / f"analysis_{perturbation}.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["layer"]) for r in rows] == [0, 1]
    assert float(rows[1]["first_flip_rate"]) == pytest.approx(layers[1]["first_flip_rate"])
    assert (tiny_run / f"analysis_{perturbation}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = summary_lines(path)
    assert perturbation in lines[0] and lines[-1].endswith("all hold")
    assert len(lines) == 4 + len(layers) + 1


@pytest.mark.slow
def test_analyze_run_rejects_bad_input(tiny_run, tmp_path):
    with pytest.raises(AnalysisError, match="unknown perturbation 'noise'"):
        analyze_run(tiny_run, "noise")
    with pytest.raises(AnalysisError, match="at least 1"):
        analyze_run(tiny_run, "prune", samples=0)
    for name in ("dense.pt", "recipe.json", "stages.json"):
        (tmp_path / name).write_bytes((tiny_run / name).read_bytes())
    records = json.loads((tmp_path / "stages.json").read_text())
    del records["stages"]["prune"]
    (tmp_path / "stages.json").write_text(json.dumps(records))
    with pytest.raises(StageError, match="the prune stage is not up to date"):
        analyze_run(tmp_path, "prune")
