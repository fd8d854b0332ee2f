"""scikit-learn's digits: 1,797 real 8x8 grey-level images that ship with it."""
from __future__ import annotations

from dataclasses import dataclass

import math

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

NUM_CLASSES = 10
IMAGE_SHAPE = (1, 8, 8)
NUM_INPUTS = 64
NUM_SAMPLES = 1797
MAX_PIXEL = 16.0


class SplitError(ValueError):
    """A split that leaves a set too small; names ``data.test_fraction``."""


def split_sizes(test_fraction: float) -> tuple[int, int]:
    """(train, test) sample counts of a split, as scikit-learn counts them
    (test = ceil(fraction x 1797)); ``SplitError`` unless both sets hold at least
    one sample of every class, which a stratified split needs."""
    test = math.ceil(test_fraction * NUM_SAMPLES)
    train = NUM_SAMPLES - test
    if min(train, test) < NUM_CLASSES:
        raise SplitError(
            f"data.test_fraction = {test_fraction} leaves {train} training and {test} test samples of "
            f"{NUM_SAMPLES}; a stratified split needs at least {NUM_CLASSES} (one per class) in each"
        )
    return train, test


@dataclass(frozen=True)
class Split:
    """A fixed stratified split.

    x_train, x_test: float32 [samples, 64], intensities scaled to [0, 1].
    y_train, y_test: int64 [samples], class labels 0..9.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_digits_split(test_fraction: float = 0.2, seed: int = 0) -> Split:
    """Load digits and split them, stratified by class, with ``seed``.

    The same ``test_fraction`` and ``seed`` always give the same split.
    ``SplitError`` when a set would be too small (``split_sizes``).
    """
    split_sizes(test_fraction)
    digits = load_digits()
    x = (digits.data / MAX_PIXEL).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=y
    )
    return Split(x_train, y_train, x_test, y_test)
