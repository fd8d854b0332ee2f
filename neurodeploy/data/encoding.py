"""Spike encodings of intensities in [0, 1] over T steps.

Both return float32 spike trains shaped [samples, features, T] (SLAYER's
layout: neurons first, time last) with values in {0, 1}. ``ENCODERS`` is the
registry of encodings by name (``data.encoding``).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from neurodeploy.registry import Registry


def rate_encode(x: np.ndarray, steps: int, seed: int, max_rate: float = 1.0) -> np.ndarray:
    """Bernoulli rate code: ``s[n, i, t] = 1`` with probability ``x[n, i] * max_rate``.

    x: [samples, features] in [0, 1]. The draws come from
    ``numpy.random.default_rng(seed)``, so the same seed gives the same spikes.
    """
    rng = np.random.default_rng(seed)
    draws = rng.random((*x.shape, steps), dtype=np.float32)
    return (draws < (x * max_rate)[..., None]).astype(np.float32)


def latency_encode(x: np.ndarray, steps: int, seed: int, max_rate: float = 1.0) -> np.ndarray:
    """Time-to-first-spike code: one spike at ``t = round((1 - x) * (T - 1))`` for x > 0.

    Brighter pixels spike earlier; a pixel of intensity 0 never spikes. The
    code is deterministic, so ``seed`` and ``max_rate`` are unused; they keep
    the signature of every encoder the same.
    """
    times = np.rint((1.0 - x) * (steps - 1)).astype(np.int64)
    spikes = np.zeros((*x.shape, steps), dtype=np.float32)
    rows, cols = np.nonzero(x > 0)
    spikes[rows, cols, times[rows, cols]] = 1.0
    return spikes


Encoder = Callable[[np.ndarray, int, int, float], np.ndarray]
ENCODERS: Registry[Encoder] = Registry("spike encoding", {"rate": rate_encode, "latency": latency_encode})


def encode(kind: str, x: np.ndarray, steps: int, seed: int, max_rate: float = 1.0) -> np.ndarray:
    """Encode with the encoder registered as ``kind`` (``UnknownNameError``, a
    ``ValueError`` listing ``ENCODERS``, for any other name)."""
    return ENCODERS[kind](x, steps, seed, max_rate)
