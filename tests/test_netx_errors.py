"""Each kind of malformed NetX file gets one error naming the file, the layer and the key
(or, where the network still runs, a warning), from ``read_netx`` and from the CLI."""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from netx_builders import conv_network, dense_network

from neurodeploy.cli import main
from neurodeploy.report.inspect import inspect_network
from neurodeploy.netx import NetxError, read_netx, zero_row_warnings


def _set(path: Path, key: str, data) -> None:
    with h5py.File(path, "r+") as handle:
        if key in handle:
            del handle[key]
        if data is not None:
            handle[key] = data


@pytest.fixture
def dense(tmp_path: Path) -> Path:
    path = tmp_path / "d.net"
    dense_network(path)  # dense 30 -> 20 -> 8
    return path


@pytest.fixture
def conv(tmp_path: Path) -> Path:
    path = tmp_path / "c.net"
    conv_network(path)  # input, conv, conv, flatten, dense, dense
    return path


CASES = {
    "missing layer group": ("layer", None, "{p}: missing group 'layer'"),
    "missing weight": ("layer/1/weight", None, "{p}: layer/1: missing key 'weight'"),
    "missing neuron key": ("layer/0/neuron/vDecay", None, "{p}: layer/0: missing key 'neuron/vDecay'"),
    "weight as text": ("layer/1/weight", np.full((8, 20), b"ab"), "{p}: layer/1: key 'weight' must be numeric, got dtype |S2"),
    "weight 3-D": ("layer/1/weight", np.ones((8, 20, 2), np.int16),
                   "{p}: layer/1: key 'weight' must be a non-empty 2-D array [out, in], got shape (8, 20, 2)"),
    "bias length": ("layer/1/bias", np.ones(7, np.int32), "{p}: layer/1: key 'bias' has shape (7,), expected (8,)"),
    "delay shape": ("layer/1/delay", np.ones((3, 2), np.int32),
                    "{p}: layer/1: key 'delay' of shape (3, 2) does not fit weight (8, 20)"),
    "NaN weight": ("layer/0/weight", "nan", "{p}: layer/0: key 'weight' holds 1 NaN or infinite value(s) (e.g. nan)"),
    "infinite weight": ("layer/0/weight", "inf", "{p}: layer/0: key 'weight' holds 1 NaN or infinite value(s) (e.g. inf)"),
    "fractional threshold": ("layer/0/neuron/vThMant", 30.5,
                             "{p}: layer/0: key 'neuron/vThMant' holds 1 non-integer value(s) (e.g. 30.5); NetX "
                             "stores integers"),
    "huge weight": ("layer/0/weight", 1e30, "{p}: layer/0: key 'weight' holds 1 value(s) beyond +-2^31 (e.g. 1e+30)"),
    "unknown type": ("layer/1/type", np.array([b"lstm"]),
                     "{p}: layer/1: layer type 'lstm' is not supported (supported: input, dense, dense_rec, conv, "
                     "flatten); --num-layers can stop before it"),
    "type netx cannot build": ("layer/1/type", np.array([b"pool"]),
                               "{p}: layer/1: layer type 'pool': netx cannot load it (supported: input, dense, "
                               "dense_rec, conv, flatten); --num-layers can stop before it"),
    "threshold not a number": ("layer/1/neuron/vThMant", "x",
                               "{p}: layer/1: key 'neuron/vThMant' must be numeric, got dtype |S1"),
    "neuron as dataset": ("layer/1/neuron", np.arange(3), "{p}: layer/1: key 'neuron' must be a group, found a dataset"),
    "weight as group": ("layer/1/weight", "group", "{p}: layer/1: missing key 'weight/real'"),
    "all-zero dense matrix": ("layer/1/weight", np.zeros((8, 20), np.int16),
                              "{p}: layer/1: key 'weight' [8, 20] is all zero: netx cannot load an all-zero dense "
                              "weight matrix (it takes log2 of infinity)"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_dense_malformations(dense: Path, case: str, capsys) -> None:
    key, data, message = CASES[case]
    if isinstance(data, (float, str)) and key.endswith("weight") and data != "group":
        with h5py.File(dense, "r") as handle:
            weight = np.asarray(handle[key][()], dtype=np.float64)
        weight[0, 0] = float(data)
        data = weight
    if isinstance(data, str) and data == "group":
        _set(dense, key, None)
        with h5py.File(dense, "r+") as handle:
            handle.create_group(key)
    else:
        _set(dense, key, data)
    expected = message.format(p=dense)
    with pytest.raises(NetxError) as err:
        read_netx(dense)
    assert str(err.value) == expected
    assert main(["compare", str(dense), str(dense), "--random-rate", "0.1", "--steps", "3"]) == 2
    assert capsys.readouterr().err == f"neurodeploy: error: {expected}\n"


def test_fractional_weights_biases_and_delays_are_truncated_as_netx_does(dense: Path) -> None:
    """netx reads weights, biases and delays with ``astype(int)``: toward zero, with a warning."""
    with h5py.File(dense, "r") as handle:
        weight = np.asarray(handle["layer/1/weight"][()], dtype=np.float64)
    weight[0, :3] = [6.9, -6.9, 0.5]
    _set(dense, "layer/1/weight", weight)
    _set(dense, "layer/1/bias", np.array([2.5, -1.5, 0, 0, 0, 0, 0, 0]))
    network = read_netx(dense)
    assert network.layers[1].weight[0, :3].tolist() == [6, -6, 0]
    assert network.layers[1].bias[:2].tolist() == [2, -1]
    assert [w.split(": ", 2)[2] for w in network.warnings] == [
        "key 'weight' holds 3 non-integer value(s) (e.g. 6.9): netx truncates them toward zero, and so does this reader",
        "key 'bias' holds 2 non-integer value(s) (e.g. 2.5): netx truncates them toward zero, and so does this reader",
    ]


def test_conv_malformations(conv: Path) -> None:
    _set(conv, "layer/1/shape", np.array([4, 4]))
    with pytest.raises(NetxError, match=r"^.*c.net: layer/1: key 'shape' must hold 3 positive integers, got \[4, 4\]$"):
        read_netx(conv)
    conv_network(conv)
    _set(conv, "layer/2/weight", np.ones((6, 2, 3), np.int16))
    with pytest.raises(NetxError, match=r"c.net: layer/2: key 'weight' of a conv layer must be 4-D .*got shape \(6, 2, 3\)$"):
        read_netx(conv)
    conv_network(conv)
    _set(conv, "layer/0/shape", np.array([2, 0, 7]))
    with pytest.raises(NetxError, match=r"c.net: layer/0: key 'shape' must hold 1, 2 or 3 positive integers, got \[2, 0, 7\]$"):
        read_netx(conv)
    conv_network(conv)
    _set(conv, "layer/1/neuron", None)
    with pytest.raises(NetxError, match=r"c.net: layer/1: missing group 'neuron'$"):
        read_netx(conv)


def test_truncated_damaged_and_foreign_files(dense: Path, tmp_path: Path, capsys) -> None:
    data = dense.read_bytes()
    truncated = tmp_path / "t.net"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(NetxError, match=r"t.net: not a readable HDF5 file \(.*truncated file"):
        read_netx(truncated)
    text = tmp_path / "x.net"
    text.write_text("layer,weight\n1,2\n")
    with pytest.raises(NetxError, match=r"x.net: not a readable HDF5 file"):
        read_netx(text)
    assert main(["inspect", str(text)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"neurodeploy: error: {text}: not a readable HDF5 file") and err.count("\n") == 1
    # the superblock intact, the object headers and heaps after it overwritten
    damaged = tmp_path / "o.net"
    damaged.write_bytes(data[:400] + bytes(range(256)) * 4 + data[1424:])
    with pytest.raises(NetxError, match=r"o.net: (layer/\d+: )?damaged HDF5"):
        read_netx(damaged)


def test_out_of_range_and_all_zero_are_warnings_in_inspect(dense: Path, capsys) -> None:
    with h5py.File(dense, "r") as handle:
        weight = np.asarray(handle["layer/0/weight"][()])
    weight[0, 0] = 300
    _set(dense, "layer/0/weight", weight)
    _set(dense, "layer/1/weight", np.zeros((8, 20), np.int16))
    warnings = inspect_network(dense).warnings
    assert warnings == (
        f"{dense}: layer/0: 1 weight(s) of 'weight' outside [-256, 254] (range [-80, 300]): netx clips them into "
        "the range",
        f"{dense}: layer/1: all weights are zero (netx cannot load an all-zero weight matrix)",
    )
    assert main(["inspect", str(dense)]) == 0
    assert "warning: " + warnings[0] in capsys.readouterr().out


def test_zero_rows_are_a_warning(dense: Path, conv: Path, capsys) -> None:
    with h5py.File(dense, "r") as handle:
        weight = np.asarray(handle["layer/1/weight"][()])
    weight[[2, 5]] = 0
    _set(dense, "layer/1/weight", weight)
    line = (f"{dense}: layer/1: 2 of 8 neurons have an all-zero weight row: they get no synaptic input "
            "(pruning can do this)")
    assert zero_row_warnings(read_netx(dense)) == [line]
    assert main(["compare", str(dense), str(dense), "--random-rate", "0.1", "--steps", "3"]) == 0
    assert capsys.readouterr().err == f"neurodeploy: warning: {line}\n" * 2
    # a conv output channel without weights; the dense layers after the flatten group keep their group index
    with h5py.File(conv, "r") as handle:
        kernel = np.asarray(handle["layer/2/weight"][()])
        dense_weight = np.asarray(handle["layer/4/weight"][()])
    kernel[1] = 0
    dense_weight[0] = 0
    _set(conv, "layer/2/weight", kernel)
    _set(conv, "layer/4/weight", dense_weight)
    assert [w.split(": ", 1)[1] for w in zero_row_warnings(read_netx(conv))] == [
        "layer/2: 1 of 6 output channels have an all-zero weight row: they get no synaptic input (pruning can do this)",
        "layer/4: 1 of 12 neurons have an all-zero weight row: they get no synaptic input (pruning can do this)",
    ]
