"""Tests for neurodeploy.simulate.inputs: loaders of verify inputs, event binning checked against lava-dl."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neurodeploy.lavacompat import slayer
from neurodeploy.simulate.inputs import InputError, load_bias, load_events, load_spikes, random_spikes
from neurodeploy.reference import fixtures_dir

FIXTURES = fixtures_dir()
OXFORD_EVENTS = FIXTURES / "oxford" / "input_events.npy"
TINYNET_BIAS = FIXTURES / "tinynet" / "input_bias.npy"


def save(tmp_path: Path, name: str, array: np.ndarray) -> Path:
    path = tmp_path / name
    np.save(path, array)
    return path


def lava_binning(path: Path, dim: tuple[int, int, int]) -> np.ndarray:
    """lava-dl's binning of a 3-column events file, as [1, C * X, T]."""
    tensor = slayer.io.read_np_spikes(str(path)).to_tensor(sampling_time=1, dim=dim)
    return tensor.reshape(1, dim[0] * dim[1], dim[2])


# load_events


def test_oxford_events_equal_lava_dl():
    spikes = load_events(OXFORD_EVENTS, 200, 2000)
    assert spikes.shape == (1, 200, 2000)
    assert spikes.dtype == np.uint8
    np.testing.assert_array_equal(spikes, lava_binning(OXFORD_EVENTS, (1, 200, 2000)))
    assert spikes.sum() > 0


def test_half_millisecond_times_round_half_to_even(tmp_path):
    events = np.array([[0, 0, 0.5], [1, 0, 1.5], [2, 0, 2.5], [3, 0, 3.49], [1, 0, 4.5]])
    path = save(tmp_path, "events.npy", events)
    spikes = load_events(path, 4, 6)
    expected = np.zeros((1, 4, 6), dtype=np.uint8)
    # 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, 3.49 -> 3 as np.round gives; 4.5 -> 5
    # because lava-dl scales t by 1e-3 then 1e3, making it 4.500000000000001.
    for x, step in [(0, 0), (1, 2), (2, 2), (3, 3), (1, 5)]:
        expected[0, x, step] = 1
    np.testing.assert_array_equal(spikes, expected)
    np.testing.assert_array_equal(spikes, lava_binning(path, (1, 4, 6)))


def test_events_beyond_steps_are_dropped(tmp_path):
    events = np.array([[0, 0, 1.0], [1, 0, 2.6], [2, 0, 9.0]])
    path = save(tmp_path, "events.npy", events)
    spikes = load_events(path, 3, 3)
    assert spikes.shape == (1, 3, 3)
    assert spikes[0].nonzero() == (np.array([0]), np.array([1]))
    np.testing.assert_array_equal(spikes, lava_binning(path, (1, 3, 3)))


def test_steps_inferred_like_lava_dl(tmp_path):
    events = np.array([[0, 0, 0.0], [1, 0, 3.5], [1, 0, 2.2]])
    path = save(tmp_path, "events.npy", events)
    spikes = load_events(path, 2, None)
    inferred = slayer.io.read_np_spikes(str(path)).to_tensor(sampling_time=1)
    # round(3.5 + 1) = 4 steps, and the event at 3.5 rounds to step 4: dropped.
    assert spikes.shape == (1, 2, 4)
    np.testing.assert_array_equal(spikes, inferred.reshape(1, 2, 4))


def test_two_channels_put_channel_1_after_channel_0(tmp_path):
    width = 5
    events = np.array([[3, 0, 1.0], [3, 1, 2.0], [0, 1, 0.0], [4, 0, 4.0]])
    path = save(tmp_path, "events.npy", events)
    spikes = load_events(path, 2 * width, 6)
    assert set(zip(*spikes[0].nonzero())) == {(3, 1), (width + 3, 2), (width + 0, 0), (4, 4)}
    np.testing.assert_array_equal(spikes, lava_binning(path, (2, width, 6)))


def test_channels_are_shifted_to_start_at_zero_like_lava_dl(tmp_path):
    events = np.array([[2, 1, 1.0], [0, 1, 3.0]])
    path = save(tmp_path, "events.npy", events)
    spikes = load_events(path, 4, 4)
    assert set(zip(*spikes[0].nonzero())) == {(2, 1), (0, 3)}
    np.testing.assert_array_equal(spikes, lava_binning(path, (1, 4, 4)))


@pytest.mark.parametrize(
    "events, match",
    [
        (np.zeros((4, 2)), "shape"),
        (np.zeros(3), "shape"),
        (np.array([[0, 0, -1.0]]), "negative"),
        (np.array([[0, 0, np.nan]]), "NaN"),
        (np.array([[4, 0, 1.0]]), "x = 4"),
        (np.array([[0, 0, 1.0], [0, 2, 1.0]]), "3 channels"),
        (np.zeros((0, 3)), "no events"),
    ],
)
def test_bad_events_raise_naming_the_file(tmp_path, events, match):
    path = save(tmp_path, "bad_events.npy", events)
    with pytest.raises(InputError, match=match) as info:
        load_events(path, 4, 10)
    assert "bad_events.npy" in str(info.value)
    assert "\n" not in str(info.value)


# load_spikes


def test_spikes_2d_becomes_one_sample(tmp_path):
    array = np.array([[0, 1, 0], [1, 1, 0]], dtype=bool)
    spikes = load_spikes(save(tmp_path, "s.npy", array), 2)
    assert spikes.shape == (1, 2, 3)
    assert spikes.dtype == np.uint8
    np.testing.assert_array_equal(spikes[0], array)


def test_spikes_3d_kept(tmp_path):
    array = np.random.default_rng(0).integers(0, 2, size=(4, 3, 7)).astype(np.float32)
    spikes = load_spikes(save(tmp_path, "s.npy", array), 3)
    assert spikes.shape == (4, 3, 7)
    assert spikes.dtype == np.uint8
    np.testing.assert_array_equal(spikes, array)


@pytest.mark.parametrize(
    "array, match",
    [
        (np.zeros((5, 4), dtype=np.uint8), "5 neurons.*3 inputs"),
        (np.array([[0, 2, 1]] * 3), "values must be 0 or 1"),
        (np.array([[0.0, np.nan, 1.0]] * 3), "NaN"),
        (np.zeros(3), "dimensions"),
        (np.zeros((3, 0)), "empty"),
        (np.zeros((0, 3, 4)), "empty"),
    ],
)
def test_bad_spikes_raise_naming_the_file(tmp_path, array, match):
    path = save(tmp_path, "bad_spikes.npy", array)
    with pytest.raises(InputError, match=match) as info:
        load_spikes(path, 3)
    assert "bad_spikes.npy" in str(info.value)


def test_spikes_text_file_raises_naming_the_file(tmp_path):
    path = tmp_path / "spikes.txt"
    path.write_text("0 1 0\n1 0 1\n")
    with pytest.raises(InputError, match=r"spikes\.txt: not a \.npy file") as info:
        load_spikes(path, 2)
    assert "\n" not in str(info.value)


def test_spikes_missing_file_raises_naming_the_file(tmp_path):
    with pytest.raises(InputError, match="missing.npy: no such .npy file"):
        load_spikes(tmp_path / "missing.npy", 2)


def test_spikes_npz_and_truncated_npy_raise_naming_the_file(tmp_path):
    np.savez(tmp_path / "arrays.npz", a=np.zeros((2, 3)))
    with pytest.raises(InputError, match=r"arrays\.npz: not a \.npy file"):
        load_spikes(tmp_path / "arrays.npz", 2)
    path = save(tmp_path, "cut.npy", np.zeros((2, 30)))
    path.write_bytes(path.read_bytes()[:150])
    with pytest.raises(InputError, match=r"cut\.npy: truncated: its header says shape \(2, 30\)"):
        load_spikes(path, 2)


# load_bias


def test_tinynet_bias_one_image():
    bias = load_bias(TINYNET_BIAS, (16, 16, 3))
    assert bias.shape == (1, 768)
    assert bias.dtype == np.int64
    np.testing.assert_array_equal(bias[0], np.load(TINYNET_BIAS).reshape(-1))


def test_bias_stack(tmp_path):
    images = np.arange(2 * 16 * 16 * 3, dtype=np.int32).reshape(2, 16, 16, 3)
    bias = load_bias(save(tmp_path, "stack.npy", images), (16, 16, 3))
    assert bias.shape == (2, 768)
    assert bias.dtype == np.int64
    np.testing.assert_array_equal(bias, images.reshape(2, -1))


@pytest.mark.parametrize(
    "array, match",
    [
        (np.zeros((16, 16, 2)), "shape"),
        (np.zeros((3, 16, 16)), "shape"),
        (np.full((16, 16, 3), 2.5), "non-integer"),
        (np.full((16, 16, 3), np.inf), "infinite"),
        (np.full((16, 16, 3), 1e19), "int64 range"),
        (np.full((16, 16, 3), 2**63, dtype=np.uint64), "int64 range"),
    ],
)
def test_bad_bias_raises_naming_the_file(tmp_path, array, match):
    path = save(tmp_path, "bad_bias.npy", array)
    with pytest.raises(InputError, match=match) as info:
        load_bias(path, (16, 16, 3))
    assert "bad_bias.npy" in str(info.value)


# random_spikes


def test_random_spikes_shape_dtype_and_seed():
    spikes = random_spikes(3, 10, 50, 0.2, seed=7)
    assert spikes.shape == (3, 10, 50)
    assert spikes.dtype == np.uint8
    np.testing.assert_array_equal(spikes, random_spikes(3, 10, 50, 0.2, seed=7))
    assert not np.array_equal(spikes, random_spikes(3, 10, 50, 0.2, seed=8))
    assert set(np.unique(spikes)) == {0, 1}


def test_random_spikes_rate_extremes():
    assert not random_spikes(2, 4, 5, 0.0, seed=0).any()
    assert random_spikes(2, 4, 5, 1.0, seed=0).all()


@pytest.mark.parametrize(
    "args, option",
    [
        ((1, 4, 5, 1.5), "--random-rate"),
        ((1, 4, 5, -0.1), "--random-rate"),
        ((1, 4, 5, float("nan")), "--random-rate"),
        ((0, 4, 5, 0.5), "--samples"),
        ((1, 4, 0, 0.5), "--steps"),
    ],
)
def test_random_spikes_bad_options(args, option):
    with pytest.raises(InputError, match=option):
        random_spikes(*args, seed=0)


# ------------------------------------------------------- Lava shapes and graded values


def test_spikes_in_the_first_layers_lava_shape_with_and_without_samples(tmp_path):
    """(W, H, C, T), as Lava's RingBuffer takes it, flattens in Lava's neuron order."""
    rng = np.random.default_rng(3)
    image = rng.integers(0, 2, size=(4, 3, 2, 5))  # W, H, C, T
    flat = load_spikes(save(tmp_path, "whc.npy", image), (4, 3, 2))
    assert flat.shape == (1, 24, 5)
    w, h, c = 3, 1, 1
    np.testing.assert_array_equal(flat[0, w * 3 * 2 + h * 2 + c], image[w, h, c])
    batch = load_spikes(save(tmp_path, "nwhc.npy", np.stack([image, 1 - image])), (4, 3, 2))
    assert batch.shape == (2, 24, 5)
    np.testing.assert_array_equal(batch[1], 1 - flat[0])
    with pytest.raises(InputError, match=r"whc.npy: input array of shape \(4, 3, 2, 5\) has 4 dimensions; "
                                          r"expected \[neurons, T\], \[samples, neurons, T\] or \(3, 4, 2\)"):
        load_spikes(tmp_path / "whc.npy", (3, 4, 2))


def test_graded_values_for_a_first_layer_that_takes_them(tmp_path):
    values = np.array([[[-300, 0, 70000]], [[5, -(2**31), 2**31 - 1]]]).transpose(0, 2, 1)  # [2, 3, 1]
    path = save(tmp_path, "graded.npy", values.astype(np.int64))
    loaded = load_spikes(path, 3, graded=True)
    assert loaded.dtype == np.int32
    np.testing.assert_array_equal(loaded, values)
    with pytest.raises(InputError, match=r"graded.npy: input array contains -300; values must be 0 or 1"):
        load_spikes(path, 3)
    save(tmp_path, "wide.npy", np.array([[2**31]] * 3))
    with pytest.raises(InputError, match="wide.npy: input array has values beyond int32"):
        load_spikes(tmp_path / "wide.npy", 3, graded=True)
    save(tmp_path, "half.npy", np.array([[0.5]] * 3))
    with pytest.raises(InputError, match="half.npy: input array contains non-integer values"):
        load_spikes(tmp_path / "half.npy", 3, graded=True)
