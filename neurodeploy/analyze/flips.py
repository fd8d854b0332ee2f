"""Spike flips between a reference and a perturbed recording, counted as Theorem 3.5 states them.

Spikes are bool (or 0/1) arrays [samples, neurons, T] of the same layer
driven by the same input. A *first flip* at (sample, neuron, t) is an output
that differs at t while it was equal at every earlier step: the event the
theorem bounds. A *layer first flip* at (sample, t) is the layer's output
vector differing at t after being equal at every earlier step.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _differ(ref: np.ndarray, pert: np.ndarray) -> np.ndarray:
    ref, pert = np.asarray(ref), np.asarray(pert)
    if ref.shape != pert.shape or ref.ndim != 3:
        raise ValueError(
            f"spikes must be two [samples, neurons, T] arrays of one shape, got {ref.shape} and {pert.shape}"
        )
    return (ref != 0) != (pert != 0)


def _no_earlier(differ: np.ndarray) -> np.ndarray:
    """True at t where ``differ`` is False at every step before t (along the last axis)."""
    seen = np.logical_or.accumulate(differ, axis=-1)
    earlier = np.zeros_like(seen)
    earlier[..., 1:] = seen[..., :-1]
    return ~earlier


def equal_history(ref: np.ndarray, pert: np.ndarray) -> np.ndarray:
    """bool [samples, neurons, T]: outputs equal at every step before t (always True at t = 0)."""
    return _no_earlier(_differ(ref, pert))


def first_flips(ref: np.ndarray, pert: np.ndarray) -> np.ndarray:
    """bool [samples, neurons, T]: outputs differ at t and were equal at every earlier step."""
    differ = _differ(ref, pert)
    return differ & _no_earlier(differ)


def layer_first_flips(ref: np.ndarray, pert: np.ndarray) -> np.ndarray:
    """bool [samples, T]: some neuron differs at t, no neuron differed at any earlier step."""
    differ = _differ(ref, pert).any(axis=1)
    return differ & _no_earlier(differ)


@dataclass(frozen=True)
class FlipRates:
    """Flip counts and rates of one layer.

    first_flip_rate: first flips / all neuron-steps (P[first flip at (n, t)]).
    first_flip_rate_equal_history: first flips / neuron-steps with equal
        history (P[flip at t | equal before t]).
    flip_rate: differing neuron-steps / all neuron-steps, history ignored.
    layer_first_flip_rate: layer first flips / (samples x T).
    """

    first_flips: int
    neuron_steps: int
    equal_history_steps: int
    first_flip_rate: float
    first_flip_rate_equal_history: float
    flip_rate: float
    layer_first_flip_rate: float


def flip_rates(ref: np.ndarray, pert: np.ndarray) -> FlipRates:
    """Count flips between two recordings [samples, neurons, T] of one layer."""
    differ = _differ(ref, pert)
    history = _no_earlier(differ)
    first = int(np.count_nonzero(differ & history))
    equal_steps = int(np.count_nonzero(history))
    layer_first = layer_first_flips(ref, pert)
    return FlipRates(
        first_flips=first,
        neuron_steps=differ.size,
        equal_history_steps=equal_steps,
        first_flip_rate=first / differ.size,
        first_flip_rate_equal_history=first / equal_steps,
        flip_rate=float(differ.mean()),
        layer_first_flip_rate=float(layer_first.mean()),
    )


def max_error_with_equal_history(
    v_ref: np.ndarray, v_pert: np.ndarray, ref: np.ndarray, pert: np.ndarray
) -> float:
    """max |v' - v| over the (sample, neuron, t) whose outputs were equal before t.

    v_ref, v_pert: potentials [samples, neurons, T]; ref, pert: their spikes.
    Lemma 3.4 (and its CUBA form) bounds exactly this error by eps'.
    """
    history = equal_history(ref, pert)
    error = np.abs(np.asarray(v_pert, dtype=np.float64) - np.asarray(v_ref, dtype=np.float64))
    return float(error[history].max()) if history.any() else 0.0
