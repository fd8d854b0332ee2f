"""Conv SLAYER networks: export (same file as lava-dl's), input shape of a conv layer 0,
neuron order, and SLAYER = golden = Lava fixed_pt, every spike of every layer at every step."""
import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from netx_builders import SLAYER_NEURON, assert_same_file_as_lava_dl, conv_network, dense_network, slayer_conv_net
from neurodeploy.cli import main
from neurodeploy.compare.equivalence import compare_recordings
from neurodeploy.compare.synops import network_synops
from neurodeploy.export.quantize import block_to_layer, export_model, network_to_layers
from neurodeploy.lavacompat import slayer
from neurodeploy.loihi.order import chw_to_lava, whc_to_chw
from neurodeploy.netx import ConvLayer, CubaNeuron, DenseLayer, NetxError, Network, read_netx
from neurodeploy.simulate.golden import GoldenModel
from neurodeploy.simulate.harness import run_lava
from neurodeploy.simulate.stimulus import Stimulus
from neurodeploy.simulate.torch_side import torch_layer_spikes

STEPS = 16


def built(first_stride=1, seed=0):
    model = slayer_conv_net(seed=seed, first_stride=first_stride)
    with torch.no_grad():
        model(torch.zeros(1, 64, 2))  # lava-dl sets the neuron shapes on the first forward pass
    return model


def digits_like(count, seed=1, rate=0.3):
    """[count, 64, T] 0/1 spikes, an 8x8 image per sample flattened in (C, H, W) order."""
    rng = np.random.default_rng(seed)
    return (rng.random((count, 64, STEPS)) < rate).astype(np.uint8)


@pytest.fixture(params=[1, 2], ids=["stride1-first", "stride2-first"])
def exported(request, tmp_path):
    model = built(first_stride=request.param)
    path = tmp_path / "conv.net"
    export_model(model, path)
    return model, read_netx(path, input_shape=(1, 8, 8))


# ------------------------------------------------------------------------------ export


def test_file_matches_lava_dl_own_export_conv_and_flatten(tmp_path):
    model = built(first_stride=2)
    with torch.no_grad():
        model.blocks[1].synapse.weight[:, :2] = 0  # pruned input channels
    export_model(model, tmp_path / "ours.net")
    types_written = assert_same_file_as_lava_dl(model, tmp_path / "ours.net", tmp_path / "theirs.net")
    assert types_written == [b"conv", b"conv", b"flatten", b"dense"]


def test_conv_records_are_the_quantized_integers_and_synapse_geometry():
    model = built(first_stride=2)
    layers = network_to_layers(model)
    assert [type(layer) for layer in layers] == [ConvLayer, ConvLayer, DenseLayer]
    for block, layer in zip([model.blocks[0], model.blocks[1], model.blocks[3]], layers):
        w = block.synapse.weight.detach().numpy().reshape(layer.weight.shape)
        np.testing.assert_array_equal(layer.weight, np.clip(np.round(w * 32) * 2, -256, 254))
        assert layer.neuron == CubaNeuron(v_th_mant=80, i_decay=1024, v_decay=123)
    first, second, dense = layers
    assert (first.shape, first.stride, first.padding, first.dilation, first.groups) == ((4, 4, 4), (2, 2), (1, 1), (1, 1), 1)
    assert (second.shape, second.stride) == ((8, 2, 2), (2, 2))
    assert dense.flatten_input and dense.weight.shape == (10, 32)


def test_conv_shape_from_input_shape_without_a_forward_pass():
    fresh = types.SimpleNamespace(blocks=slayer_conv_net(first_stride=2).blocks)
    assert fresh.blocks[0].neuron.shape is None
    with pytest.raises(ValueError, match=r"blocks.0 \(Conv\): output shape unknown"):
        network_to_layers(fresh)
    computed = network_to_layers(fresh, input_shape=(1, 8, 8))
    after_forward = network_to_layers(built(first_stride=2))
    assert [layer.lava_shape for layer in computed] == [layer.lava_shape for layer in after_forward] == [(4, 4, 4), (2, 2, 8), (10,)]
    with pytest.raises(ValueError, match=r"blocks.0 \(Conv\): neuron shape \[4, 4, 4\] differs"):
        network_to_layers(built(first_stride=2), input_shape=(1, 12, 12))


def test_block_order_errors_name_the_block():
    model = built()
    conv, second, flatten, dense = model.blocks
    cases = [
        ([conv, dense], r"blocks.1 \(Dense\): a Dense block after a Conv block needs a Flatten"),
        ([flatten, dense], r"blocks.0 \(Flatten\): a Flatten block must follow a Conv block"),
        ([conv, second, flatten], r"blocks.2 \(Flatten\): a Flatten block must be followed by a Dense"),
        ([conv, flatten, second], r"blocks.2 \(Conv\): a Conv block must follow the input or another Conv"),
    ]
    for blocks, message in cases:
        with pytest.raises(ValueError, match=message):
            network_to_layers(types.SimpleNamespace(blocks=blocks))
    pool = slayer.block.cuba.Pool(SLAYER_NEURON, 2)
    with pytest.raises(ValueError, match="Pool blocks are not exported"):
        block_to_layer(pool)
    delayed = slayer.block.cuba.Dense(SLAYER_NEURON, 4, 2, delay=True)
    with pytest.raises(ValueError, match=r"blocks.0 \(Dense\): axonal delays \(delay=True\) are not exported"):
        network_to_layers(types.SimpleNamespace(blocks=[delayed]))


# ------------------------------------------------------------- input shape of a conv layer 0


def test_input_shape_inferred_for_stride_1_and_required_otherwise(tmp_path):
    export_model(built(first_stride=1), tmp_path / "s1.net")
    network = read_netx(tmp_path / "s1.net")
    assert network.input_shape == (8, 8, 1)
    assert network.kinds[0] == "conv" and not network.starts_with_input

    export_model(built(first_stride=2), tmp_path / "s2.net")
    with pytest.raises(NetxError, match=r"s2.net: layer/0: conv layer with stride \[2, 2\]: its input shape cannot be inferred"):
        read_netx(tmp_path / "s2.net")
    assert read_netx(tmp_path / "s2.net", input_shape=(1, 8, 8)).input_shape == (8, 8, 1)
    assert read_netx(tmp_path / "s2.net", input_shape=(1, 7, 7)).input_shape == (7, 7, 1)  # also 4x4 out
    with pytest.raises(NetxError, match=r"s2.net: layer/0: key 'shape' \[4, 4, 4\] differs from the convolution's output \[5, 5\]"):
        read_netx(tmp_path / "s2.net", input_shape=(1, 9, 9))
    with pytest.raises(NetxError, match=r"s1.net: layer/0: key 'weight' expects 1 input channels, its input has 3"):
        read_netx(tmp_path / "s1.net", input_shape=(3, 8, 8))


def test_input_shape_checked_for_dense_and_input_first_layers(tmp_path):
    dense = dense_network(tmp_path / "d.net")
    assert read_netx(tmp_path / "d.net", input_shape=(1, 5, 6)).input_shape == dense.input_shape == (30,)
    with pytest.raises(NetxError, match=r"d.net: layer/0: input shape \[1, 8, 8\] does not hold the 30 inputs"):
        read_netx(tmp_path / "d.net", input_shape=(1, 8, 8))
    conv_network(tmp_path / "c.net")
    assert read_netx(tmp_path / "c.net", input_shape=(2, 7, 7)).input_shape == (7, 7, 2)
    with pytest.raises(NetxError, match=r"c.net: layer/0: input shape \[1, 7, 7\] differs from the input layer's"):
        read_netx(tmp_path / "c.net", input_shape=(1, 7, 7))


def test_network_records_infer_or_reject_conv_input():
    neuron = CubaNeuron(80, 1024, 123)
    conv = ConvLayer(np.full((2, 1, 3, 3), 2), neuron, shape=(2, 6, 5), padding=(1, 0))
    assert Network((conv,)).input_shape == (7, 6, 1) and conv.infer_input(None) == (1, 6, 7)
    strided = ConvLayer(np.full((2, 1, 3, 3), 2), neuron, shape=(2, 3, 3), stride=(2, 2))
    with pytest.raises(NetxError, match="layer/0: conv layer with stride"):
        Network((strided,))
    assert Network((strided,), input_shape=(8, 7, 1)).input_shape == (8, 7, 1)
    with pytest.raises(NetxError, match="differs from the convolution's output"):
        Network((strided,), input_shape=(9, 9, 1))
    with pytest.raises(NetxError, match=r"input shape \[1, 1, 4\] does not hold the 3 inputs"):
        Network((DenseLayer(np.full((2, 3), 2), neuron),), input_shape=(4, 1, 1))


# -------------------------------------------------------------------------- neuron order


def test_chw_to_lava_is_the_inverse_of_whc_to_chw_and_moves_pixels():
    x = np.arange(2 * 3 * 4 * 5).reshape(2, 3 * 4 * 5, 1)  # (C, H, W) = (3, 4, 5)
    lava = chw_to_lava(x, (3, 4, 5))
    np.testing.assert_array_equal(lava[:, whc_to_chw((5, 4, 3))], x)
    c, h, w = 2, 1, 3  # neuron c*H*W + h*W + w in CHW order sits at w*H*C + h*C + c in Lava order
    assert lava[0, w * 4 * 3 + h * 3 + c, 0] == x[0, c * 20 + h * 5 + w, 0]
    with pytest.raises(ValueError, match="does not hold 3x4x4 neurons"):
        chw_to_lava(x, (3, 4, 4))


def test_to_lava_order_permutes_images_only(tmp_path):
    x = digits_like(2)
    dense = dense_network(tmp_path / "d.net")
    y = np.zeros((1, 30, 3))
    assert dense.to_lava_order(y) is y
    export_model(built(), tmp_path / "c.net")
    conv = read_netx(tmp_path / "c.net")
    np.testing.assert_array_equal(conv.to_lava_order(x), chw_to_lava(x, (1, 8, 8)))
    assert not np.array_equal(conv.to_lava_order(x), x)


# ---------------------------------------------------------------- three sides, bit-exact


def test_slayer_equals_golden_every_layer_every_step(exported):
    model, network = exported
    x = digits_like(24)
    golden_model = GoldenModel(network)
    golden = golden_model.run_samples(Stimulus(network.to_lava_order(x), None, STEPS)).spikes
    slayer_spikes = torch_layer_spikes(model, x, golden_model.drain_steps)
    assert len(golden) == len(slayer_spikes) == 3
    for layer, (g, s) in enumerate(zip(golden, slayer_spikes)):
        assert g.shape == s.shape == (24, int(np.prod(network.layers[layer].lava_shape)), STEPS + 3)
        np.testing.assert_array_equal(g, s, err_msg=f"layer {layer}")
        assert s.sum() > 0.02 * s[:, :, :STEPS].size or layer == 2, f"layer {layer} nearly silent: {s.sum()}"
    assert golden[-1].sum() >= 24, "the output layer should spike"
    # the conversion matters: input in (C, H, W) order is not what the golden model reads
    unconverted = golden_model.run_samples(Stimulus(x, None, STEPS)).spikes
    assert not np.array_equal(unconverted[0], slayer_spikes[0])


def test_slayer_conv_spikes_come_back_in_lava_order(exported):
    model, network = exported
    x = digits_like(3)
    raw = model.layer_spikes(torch.from_numpy(x).float())[0].detach().numpy()  # [N, C, H, W, T]
    ours = torch_layer_spikes(model, x, pad=0)[0]
    c, h, w = 3, 2, 1
    C, H, W = raw.shape[1:4]
    np.testing.assert_array_equal(ours[:, w * H * C + h * C + c], raw[:, c, h, w])


@pytest.mark.lava
@pytest.mark.parametrize("sparse", [False, True], ids=["Dense", "Sparse"])
def test_golden_equals_lava_fixed_pt(exported, sparse):
    _, network = exported
    stimulus = Stimulus(network.to_lava_order(digits_like(3, seed=5)), None, STEPS)
    golden = {i: s[0] for i, s in enumerate(GoldenModel(network).run_stream(stimulus).spikes)}
    lava = run_lava(network, stimulus, sparse=sparse).spikes
    result = compare_recordings(golden, lava)
    assert result.equivalent, f"mismatches {result.mismatches}, first {result.first}"
    assert result.compared == sum(s.size for s in golden.values())
    assert all(s.sum() > 0 for s in lava.values()), {i: int(s.sum()) for i, s in lava.items()}


# ---------------------------------------------------------------------------- synops


def _brute_synops(model, x):
    """Per sample and layer, from SLAYER's own (C, H, W) spikes: each presynaptic spike
    costs the number of postsynaptic neurons a one-hot input reaches through a nonzero weight."""
    spikes = [torch.from_numpy(x).float().reshape(len(x), 1, 8, 8, -1)]
    spikes += [s.detach() for s in model.layer_spikes(torch.from_numpy(x).float())[:-1]]
    layers = network_to_layers(model)
    result = np.zeros((len(x), 3), dtype=np.int64)
    for index, (layer, pre) in enumerate(zip(layers, spikes)):
        counts = pre.sum(dim=-1).reshape(len(x), -1).numpy().astype(np.int64)  # [N, n_pre] CHW order
        if isinstance(layer, ConvLayer):
            shape = pre.shape[1:4]
            eye = torch.eye(int(np.prod(shape)), dtype=torch.float64).reshape(-1, *shape)
            hits = F.conv2d(eye, torch.from_numpy((layer.weight != 0).astype(np.float64)), stride=layer.stride,
                            padding=layer.padding, dilation=layer.dilation, groups=layer.groups)
            fan = hits.reshape(len(eye), -1).sum(dim=1).numpy().astype(np.int64)
        else:
            fan = np.count_nonzero(layer.weight, axis=0)
        result[:, index] = counts @ fan
    return result


def test_network_synops_of_a_conv_first_network(exported):
    model, network = exported
    with torch.no_grad():
        model.blocks[0].synapse.weight[:, :, 0, :] = 0  # zero taps: fan-out depends on the weights
    x = digits_like(5, seed=7)
    path = network.path.parent / "zeroed.net"
    export_model(model, path)
    network = read_netx(path, input_shape=(1, 8, 8))
    golden_model = GoldenModel(network)
    stimulus = Stimulus(network.to_lava_order(x), None, STEPS)
    golden = golden_model.run_samples(stimulus).spikes
    ours = network_synops(network, stimulus.batch_spikes(golden_model.drain_steps), golden)
    brute = _brute_synops(model, np.concatenate([x, np.zeros((5, 64, 3), np.uint8)], axis=-1))
    assert (ours > 0).all()
    np.testing.assert_array_equal(ours, brute)


# ------------------------------------------------------------------------------- CLI


@pytest.mark.lava
def test_verify_cli_needs_input_shape_for_a_strided_conv_layer_0(tmp_path, capsys):
    export_model(built(first_stride=2), tmp_path / "s2.net")
    args = ["verify", str(tmp_path / "s2.net"), "--random-rate", "0.3", "--steps", "10", "--samples", "2"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "s2.net: layer/0: conv layer with stride [2, 2]" in err and "--input-shape" in err and "\n" not in err
    assert main([*args, "--input-shape", "1,8,8"]) == 0
    assert "EQUIVALENT" in capsys.readouterr().out
    assert main([*args, "--input-shape", "1,8"]) == 2
    assert "expected C,H,W" in capsys.readouterr().err


def test_compare_cli_passes_the_input_shape_to_both_networks(tmp_path, capsys):
    export_model(built(first_stride=2, seed=0), tmp_path / "a.net")
    export_model(built(first_stride=2, seed=1), tmp_path / "b.net")
    args = ["compare", str(tmp_path / "a.net"), str(tmp_path / "b.net"), "--random-rate", "0.3", "--steps", "8"]
    assert main(args) == 2
    assert "a.net: layer/0: conv layer with stride [2, 2]" in capsys.readouterr().err
    assert main([*args, "--input-shape", "1,8,8", "--samples", "3"]) == 0
    assert "3 sample(s) x 8 steps" in capsys.readouterr().out
