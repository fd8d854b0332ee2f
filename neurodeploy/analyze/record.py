"""One layer's row: Theorem 3.5's prediction from one data set, flips measured on another.

Prediction (``fit`` traces, the training set in ``analyze_run``): the input
error bound eps = max |x' - x| over every sample, neuron and step, the
potential error bound eps' it implies for a CUBA neuron, the density of the
reference potential at the threshold, p_sup over the crisis neighbourhood,
the crisis probability (eq. 6) and the bounds 2 p_sup eps' and
2 N p_sup eps'. Measurement (``test`` traces): the same eps, eps' and crisis
probability on the test data, the largest potential error seen while
outputs were still equal (at most eps'), and the flip rates. The
*pathwise* figures replace the worst case eps at every step by each
trajectory's own input errors |x' - x|: still a rigorous neighbourhood for
the first flip, usually far narrower.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from neurodeploy.analyze import theory
from neurodeploy.analyze.flips import equal_history, flip_rates, max_error_with_equal_history
from neurodeploy.analyze.measure import LayerTraces, NeuronConstants

MIN_BIN_LSB = 16  # a density bin holds at least this many lattice points of fixed-point potentials


def input_error(traces: LayerTraces) -> np.ndarray:
    """Per-neuron eps_n = max over samples and steps of |x' - x|, float64 [neurons]."""
    return np.abs(traces.x_pert - traces.x_ref).max(axis=(0, 2))


def pathwise_bound(constants: NeuronConstants, traces: LayerTraces) -> np.ndarray:
    """E [samples, neurons, T]: the bound on |v' - v| from this trajectory's own input errors."""
    c = constants
    return theory.pathwise_voltage_error_bound(traces.x_pert - traces.x_ref, c.beta_current, c.beta_voltage, c.lsb)


def within(bound: np.ndarray, traces: LayerTraces) -> bool:
    """True when |v' - v| <= bound at every (sample, neuron, t) whose outputs were equal before t."""
    history = equal_history(traces.s_ref, traces.s_pert)
    error = np.abs(traces.v_pert - traces.v_ref)
    return bool(np.all(error[history] <= bound[history]))


def layer_record(constants: NeuronConstants, fit: LayerTraces, test: LayerTraces) -> dict[str, Any]:
    """Predicted and measured figures of one layer (keys documented in docs/analysis.md)."""
    c = constants
    theta = c.threshold
    neurons = fit.v_ref.shape[1]

    eps_n = input_error(fit)
    eps = float(eps_n.max())
    eps_v = theory.voltage_error_bound(eps, c.beta_current, c.beta_voltage, c.lsb)
    eps_v_n = theory.voltage_error_bound(eps_n, c.beta_current, c.beta_voltage, c.lsb)[:, None]
    width = theory.density_bin_width(fit.v_ref, MIN_BIN_LSB * c.lsb)
    p_sup = theory.sup_density(fit.v_ref, theta, eps_v, width)

    eps_test = float(input_error(test).max())
    eps_v_test = theory.voltage_error_bound(eps_test, c.beta_current, c.beta_voltage, c.lsb)
    path_test = pathwise_bound(c, test)
    rates = flip_rates(test.s_ref, test.s_pert)
    return {
        "neurons": neurons,
        "threshold": theta,
        "beta_current": c.beta_current,
        "beta_voltage": c.beta_voltage,
        "lsb": c.lsb,
        "eps": eps,
        "eps_voltage": eps_v,
        "bin_width": width,
        "density_threshold": theory.density_at(fit.v_ref, theta, width),
        "density_threshold_gaussian": theory.gaussian_density_at(fit.v_ref, theta),
        "p_sup": p_sup,
        "crisis_probability": theory.crisis_probability(fit.v_ref, theta, eps_v),
        "crisis_probability_neuron_eps": theory.crisis_probability(fit.v_ref, theta, eps_v_n),
        "crisis_probability_one_step": theory.crisis_probability(fit.v_ref, theta, eps),
        "crisis_probability_pathwise": theory.crisis_probability(fit.v_ref, theta, pathwise_bound(c, fit)),
        "layer_crisis_probability": theory.layer_crisis_probability(fit.v_ref, theta, eps_v),
        "bound_neuron_step": theory.crisis_bound(p_sup, eps_v),
        "bound_layer": theory.crisis_bound(p_sup, eps_v, neurons),
        "eps_test": eps_test,
        "eps_voltage_test": eps_v_test,
        "voltage_error_max_test": max_error_with_equal_history(test.v_ref, test.v_pert, test.s_ref, test.s_pert),
        "crisis_probability_test": theory.crisis_probability(test.v_ref, theta, eps_v_test),
        "layer_crisis_probability_test": theory.layer_crisis_probability(test.v_ref, theta, eps_v_test),
        "crisis_probability_pathwise_test": theory.crisis_probability(test.v_ref, theta, path_test),
        "pathwise_bound_holds_test": within(path_test, test),
        "first_flips": rates.first_flips,
        "neuron_steps": rates.neuron_steps,
        "first_flip_rate": rates.first_flip_rate,
        "first_flip_rate_equal_history": rates.first_flip_rate_equal_history,
        "flip_rate": rates.flip_rate,
        "layer_first_flip_rate": rates.layer_first_flip_rate,
    }
