"""``verify --reference``: the golden model against folders of per-layer arrays laid
out as lava-dl's ground truth, pointed at as a user would (lava-dl's own folders, the
network and input files beside them), and against the recordings ``deploy``'s script
writes; one changed entry is found where it is; a reference that does not fit the
network, the input or the run is a one-line refusal."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from neurodeploy.cli import main
from neurodeploy.reference import lava_dl_ground_truth
from netx_builders import FIXTURES, sdnn_case

GTS = lava_dl_ground_truth()
if GTS is None:
    pytest.skip("lava-dl's ground truth (site-packages/tests/lava/lib/dl/netx/gts) is not installed",
                allow_module_level=True)
TINY = GTS.parent / "tiny.net"
OXFORD = FIXTURES / "oxford" / "network.net"


def verify(tmp_path: Path, *args: str) -> tuple[int, dict]:
    out = tmp_path / "verify.json"
    code = main(["verify", *args, "--json", str(out)])
    return code, json.loads(out.read_text()) if out.exists() else {}


def referenced(result: dict) -> dict[int, dict]:
    return {layer["index"]: layer for layer in result["layers"] if layer["reference"] is not None}


def test_tinynet_folder(tmp_path):
    """tiny.net with its bias image, netx's reset interval 16 (lava-dl's test_hdf5_nx):
    input.npy (SLAYER layout, one step late), layer1.npy and output.npy (one step early)
    all equal, from the step the sample reaches each layer."""
    code, result = verify(tmp_path, str(TINY), "--bias", str(GTS / "tinynet" / "input_bias.npy"), "--steps", "16",
                          "--reference", str(GTS / "tinynet"))
    assert code == 0 and result["equivalent"] and not result["silent_layers"]
    layers = referenced(result)
    assert {i: (layer["reference"], layer["lag"], layer["columns_compared"]) for i, layer in layers.items()} == {
        0: ("input.npy", -1, 15), 1: ("layer1.npy", 0, 15), 2: ("output.npy", 1, 15)}
    assert [layers[i]["spikes_lava"] for i in range(3)] == [6783, 1633, 92]
    assert result["compared_entries"] == 15 * (768 + 864 + 36)
    assert "input_bias.npy: the input given" in result["unused_references"]
    assert "current.npy: a state, not messages" in result["unused_references"]


def test_ntidigits_folder(tmp_path):
    code, result = verify(tmp_path, str(GTS / "ntidigits" / "ntidigits.net"), "--num-layers", "5",
                          "--spikes", str(GTS / "ntidigits" / "input.npy"), "--reference", str(GTS / "ntidigits"))
    assert code == 0 and result["equivalent"]
    (layer,) = referenced(result).values()
    assert (layer["index"], layer["reference"], layer["lag"]) == (2, "output.npy", -1)
    assert layer["spikes_lava"] == 22572 and layer["columns_compared"] >= 2990
    assert result["unused_references"] == ["input.npy: the input given"]


def test_pilotnet_lif_folder(tmp_path):
    """The references hold a reset every 17 steps (tests/test_lava_dl_ground_truth.py), which
    --reset-interval states; the last layer never spikes: exit 3, named silent."""
    folder = GTS / "pilotnet_lif"
    code, result = verify(tmp_path, str(folder / "network.net"), "--bias", str(folder / "image.npy"), "--steps", "24",
                          "--reset-interval", "17", "--reference", str(folder))
    assert code == 3 and result["equivalent"] and result["silent_layers"] == [9]
    layers = referenced(result)
    assert sorted(layers) == list(range(10))
    assert [layers[i]["lag"] for i in range(9)] == [0] * 9
    assert layers[0]["reference"] == "input.npy" and layers[1]["reference"] == "conv-0.npy"
    assert layers[9]["reference"] == "fc-3-s.npy"
    assert sum(layers[i]["spikes_lava"] for i in range(9)) > 300_000
    assert "input-s.npy: input.npy is compared for layer 0" in result["unused_references"]
    # netx's default reset interval (the sample's 24 steps) is not what the references hold
    code, result = verify(tmp_path, str(folder / "network.net"), "--bias", str(folder / "image.npy"), "--steps", "24",
                          "--reference", str(folder))
    assert code == 1 and result["first_divergence"]["layer"] == 0 and result["first_divergence"]["step"] == 17


def test_pilotnet_sdnn_folder(tmp_path, capsys):
    """input.npy, one step, repeated by --steps 20 as lava-dl's RingBuffer source repeats
    it: the input layer's messages (act0.npy) and the Sigma output's graded values from
    step 0 (a sigma-delta layer is never reset)."""
    folder = GTS / "pilotnet_sdnn"
    code, result = verify(tmp_path, str(folder / "network.net"), "--spikes", str(folder / "input.npy"),
                          "--steps", "20", "--reference", str(folder))
    assert code == 0 and result["equivalent"]
    layers = referenced(result)
    assert {i: (layer["reference"], layer["lag"], layer["columns_compared"]) for i, layer in layers.items()} == {
        0: ("act0.npy", 0, 20), 8: ("output.npy", 0, 9)}
    assert "repeated to 20 steps" in capsys.readouterr().err


def copy_folder(source: Path, target: Path, names: list[str]) -> Path:
    target.mkdir()
    for name in names:
        shutil.copy(source / name, target / name)
    return target


def test_a_flipped_spike_is_found_at_its_layer_step_and_neuron(tmp_path, capsys):
    folder = copy_folder(GTS / "tinynet", tmp_path / "tinynet", ["input.npy", "layer1.npy", "output.npy"])
    layer1 = np.load(folder / "layer1.npy")  # SLAYER [1, C, H, W, T]
    channel, y, x, step = 5, 2, 3, 9
    layer1[0, channel, y, x, step] = 1 - layer1[0, channel, y, x, step]
    np.save(folder / "layer1.npy", layer1)
    code, result = verify(tmp_path, str(TINY), "--bias", str(GTS / "tinynet" / "input_bias.npy"), "--steps", "16",
                          "--reference", str(folder))
    assert code == 1 and not result["equivalent"]
    first = result["first_divergence"]
    assert (first["layer"], tuple(first["neuron_index"]), first["step"], first["sample"]) == (1, (x, y, channel), 9, 0)
    assert first["message_lava"] == layer1[0, channel, y, x, step]
    assert set(first["state_golden"]) == {"u", "v"} and first["state_lava"] == {}
    assert referenced(result)[1]["mismatches"] == 1 and referenced(result)[2]["mismatches"] == 0
    assert "NOT EQUIVALENT: first divergence at layer/1" in capsys.readouterr().out


def test_a_changed_graded_value_is_found(tmp_path):
    folder = copy_folder(GTS / "pilotnet_sdnn", tmp_path / "sdnn", ["act0.npy", "output.npy"])
    act0 = np.load(folder / "act0.npy")  # Lava [W, H, C, T]
    x, y, c, step = 40, 20, 1, 0
    act0[x, y, c, step] += 64
    np.save(folder / "act0.npy", act0)
    code, result = verify(tmp_path, str(GTS / "pilotnet_sdnn" / "network.net"), "--spikes",
                          str(GTS / "pilotnet_sdnn" / "input.npy"), "--steps", "20", "--reference", str(folder))
    first = result["first_divergence"]
    assert code == 1 and (first["layer"], tuple(first["neuron_index"]), first["step"]) == (0, (x, y, c), 0)
    assert first["message_lava"] == first["message_golden"] + 64


@pytest.mark.parametrize("case, message", [
    ("shape", "does not fit layer 2"),
    ("longer", "holds 40 steps, this run only 18 columns"),
    ("nothing", "no file names a layer"),
    ("fractions", "not integers"),
])
def test_a_folder_that_does_not_fit_is_refused_in_one_line(tmp_path, capsys, case, message):
    folder = tmp_path / "ref"
    folder.mkdir()
    if case == "shape":
        np.save(folder / "output.npy", np.zeros((35, 16)))
    elif case == "longer":
        np.save(folder / "output.npy", np.zeros((36, 40)))
    elif case == "nothing":
        np.save(folder / "weights.npy", np.zeros((3, 3)))
    else:
        np.save(folder / "output.npy", np.full((36, 16), 0.5))
    code = main(["verify", str(TINY), "--bias", str(GTS / "tinynet" / "input_bias.npy"), "--steps", "16",
                 "--reference", str(folder)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], err


@pytest.mark.lava
def test_a_reset_interval_other_than_the_sample_is_lavas(tmp_path):
    """--reset-interval reaches netx and the golden model alike: 10 steps reset every 4."""
    code, result = verify(tmp_path, str(TINY), "--bias", str(GTS / "tinynet" / "input_bias.npy"), "--steps", "10",
                          "--reset-interval", "4")
    assert code == 0 and result["equivalent"] and result["against"] == "Lava fixed_pt"
    assert result["compared_entries"] == (768 + 864 + 36) * 12
    default_code, default = verify(tmp_path, str(TINY), "--bias", str(GTS / "tinynet" / "input_bias.npy"),
                                   "--steps", "10")
    assert default_code == 0
    assert [layer["spikes_golden"] for layer in default["layers"]] != [layer["spikes_golden"]
                                                                        for layer in result["layers"]]


# ------------------------------------------------------------------ recordings the deploy kit's script wrote


def run_kit(kit: Path) -> Path:
    """Run the kit's script as a user would (another Python process) and return its recording."""
    result = subprocess.run([sys.executable, str(kit / "run_on_loihi2.py")], capture_output=True, text=True,
                            timeout=300, cwd=kit.parent)
    assert result.returncode == 0, result.stderr
    return kit / "recording.npz"


def rewrite(source: Path, target: Path, change) -> Path:
    """``source``'s arrays, ``change(arrays, meta)`` applied, saved at ``target``."""
    with np.load(source, allow_pickle=False) as handle:
        arrays = {key: handle[key] for key in handle.files}
    meta = json.loads(str(arrays.pop("meta")))
    change(arrays, meta)
    np.savez(target, meta=np.array(json.dumps(meta)), **arrays)
    return target


OXFORD_INPUT = ["--random-rate", "0.05", "--steps", "20", "--samples", "2"]


@pytest.fixture(scope="module")
def oxford_recording(tmp_path_factory) -> Path:
    kit = tmp_path_factory.mktemp("oxford") / "kit"
    assert main(["deploy", str(OXFORD), *OXFORD_INPUT, "--out", str(kit)]) == 0
    return run_kit(kit)


@pytest.mark.lava
def test_a_flipped_spike_in_a_recording_is_found(oxford_recording, tmp_path, capsys):
    code, result = verify(tmp_path, str(OXFORD), *OXFORD_INPUT, "--reference", str(oxford_recording))
    assert code == 0 and result["compared_entries"] == sum(layer["neurons"] for layer in result["layers"]) * 42
    assert all(layer["lag"] == 0 and layer["columns_compared"] == 42 for layer in result["layers"])
    neuron, column = 3, 27  # layer 1 (arrival 1): sample 1, step 7

    def flip(arrays, meta):
        arrays["layer_1"][neuron, column] ^= 1

    flipped = rewrite(oxford_recording, tmp_path / "flipped.npz", flip)
    code, result = verify(tmp_path, str(OXFORD), *OXFORD_INPUT, "--reference", str(flipped))
    first = result["first_divergence"]
    assert code == 1 and (first["layer"], first["neuron"], first["column"]) == (1, neuron, column)
    assert (first["sample"], first["step"]) == (1, 7) and result["exact_samples"] == 1
    assert [layer["mismatches"] for layer in result["layers"]] == [0, 1]


@pytest.mark.lava
@pytest.mark.parametrize("options, message", [
    (["--random-rate", "0.05", "--steps", "20", "--samples", "2", "--seed", "1"], "recorded another input"),
    (["--random-rate", "0.05", "--steps", "19", "--samples", "2"], "recorded 2 sample(s) x 20 steps (42 columns)"),
    (["--random-rate", "0.05", "--steps", "20", "--samples", "2", "--reset-interval", "10"],
     "recorded with reset interval 20"),
])
def test_a_recording_of_another_input_or_length_is_refused(oxford_recording, capsys, options, message):
    code = main(["verify", str(OXFORD), *options, "--reference", str(oxford_recording)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], err


@pytest.mark.lava
@pytest.mark.parametrize("value, message", [(np.nan, "not integers"), (0.5, "not integers"),
                                            (2.0 ** 40, "beyond int32")])
def test_a_recording_whose_messages_are_not_int32_integers_is_refused(oxford_recording, tmp_path, capsys,
                                                                       value, message):
    def spoil(arrays, meta):
        arrays["layer_1"] = arrays["layer_1"].astype(np.float64)
        arrays["layer_1"][0, 5] = value

    spoiled = rewrite(oxford_recording, tmp_path / "spoiled.npz", spoil)
    code = main(["verify", str(OXFORD), *OXFORD_INPUT, "--reference", str(spoiled)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "spoiled.npz:layer_1: holds values" in err[0] and message in err[0], err


@pytest.mark.lava
def test_a_recording_of_another_network_is_refused(oxford_recording, tmp_path, capsys):
    other = tmp_path / "other.net"
    shutil.copy(OXFORD, other)
    with h5py.File(other, "r+") as handle:  # one weight changed
        weight = handle["layer/0/weight"]
        weight[0, 0] = weight[0, 0] + 2
    code = main(["verify", str(other), *OXFORD_INPUT, "--reference", str(oxford_recording)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "recorded from another network" in err[0], err


@pytest.mark.lava
def test_the_chips_figures_are_printed_beside_the_models(oxford_recording, tmp_path, capsys):
    """A recording with the profilers' figures (made up here: no chip): each row is the
    chip's value, the model's for the same stream, and model / chip."""
    cores = 3

    def profiled(arrays, meta):
        meta["chip"] = {"time_per_step_us": 10.0, "total_power_w": 0.5, "static_power_w": 0.2}
        arrays["chip_activity_core_idx"] = np.arange(cores)
        arrays["chip_activity_syn_ops"] = np.full(cores, 1000)
        arrays["chip_time_per_step_us"] = np.full(42, 9.0)

    path = rewrite(oxford_recording, tmp_path / "chip.npz", profiled)
    code, result = verify(tmp_path, str(OXFORD), *OXFORD_INPUT, "--reference", str(path))
    assert code == 0
    rows = {row["name"]: row for row in result["chip"]}
    assert rows["cores"]["chip"] == cores and rows["cores"]["model"] >= 1
    assert rows["time per step"]["chip"] == 10.0  # the profiler's mean wins over its per-step array
    assert rows["total energy per inference"]["chip"] == pytest.approx(0.5 * 10.0 * 20)
    assert rows["static energy per inference"]["chip"] == pytest.approx(0.2 * 10.0 * 20)
    assert rows["dynamic energy per inference"]["chip"] == pytest.approx(0.3 * 10.0 * 20)
    assert rows["syn_ops (all cores, whole run)"]["chip"] == 3000
    for row in result["chip"]:
        assert row["ratio"] == pytest.approx(row["model"] / row["chip"])
    assert "the chip (recording) and the model (loihi2 profile)" in capsys.readouterr().out


@pytest.mark.lava
def test_a_sigma_delta_recording_verifies_and_a_changed_graded_value_is_found(tmp_path):
    path, values = sdnn_case(tmp_path)
    kit = tmp_path / "kit"
    assert main(["deploy", str(path), "--spikes", str(values), "--out", str(kit)]) == 0
    recording = run_kit(kit)
    code, result = verify(tmp_path, str(path), "--spikes", str(values), "--reference", str(recording))
    assert code == 0 and not result["silent_layers"]
    with np.load(recording) as handle:
        graded = handle["layer_2"]
    neuron, column = np.argwhere(graded != 0)[len(np.argwhere(graded != 0)) // 2]

    def change(arrays, meta):
        arrays["layer_2"][neuron, column] += 1

    changed = rewrite(recording, tmp_path / "changed.npz", change)
    code, result = verify(tmp_path, str(path), "--spikes", str(values), "--reference", str(changed))
    first = result["first_divergence"]
    assert code == 1 and (first["layer"], first["neuron"], first["column"]) == (2, neuron, column)
    assert first["message_lava"] == first["message_golden"] + 1


@pytest.mark.slow
@pytest.mark.lava
def test_our_pruned_network_on_sparse_synapses_round_trips(tmp_path):
    """The pipeline's own pruned network (tests/recipes/tiny.yaml: 80 % of the hidden weights
    pruned), on Lava Sparse synapses, with four of its test samples: deploy, the kit's
    script, verify --reference: equivalent on every layer, with spikes in each."""
    from neurodeploy import api

    run = tmp_path / "run"
    api.run(Path(__file__).parent / "recipes" / "tiny.yaml", run)
    inputs = tmp_path / "x.npy"
    with np.load(run / "simulation.npz") as simulation:
        np.save(inputs, simulation["inputs"][:4])
    kit = tmp_path / "kit"
    assert main(["deploy", str(run / "pruned.net"), "--spikes", str(inputs), "--sparse", "--out", str(kit)]) == 0
    recording = run_kit(kit)
    code, result = verify(tmp_path, str(run / "pruned.net"), "--spikes", str(inputs), "--sparse",
                          "--reference", str(recording))
    assert code == 0 and result["equivalent"] and result["sparse_synapses"]
    assert all(layer["mismatches"] == 0 and layer["spikes_lava"] > 0 for layer in result["layers"])
