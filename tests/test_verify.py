"""``neurodeploy verify`` and ``neurodeploy compare A.net B.net`` from the command line."""
import json

import h5py
import numpy as np
import pytest

from netx_builders import FIXTURES, OffByOneThreshold, dense_network
from neurodeploy.cli import main
from neurodeploy.compare import verify as verify_module
from neurodeploy.netx import CubaNeuron, DenseLayer, NetxError, read_netx, write_netx
from neurodeploy.simulate.recorder.process import WORD_BITS, unpack

OXFORD = FIXTURES / "oxford"


@pytest.mark.slow
@pytest.mark.lava
def test_verify_oxford_events_is_equivalent(tmp_path, capsys):
    out = tmp_path / "v.json"
    code = main(["verify", str(OXFORD / "network.net"), "--events", str(OXFORD / "input_events.npy"),
                 "--steps", "2000", "--json", str(out)])
    assert code == 0
    assert "EQUIVALENT" in capsys.readouterr().out
    report = json.loads(out.read_text())
    assert report["equivalent"] is True and report["first_divergence"] is None
    assert report["samples"] == 1 and report["steps"] == 2000 and report["columns"] == 2002
    assert [layer["type"] for layer in report["layers"]] == ["dense", "dense"]
    for layer in report["layers"]:
        assert layer["mismatches"] == 0 and layer["spikes_golden"] == layer["spikes_lava"] > 0
        assert layer["synops"] == layer["synops_lava"] > 0
    assert report["layers"][1]["spikes_golden"] >= 9565
    assert report["timing"]["golden_s"] > 0 and report["timing"]["lava_s"] > 0


@pytest.mark.lava
def test_verify_bias_input_and_only_the_output_layer(tmp_path):
    out = tmp_path / "v.json"
    code = main(["verify", str(FIXTURES / "tinynet" / "network.net"), "--bias",
                 str(FIXTURES / "tinynet" / "input_bias.npy"), "--steps", "17", "--layers", "out",
                 "--json", str(out)])
    report = json.loads(out.read_text())
    assert code == 0 and report["equivalent"]
    assert [layer["mismatches"] for layer in report["layers"]] == [None, None, 0]
    assert report["layers"][0]["synops"] == 0, "an input layer has no synapse"
    assert report["layers"][2]["spikes_lava"] == report["layers"][2]["spikes_golden"] > 0


@pytest.mark.lava
def test_divergence_is_located_with_v_on_both_sides(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(verify_module, "GoldenModel", OffByOneThreshold)
    out = tmp_path / "v.json"
    code = main(["verify", str(FIXTURES / "mnist_mlp" / "network.net"), "--random-rate", "0.2",
                 "--steps", "30", "--samples", "2", "--json", str(out)])
    assert code == 1
    assert "NOT EQUIVALENT" in capsys.readouterr().out
    report = json.loads(out.read_text())
    first = report["first_divergence"]
    assert report["equivalent"] is False and report["layers"][1]["mismatches"] > 0
    assert report["layers"][0]["mismatches"] == 0
    assert first["layer"] == 1
    threshold = read_netx(FIXTURES / "mnist_mlp" / "network.net").layers[1].neuron.v_th_mant << 6
    # golden spiked with the lowered threshold where Lava, at or below the real one, did not
    assert first["message_golden"] == 1 and first["message_lava"] == 0
    assert threshold - 64 < first["state_lava"]["v"] <= threshold and first["state_golden"]["v"] == 0
    assert first["state_before_golden"] == first["state_before_lava"]
    assert first["state_golden"]["u"] == first["state_lava"]["u"]
    assert 0 <= first["sample"] < 2 and first["column"] >= 2


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--random-rate", "0.1"], "--random-rate needs --steps"),
        (["--bias", "b.npy", "--steps", "4"], "--bias needs a network whose layer 0 is an input layer"),
        (["--spikes", "missing.npy"], "missing.npy"),
        (["--random-rate", "1.5", "--steps", "4"], "--random-rate"),
        (["--random-rate", "0.1", "--steps", "0"], "--steps must be at least 1"),
        ([], "one of the arguments"),
    ],
)
def test_bad_verify_input_is_one_line_exit_2(args, fragment, capsys):
    code = main(["verify", str(OXFORD / "network.net"), *args])
    err = capsys.readouterr().err.strip()
    assert code == 2 and fragment in err and "\n" not in err


def test_wrong_neuron_count_names_the_file(tmp_path, capsys):
    path = tmp_path / "s.npy"
    np.save(path, np.zeros((3, 10), dtype=np.uint8))
    assert main(["verify", str(OXFORD / "network.net"), "--spikes", str(path)]) == 2
    err = capsys.readouterr().err
    assert "s.npy" in err and "200" in err


def test_unsupported_layer_type_names_it_and_num_layers_stops_before(tmp_path, capsys):
    path = tmp_path / "pool.net"
    neuron = CubaNeuron(64, 1024, 1024)
    write_netx(path, [DenseLayer(np.full((4, 3), 2), neuron)])
    with h5py.File(path, "a") as handle:
        handle.create_group("layer/1").create_dataset("type", (1,), "S10", [b"pool"])
    with pytest.raises(NetxError, match=r"pool.net: layer/1: layer type 'pool': netx cannot load it"):
        read_netx(path)
    assert main(["verify", str(path), "--random-rate", "0.5", "--steps", "5"]) == 2
    assert "'pool': netx cannot load it" in capsys.readouterr().err
    assert len(read_netx(path, num_layers=1).layers) == 1


def test_recorder_packing_round_trip():
    rng = np.random.default_rng(0)
    spikes = (rng.random((7, 2 * WORD_BITS + 5)) < 0.5).astype(np.uint8)
    words = np.zeros((7, 3))
    for t in range(spikes.shape[1]):
        words[:, t // WORD_BITS] += spikes[:, t] * float(1 << (t % WORD_BITS))
    np.testing.assert_array_equal(unpack(words, spikes.shape[1]), spikes)


def test_compare_two_networks(tmp_path, capsys):
    dense = dense_network(tmp_path / "a.net")
    pruned_layers = [
        DenseLayer(np.where(np.abs(layer.weight) >= 40, layer.weight, 0), layer.neuron) if i == 0 else layer
        for i, layer in enumerate(dense.layers)
    ]
    write_netx(tmp_path / "b.net", pruned_layers)
    out = tmp_path / "c.json"
    assert main(["compare", str(tmp_path / "a.net"), str(tmp_path / "b.net"), "--random-rate", "0.3",
                 "--steps", "20", "--samples", "16", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["samples"] == 16
    assert 0 < report["synops_ratio"] < 1
    assert len(report["a"]["layers"]) == 2 and report["a"]["layers"][0]["synops_per_sample"] > 0
    assert 0 <= report["class_agreement"] <= 1 and 0 <= report["output_agreement"] <= 1
    assert main(["compare", str(tmp_path / "a.net"), str(tmp_path / "a.net"), "--random-rate", "0.3",
                 "--steps", "20", "--json", str(out)]) == 0
    same = json.loads(out.read_text())
    assert same["synops_ratio"] == 1.0 and same["output_identical_samples"] == 1.0
    assert "synops ratio" in capsys.readouterr().out


def test_compare_rejects_networks_of_different_shape(tmp_path, capsys):
    dense_network(tmp_path / "a.net")
    code = main(["compare", str(tmp_path / "a.net"), str(OXFORD / "network.net"), "--random-rate", "0.3",
                 "--steps", "5"])
    assert code == 2 and "differ in input" in capsys.readouterr().err
