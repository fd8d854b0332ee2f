"""``neurodeploy deploy``: the kit's files, its refusals, and its script run in a process of
its own, whose recording must equal the Lava harness's and the golden model's messages."""
from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from netx_builders import FIXTURES, conv_network, sdnn_case
from neurodeploy.cli import main
from neurodeploy.deploy import kit as kit_module
from neurodeploy.deploy.kit import SCRIPT, input_message_bits, kit_for_file, write_kit
from neurodeploy.fileio import PathError, file_digest
from neurodeploy.lavacompat import patch_var_model_source
from neurodeploy.loihi.timing import drain
from neurodeploy.netx import read_netx, write_netx
from neurodeploy.reference import lava_dl_ground_truth
from neurodeploy.simulate.golden import GoldenModel
from neurodeploy.simulate.input_options import InputOptions
from neurodeploy.simulate.stimulus import Stimulus
from process_tools import kill_session, session_processes, wait_for

OXFORD = FIXTURES / "oxford" / "network.net"
TINYNET = FIXTURES / "tinynet"
KIT_FILES = {"README.md", "deploy.json", "network.net", "run_on_loihi2.py"}


def deploy(*args: object) -> int:
    return main(["deploy", *map(str, args)])


def settings_of(kit: Path) -> dict:
    return json.loads((kit / "deploy.json").read_text())


def load_script():
    """run_on_loihi2.py as a module (its main does not run on import)."""
    spec = importlib.util.spec_from_file_location("run_on_loihi2", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------ the kit, without Lava


def test_oxford_kit_holds_the_stream_and_its_settings(tmp_path):
    kit = tmp_path / "kit"
    assert deploy(OXFORD, "--random-rate", 0.2, "--steps", 15, "--samples", 3, "--out", kit) == 0
    assert {p.name for p in kit.iterdir()} == KIT_FILES | {"input.npy"}
    assert not [p for p in tmp_path.iterdir() if p.name != "kit"], "no temporary folder is left beside the kit"
    settings = settings_of(kit)
    columns = 3 * 15 + drain(2, False)
    assert settings["format"] == "neurodeploy-kit" and settings["version"] == 1
    assert (settings["num_layers"], settings["reset_interval"], settings["reset_offset"]) == (2, 15, 1)
    assert (settings["samples"], settings["steps"], settings["columns"]) == (3, 15, columns)
    assert settings["sparse"] is False and settings["starts_with_input"] is False
    assert settings["input_shape"] == [200] and settings["recorded"] == [0, 1] and settings["bias"] is None
    assert [(e["size"], e["lava_shape"], e["graded"], e["message_bits"]) for e in settings["layers"]] == \
        [(256, [256], False, 0), (200, [200], False, 0)]
    assert (kit / "network.net").read_bytes() == OXFORD.read_bytes()
    assert settings["network_sha256"] == file_digest(OXFORD)
    assert settings["input"]["sha256"] == file_digest(kit / "input.npy")
    assert settings["input"]["message_bits"] == 0 and settings["input"]["into"] == "inp"
    _, stimulus = kit_for_file(OXFORD, InputOptions(random_rate=0.2, steps=15, samples=3))
    spikes = np.load(kit / "input.npy", allow_pickle=False)
    assert spikes.dtype == np.int32 and spikes.shape == (200, columns)
    np.testing.assert_array_equal(spikes, stimulus.stream_spikes(drain(2, False)))
    assert (kit / "run_on_loihi2.py").read_bytes() == SCRIPT.read_bytes()
    readme = (kit / "README.md").read_text()
    assert "python run_on_loihi2.py" in readme and "recording.npz" in readme and "lava-loihi" in readme


def test_conv_network_input_is_in_lavas_shape(tmp_path):
    network = conv_network(tmp_path / "c.net")
    assert network.starts_with_input
    stimulus = Stimulus((np.random.default_rng(0).random((2, 98, 6)) < 0.5).astype(np.uint8), None, 6)
    kit = write_kit(network, stimulus, tmp_path / "kit", sparse=True, layers=[3])
    settings = settings_of(kit)
    columns = 12 + drain(len(network.layers), True)
    assert settings["input_shape"] is None and settings["reset_offset"] == 0 and settings["sparse"] is True
    assert settings["recorded"] == [3] and settings["layers"][0]["lava_shape"] == [12]
    assert settings["input"]["into"] == "layers[0].neuron.a_in"
    spikes = np.load(kit / "input.npy")
    assert spikes.shape == (7, 7, 2, columns)  # (W, H, C) of the input layer, then columns
    np.testing.assert_array_equal(spikes.reshape(98, columns), stimulus.stream_spikes(drain(len(network.layers), True)))


def test_bias_kit_holds_one_image_per_sample(tmp_path):
    image = np.load(TINYNET / "input_bias.npy")
    images = tmp_path / "images.npy"
    np.save(images, np.stack([image, image // 2]))
    kit = tmp_path / "kit"
    assert deploy(TINYNET / "network.net", "--bias", images, "--steps", 9, "--out", kit) == 0
    assert {p.name for p in kit.iterdir()} == KIT_FILES | {"bias.npy"}
    settings = settings_of(kit)
    assert settings["input"] is None and settings["bias"]["var"] == "bias_mant"
    bias = np.load(kit / "bias.npy")
    assert bias.dtype == np.int64 and bias.shape == (2, image.size) == tuple(settings["bias"]["shape"])
    np.testing.assert_array_equal(bias[1], (image // 2).reshape(-1))
    assert settings["bias"]["sha256"] == file_digest(kit / "bias.npy")


@pytest.mark.skipif(lava_dl_ground_truth() is None, reason="lava-dl's ground truth is not installed")
def test_pilotnet_sdnn_kit_sends_graded_messages(tmp_path):
    """lava-dl's PilotNet SDNN, its input layer and first conv: graded input and messages."""
    sdnn = lava_dl_ground_truth() / "pilotnet_sdnn"
    values = tmp_path / "x.npy"
    np.save(values, np.repeat(np.load(sdnn / "input.npy"), 2, axis=-1).astype(np.int32))  # (W, H, C, 2)
    kit = tmp_path / "kit"
    assert deploy(sdnn / "network.net", "--spikes", values, "--num-layers", 2, "--out", kit) == 0
    settings = settings_of(kit)
    assert settings["num_layers"] == 2 and settings["starts_with_input"] and settings["input_shape"] is None
    assert settings["input"]["message_bits"] > 0
    assert [(e["graded"], e["message_bits"]) for e in settings["layers"]] == [(True, 16), (True, 16)]


def test_a_folder_that_is_not_empty_is_refused_and_left_as_it_was(tmp_path, capsys):
    kit = tmp_path / "kit"
    kit.mkdir()
    (kit / "notes.txt").write_text("mine")
    assert deploy(OXFORD, "--random-rate", 0.1, "--steps", 5, "--out", kit) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and str(kit) in error and "not empty" in error
    assert [p.name for p in kit.iterdir()] == ["notes.txt"] and (kit / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kit"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert deploy(OXFORD, "--random-rate", 0.1, "--steps", 5, "--out", empty) == 0  # an empty folder is taken
    assert {p.name for p in empty.iterdir()} == KIT_FILES | {"input.npy"}


def test_json_has_the_kit_and_its_settings_and_may_not_go_into_the_kit(tmp_path, capsys):
    kit, out = tmp_path / "kit", tmp_path / "kit.json"
    assert deploy(OXFORD, "--random-rate", 0.1, "--steps", 5, "--out", kit, "--json", out) == 0
    written = json.loads(out.read_text())
    assert written.pop("kit") == str(kit) and written == settings_of(kit)
    printed = capsys.readouterr().out
    assert f"python {kit / 'run_on_loihi2.py'}" in printed
    assert f"neurodeploy verify {OXFORD} --random-rate 0.1 --steps 5 --reference {kit / 'recording.npz'}" in printed
    assert deploy(OXFORD, "--random-rate", 0.1, "--steps", 5, "--out", tmp_path / "k2", "--json",
                  tmp_path / "k2" / "k.json") == 2
    assert "--json" in capsys.readouterr().err and not (tmp_path / "k2").exists()
    assert deploy(OXFORD, "--random-rate", 0.1, "--steps", 5, "--reset-interval", 3, "--sparse", "--out",
                  tmp_path / "k3") == 0
    assert settings_of(tmp_path / "k3")["reset_interval"] == 3
    assert "--steps 5 --reset-interval 3 --sparse --reference" in capsys.readouterr().out


def test_a_failure_while_writing_leaves_nothing(tmp_path, monkeypatch):
    network = read_netx(OXFORD)
    stimulus = Stimulus(np.zeros((1, 200, 4), dtype=np.uint8), None, 4)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(kit_module, "readme", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_kit(network, stimulus, tmp_path / "kit", sparse=False, layers=None)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args, message", [
    (["--random-rate", "0.1", "--steps", "5", "--batch-size", "2"], "--batch-size does not apply"),
    (["--random-rate", "0.1"], "--random-rate needs --steps"),
    (["--random-rate", "0.1", "--steps", "5", "--num-layers", "0"], "--num-layers must be at least 1"),
    (["--random-rate", "0.1", "--steps", "5", "--reset-interval", "0"], "expected a positive int"),
])
def test_bad_options_are_one_line_and_exit_2(tmp_path, capsys, args, message):
    assert main(["deploy", str(OXFORD), *args, "--out", str(tmp_path / "kit")]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and message in error
    assert not (tmp_path / "kit").exists()


def test_write_kit_refuses_a_file_and_layers_out_of_range(tmp_path):
    network = read_netx(OXFORD)
    stimulus = Stimulus(np.zeros((1, 200, 4), dtype=np.uint8), None, 4)
    (tmp_path / "file").write_text("")
    with pytest.raises(PathError, match="not a folder"):
        write_kit(network, stimulus, tmp_path / "file", sparse=False, layers=None)
    with pytest.raises(ValueError, match="out of range"):
        write_kit(network, stimulus, tmp_path / "kit", sparse=False, layers=[2])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_input_message_bits():
    assert input_message_bits(np.array([0, 1, 1, 0])) == 0
    assert input_message_bits(np.array([0, 2])) == 16
    assert input_message_bits(np.array([-(1 << 15), (1 << 15) - 1])) == 16
    assert input_message_bits(np.array([-(1 << 15) - 1, 5])) == 24
    assert input_message_bits(np.array([0, 1 << 20])) == 24
    with pytest.raises(ValueError, match="24-bit"):
        input_message_bits(np.array([0, 1 << 23]))


def test_script_makes_lava_importable_as_lavacompat_does():
    """The script cannot import neurodeploy, so it carries its own copy of lavacompat's
    var_model patch: the same source out."""
    import lava.magma.compiler.var_model as var_model  # through lavacompat's hooks (imported above)

    source = Path(var_model.__file__).read_text(encoding="utf-8")
    assert load_script()._LavaOnNewPython.patch(source) == patch_var_model_source(source)


def test_script_segments_follow_the_harness_schedule():
    from neurodeploy.simulate.harness import _schedule

    script = load_script()
    bias = np.arange(6).reshape(3, 2)
    for length in (3 * 4 + 2, 3 * 4):
        ours = script.segments(length, 4, bias)
        theirs = _schedule(length, 4, bias, [])
        assert [(a, b) for a, b, _ in ours] == [(a, b) for a, b, _ in theirs]
        for (_, _, x), (_, _, y) in zip(ours, theirs):
            assert (x is None and y is None) or np.array_equal(x, y)
    assert script.segments(10, 4, None) == [(0, 10, None)]
    np.testing.assert_array_equal(script.signed(np.array([0, 1, (1 << 24) - 1, 1 << 23]), 24),
                                  [0, 1, -1, -(1 << 23)])


# ------------------------------------------------------------------ the script, in Lava


def run_script(kit: Path, cwd: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python kit/run_on_loihi2.py`` from ``cwd``, in a session of its own; checks that it
    leaves no process behind."""
    process = subprocess.Popen([sys.executable, str(kit / "run_on_loihi2.py"), *args], cwd=cwd, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
    assert wait_for(lambda: not session_processes(process.pid), 10), \
        f"left behind: {session_processes(process.pid)}"
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def check_recording(kit: Path, network, stimulus: Stimulus, sparse: bool, layers: list[int]) -> dict:
    """The kit's recording against the harness and the golden model, message for message;
    every recorded layer sends something. Returns the meta."""
    from neurodeploy.simulate.harness import run_lava

    settings = settings_of(kit)
    with np.load(kit / "recording.npz", allow_pickle=False) as recording:
        arrays = {name: recording[name] for name in recording.files}
    meta = json.loads(arrays.pop("meta")[()])
    columns = settings["columns"]
    interval = settings["reset_interval"]
    lava = run_lava(network, stimulus, layers=layers, sparse=sparse, reset_interval=interval).spikes
    golden = GoldenModel(network, sparse=sparse).run_stream(stimulus, reset_interval=interval).spikes
    for index in layers:
        ours = arrays.pop(f"layer_{index}")
        assert ours.dtype == np.int32 and ours.shape == (network.layers[index].size, columns)
        assert np.count_nonzero(ours), f"layer {index} sent nothing: nothing compared"
        np.testing.assert_array_equal(ours, lava[index], err_msg=f"layer {index} against the harness")
        np.testing.assert_array_equal(ours, golden[index][0], err_msg=f"layer {index} against the golden model")
    if stimulus.spikes is not None:
        np.testing.assert_array_equal(arrays.pop("input_spikes"), stimulus.stream_spikes(settings["drain"]))
    if stimulus.bias is not None:
        np.testing.assert_array_equal(arrays.pop("input_bias"), stimulus.bias)
    assert arrays == {}, f"unexpected arrays {sorted(arrays)}"
    assert meta["format"] == "neurodeploy-recording" and meta["version"] == 1
    for key in ("network_sha256", "num_layers", "samples", "steps", "columns", "reset_interval", "reset_offset",
                "sparse", "recorded"):
        assert meta[key] == settings[key], key
    assert meta["run_config"] == "Loihi2SimCfg(select_tag='fixed_pt')"
    assert meta["system"]["loihi2"] is False and meta["system"]["partition"] is None and meta["system"]["host"]
    assert meta["versions"]["lava-nc"] and meta["versions"]["lava-dl"] and meta["versions"]["numpy"]
    assert meta["profilers"] == [] and meta["chip"] == {}
    return meta


@pytest.mark.lava
def test_oxford_kit_runs_anywhere_and_records_what_lava_and_the_golden_model_send(tmp_path):
    kit = tmp_path / "kit"
    assert deploy(OXFORD, "--random-rate", 0.05, "--steps", 20, "--samples", 2, "--out", kit) == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run_script(kit, elsewhere)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip().splitlines()) == 1
    assert "CPU simulator" in result.stdout and str(kit / "recording.npz") in result.stdout
    assert list(elsewhere.iterdir()) == []
    network, stimulus = kit_for_file(OXFORD, InputOptions(random_rate=0.05, steps=20, samples=2))
    check_recording(kit, network, stimulus, sparse=False, layers=[0, 1])
    assert sorted(p.name for p in kit.iterdir()) == sorted(KIT_FILES | {"input.npy", "recording.npz"})
    # and back: the command deploy printed
    assert main(["verify", str(OXFORD), "--random-rate", "0.05", "--steps", "20", "--samples", "2",
                 "--reference", str(kit / "recording.npz")]) == 0


@pytest.mark.lava
def test_pruned_network_on_sparse_synapses_records_only_the_output_layer(tmp_path):
    """Oxford with 80 % of each layer's weights (the smallest) zeroed, on Lava Sparse synapses."""
    layers = []
    for layer in read_netx(OXFORD).layers:
        cut = np.quantile(np.abs(layer.weight), 0.8)
        layers.append(dataclasses.replace(layer, weight=np.where(np.abs(layer.weight) > cut, layer.weight, 0)))
    pruned = tmp_path / "pruned.net"
    write_netx(pruned, layers)
    kit = tmp_path / "kit"
    assert deploy(pruned, "--random-rate", 0.2, "--steps", 10, "--samples", 2, "--sparse", "--layers", "out",
                  "--out", kit) == 0
    settings = settings_of(kit)
    assert settings["sparse"] is True and settings["recorded"] == [1]
    result = run_script(kit, tmp_path)
    assert result.returncode == 0, result.stderr
    network, stimulus = kit_for_file(pruned, InputOptions(random_rate=0.2, steps=10, samples=2))
    assert main(["verify", str(pruned), "--random-rate", "0.2", "--steps", "10", "--samples", "2", "--sparse",
                 "--layers", "out", "--reference", str(kit / "recording.npz")]) == 0
    assert all(np.mean(layer.weight == 0) >= 0.8 for layer in network.layers)
    check_recording(kit, network, stimulus, sparse=True, layers=[1])


@pytest.mark.lava
def test_sigma_delta_kit_records_graded_messages(tmp_path):
    """An input (Delta), a conv (SigmaDelta) and a dense (Sigma) layer, fed values into a_in."""
    path, values = sdnn_case(tmp_path)
    kit = tmp_path / "kit"
    assert deploy(path, "--spikes", values, "--out", kit) == 0
    settings = settings_of(kit)
    assert settings["input"]["message_bits"] == 16
    assert [(e["graded"], e["message_bits"]) for e in settings["layers"]] == [(True, 16)] * 3
    result = run_script(kit, tmp_path)
    assert result.returncode == 0, result.stderr
    network, stimulus = kit_for_file(path, InputOptions(spikes=values))
    check_recording(kit, network, stimulus, sparse=False, layers=[0, 1, 2])
    with np.load(kit / "recording.npz") as recording:
        assert (recording["layer_2"] < 0).any() and (np.abs(recording["layer_2"]) > 1).any(), "graded values"


@pytest.mark.lava
def test_bias_kit_sets_each_sample_image_in_its_window_with_its_own_reset_interval(tmp_path):
    image = np.load(TINYNET / "input_bias.npy")
    images = tmp_path / "images.npy"
    np.save(images, np.stack([image, image[::-1] // 2]))
    kit = tmp_path / "kit"
    assert deploy(TINYNET / "network.net", "--bias", images, "--steps", 9, "--reset-interval", 6, "--out", kit) == 0
    assert settings_of(kit)["reset_interval"] == 6
    result = run_script(kit, tmp_path)
    assert result.returncode == 0, result.stderr
    network, stimulus = kit_for_file(TINYNET / "network.net", InputOptions(bias=images, steps=9))
    check_recording(kit, network, stimulus, sparse=False, layers=[0, 1, 2])


@pytest.mark.lava
def test_a_changed_network_or_input_is_refused_with_one_line_and_out_writes_elsewhere(tmp_path):
    kit = tmp_path / "kit"
    assert deploy(OXFORD, "--random-rate", 0.05, "--steps", 4, "--out", kit) == 0
    spikes = (kit / "input.npy").read_bytes()
    with open(kit / "network.net", "r+b") as handle:  # flip a bit of the file's last byte
        handle.seek(-1, 2)
        last = handle.read(1)[0]
        handle.seek(-1, 2)
        handle.write(bytes([last ^ 1]))
    result = run_script(kit, tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert str(kit / "network.net") in result.stderr and "sha256" in result.stderr
    (kit / "network.net").write_bytes(OXFORD.read_bytes())
    np.save(kit / "input.npy", np.zeros((200, 4 + drain(2, False)), dtype=np.int32))
    result = run_script(kit, tmp_path)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert str(kit / "input.npy") in result.stderr
    assert not (kit / "recording.npz").exists()
    (kit / "input.npy").write_bytes(spikes)
    result = run_script(kit, tmp_path, "--out", "elsewhere/r.npz")  # relative to the folder it runs from
    assert result.returncode == 0, result.stderr
    with np.load(tmp_path / "elsewhere" / "r.npz", allow_pickle=False) as recording:
        assert json.loads(recording["meta"][()])["columns"] == 4 + drain(2, False)
    assert not (kit / "recording.npz").exists()


@pytest.mark.lava
def test_ctrl_c_to_the_process_group_stops_every_lava_process_and_writes_nothing(tmp_path):
    """Ctrl-C in a terminal signals the whole process group, Lava's processes too."""
    kit = tmp_path / "kit"
    assert deploy(OXFORD, "--events", FIXTURES / "oxford" / "input_events.npy", "--steps", 2000, "--out", kit) == 0
    process = subprocess.Popen([sys.executable, str(kit / "run_on_loihi2.py")], cwd=tmp_path, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        # source, 2 x (synapse, neurons), 2 sinks and the runtime's own: running
        assert wait_for(lambda: len(session_processes(process.pid)) >= 8, 60)
        time.sleep(0.5)
        os.killpg(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        kill_session(process.pid)
    assert process.returncode == 130
    assert stderr.strip().splitlines() == ["run_on_loihi2.py: stopped by SIGINT; nothing written"]
    assert wait_for(lambda: not session_processes(process.pid), 10)
    assert sorted(p.name for p in kit.iterdir()) == sorted(KIT_FILES | {"input.npy"})
