"""The built-in datasets made from scikit-learn's digits: moving_digits (graded frames
for sigma-delta networks) and sequential_digits (row-by-row thermometer spikes for
recurrent networks)."""
from __future__ import annotations

import re

import numpy as np
import pytest

from neurodeploy.data.dataset import DATASETS, dataset_bytes, dataset_shape, dataset_sizes, load_dataset
from neurodeploy.data.digits import load_digits_split, split_sizes
from neurodeploy.data.moving import moving_digits
from neurodeploy.data.sequential import sequential_digits
from neurodeploy.limits import Limits
from neurodeploy.preflight import check_recipe
from neurodeploy.recipe import DataSettings, Recipe, RecipeError, recipe_from_dict


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    """The first 200 training images of the default split, [200, 8, 8] in [0, 1]."""
    return load_digits_split().x_train[:200].reshape(-1, 8, 8)


def test_both_datasets_are_registered_and_built_in():
    for name in ("moving_digits", "sequential_digits"):
        assert name in DATASETS and not DATASETS[name].needs_path
    assert dataset_shape(DataSettings(dataset="moving_digits", canvas=20)) == ((1, 20, 20), 10)
    assert dataset_shape(DataSettings(dataset="sequential_digits", levels=3)) == ((24, 1, 1), 10)


# moving_digits


def test_moving_digits_shape_dtype_and_determinism(images):
    frames = moving_digits(images, 6, 12, seed=3)
    assert frames.shape == (200, 144, 6) and frames.dtype == np.float32
    assert np.array_equal(frames, moving_digits(images, 6, 12, seed=3))
    assert not np.array_equal(frames, moving_digits(images, 6, 12, seed=4))


def test_every_frame_holds_exactly_the_digit(images):
    frames = moving_digits(images, 5, 16, seed=0).reshape(200, 16, 16, 5)
    sums = frames.sum(axis=(1, 2))  # [n, T]
    np.testing.assert_allclose(sums, np.repeat(images.sum(axis=(1, 2))[:, None], 5, axis=1), rtol=1e-6)
    assert np.all(np.isin(frames * 16, np.arange(17)))  # multiples of 1/16, as the digit's pixels
    # The first frame is the image at the start corner: its values, in order, on an 8x8 window.
    for n in range(0, 200, 37):
        rows, cols = np.nonzero(frames[n, :, :, 0])
        if rows.size:
            window = frames[n, rows.min():rows.min() + 8, cols.min():cols.min() + 8, 0]
            assert window.sum() == pytest.approx(images[n].sum())


def test_the_corner_moves_linearly_from_start_to_end():
    one = np.zeros((1, 8, 8), dtype=np.float32)
    one[0, 0, 0] = 1.0  # a single bright pixel marks the digit's corner
    frames = moving_digits(one, 5, 16, seed=11).reshape(16, 16, 5)
    corners = np.array([np.argwhere(frames[:, :, t])[0] for t in range(5)])
    start, end = corners[0], corners[-1]
    for t in range(5):
        assert np.array_equal(corners[t], np.rint(start + (end - start) * t / 4))
    single = moving_digits(one, 1, 16, seed=11).reshape(16, 16, 1)
    assert np.array_equal(np.argwhere(single[:, :, 0])[0], start)  # T = 1: the start


def test_consecutive_frames_are_alike_and_the_digit_moves(images):
    frames = moving_digits(images, 16, 16, seed=1)
    step = np.abs(np.diff(frames, axis=2)).mean()
    unrelated = np.abs(frames[:-1] - frames[1:]).mean()  # frame t of one sample vs another
    assert step < 0.5 * unrelated
    moved = np.any(frames[:, :, 0] != frames[:, :, -1], axis=1)
    assert moved.mean() > 0.8


def test_moving_digits_refuses_a_canvas_smaller_than_the_digit(images):
    with pytest.raises(ValueError, match="data.canvas"):
        moving_digits(images, 4, 7, seed=0)
    assert moving_digits(images[:3], 2, 8, seed=0).shape == (3, 64, 2)  # canvas = 8: no room, no motion


def test_the_moving_source_multiplies_the_training_set():
    settings = DataSettings(dataset="moving_digits", steps=3, canvas=10, trajectories=2)
    train, test = split_sizes(settings.test_fraction)
    assert dataset_sizes(settings) == (2 * train, test)
    data = load_dataset(settings, seed=5)
    assert data.x_train.shape == (2 * train, 100, 3) and data.x_test.shape == (test, 100, 3)
    assert data.input_shape == (1, 10, 10) and data.num_inputs == 100 and data.num_classes == 10
    split = load_digits_split(settings.test_fraction, settings.split_seed)
    assert np.array_equal(data.y_train, np.concatenate([split.y_train, split.y_train]))
    assert np.array_equal(data.y_test, split.y_test)
    # Both copies of an image hold the same pixels, moving their own ways.
    first, second = data.x_train[:train], data.x_train[train:]
    np.testing.assert_allclose(first.sum(axis=1), second.sum(axis=1), rtol=1e-6)
    assert not np.array_equal(first, second)
    again = load_dataset(settings, seed=5)
    assert np.array_equal(data.x_train, again.x_train) and np.array_equal(data.x_test, again.x_test)
    other = load_dataset(settings, seed=6)
    assert not np.array_equal(data.x_train, other.x_train)
    assert dataset_bytes(settings) >= data.x_train.nbytes + data.x_test.nbytes


# sequential_digits


def test_sequential_digits_shape_dtype_and_determinism(images):
    spikes = sequential_digits(images, 16, 4)
    assert spikes.shape == (200, 32, 16) and spikes.dtype == np.float32
    assert set(np.unique(spikes)) <= {0.0, 1.0}
    assert np.array_equal(spikes, sequential_digits(images, 16, 4))


@pytest.mark.parametrize("levels", [1, 3, 4, 16])
def test_the_thermometer_code_decodes_to_the_quantized_rows(images, levels):
    rep = 3
    spikes = sequential_digits(images, 8 * rep, levels)  # [n, levels * 8, 8 * rep]
    for row in range(8):
        window = spikes[:, :, row * rep:(row + 1) * rep]
        assert np.all(window == window[:, :, :1])  # a row occupies its rep steps, constant
        code = window[:, :, 0].reshape(-1, levels, 8)  # [n, level, pixel]
        assert np.all(np.diff(code, axis=1) <= 0)  # a thermometer: level k+1 only above level k
        count = code.sum(axis=1)  # [n, pixel]
        expected = np.clip(np.ceil(images[:, row, :] * levels - 0.5), 0, levels)
        assert np.array_equal(count, expected)
        assert np.all(np.abs(count / levels - images[:, row, :]) <= 0.5 / levels + 1e-6)


@pytest.mark.parametrize("steps", [0, 4, 12, 17])
def test_steps_that_are_not_a_multiple_of_8_are_refused(images, steps):
    with pytest.raises(ValueError, match=re.escape(f"data.steps = {steps}")):
        sequential_digits(images, steps, 4)
    with pytest.raises(RecipeError, match=re.escape(f"data.steps = {steps}")):
        dataset_sizes(DataSettings(dataset="sequential_digits", steps=steps))


def test_preflight_refuses_bad_steps_in_one_line():
    recipe = recipe_from_dict({"data": {"dataset": "sequential_digits", "steps": 12}})
    with pytest.raises(RecipeError, match=r"^data\.steps = 12: [^\n]*$"):
        check_recipe(recipe, Limits(), lava=False)
    check_recipe(recipe_from_dict({"data": {"dataset": "sequential_digits", "steps": 16}}), Limits(), lava=False)


def test_the_sequential_source_ignores_the_seed():
    settings = DataSettings(dataset="sequential_digits", steps=8, levels=2)
    data = load_dataset(settings, seed=0)
    assert data.x_train.shape == (split_sizes(0.2)[0], 16, 8) and data.input_shape == (16, 1, 1)
    assert dataset_sizes(settings) == (len(data.y_train), len(data.y_test))
    other = load_dataset(settings, seed=9)
    assert np.array_equal(data.x_train, other.x_train) and np.array_equal(data.x_test, other.x_test)
    assert dataset_bytes(settings) >= data.x_train.nbytes + data.x_test.nbytes


def test_the_new_keys_default_and_load():
    assert (Recipe().data.canvas, Recipe().data.trajectories, Recipe().data.levels) == (16, 1, 4)
    recipe = recipe_from_dict({"data": {"dataset": "moving_digits", "canvas": 24, "trajectories": 3}})
    assert (recipe.data.canvas, recipe.data.trajectories) == (24, 3)


def test_spiking_frames_spike_where_the_digit_is_at_its_intensity():
    """data.frames = spikes: each pixel of each frame spikes with the probability of its
    intensity (x max_rate), never off the digit, the same spikes for the same seed."""
    graded = load_dataset(DataSettings(dataset="moving_digits", steps=16, canvas=12), seed=0)
    settings = DataSettings(dataset="moving_digits", steps=16, canvas=12, frames="spikes")
    spikes = load_dataset(settings, seed=0)
    for frames, trains in ((graded.x_train, spikes.x_train), (graded.x_test, spikes.x_test)):
        assert trains.shape == frames.shape and set(np.unique(trains)) == {0.0, 1.0}
        assert not trains[frames == 0].any(), "a spike off the digit"
        full = frames == 1.0
        assert trains[full].all(), "a pixel of intensity 1 spikes at every step at max_rate 1"
        middle = (frames > 0.4) & (frames < 0.6)
        assert abs(trains[middle].mean() - frames[middle].mean()) < 0.02
    np.testing.assert_array_equal(load_dataset(settings, seed=0).x_train, spikes.x_train)
    half = load_dataset(DataSettings(dataset="moving_digits", steps=16, canvas=12, frames="spikes", max_rate=0.5),
                        seed=0)
    assert abs(half.x_train.mean() / spikes.x_train.mean() - 0.5) < 0.02


def test_a_spiking_network_on_graded_frames_is_refused_before_work_starts():
    recipe = recipe_from_dict({"data": {"dataset": "moving_digits"}})
    with pytest.raises(RecipeError, match=re.escape("model.blocks = 'cuba' takes spikes: set data.frames = spikes")):
        check_recipe(recipe, Limits())
    check_recipe(recipe_from_dict({"data": {"dataset": "moving_digits", "frames": "spikes"}}), Limits())
    with pytest.raises(RecipeError, match=re.escape("data.frames = 'events' is not one of: graded, spikes")):
        recipe_from_dict({"data": {"frames": "events"}})
