"""The encoded dataset a recipe describes; ``DATASETS`` is the registry of datasets
by name (``data.dataset``)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from neurodeploy.data import events
from neurodeploy.data.digits import IMAGE_SHAPE, NUM_CLASSES, NUM_INPUTS, load_digits_split, split_sizes
from neurodeploy.data.encoding import encode
from neurodeploy.data.moving import moving_digits, spike_frames
from neurodeploy.data.sequential import check_steps, sequential_digits
from neurodeploy.recipe import DataSettings
from neurodeploy.registry import Registry


@dataclass(frozen=True)
class SpikeDataset:
    """Spike-encoded train and test sets.

    x_train, x_test: float32 [samples, inputs, T] in {0, 1}, each image
        flattened in (C, H, W) order (moving_digits: graded frames, pixel
        intensities in [0, 1], for a sigma-delta Input block).
    y_train, y_test: int64 [samples].
    input_shape: (C, H, W) of the images; inputs = C * H * W.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_inputs: int
    num_classes: int
    input_shape: tuple[int, int, int]


@dataclass(frozen=True)
class DatasetSource:
    """A dataset a recipe can name.

    input_shape: (C, H, W) of a sample under the recipe's data settings;
        classes: the number of labels.
    sizes: (train, test) sample counts under the recipe's data settings, without
        reading the dataset.
    load: the spike-encoded sets under the data settings and a seed.
    needs_path: whether it is read from ``data.path``.
    graded: whether its samples are graded values rather than spikes under the data
        settings (a spiking network's chip input takes spikes only).
    """

    input_shape: Callable[[DataSettings], tuple[int, int, int]]
    classes: int
    sizes: Callable[[DataSettings], tuple[int, int]]
    load: Callable[[DataSettings, int], SpikeDataset]
    needs_path: bool
    graded: Callable[[DataSettings], bool] = lambda settings: False


def _digits_sizes(settings: DataSettings) -> tuple[int, int]:
    """``digits.split_sizes`` of the split (which checks it)."""
    return split_sizes(settings.test_fraction)


def _load_digits(settings: DataSettings, seed: int) -> SpikeDataset:
    """Split, then encoded with ``seed`` (train) and ``seed + 1`` (test)."""
    split = load_digits_split(settings.test_fraction, settings.split_seed)
    kind, steps, rate = settings.encoding, settings.steps, settings.max_rate
    return SpikeDataset(
        x_train=encode(kind, split.x_train, steps, seed, rate),
        y_train=split.y_train,
        x_test=encode(kind, split.x_test, steps, seed + 1, rate),
        y_test=split.y_test,
        num_inputs=NUM_INPUTS,
        num_classes=NUM_CLASSES,
        input_shape=IMAGE_SHAPE,
    )


def _split_images(settings: DataSettings) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The digits split as images: x_train, x_test float32 [n, 8, 8] in [0, 1];
    y_train, y_test int64 [n]."""
    split = load_digits_split(settings.test_fraction, settings.split_seed)
    side = IMAGE_SHAPE[1:]
    return (split.x_train.reshape(-1, *side), split.y_train, split.x_test.reshape(-1, *side), split.y_test)


def _moving_shape(settings: DataSettings) -> tuple[int, int, int]:
    return 1, settings.canvas, settings.canvas


def _moving_sizes(settings: DataSettings) -> tuple[int, int]:
    """(train x ``trajectories``, test) of the digits split (which checks it)."""
    train, test = split_sizes(settings.test_fraction)
    return train * settings.trajectories, test


def _load_moving(settings: DataSettings, seed: int) -> SpikeDataset:
    """``moving.moving_digits`` of the split: ``trajectories`` copies of the training
    images (the image order repeated, each copy its own motion) drawn with ``seed``, one
    motion per test image drawn with ``seed + 1``. ``frames: graded``: the frames are
    the input (``encoding`` and ``max_rate`` play no part); ``frames: spikes``: their
    ``moving.spike_frames`` at ``max_rate``, drawn with ``seed + 2`` (train) and
    ``seed + 3`` (test)."""
    x_train, y_train, x_test, y_test = _split_images(settings)
    copies = settings.trajectories
    shape = _moving_shape(settings)
    train = moving_digits(np.tile(x_train, (copies, 1, 1)), settings.steps, settings.canvas, seed)
    test = moving_digits(x_test, settings.steps, settings.canvas, seed + 1)
    if settings.frames == "spikes":
        train, test = spike_frames(train, seed + 2, settings.max_rate), spike_frames(test, seed + 3, settings.max_rate)
    return SpikeDataset(
        x_train=train,
        y_train=np.tile(y_train, copies),
        x_test=test,
        y_test=y_test,
        num_inputs=int(np.prod(shape)),
        num_classes=NUM_CLASSES,
        input_shape=shape,
    )


def _sequential_shape(settings: DataSettings) -> tuple[int, int, int]:
    return IMAGE_SHAPE[2] * settings.levels, 1, 1


def _sequential_sizes(settings: DataSettings) -> tuple[int, int]:
    """The digits split's sizes; ``RecipeError`` naming ``data.steps`` unless it is a
    multiple of 8 (``sequential.check_steps``), so preflight refuses it at once."""
    check_steps(settings.steps)
    return split_sizes(settings.test_fraction)


def _load_sequential(settings: DataSettings, seed: int) -> SpikeDataset:
    """``sequential.sequential_digits`` of the split (deterministic: ``seed``,
    ``encoding`` and ``max_rate`` play no part)."""
    x_train, y_train, x_test, y_test = _split_images(settings)
    shape = _sequential_shape(settings)
    return SpikeDataset(
        x_train=sequential_digits(x_train, settings.steps, settings.levels),
        y_train=y_train,
        x_test=sequential_digits(x_test, settings.steps, settings.levels),
        y_test=y_test,
        num_inputs=int(np.prod(shape)),
        num_classes=NUM_CLASSES,
        input_shape=shape,
    )


def _event_source(name: str) -> DatasetSource:
    """Event dataset ``name``: counted as published, cut by ``train_samples`` and
    ``test_samples``; tonic reads the files and ``events.load_events`` bins them
    (the seed plays no part)."""
    shape, classes = events.INPUT_SHAPE[name], events.NUM_CLASSES[name]

    def sizes(settings: DataSettings) -> tuple[int, int]:
        train, test = events.NUM_SAMPLES[name]
        return min(train, settings.train_samples or train), min(test, settings.test_samples or test)

    def load(settings: DataSettings, seed: int) -> SpikeDataset:
        sets = [
            events.load_events(name, settings.path, train, settings.steps, settings.step_us, limit,
                               settings.split_seed)
            for train, limit in ((True, settings.train_samples), (False, settings.test_samples))
        ]
        return SpikeDataset(
            x_train=sets[0][0], y_train=sets[0][1], x_test=sets[1][0], y_test=sets[1][1],
            num_inputs=int(np.prod(shape)), num_classes=classes, input_shape=shape,
        )

    return DatasetSource(lambda settings: shape, classes, sizes, load, needs_path=True)


DATASETS: Registry[DatasetSource] = Registry("dataset", {
    "digits": DatasetSource(lambda settings: IMAGE_SHAPE, NUM_CLASSES, _digits_sizes, _load_digits,
                            needs_path=False),
    "moving_digits": DatasetSource(_moving_shape, NUM_CLASSES, _moving_sizes, _load_moving, needs_path=False,
                                   graded=lambda settings: settings.frames == "graded"),
    "sequential_digits": DatasetSource(_sequential_shape, NUM_CLASSES, _sequential_sizes, _load_sequential,
                                       needs_path=False),
    **{name: _event_source(name) for name in events.DATASETS},
})


def _source(settings: DataSettings) -> DatasetSource:
    return DATASETS.lookup(settings.dataset, "data.dataset =")


def dataset_shape(settings: DataSettings) -> tuple[tuple[int, int, int], int]:
    """(input_shape (C, H, W), number of classes) of the recipe's dataset, without reading it."""
    source = _source(settings)
    return source.input_shape(settings), source.classes


def dataset_sizes(settings: DataSettings) -> tuple[int, int]:
    """(train, test) sample counts of the recipe's dataset, without reading it
    (``digits.split_sizes`` checks the split; moving_digits counts ``trajectories``
    training copies of each image; sequential_digits checks ``data.steps``; event
    datasets as published, cut by ``train_samples`` and ``test_samples``)."""
    return _source(settings).sizes(settings)


def dataset_bytes(settings: DataSettings) -> int:
    """An upper bound of the memory ``load_dataset`` takes: float32 spikes [N, inputs, T]
    of every sample, twice (the encoder's draws or tonic's frames beside the result;
    moving_digits and sequential_digits write theirs in place, once)."""
    shape, _ = dataset_shape(settings)
    return 2 * 4 * sum(dataset_sizes(settings)) * int(np.prod(shape)) * settings.steps


def load_dataset(settings: DataSettings, seed: int) -> SpikeDataset:
    """The recipe's dataset as spikes.

    digits: split, then encoded with ``seed`` (train) and ``seed + 1``
    (test). moving_digits: the split's images moving, motions drawn with
    ``seed`` (train) and ``seed + 1`` (test). sequential_digits: the split's
    rows in turn, thermometer-coded (``seed`` plays no part). nmnist, shd:
    tonic reads the files, ``events.load_events`` bins them (``seed`` plays
    no part).
    """
    return _source(settings).load(settings, seed)
