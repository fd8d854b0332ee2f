"""``neurodeploy inspect``: the fixtures, hand-made faults, and the command line."""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from netx_builders import FIXTURES

from neurodeploy.cli import main
from neurodeploy.report.inspect import inspect_network
from neurodeploy.netx import CubaNeuron, DenseLayer, read_netx, write_netx
from neurodeploy.simulate.golden import GoldenModel
from neurodeploy.simulate.stimulus import Stimulus


@pytest.mark.parametrize("name", ["oxford", "tinynet", "mnist_mlp"])
def test_fixtures_decode_the_file(name: str) -> None:
    path = FIXTURES / name / "network.net"
    report = inspect_network(path)
    with h5py.File(path) as handle:
        groups = len(handle["layer"])
        v_th = [int(np.asarray(handle[f"layer/{i}/neuron/vThMant"][()])) for i in range(groups)]
        i_decay = [int(np.asarray(handle[f"layer/{i}/neuron/iDecay"][()])) for i in range(groups)]
    assert len(report.layers) == groups
    for entry, th, di in zip(report.layers, v_th, i_decay):
        assert entry.neuron["threshold"] == th / 64
        assert entry.neuron["current_decay"] == di / 4096
    assert set(report.profiles) >= {"loihi1", "loihi2"}
    assert all(p.cores >= len(report.layers) for p in report.profiles.values())


def test_tinynet_warns_about_ignored_input_keys() -> None:
    report = inspect_network(FIXTURES / "tinynet" / "network.net")
    assert report.warnings == (
        f"{FIXTURES / 'tinynet' / 'network.net'}: layer/0: input layer has key(s) 'weight', 'bias', which netx "
        "ignores (it drives an input layer through its neurons' bias or a_in)",
    )
    assert inspect_network(FIXTURES / "oxford" / "network.net").warnings == ()


def test_out_of_range_weights_are_a_warning_not_an_error(tmp_path: Path) -> None:
    path = tmp_path / "wide.net"
    write_netx(path, [DenseLayer(np.array([[2, 4], [6, 8]]), CubaNeuron(v_th_mant=4, i_decay=0, v_decay=0))])
    with h5py.File(path, "r+") as handle:
        del handle["layer/0/weight"]
        handle["layer/0/weight"] = np.array([[300, 4], [-400, 8]], dtype=np.int16)
    line = (f"{path}: layer/0: 2 weight(s) of 'weight' outside [-256, 254] (range [-400, 300]): netx clips them "
            "into the range")
    assert list(read_netx(path).warnings) == [line]
    report = inspect_network(path)
    assert report.warnings == (line,)
    assert (report.layers[0].synapse.weight_min, report.layers[0].synapse.weight_max) == (-400, 300)


def test_zero_layers_and_rows(tmp_path: Path) -> None:
    path = tmp_path / "zeros.net"
    neuron = CubaNeuron(v_th_mant=4, i_decay=0, v_decay=0)
    write_netx(path, [DenseLayer(np.array([[2, 4], [0, 0], [0, 0]]), neuron),
                      DenseLayer(np.zeros((2, 3), dtype=np.int64), neuron)])
    assert inspect_network(path).warnings == (
        f"{path}: layer/0: 2 of 3 neurons have no nonzero input weight",
        f"{path}: layer/1: all weights are zero (netx cannot load an all-zero weight matrix)",
    )


def test_unreachable_threshold_by_hand_and_in_the_golden_model(tmp_path: Path) -> None:
    # di = 1, dv = 0.5: v <= 2 * (sum of positive weights); row 0: 2 * 10 = 20 > 10, row 1: 2 * 2 = 4 <= 10
    neuron = CubaNeuron(v_th_mant=10, i_decay=4096, v_decay=2048)
    path = tmp_path / "quiet.net"
    write_netx(path, [DenseLayer(np.array([[8, 2], [2, -2]]), neuron)])
    # the voltage bounds: (a / di + b) / dv = 20 and 4 against threshold 10
    assert neuron.never_emits(np.array([10.0, 2.0]), np.zeros(2)).tolist() == [False, True]
    assert neuron.never_emits(np.array([10.0, 2.0]), np.array([0.0, 4.0])).tolist() == [False, False]
    no_leak = CubaNeuron(v_th_mant=10, i_decay=0, v_decay=2048)
    assert no_leak.never_emits(np.array([1e-6, 0.0]), np.zeros(2)).tolist() == [False, True]
    report = inspect_network(path)
    assert report.warnings == (
        f"{path}: layer/0: 1 of 2 neurons can never spike: with every input spiking at every step their "
        "voltage stays at or below the threshold (vThMant 10)",
    )
    assert report.layers[0].unreachable_threshold == 1
    # every input spiking at every step: neuron 0 spikes, neuron 1 never does
    run = GoldenModel(read_netx(path)).run_samples(Stimulus(np.ones((1, 2, 30), dtype=np.uint8), None, 30))
    counts = run.spikes[0].sum(axis=(0, 2))
    assert counts[0] > 0 and counts[1] == 0


def test_cli_prints_and_writes_json(tmp_path: Path, capsys) -> None:
    out = tmp_path / "inspect.json"
    assert main(["inspect", str(FIXTURES / "tinynet" / "network.net"), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "loihi1:" in printed and "warning:" in printed
    assert json.loads(out.read_text())["layers"][1]["type"] == "conv"
    assert main(["inspect", str(tmp_path / "missing.net")]) == 2
    assert "missing.net: no such network file" in capsys.readouterr().err
