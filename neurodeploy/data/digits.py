"""scikit-learn's digits: 1,797 real 8x8 grey-level images that ship with it."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

NUM_CLASSES = 10
IMAGE_SHAPE = (1, 8, 8)
NUM_INPUTS = 64
MAX_PIXEL = 16.0


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
    """
    digits = load_digits()
    x = (digits.data / MAX_PIXEL).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=y
    )
    return Split(x_train, y_train, x_test, y_test)
