"""Sequential digits: scikit-learn's 8x8 digits shown one row at a time, for
recurrent networks (the class is only known after the network has remembered
the earlier rows).
"""
from __future__ import annotations

import numpy as np

from neurodeploy.recipe import RecipeError

ROWS = 8


def check_steps(steps: int) -> int:
    """Steps per row (``steps // 8``); ``RecipeError`` (a ``ValueError``) naming
    ``data.steps`` unless ``steps`` is a positive multiple of 8."""
    if steps < ROWS or steps % ROWS:
        raise RecipeError(
            f"data.steps = {steps}: sequential_digits shows the {ROWS} image rows for the same number "
            f"of steps each, so data.steps must be a multiple of {ROWS} (at least {ROWS})"
        )
    return steps // ROWS


def sequential_digits(images: np.ndarray, steps: int, levels: int) -> np.ndarray:
    """Row-by-row thermometer spikes of ``images``.

    images: [n, 8, 8] intensities in [0, 1]. steps: T, a multiple of 8
    (``check_steps``). levels: L, input neurons per pixel column.
    Returns float32 [n, 8 * L, T] in {0, 1}.

    Rule: row r is shown at steps [r * rep, (r + 1) * rep), rep = T // 8.
    Neuron ``k * 8 + p`` (level k in 0..L-1, pixel column p) spikes at every
    step of row r's window iff pixel (r, p) > (k + 0.5) / L, so the number
    of neurons of column p that spike is the pixel quantized to L levels.
    Deterministic: no randomness.
    """
    rep = check_steps(steps)
    if images.ndim != 3 or images.shape[1:] != (ROWS, ROWS):
        raise ValueError(f"sequential_digits needs images shaped [n, 8, 8], got {list(images.shape)}")
    if levels < 1:
        raise ValueError(f"data.levels = {levels} must be at least 1")
    n = images.shape[0]
    thresholds = (np.arange(levels) + 0.5) / levels
    code = images[:, :, None, :] > thresholds[None, None, :, None]  # [n, row, level, pixel]
    code = code.reshape(n, ROWS, levels * ROWS).transpose(0, 2, 1)  # [n, neuron, row]
    return np.repeat(code.astype(np.float32), rep, axis=2)
