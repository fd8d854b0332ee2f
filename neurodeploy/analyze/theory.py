"""Theorem 3.5 of Yao et al. (crisis probability of a spike flip), as pure functions.

Notation (docs/analysis.md has the derivations): ``u`` are membrane
potentials before reset, float arrays of any shape, usually
[samples, neurons, T] in SLAYER units; ``center`` is the firing threshold
u_th; ``radius`` the half width eps' of the crisis neighbourhood
[u_th - eps', u_th + eps'] (eq. 6). Nothing here runs a network.
"""
from __future__ import annotations

import numpy as np

FD_FACTOR = 2.0  # Freedman-Diaconis: h = 2 IQR n^(-1/3)
SCOTT_FACTOR = 3.49  # Scott: h = 3.49 sigma n^(-1/3), used when the IQR is 0


def _geometric(eps: np.ndarray, beta: float, lsb: float) -> np.ndarray:
    """sum_n beta^n (eps + lsb_beta) = (eps + lsb_beta) / (1 - beta), 0 where eps = 0.

    ``lsb_beta`` is the rounding of ``trunc0(beta * state)``: ``lsb`` for
    0 < beta < 1, none for beta in {0, 1} (those products are exact).
    """
    rounding = lsb if 0.0 < beta < 1.0 else 0.0
    with np.errstate(divide="ignore"):
        scale = np.inf if beta >= 1.0 else 1.0 / (1.0 - beta)
    return np.where(eps > 0, (eps + rounding) * scale, 0.0)


def voltage_error_bound(
    eps: float | np.ndarray, beta_current: float, beta_voltage: float, lsb: float = 0.0
) -> float | np.ndarray:
    """Largest |v' - v| of a CUBA neuron whose outputs were equal at every earlier step.

    eps: bound on the per-step input error |x' - x| (SLAYER units, scalar or
    per neuron). With i^t = beta_i i^{t-1} + x^t and
    v^t = beta_v v^{t-1} (1 - s^{t-1}) + i^t, equal histories give
    |di| <= eps / (1 - beta_i) and
    eps' = (|di|max + lsb_v) / (1 - beta_v) = ((eps + lsb_i)/(1 - beta_i) + lsb_v)/(1 - beta_v),
    where lsb is the state resolution of fixed-point dynamics (1/4096 in
    SLAYER, 0 for exact arithmetic). beta_current = 0 is the paper's LIF
    neuron, eps' = eps / (1 - beta) (eq. S.8). Infinite where a beta is 1.
    """
    eps_arr = np.asarray(eps, dtype=np.float64)
    if np.any(eps_arr < 0):
        raise ValueError(f"input error bound must be >= 0, got min {eps_arr.min()}")
    for name, beta in (("beta_current", beta_current), ("beta_voltage", beta_voltage)):
        if not 0.0 <= beta <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {beta}")
    current = _geometric(eps_arr, beta_current, lsb)
    bound = _geometric(current, beta_voltage, lsb)
    return float(bound) if bound.ndim == 0 else bound


def pathwise_voltage_error_bound(
    dx: np.ndarray, beta_current: float, beta_voltage: float, lsb: float = 0.0
) -> np.ndarray:
    """The same bound along each trajectory, from the actual input errors instead of their maximum.

    dx: x' - x, [..., T]. Returns E [..., T] with
    E_i^t = beta_i E_i^{t-1} + |dx^t| + lsb_i [E_i^{t-1} > 0] and
    E^t = beta_v E^{t-1} + E_i^t + lsb_v [E^{t-1} > 0] (E^0 = 0 before the
    first step; lsb_beta as in ``voltage_error_bound``): while the outputs
    were equal before t, |v'^t - v^t| <= E^t. Replacing |dx| by its maximum
    eps gives E^t <= voltage_error_bound(eps, ...).
    """
    errors = np.abs(np.asarray(dx, dtype=np.float64))
    lsb_i = lsb if 0.0 < beta_current < 1.0 else 0.0
    lsb_v = lsb if 0.0 < beta_voltage < 1.0 else 0.0
    bound = np.empty_like(errors)
    current = np.zeros(errors.shape[:-1])
    voltage = np.zeros(errors.shape[:-1])
    for t in range(errors.shape[-1]):
        current = beta_current * current + errors[..., t] + lsb_i * (current > 0)
        voltage = beta_voltage * voltage + current + lsb_v * (voltage > 0)
        bound[..., t] = voltage
    return bound


def density_bin_width(u: np.ndarray, min_width: float = 0.0) -> float:
    """Histogram bin width for the density of pooled ``u``.

    Freedman-Diaconis 2 IQR n^(-1/3) (Scott's 3.49 sigma n^(-1/3) when the
    IQR is 0), never below ``min_width`` (fixed-point potentials sit on a
    lattice: bins must hold several lattice points).
    """
    values = np.asarray(u, dtype=np.float64).ravel()
    if values.size == 0:
        raise ValueError("no potentials to estimate a density from")
    root = values.size ** (1.0 / 3.0)
    q1, q3 = np.percentile(values, [25.0, 75.0])
    width = FD_FACTOR * (q3 - q1) / root
    if width == 0.0:
        width = SCOTT_FACTOR * float(values.std()) / root
    width = max(width, min_width)
    if width == 0.0:
        raise ValueError("all potentials are equal: their density is not finite anywhere they lie")
    return width


def density_at(u: np.ndarray, point: float, width: float) -> float:
    """Histogram density of pooled ``u`` at ``point``: #{|u - point| <= width/2} / (n width)."""
    values = np.asarray(u, dtype=np.float64)
    inside = np.count_nonzero(np.abs(values - point) <= width / 2.0)
    return inside / (values.size * width)


def gaussian_density_at(u: np.ndarray, point: float) -> float:
    """Eq. (12)'s density at the threshold: mean over neurons j of N(point | mu_j, var_j).

    u: [samples, neurons, T]; mu_j and var_j are the mean and variance of
    neuron j's potential over samples and steps. A neuron of zero variance
    adds 0, or infinity if its constant potential equals ``point``.
    """
    values = np.asarray(u, dtype=np.float64)
    if values.ndim != 3:
        raise ValueError(f"potentials must be [samples, neurons, T], got shape {values.shape}")
    mu = values.mean(axis=(0, 2))
    var = values.var(axis=(0, 2))
    dens = np.zeros_like(mu)
    spread = var > 0
    dens[spread] = np.exp(-((point - mu[spread]) ** 2) / (2 * var[spread])) / np.sqrt(2 * np.pi * var[spread])
    dens[~spread & (mu == point)] = np.inf
    return float(dens.mean())


def sup_density(u: np.ndarray, center: float, radius: float, width: float) -> float:
    """p_sup (eq. S.10): the largest histogram density of ``u`` in [center - radius, center + radius].

    A neighbourhood at least one bin wide is tiled by k = ceil(2 radius / width)
    equal closed bins, so the empirical crisis probability
    (``crisis_probability`` with the same radius) never exceeds
    2 radius p_sup (eq. S.2). A narrower one (radius 0 included) gets the
    density of the one bin of ``width`` centred at ``center``: a density
    finer than the histogram's resolution is not estimated. An infinite
    radius gives the largest density of bins of ``width`` over all of ``u``.
    """
    deviation = np.asarray(u, dtype=np.float64).ravel() - center
    n = deviation.size
    if 2.0 * radius < width:
        return density_at(deviation, 0.0, width)
    if not np.isfinite(radius):
        low, high = float(deviation.min()), float(deviation.max())
        bins = max(1, int(np.ceil((high - low) / width)))
        counts, _ = np.histogram(deviation, bins=bins, range=(low, low + bins * width))
        return float(counts.max()) / (n * width)
    bins = int(np.ceil(2.0 * radius / width))
    counts, _ = np.histogram(deviation, bins=bins, range=(-radius, radius))
    return float(counts.max()) / (n * (2.0 * radius / bins))


def crisis_probability(u: np.ndarray, center: float, radius: float | np.ndarray) -> float:
    """Eq. (6), measured: fraction of entries of ``u`` with |u - center| <= radius.

    radius: a scalar, or an array that broadcasts against ``u`` (per neuron:
    shape [neurons, 1] for u [samples, neurons, T]).
    """
    deviation = np.abs(np.asarray(u, dtype=np.float64) - center)
    return float(np.mean(deviation <= radius))


def layer_crisis_probability(u: np.ndarray, center: float, radius: float | np.ndarray) -> float:
    """Fraction of (sample, step) at which some neuron of the layer is in its crisis neighbourhood.

    u: [samples, neurons, T]; radius as in ``crisis_probability``. By the
    union bound it is at most neurons x the per-entry crisis probability.
    """
    deviation = np.abs(np.asarray(u, dtype=np.float64) - center)
    return float(np.mean(np.any(deviation <= radius, axis=1)))


def crisis_bound(p_sup: float, radius: float, neurons: int = 1) -> float:
    """Theorem 3.5 / eq. (S.12): P[flip] <= 2 neurons p_sup radius (0 when radius is 0).

    neurons = 1 bounds one neuron at one step; neurons = N bounds "some
    neuron of the layer flips first at this step" (union bound). Values above
    1 are vacuous but are returned as computed.
    """
    if radius == 0.0:
        return 0.0
    return 2.0 * neurons * p_sup * radius
