"""Moving digits: scikit-learn's 8x8 digits gliding across a larger canvas, for
sigma-delta networks (consecutive frames are alike, so their deltas are sparse)
and, as spikes, for spiking ones.

The frames are graded: every value is a pixel of the digit (intensity in
[0, 1], a multiple of 1/16) or 0 off the digit. ``spike_frames`` turns them
into spikes, pixel by pixel and step by step.
"""
from __future__ import annotations

import numpy as np

DIGIT_SIDE = 8


def moving_digits(images: np.ndarray, steps: int, canvas: int, seed: int) -> np.ndarray:
    """Each image pasted on a zero ``canvas`` x ``canvas`` frame, moving in a straight line.

    images: [n, 8, 8] intensities in [0, 1]. steps: T, frames per sample.
    canvas: the frame's side in pixels (>= 8).
    Returns float32 [n, canvas * canvas, T] (each frame flattened in (C, H, W)
    order, C = 1; time last).

    Rule: per sample, a start and an end (row, col) of the digit's top-left
    corner are drawn uniformly from the integers in [0, canvas - 8], starts
    for every sample first, then ends, with ``numpy.random.default_rng(seed)``.
    At frame t the corner is at ``rint(start + (end - start) * t / (T - 1))``
    (``t / (T - 1)`` is 0 when T = 1; ``numpy.rint`` rounds halves to even).
    The digit's values are copied unchanged, so each frame sums to the image.
    """
    if images.ndim != 3 or images.shape[1:] != (DIGIT_SIDE, DIGIT_SIDE):
        raise ValueError(f"moving_digits needs images shaped [n, 8, 8], got {list(images.shape)}")
    if canvas < DIGIT_SIDE:
        raise ValueError(f"data.canvas = {canvas} is smaller than the {DIGIT_SIDE}-pixel digit")
    if steps < 1:
        raise ValueError(f"data.steps = {steps} must be at least 1")
    n = images.shape[0]
    rng = np.random.default_rng(seed)
    start = rng.integers(0, canvas - DIGIT_SIDE, size=(n, 2), endpoint=True)
    end = rng.integers(0, canvas - DIGIT_SIDE, size=(n, 2), endpoint=True)
    frames = np.zeros((n, canvas, canvas, steps), dtype=np.float32)
    sample = np.arange(n)[:, None, None]
    offset = np.arange(DIGIT_SIDE)
    pixels = images.astype(np.float32, copy=False)
    for t in range(steps):
        fraction = t / (steps - 1) if steps > 1 else 0.0
        corner = np.rint(start + (end - start) * fraction).astype(np.int64)  # [n, 2]
        rows = (corner[:, 0, None] + offset)[:, :, None]  # [n, 8, 1]
        cols = (corner[:, 1, None] + offset)[:, None, :]  # [n, 1, 8]
        frames[sample, rows, cols, t] = pixels
    return frames.reshape(n, canvas * canvas, steps)


def spike_frames(frames: np.ndarray, seed: int, max_rate: float = 1.0) -> np.ndarray:
    """Bernoulli spikes of graded frames: ``s[n, i, t] = 1`` with probability
    ``frames[n, i, t] * max_rate``, drawn from ``numpy.random.default_rng(seed)``.

    frames: float32 [n, pixels, T] in [0, 1] (``moving_digits``). Returns float32
    [n, pixels, T] in {0, 1}."""
    draws = np.random.default_rng(seed).random(frames.shape, dtype=np.float32)
    return (draws < frames * max_rate).astype(np.float32)
