"""N-MNIST and SHD through tonic's own loaders, on small files written here in their formats."""
import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from neurodeploy.cli import main
from neurodeploy.data.dataset import load_dataset
from neurodeploy.data.events import DatasetError, load_events
from neurodeploy.recipe import recipe_from_dict

NMNIST_FILES = 10_000  # tonic takes N-MNIST as extracted when a split has at least this many .bin files


def nmnist_bytes(events: list[tuple[int, int, int, int]]) -> bytes:
    """N-MNIST's 40-bit events (x, y, polarity, t in microseconds), as the .bin files hold them."""
    out = bytearray()
    for x, y, p, t in events:
        out += bytes([x, y, (p << 7) | ((t >> 16) & 0x7F), (t >> 8) & 0xFF, t & 0xFF])
    return bytes(out)


def nmnist_events(digit: int, index: int) -> list[tuple[int, int, int, int]]:
    """A digit-specific pattern: pixel (digit, index % 34) in polarity digit % 2 at 1.5 ms, and
    pixel (33, 33) of polarity 1 at step 2 of 1 ms steps."""
    return [(digit, index % 34, digit % 2, 1500), (33, 33, 1, 2000 + index % 1000)]


@pytest.fixture(scope="module")
def nmnist_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("tonic")
    folder = root / "NMNIST"
    (folder / "Train").mkdir(parents=True)
    (folder / "train.zip").write_bytes(b"")  # tonic only checks that the archive is there
    for i in range(NMNIST_FILES):
        digit = i % 10
        (folder / "Train" / str(digit)).mkdir(exist_ok=True)
        (folder / "Train" / str(digit) / f"{i:05d}.bin").write_bytes(nmnist_bytes(nmnist_events(digit, i)))
    return root


@pytest.mark.slow
def test_nmnist_samples_are_binned_where_their_events_are(nmnist_root):
    x, y = load_events("nmnist", nmnist_root, train=True, steps=4, step_us=1000, limit=50, seed=3)
    assert x.shape == (50, 2 * 34 * 34, 4) and x.dtype == np.float32
    assert sorted(set(y.tolist())) == list(range(10)), "a random subset, not the first class"
    again, _ = load_events("nmnist", nmnist_root, train=True, steps=4, step_us=1000, limit=50, seed=3)
    assert np.array_equal(x, again)
    for sample, digit in zip(x, y):
        spikes = np.argwhere(sample)
        assert len(spikes) == 2
        (first, step_a), (second, step_b) = spikes[np.argsort(spikes[:, 1])]
        polarity, rest = divmod(first, 34 * 34)
        row, column = divmod(rest, 34)
        assert (polarity, column, step_a) == (digit % 2, digit, 1)  # x = digit, t = 1.5 ms
        assert (second, step_b) == ((1 * 34 + 33) * 34 + 33, 2)
    short, _ = load_events("nmnist", nmnist_root, train=True, steps=2, step_us=1000, limit=5, seed=0)
    assert short.sum() == 5, "events from step T on are dropped"


def test_missing_files_are_a_clear_error_and_nothing_is_downloaded(tmp_path):
    with pytest.raises(DatasetError, match=r"NMNIST: no NMNIST files where tonic keeps them .*does not download"):
        load_events("nmnist", tmp_path, train=True, steps=4, step_us=1000, limit=0, seed=0)
    with pytest.raises(DatasetError, match=r"data.path: .*missing is not a folder"):
        load_events("shd", tmp_path / "missing", train=True, steps=4, step_us=1000, limit=0, seed=0)


def write_shd(root: Path, split: str, samples: int, seed: int) -> None:
    """An SHD file as the dataset ships it: ragged spike times (s) and units, labels, keys."""
    rng = np.random.default_rng(seed)
    folder = root / "SHD"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"shd_{split}.h5.zip").write_bytes(b"")
    labels = np.arange(samples) % 20
    with h5py.File(folder / f"shd_{split}.h5", "w") as f:
        times = f.create_dataset("spikes/times", (samples,), dtype=h5py.vlen_dtype(np.float32))
        units = f.create_dataset("spikes/units", (samples,), dtype=h5py.vlen_dtype(np.uint16))
        for i, label in enumerate(labels):
            # each class drives its own 30 channels, at 2 ms to 18 ms, plus noise anywhere
            channel = np.concatenate([label * 35 + rng.integers(0, 30, 40), rng.integers(0, 700, 10)])
            times[i] = np.sort(rng.uniform(0.002, 0.018, len(channel))).astype(np.float32)
            units[i] = channel.astype(np.uint16)
        f["labels"] = labels.astype(np.uint8)
        f["extra/keys"] = np.array([f"digit-{k}".encode() for k in range(20)])
        f["extra/speaker"] = np.zeros(samples, dtype=np.uint16)


def test_shd_events_land_on_their_channel_and_step(tmp_path):
    write_shd(tmp_path, "train", 12, seed=0)
    x, y = load_events("shd", tmp_path, train=True, steps=20, step_us=1000, limit=0, seed=0)
    assert x.shape == (12, 700, 20) and y.tolist() == [i % 20 for i in range(12)]
    with h5py.File(tmp_path / "SHD" / "shd_train.h5") as f:
        for i in range(12):
            expected = np.zeros((700, 20), dtype=np.float32)
            expected[f["spikes/units"][i], (f["spikes/times"][i].astype(np.float64) * 1e6).astype(np.int64) // 1000] = 1
            assert np.array_equal(x[i], expected)


@pytest.mark.slow
@pytest.mark.lava
def test_an_shd_recipe_runs_end_to_end(tmp_path):
    write_shd(tmp_path, "train", 200, seed=1)
    write_shd(tmp_path, "test", 60, seed=2)
    raw = {
        "name": "shd-tiny", "seed": 0,
        "data": {"dataset": "shd", "path": str(tmp_path), "steps": 20, "step_us": 1000, "train_samples": 120},
        "model": {"hidden": [32]},
        "train": {"epochs": 4, "lr": 0.01},
        "prune": {"sparsity": 0.8, "exclude": [-1], "finetune_epochs": 2, "lr": 0.01},
        "simulate": {"samples": 4},
    }
    data = load_dataset(recipe_from_dict(raw).data, 0)
    assert data.x_train.shape == (120, 700, 20) and data.x_test.shape == (60, 700, 20)
    assert data.input_shape == (700, 1, 1) and data.num_classes == 20
    recipe = tmp_path / "shd.json"
    recipe.write_text(json.dumps(raw))  # YAML is a superset of JSON
    out = tmp_path / "run"
    assert main(["run", str(recipe), "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["dense"]["accuracy"] > 0.2, "20 classes: chance is 0.05"
    assert report["golden"]["pruned_exact_fraction"] == 1.0 == report["lava"]["pruned_exact_fraction"]
    assert report["lava"]["pruned_mismatches_per_layer"] == [0, 0]


def test_an_event_outside_the_sensor_names_the_sample(tmp_path):
    write_shd(tmp_path, "train", 3, seed=0)
    with h5py.File(tmp_path / "SHD" / "shd_train.h5", "a") as f:
        f["spikes/units"][1] = np.array([5, 700], dtype=np.uint16)
        f["spikes/times"][1] = np.array([0.001, 0.002], dtype=np.float32)
    with pytest.raises(DatasetError, match=r"SHD: sample 1: event x = 700 is outside the sensor's 0..699"):
        load_events("shd", tmp_path, train=True, steps=5, step_us=1000, limit=0, seed=0)
