"""Event-camera and event-audio datasets through tonic: N-MNIST and SHD.

The files are read by tonic's own dataset classes (``tonic.datasets.NMNIST``,
``tonic.datasets.SHD``), from the folder layout tonic keeps under
``save_to``: ``NMNIST/train.zip`` with the extracted ``NMNIST/Train/<digit>/
*.bin`` (``test.zip``, ``Test/`` for the test set), and ``SHD/shd_train.h5.zip``
with the extracted ``SHD/shd_train.h5`` (``shd_test.h5``). neurodeploy never
downloads: where tonic would, a ``DatasetError`` names the folder and what
is missing.

Binning: an event at time t (microseconds from the sample's start, as tonic
gives it) falls in step ``floor(t / step_us)``; a neuron spikes at a step
when it has at least one event there. Events from step T on are dropped, a
shorter sample ends in silent steps. (tonic's ``ToFrame`` is not used: it
starts its windows at each sample's first event and drops an event that
falls exactly on its last window's end.) Neurons are ordered (C, H, W) = (polarity, y, x): N-MNIST is
2x34x34, SHD is 700 channels (700x1x1).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

DATASETS = ("nmnist", "shd")
NUM_CLASSES = {"nmnist": 10, "shd": 20}
INPUT_SHAPE = {"nmnist": (2, 34, 34), "shd": (700, 1, 1)}
NUM_SAMPLES = {"nmnist": (60000, 10000), "shd": (8156, 2264)}  # (train, test), as published


class DatasetError(ValueError):
    """An event dataset that cannot be read; names the folder or file."""


def _tonic_class(name: str):
    """tonic's dataset class for ``name``, with its download replaced by a clear error."""
    import tonic

    base = {"nmnist": tonic.datasets.NMNIST, "shd": tonic.datasets.SHD}[name]

    def download(self) -> None:
        raise DatasetError(
            f"{self.location_on_system}: no {base.__name__} files where tonic keeps them "
            f"({self.filename} and its extracted contents); neurodeploy does not download"
        )

    # tonic names the dataset's folder after the class, so the subclass keeps the name.
    return type(base.__name__, (base,), {"download": download})


def event_frames(events: np.ndarray, sensor_size: tuple[int, int, int], steps: int, step_us: int) -> np.ndarray:
    """One sample's events as spikes uint8 [C*H*W, T], (C, H, W) = (polarity, y, x).

    events: tonic's structured array (fields x, y (N-MNIST only), t in
    microseconds from the sample's start, p). sensor_size: tonic's (x, y, p)
    sizes. Neuron p*H*W + y*W + x spikes at step t // step_us (p = 0 on a
    one-polarity sensor); events at steps >= T are dropped. An event outside
    the sensor is a ``DatasetError``.
    """
    width, height, polarities = sensor_size
    x = events["x"].astype(np.int64)
    y = events["y"].astype(np.int64) if "y" in events.dtype.names else np.zeros_like(x)
    # tonic marks every SHD event with polarity 1 on a one-polarity sensor
    p = events["p"].astype(np.int64) if polarities > 1 else np.zeros_like(x)
    for name, values, size in (("x", x, width), ("y", y, height), ("p", p, polarities)):
        if len(values) and (values.min() < 0 or values.max() >= size):
            raise DatasetError(f"event {name} = {values.max() if values.max() >= size else values.min()} "
                               f"is outside the sensor's 0..{size - 1}")
    neuron = (p * height + y) * width + x
    step = events["t"].astype(np.int64) // step_us
    keep = (step >= 0) & (step < steps)
    out = np.zeros((int(np.prod(sensor_size)), steps), dtype=np.uint8)
    out[neuron[keep], step[keep]] = 1
    return out


def load_events(
    name: str, path: str | Path, train: bool, steps: int, step_us: int, limit: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Samples of an event dataset as spikes: x float32 [N, C*H*W, T], y int64 [N].

    limit: at most this many samples (0: all), a random subset drawn with
    ``seed`` (tonic lists N-MNIST by class, so the first N would be one
    class), in the dataset's order.
    """
    if name not in DATASETS:
        raise DatasetError(f"data.dataset = {name!r} is not an event dataset ({', '.join(DATASETS)})")
    root = Path(path).expanduser()
    if not root.is_dir():
        raise DatasetError(f"data.path: {root} is not a folder")
    dataset = _tonic_class(name)(save_to=str(root), train=train)
    count = len(dataset)
    if count == 0:
        raise DatasetError(f"{dataset.location_on_system}: the {'train' if train else 'test'} set has no samples")
    indices = np.arange(count)
    if limit and limit < count:
        indices = np.sort(np.random.default_rng(seed).choice(count, size=limit, replace=False))
    x = np.zeros((len(indices), int(np.prod(INPUT_SHAPE[name])), steps), dtype=np.float32)
    y = np.zeros(len(indices), dtype=np.int64)
    for row, index in enumerate(indices):
        events, label = dataset[int(index)]
        try:
            x[row] = event_frames(events, dataset.sensor_size, steps, step_us)
        except DatasetError as err:
            raise DatasetError(f"{dataset.location_on_system}: sample {index}: {err}") from err
        y[row] = int(label)
    return x, y
