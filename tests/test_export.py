import h5py
import numpy as np
import pytest
import torch

from neurodeploy.netx import CubaNeuron, DenseLayer, NetxError, read_netx, write_netx
from neurodeploy.export.quantize import export_model, network_to_layers
from neurodeploy.lavacompat import netx
from neurodeploy.recipe import ModelSettings
from neurodeploy.train.model import build_model
from netx_builders import assert_same_file_as_lava_dl


@pytest.fixture
def model():
    torch.manual_seed(0)
    m = build_model(12, 5, ModelSettings(hidden=(9,)))
    with torch.no_grad():
        m.blocks[0].synapse.weight[:, :3] = 0  # a pruned block of columns
        m(torch.zeros(1, 12, 2))  # lava-dl's export needs the neuron shape a forward sets
    return m


def test_records_are_the_quantized_integers(model):
    layers = network_to_layers(model)
    for block, layer in zip(model.blocks, layers):
        w = block.synapse.weight.detach().reshape(layer.weight.shape).numpy()
        expected = np.clip(np.round(w * 32) * 2, -256, 254)
        np.testing.assert_array_equal(layer.weight, expected)
        assert np.all(layer.weight % 2 == 0)
    assert layers[0].neuron == CubaNeuron(v_th_mant=80, i_decay=1024, v_decay=123)


def test_round_trip_through_our_reader(model, tmp_path):
    written = export_model(model, tmp_path / "m.net")
    read = read_netx(tmp_path / "m.net").layers
    assert len(read) == len(written)
    for a, b in zip(written, read):
        np.testing.assert_array_equal(a.weight, b.weight)
        assert a.neuron == b.neuron


def test_file_matches_lava_dl_own_export(model, tmp_path):
    export_model(model, tmp_path / "ours.net")
    assert assert_same_file_as_lava_dl(model, tmp_path / "ours.net", tmp_path / "theirs.net") == [b"dense", b"dense"]


@pytest.mark.lava
@pytest.mark.parametrize("sparse", [False, True])
def test_netx_loads_same_integer_weights_and_neurons(model, tmp_path, sparse):
    layers = export_model(model, tmp_path / "m.net")
    net = netx.hdf5.Network(net_config=str(tmp_path / "m.net"), sparse_fc_layer=sparse)
    assert len(net.layers) == len(layers)
    for proc, layer in zip(net.layers, layers):
        assert type(proc.synapse).__name__ == ("Sparse" if sparse else "Dense")
        w = proc.synapse.weights.init
        w = w.toarray() if hasattr(w, "toarray") else np.asarray(w)
        exp = proc.synapse.proc_params["weight_exp"]
        np.testing.assert_array_equal(w * 2.0**exp, layer.weight)
        n = proc.neuron
        assert int(n.vth.init) == layer.neuron.v_th_mant
        assert int(n.du.init) + 1 == layer.neuron.i_decay  # netx maps du = iDecay - 1
        assert int(n.dv.init) == layer.neuron.v_decay


def test_records_check_their_values():
    neuron = CubaNeuron(80, 1024, 123)
    with pytest.raises(NetxError, match="must hold integers"):
        DenseLayer(np.array([[0.5]]), neuron)
    with pytest.raises(NetxError, match="i_decay"):
        CubaNeuron(80, 5000, 0)


def test_reader_names_file_layer_and_key(tmp_path):
    path = tmp_path / "bad.net"
    write_netx(path, [DenseLayer(np.zeros((2, 3), np.int64), CubaNeuron(80, 1024, 123))])
    with h5py.File(path, "a") as f:
        del f["layer/0/neuron/vThMant"]
    with pytest.raises(NetxError, match=r"bad.net: layer/0: missing key 'neuron/vThMant'"):
        read_netx(path)
    junk = tmp_path / "junk.net"
    junk.write_text("not hdf5")
    with pytest.raises(NetxError, match="junk.net: not a readable HDF5 file"):
        read_netx(junk)
