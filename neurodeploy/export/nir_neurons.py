"""NIR's neuron nodes as Loihi's CUBA neuron: one function per node type (``NEURONS``).

Loihi's CUBA neuron, per step, before rounding (``netx.neurons.cuba``)::

    u[t] = (1 - di) u[t-1] + g (W s[t])
    v[t] = (1 - dv) v[t-1] + u[t] + b
    spike when v[t] > threshold, then v[t] = 0

Each NIR node, discretised with step dt (forward Euler, the current first, as
docs/nir.md derives; k = dt / tau), becomes these numbers (``NeuronTerms``):

| node | di | dv | g | b | threshold |
| --- | --- | --- | --- | --- | --- |
| CubaLIF | k_syn | k_mem | k_syn w_in k_mem r | k_mem v_leak | v_threshold |
| CubaLI | k_syn | k_mem | k_syn w_in k_mem r | k_mem v_leak | none (read out) |
| LIF | 1 | k | k r | k v_leak | v_threshold |
| LI | 1 | k | k r | k v_leak | none |
| IF | 1 | 0 | r | 0 | v_threshold |
| I (Integrator) | 1 | 0 | r | 0 | none |
| Threshold | 1 | 1 | 1 | 0 | threshold |
| (none: the weighted sum read out) | 1 | 1 | 1 | 0 | none |

IF and the Integrator have no time constant: they integrate r I[t] per step,
dt not entering, as Norse 1.1 (``iaf_feed_forward_step``), Sinabs (``IAF``)
and the NIR paper's Lava import run NIR's IF (dv/dt = R I with the step's
input taken whole). A Threshold node is stateless (z = I > theta): a neuron
whose voltage is lost every step (dv = 1) is exactly that, Loihi's reset to 0
changing nothing. NIR's resets go to v_reset; Loihi's to 0, so v_reset must be 0.
A node without a threshold is a readout: its voltage is read, and it never spikes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import nir
import numpy as np

from neurodeploy.export.nir_params import NirImportError, finite, numbers


@dataclass(frozen=True)
class NeuronTerms:
    """The CUBA numbers of one neuron node (module docstring), per neuron [size]:
    ``gain`` g, ``bias`` b (NIR voltage units per step), ``threshold`` (None: a readout);
    ``di``, ``dv`` one per layer, fractions in [0, 1]."""

    gain: np.ndarray
    bias: np.ndarray
    di: float
    dv: float
    threshold: np.ndarray | None


def per_neuron(node: Any, key: str, size: int, where: str) -> np.ndarray:
    """Parameter ``key`` of ``node`` as float64 [size] (a scalar broadcast), checked real,
    finite numbers (``nir_params.numbers``)."""
    value = numbers(getattr(node, key), key, where).reshape(-1)
    if value.size not in (1, size):
        raise NirImportError(f"{where}: {key} has {value.size} values for {size} neurons")
    return np.broadcast_to(value, (size,))


def one_value(values: np.ndarray, what: str, where: str, groups: int = 1) -> np.ndarray:
    """``values`` [size] as one value per group of size / groups consecutive neurons
    (per layer: groups = 1; per conv channel: groups = C); refused when a group differs."""
    grouped = values.reshape(groups, -1)
    if not np.allclose(grouped, grouped[:, :1], rtol=1e-6, atol=0):
        per = "layer" if groups == 1 else "output channel"
        raise NirImportError(f"{where}: {what} differs between neurons of one {per}; NetX holds one per {per}")
    return grouped[:, 0]


def _rate(node: Any, key: str, size: int, dt: float | None, where: str) -> np.ndarray:
    """dt / tau [size] of the time constant ``key``: refused without a dt, and unless tau > 0
    and dt <= tau (forward Euler), checked before dividing."""
    tau = per_neuron(node, key, size, where)
    shortest = float(tau.min())
    if not shortest > 0:
        raise NirImportError(f"{where}: {key} must be positive (a time constant in seconds), got {shortest:g}")
    if dt is None:
        raise NirImportError(f"{where}: the graph states no dt (metadata 'dt') and this {type(node).__name__} has "
                             "time constants; give the time step it was trained with (--dt)")
    if shortest < dt:
        raise NirImportError(f"{where}: dt / {key} = {dt / shortest:.6g} (dt {dt:g} s, {key} {shortest:g} s); "
                             f"forward Euler needs 0 < dt / {key} <= 1 (is dt the step the graph was made for?)")
    return dt / tau


def _threshold(node: Any, key: str, size: int, where: str) -> np.ndarray:
    """A positive threshold [size], and v_reset 0 where the node has one."""
    if getattr(node, "v_reset", None) is not None and np.any(per_neuron(node, "v_reset", size, where) != 0):
        raise NirImportError(f"{where}: v_reset is not 0; Loihi resets the voltage to 0")
    threshold = per_neuron(node, key, size, where)
    if np.any(threshold <= 0):
        raise NirImportError(f"{where}: {key} must be positive (Loihi's vThMant is)")
    return threshold


def _single(values: np.ndarray, what: str, where: str) -> float:
    return float(one_value(values, what, where)[0])


def _cuba(node: Any, size: int, dt: float | None, where: str, spiking: bool) -> NeuronTerms:
    k_syn, k_mem = _rate(node, "tau_syn", size, dt, where), _rate(node, "tau_mem", size, dt, where)
    gain = k_syn * per_neuron(node, "w_in", size, where) * k_mem * per_neuron(node, "r", size, where)
    return NeuronTerms(finite(gain, "w_in r dt^2 / (tau_syn tau_mem)", where),
                       finite(k_mem * per_neuron(node, "v_leak", size, where), "v_leak dt / tau_mem", where),
                       _single(k_syn, "tau_syn", where), _single(k_mem, "tau_mem", where),
                       _threshold(node, "v_threshold", size, where) if spiking else None)


def _leaky(node: Any, size: int, dt: float | None, where: str, spiking: bool) -> NeuronTerms:
    k = _rate(node, "tau", size, dt, where)
    return NeuronTerms(finite(k * per_neuron(node, "r", size, where), "r dt / tau", where),
                       finite(k * per_neuron(node, "v_leak", size, where), "v_leak dt / tau", where),
                       1.0, _single(k, "tau", where), _threshold(node, "v_threshold", size, where) if spiking else None)


def _integrator(node: Any, size: int, where: str, spiking: bool) -> NeuronTerms:
    return NeuronTerms(per_neuron(node, "r", size, where), np.zeros(size), 1.0, 0.0,
                       _threshold(node, "v_threshold", size, where) if spiking else None)


NeuronFunction = Callable[[Any, int, "float | None", str], NeuronTerms]
NEURONS: dict[type, NeuronFunction] = {
    nir.CubaLIF: lambda node, size, dt, where: _cuba(node, size, dt, where, spiking=True),
    nir.CubaLI: lambda node, size, dt, where: _cuba(node, size, dt, where, spiking=False),
    nir.LIF: lambda node, size, dt, where: _leaky(node, size, dt, where, spiking=True),
    nir.LI: lambda node, size, dt, where: _leaky(node, size, dt, where, spiking=False),
    nir.IF: lambda node, size, dt, where: _integrator(node, size, where, spiking=True),
    nir.I: lambda node, size, dt, where: _integrator(node, size, where, spiking=False),
    nir.Threshold: lambda node, size, dt, where: NeuronTerms(np.ones(size), np.zeros(size), 1.0, 1.0,
                                                             _threshold(node, "threshold", size, where)),
}
"""What each NIR neuron node type becomes (module docstring)."""

def neuron_terms(node: Any | None, size: int, dt: float | None, where: str) -> NeuronTerms:
    """The ``NeuronTerms`` of ``node`` for ``size`` neurons; None (a graph that ends in a
    weight node): its weighted sum W s + c read out, v = u + b each step."""
    if node is None:
        return NeuronTerms(np.ones(size), np.zeros(size), 1.0, 1.0, None)
    return NEURONS[type(node)](node, size, dt, where)
