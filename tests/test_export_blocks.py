"""``export_model`` on lava-dl's sigma-delta blocks (Input, Conv, Dense, Output, Flatten) and
on ``cuba.Recurrent``: the file is lava-dl's own ``export_hdf5``, key for key and value for
value (weights aside, the same dtype kinds), it reads back with the kinds and roles written,
exact zeros stay zeros, and what netx would not run is refused naming the block. No Lava runs
here (tests/test_lava_dl_blocks.py runs files written by lava-dl in Lava)."""
from __future__ import annotations

import types
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from netx_builders import assert_same_file_as_lava_dl
from neurodeploy.export.quantize import block_to_layer, export_model, network_to_layers
from neurodeploy.lavacompat import slayer
from neurodeploy.netx import (
    ConvLayer, CubaNeuron, DenseLayer, InputLayer, RecurrentDenseLayer, SigmaDeltaNeuron, read_netx,
)

STEPS = 4
CUBA = {"threshold": 0.5, "current_decay": 0.25, "voltage_decay": 0.1, "tau_grad": 0.1, "scale_grad": 1,
        "requires_grad": False}
SDNN = {"threshold": 0.05, "tau_grad": 0.5, "scale_grad": 1, "requires_grad": False, "shared_param": True,
        "activation": F.relu}
sd = slayer.block.sigma_delta
cuba = slayer.block.cuba

# lava-dl stores the quantized integer weights as float32, we store int16: the only dtype
# kinds that differ (netx reads the values either way).
KIND_DIFFERENCES = {"weight": ("i", "f"), "weight_rec": ("i", "f")}


def network(blocks: list[torch.nn.Module], x: torch.Tensor) -> types.SimpleNamespace:
    """``blocks`` after one forward pass on ``x`` (lava-dl sets the neuron shapes then)."""
    model = types.SimpleNamespace(blocks=torch.nn.ModuleList(blocks))
    with torch.no_grad():
        for block in model.blocks:
            x = block(x)
    return model


def dtype_kinds(path: Path) -> dict[str, str]:
    kinds = {}
    with h5py.File(path) as handle:
        handle["layer"].visititems(
            lambda key, item: kinds.__setitem__(key, item.dtype.kind) if isinstance(item, h5py.Dataset) else None)
    return kinds


def assert_same_as_lava_dl(model: types.SimpleNamespace, tmp_path: Path) -> list[bytes]:
    """Our file and lava-dl's: every dataset path in both, equal values, same dtype kinds
    but for ``KIND_DIFFERENCES``; returns the layer types."""
    ours, theirs = tmp_path / "ours.net", tmp_path / "theirs.net"
    export_model(model, ours)
    written = assert_same_file_as_lava_dl(model, ours, theirs)
    a, b = dtype_kinds(ours), dtype_kinds(theirs)
    assert a.keys() == b.keys()
    differing = {key: (a[key], b[key]) for key in a if a[key] != b[key]}
    assert all(KIND_DIFFERENCES.get(key.rsplit("/", 1)[-1]) == kinds for key, kinds in differing.items()), differing
    return written


def sdnn_conv_net() -> types.SimpleNamespace:
    """(a) Input -> Conv(stride 2) -> Conv -> Flatten -> Dense -> Output, some weights exactly 0."""
    torch.manual_seed(0)
    blocks = [
        sd.Input(SDNN),
        sd.Conv(SDNN, 2, 4, 3, stride=2, padding=1, weight_scale=2),
        sd.Conv(SDNN, 4, 6, 3, padding=1, weight_scale=2),
        sd.Flatten(),
        sd.Dense(SDNN, 6 * 4 * 4, 12, weight_scale=2),
        sd.Output(SDNN, 12, 5, weight_scale=2),
    ]
    with torch.no_grad():
        blocks[1].synapse.weight[:, 0] = 0  # input channel 0 pruned
        blocks[2].synapse.weight[1] = 0  # output channel 1 pruned
        blocks[4].synapse.weight[:, :7] = 0
        blocks[5].synapse.weight[2] = 0
    return network(blocks, torch.rand(2, 2, 8, 8, STEPS) * 2)


def test_sigma_delta_conv_network_is_lava_dl_own_file(tmp_path):
    model = sdnn_conv_net()
    assert assert_same_as_lava_dl(model, tmp_path) == [b"input", b"conv", b"conv", b"flatten", b"dense", b"dense"]


def test_sigma_delta_records_read_back_with_kinds_roles_and_zeros(tmp_path):
    model = sdnn_conv_net()
    written = export_model(model, tmp_path / "sdnn.net")
    assert [type(layer) for layer in written] == [InputLayer, ConvLayer, ConvLayer, DenseLayer, DenseLayer]
    threshold = model.blocks[0].neuron.device_params["vThMant"]
    assert threshold == 3  # 0.05 * 64
    assert written[0] == InputLayer(shape=(2, 8, 8), neuron=SigmaDeltaNeuron("delta", threshold, "relu"))
    assert [layer.neuron for layer in written[1:]] == [SigmaDeltaNeuron("sigma_delta", threshold, "relu")] * 3 \
        + [SigmaDeltaNeuron("sigma", threshold, "relu")]
    first, second, dense, output = written[1:]
    assert (first.shape, first.stride, first.padding, second.shape) == ((4, 4, 4), (2, 2), (1, 1), (6, 4, 4))
    assert dense.flatten_input and dense.weight.shape == (12, 96) and not output.flatten_input
    assert not np.any(first.weight[:, 0]) and not np.any(second.weight[1]) and not np.any(dense.weight[:, :7])
    assert not np.any(output.weight[2])
    for block, layer in zip([model.blocks[i] for i in (1, 2, 4, 5)], written[1:]):
        w = block.synapse.weight.detach().numpy().reshape(layer.weight.shape)
        np.testing.assert_array_equal(layer.weight, np.clip(np.round(w * 32) * 2, -256, 254))
        assert np.count_nonzero(layer.weight) > layer.weight.size // 3  # the rest are not rounded to 0

    read = read_netx(tmp_path / "sdnn.net")
    assert read.kinds == ["input", "conv", "conv", "dense", "dense"]
    assert [layer.neuron.role for layer in read.layers] == ["delta", "sigma_delta", "sigma_delta", "sigma_delta",
                                                            "sigma"]
    assert read.input_shape == (8, 8, 2) and not read.warnings
    for ours, back in zip(written, read.layers):
        assert ours.neuron == back.neuron and ours.lava_shape == back.lava_shape
    for ours, back in zip(written[1:], read.layers[1:]):
        np.testing.assert_array_equal(ours.weight, back.weight)
    assert read.layers[3].flatten_input


def test_conv_shapes_from_the_input_shape_without_a_forward_pass():
    torch.manual_seed(0)
    fresh = types.SimpleNamespace(blocks=torch.nn.ModuleList([
        sd.Input(SDNN), sd.Conv(SDNN, 2, 4, 3, stride=2, padding=1), sd.Flatten(), sd.Output(SDNN, 64, 3)]))
    with pytest.raises(ValueError, match=r"blocks.0 \(Input\): input shape unknown"):
        network_to_layers(fresh)
    computed = network_to_layers(fresh, input_shape=(2, 8, 8))
    assert [layer.lava_shape for layer in computed] == [(8, 8, 2), (4, 4, 4), (3,)]
    with torch.no_grad():
        fresh.blocks[0](torch.rand(1, 2, 8, 8, STEPS))  # the input's shape now set
    with pytest.raises(ValueError, match=r"blocks.0 \(Input\): neuron shape \[2, 8, 8\] differs from the input "
                                         r"shape \[2, 9, 9\]"):
        network_to_layers(fresh, input_shape=(2, 9, 9))


def test_sigma_delta_image_input_flattened_into_dense(tmp_path):
    """(b) Input -> Flatten -> Dense -> Output: lava-dl flattens the input image itself."""
    torch.manual_seed(1)
    blocks = [sd.Input(SDNN), sd.Flatten(), sd.Dense(SDNN, 2 * 4 * 4, 10, weight_scale=2),
              sd.Output(SDNN, 10, 4, weight_scale=2)]
    with torch.no_grad():
        blocks[2].synapse.weight[3:5] = 0
    model = network(blocks, torch.rand(2, 2, 4, 4, STEPS))
    assert assert_same_as_lava_dl(model, tmp_path) == [b"input", b"flatten", b"dense", b"dense"]
    read = read_netx(tmp_path / "ours.net")
    assert read.kinds == ["input", "dense", "dense"] and read.layers[1].flatten_input
    assert [layer.neuron.role for layer in read.layers] == ["delta", "sigma_delta", "sigma"]
    assert not np.any(read.layers[1].weight[3:5])


def test_sigma_delta_flat_input_dense_dense_output(tmp_path):
    """(b') Input -> Dense -> Dense -> Output on a flat input [N, n, T]."""
    torch.manual_seed(2)
    blocks = [sd.Input(SDNN), sd.Dense(SDNN, 20, 16, weight_scale=2), sd.Dense(SDNN, 16, 8, weight_scale=2),
              sd.Output(SDNN, 8, 3, weight_scale=2)]
    with torch.no_grad():
        blocks[1].synapse.weight[:, ::3] = 0
    model = network(blocks, torch.rand(2, 20, STEPS))
    assert assert_same_as_lava_dl(model, tmp_path) == [b"input", b"dense", b"dense", b"dense"]
    read = read_netx(tmp_path / "ours.net")
    assert read.kinds == ["input", "dense", "dense", "dense"] and read.input_shape == (20,)
    assert read.layers[0].shape == (20,)
    assert [layer.neuron.role for layer in read.layers] == ["delta", "sigma_delta", "sigma_delta", "sigma"]
    assert not np.any(read.layers[1].weight[:, ::3]) and np.count_nonzero(read.layers[1].weight) > 100
    # an image input shape given to an Input read by a Dense block is the flat input lava-dl's Dense reads
    fresh = types.SimpleNamespace(blocks=[sd.Input(SDNN), sd.Dense(SDNN, 20, 3)])
    assert network_to_layers(fresh, input_shape=(1, 4, 5))[0].shape == (20,)
    assert network_to_layers(model, input_shape=(1, 4, 5))[0].shape == (20,)
    with pytest.raises(ValueError, match=r"blocks.0 \(Input\): neuron shape \[20\] differs from the input shape \[21\]"):
        network_to_layers(model, input_shape=(1, 3, 7))


def spikes(*shape: int) -> torch.Tensor:
    return (torch.rand(*shape, STEPS) < 0.3).float()


@pytest.mark.parametrize("leading_dense", [False, True], ids=["recurrent-first", "dense-recurrent-dense"])
def test_cuba_recurrent_is_lava_dl_own_file_and_reads_back(tmp_path, leading_dense):
    """(c) Recurrent -> Dense; (d) Dense -> Recurrent -> Dense."""
    torch.manual_seed(3)
    blocks = ([cuba.Dense(CUBA, 20, 16, weight_scale=3)] if leading_dense else []) + [
        cuba.Recurrent(CUBA, 16, 12, weight_scale=3),
        cuba.Dense(CUBA, 12, 6, weight_scale=3),
    ]
    recurrent = blocks[-2]
    with torch.no_grad():
        recurrent.input_synapse.weight[:, :4] = 0
        recurrent.recurrent_synapse.weight[torch.arange(12), torch.arange(12)] = 0  # no self-connections
    model = network(blocks, spikes(2, 20 if leading_dense else 16))
    kinds = [b"dense_rec", b"dense"]
    assert assert_same_as_lava_dl(model, tmp_path) == ([b"dense"] if leading_dense else []) + kinds

    written = network_to_layers(model)
    layer = written[-2]
    assert type(layer) is RecurrentDenseLayer and layer.weight.shape == (12, 16) and layer.weight_rec.shape == (12, 12)
    for synapse, weight in [(recurrent.input_synapse, layer.weight), (recurrent.recurrent_synapse, layer.weight_rec)]:
        w = synapse.weight.detach().numpy().reshape(weight.shape)
        np.testing.assert_array_equal(weight, np.clip(np.round(w * 32) * 2, -256, 254))
    assert not np.any(layer.weight[:, :4]) and not np.any(np.diag(layer.weight_rec))
    assert np.count_nonzero(layer.weight_rec) > 100
    assert layer.neuron == CubaNeuron(v_th_mant=32, i_decay=1024, v_decay=410)

    read = read_netx(tmp_path / "ours.net")
    assert read.kinds == (["dense"] if leading_dense else []) + ["dense_rec", "dense"]
    assert all(isinstance(layer.neuron, CubaNeuron) for layer in read.layers)
    back = read.layers[-2]
    np.testing.assert_array_equal(back.weight, layer.weight)
    np.testing.assert_array_equal(back.weight_rec, layer.weight_rec)
    assert back.neuron == layer.neuron


# ---------------------------------------------------------------------------------- refusals


def test_refusals_name_the_block():
    torch.manual_seed(4)
    image = spikes(1, 2, 4, 4)
    flat = torch.rand(1, 8, STEPS)
    scaled = network([sd.Input(SDNN, weight=2.0), sd.Dense(SDNN, 8, 3)], flat)
    biased = network([sd.Input(SDNN, bias=0.5), sd.Dense(SDNN, 8, 3)], flat)
    for model in (scaled, biased):
        with pytest.raises(ValueError, match=r"blocks.0 \(Input\): an Input block's weight or bias .* netx ignores"):
            network_to_layers(model)
    late = types.SimpleNamespace(blocks=[sd.Dense(SDNN, 8, 8), sd.Input(SDNN), sd.Dense(SDNN, 8, 3)])
    with pytest.raises(ValueError, match=r"blocks.1 \(Input\): an Input block must be the first block"):
        network_to_layers(late)
    image_input = network([sd.Input(SDNN)], image).blocks[0]
    unflattened = types.SimpleNamespace(blocks=[image_input, sd.Output(SDNN, 32, 3)])
    with pytest.raises(ValueError, match=r"blocks.1 \(Output\): an Output block after an Input block needs a Flatten"):
        network_to_layers(unflattened)
    flat_input = network([sd.Input(SDNN)], flat).blocks[0]  # lava-dl's Flatten fails on [N, n, T]
    with pytest.raises(ValueError, match=r"blocks.1 \(Flatten\): a Flatten block must follow a Conv block"):
        network_to_layers(types.SimpleNamespace(blocks=[flat_input, sd.Flatten(), sd.Dense(SDNN, 8, 3)]))
    with pytest.raises(ValueError, match=r"blocks.0 \(Dense\): axonal delays"):
        network_to_layers(types.SimpleNamespace(blocks=[sd.Dense(SDNN, 8, 3, delay=True)]))
    normed = {**SDNN, "norm": slayer.neuron.norm.MeanOnlyBatchNorm}
    with pytest.raises(ValueError, match=r"blocks.1 \(Dense\): a neuron norm \(a bias\) is not exported"):
        network_to_layers(types.SimpleNamespace(blocks=[flat_input, sd.Dense(normed, 8, 3)]))
    with pytest.raises(ValueError, match=r"blocks.0 \(Output\): weight normalisation is enabled"):
        network_to_layers(types.SimpleNamespace(blocks=[sd.Output(SDNN, 8, 3, weight_norm=True)]))
    with pytest.raises(ValueError, match=r"blocks.0 \(Recurrent\): weight normalisation is enabled"):
        network_to_layers(types.SimpleNamespace(blocks=[cuba.Recurrent(CUBA, 8, 8, weight_norm=True)]))
    with pytest.raises(ValueError, match=r"blocks.0 \(Recurrent\): axonal delays"):
        network_to_layers(types.SimpleNamespace(blocks=[cuba.Recurrent(CUBA, 8, 8, delay=True)]))
    with_bias = network([sd.Input(SDNN), sd.Dense(SDNN, 8, 3)], flat)
    with_bias.blocks[1].neuron.set_bias(torch.ones(3))
    with pytest.raises(ValueError, match=r"blocks.1 \(Dense\): a sigma-delta neuron bias"):
        network_to_layers(with_bias)
    with pytest.raises(ValueError, match=r"blocks.0 \(Input\): an Input block without neurons"):
        network_to_layers(types.SimpleNamespace(blocks=[sd.Input(), sd.Dense(SDNN, 8, 3)]))
    with pytest.raises(ValueError, match="no Dense or Conv blocks"):
        network_to_layers(network([sd.Input(SDNN)], flat))
    with pytest.raises(ValueError, match="Pool blocks are not exported"):
        block_to_layer(sd.Pool(SDNN, 2))
    with pytest.raises(ValueError, match="Flatten block has no layer of its own"):
        block_to_layer(sd.Flatten())
