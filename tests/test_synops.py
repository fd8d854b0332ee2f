import numpy as np
import pytest
import torch
import torch.nn.functional as F

from neurodeploy.compare.synops import network_synops, synops
from neurodeploy.netx import ConvLayer, CubaNeuron, DenseLayer, InputLayer, Network
from neurodeploy.netx.layers.conv import conv_fan_out


def dense_fan_out(weight):
    """A dense layer's own fan-out (the layer kind computes it)."""
    weight = np.asarray(weight)
    return DenseLayer(weight, CubaNeuron(64, 1024, 1024)).fan_out((weight.shape[1],))


def dense_synops(spikes, weight):
    return synops(spikes, dense_fan_out(weight))


# --------------------------------------------------------------------- dense


def test_fan_out_counts_nonzeros_per_input_column():
    w = np.array([[1, 0, 2], [0, 0, -4]])
    out = dense_fan_out(w)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, [1, 0, 2])


def test_hand_computed_dense_layer():
    w = np.array([[1, 0, 2], [0, 0, -4]])
    # sample 0: input 0 spikes twice, input 1 three times, input 2 once
    s = np.zeros((2, 3, 4))
    s[0, 0, [0, 2]] = 1
    s[0, 1, [0, 1, 3]] = 1
    s[0, 2, 3] = 1
    s[1, 2, :] = 1
    # sample 0: 2*1 + 3*0 + 1*2 = 4; sample 1: 4*2 = 8
    np.testing.assert_array_equal(dense_synops(s, w), [4, 8])
    np.testing.assert_array_equal(synops(s, dense_fan_out(w)), [4, 8])


def test_against_brute_force():
    rng = np.random.default_rng(0)
    w = rng.integers(-3, 4, (6, 9)) * (rng.random((6, 9)) < 0.5)
    s = (rng.random((5, 9, 7)) < 0.3).astype(np.uint8)
    brute = np.zeros(5, dtype=np.int64)
    for n in range(5):
        for t in range(7):
            for i in range(9):
                if s[n, i, t]:
                    for j in range(6):
                        brute[n] += w[j, i] != 0
    np.testing.assert_array_equal(dense_synops(s, w), brute)


def test_dense_fan_out_and_synops_against_loops():
    rng = np.random.default_rng(1)
    w = rng.integers(-5, 6, (7, 11)) * (rng.random((7, 11)) < 0.5)
    brute_fan = np.zeros(11, dtype=np.int64)
    for i in range(11):
        for j in range(7):
            brute_fan[i] += w[j, i] != 0
    np.testing.assert_array_equal(dense_fan_out(w), brute_fan)

    s = rng.random((4, 11, 9)) < 0.4
    brute = np.zeros(4, dtype=np.int64)
    for b in range(4):
        for i in range(11):
            for t in range(9):
                if s[b, i, t]:
                    brute[b] += sum(1 for j in range(7) if w[j, i] != 0)
    for dtype in (bool, np.uint8, np.int16, np.int64):
        got = synops(s.astype(dtype), dense_fan_out(w))
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, brute)


def test_network_uses_previous_layer_spikes_and_ignores_the_last():
    inputs = np.ones((1, 2, 3))
    hidden = np.zeros((1, 4, 3))
    hidden[0, 1, :2] = 1
    out = np.ones((1, 2, 3))
    neuron = CubaNeuron(64, 1024, 1024)
    w0 = np.ones((4, 2), np.int64)
    w1 = np.array([[0, 5, 0, 0], [0, 5, 1, 0]])
    network = Network((DenseLayer(w0, neuron), DenseLayer(w1, neuron)))
    # layer 0: 2 inputs x 3 spikes x 4 fan-out = 24; layer 1: 2 spikes x 2 = 4
    np.testing.assert_array_equal(network_synops(network, inputs, [hidden, out]), [[24, 4]])
    # a layer whose presynaptic spikes were not recorded is unknown (-1)
    np.testing.assert_array_equal(network_synops(network, inputs, [None, out]), [[24, -1]])


def test_layers_fan_out_in_lava_flat_order():
    """Conv fan-out comes back in Lava's (W, H, C) order; after a flatten, a dense
    layer's (C, H, W) columns are put back into that order too."""
    neuron = CubaNeuron(64, 1024, 1024)
    rng = np.random.default_rng(3)
    weight = rng.integers(-3, 4, size=(4, 2, 2, 2)) * 2
    conv = ConvLayer(weight, neuron, shape=(4, 2, 3))
    fan = conv.fan_out((4, 3, 2))  # input W=4, H=3, C=2
    expected = conv_fan_out(weight, (2, 3, 4), (1, 1), (0, 0), (1, 1), 1)  # [C, H, W]
    np.testing.assert_array_equal(fan, expected.transpose(2, 1, 0).reshape(-1))
    dense_w = rng.integers(-3, 4, size=(5, 24)) * 2
    dense = DenseLayer(dense_w, neuron, flatten_input=True)
    fan = dense.fan_out((3, 2, 4))  # W=3, H=2, C=4
    chw = dense_fan_out(dense_w).reshape(4, 2, 3)
    np.testing.assert_array_equal(fan, chw.transpose(2, 1, 0).reshape(-1))
    assert InputLayer((2, 3, 4), neuron).fan_out((4, 3, 2)) is None


# -------------------------------------------------------------------- synops


def test_synops_does_not_overflow_narrow_dtypes():
    # 300 spikes per neuron would wrap around in uint8
    s = np.ones((2, 3, 300), dtype=np.uint8)
    np.testing.assert_array_equal(synops(s, np.array([1, 2, 3])), [1800, 1800])


def test_synops_accepts_spatial_spikes_with_spatial_fan_out():
    rng = np.random.default_rng(2)
    fan = rng.integers(0, 5, (2, 3, 4))
    s = rng.random((3, 2, 3, 4, 5)) < 0.5
    flat = synops(s.reshape(3, -1, 5), fan.reshape(-1))
    np.testing.assert_array_equal(synops(s, fan), flat)
    np.testing.assert_array_equal(flat, (s.sum(-1) * fan).sum(axis=(1, 2, 3)))


def test_synops_rejects_mismatched_fan_out():
    with pytest.raises(ValueError):
        synops(np.zeros((1, 4, 2), dtype=np.uint8), np.ones(5, dtype=np.int64))


# ---------------------------------------------------------- conv, by hand

# one output channel, one input channel, 2x2 kernel whose tap (1, 1) is zero
KERNEL = np.array([[1, 2], [3, 0]]).reshape(1, 1, 2, 2)


def _conv(weight, shape=(1, 3, 3), stride=1, padding=0, dilation=1, groups=1):
    return conv_fan_out(weight, shape, (stride, stride), (padding, padding), (dilation, dilation), groups)


def test_conv_hand_computed_no_padding():
    # Ho = Wo = 2; output (oy, ox) reads (oy + ky, ox + kx) at taps (0,0), (0,1), (1,0)
    expected = [[[1, 2, 1],
                 [2, 3, 1],
                 [1, 1, 0]]]
    got = _conv(KERNEL)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, expected)


def test_conv_hand_computed_padding_1():
    # Ho = Wo = 4; oy = y + 1 - ky lies in [0, 4) for every y in 0..2, ky in 0..1,
    # so every nonzero tap reaches every input position
    expected = [[[3, 3, 3],
                 [3, 3, 3],
                 [3, 3, 3]]]
    np.testing.assert_array_equal(_conv(KERNEL, padding=1), expected)


def test_conv_hand_computed_stride_2():
    # Ho = Wo = 1: the single output reads (ky, kx)
    expected = [[[1, 1, 0],
                 [1, 0, 0],
                 [0, 0, 0]]]
    np.testing.assert_array_equal(_conv(KERNEL, stride=2), expected)


def test_conv_hand_computed_dilation_2():
    # Ho = Wo = 1: the single output reads (2 ky, 2 kx); tap (1, 1) -> (2, 2) is zero
    expected = [[[1, 0, 1],
                 [0, 0, 0],
                 [1, 0, 0]]]
    np.testing.assert_array_equal(_conv(KERNEL, dilation=2), expected)


def test_conv_hand_computed_groups_2():
    # outputs 0, 1 read channel 0; outputs 2, 3 read channel 1
    w = np.array([
        [[[1, 2], [3, 0]]],   # o0: taps (0,0), (0,1), (1,0)
        [[[0, 0], [0, 5]]],   # o1: tap (1,1)
        [[[1, 1], [0, 0]]],   # o2: taps (0,0), (0,1)
        [[[0, 0], [0, 0]]],   # o3: nothing
    ])
    expected = [
        # o0 as in the no-padding case plus o1's tap (1,1) on rows/cols 1..2
        [[1, 2, 1],
         [2, 4, 2],
         [1, 2, 1]],
        # o2's top row of taps on rows 0..1
        [[1, 2, 1],
         [1, 2, 1],
         [0, 0, 0]],
    ]
    np.testing.assert_array_equal(_conv(w, shape=(2, 3, 3), groups=2), expected)


def test_conv_last_row_read_past_transpose_size():
    # H = W = 6, 1x1 kernel, stride 2, padding 1: Ho = 4 and output oy reads
    # row 2*oy - 1 = -1, 1, 3, 5. Row 5 is read although a conv_transpose2d
    # without output_padding only produces 5 rows.
    w = np.ones((1, 1, 1, 1))
    line = np.array([0, 1, 0, 1, 0, 1])
    np.testing.assert_array_equal(_conv(w, shape=(1, 6, 6), stride=2, padding=1), [np.outer(line, line)])


def test_conv_rejects_inconsistent_groups():
    with pytest.raises(ValueError):
        _conv(np.ones((3, 1, 2, 2)), shape=(2, 3, 3), groups=2)  # out not divisible
    with pytest.raises(ValueError):
        _conv(np.ones((4, 2, 2, 2)), shape=(2, 3, 3), groups=2)  # in/groups mismatch


# ------------------------------------------------------- conv, brute force


def _brute_conv_fan_out(w, shape, stride, padding, dilation, groups):
    c_in, h, wd = shape
    out, cg, kh, kw = w.shape
    ho = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (wd + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    per_group = out // groups
    fan = np.zeros(shape, dtype=np.int64)
    for o in range(out):
        g = o // per_group
        for ci in range(cg):
            c = g * cg + ci
            for ky in range(kh):
                for kx in range(kw):
                    if w[o, ci, ky, kx] == 0:
                        continue
                    for oy in range(ho):
                        y = oy * stride[0] - padding[0] + ky * dilation[0]
                        if not 0 <= y < h:
                            continue
                        for ox in range(wo):
                            x = ox * stride[1] - padding[1] + kx * dilation[1]
                            if 0 <= x < wd:
                                fan[c, y, x] += 1
    return fan


def _brute_conv_synops(spikes, w, stride, padding, dilation, groups):
    """For every presynaptic spike, count the outputs a one-hot input changes."""
    kernel = torch.from_numpy(w.astype(np.float64))
    batch = spikes.shape[0]
    result = np.zeros(batch, dtype=np.int64)
    for b in range(batch):
        where = np.argwhere(spikes[b])  # (c, y, x, t) per spike
        if len(where) == 0:
            continue
        one_hot = torch.zeros((len(where), *spikes.shape[1:4]), dtype=torch.float64)
        one_hot[torch.arange(len(where)), where[:, 0], where[:, 1], where[:, 2]] = 1
        response = F.conv2d(one_hot, kernel, stride=stride, padding=padding, dilation=dilation, groups=groups)
        result[b] = int(torch.count_nonzero(response))
    return result


def _random_configs(rng, count):
    configs = []
    while len(configs) < count:
        c = int(rng.integers(1, 5))
        groups = int(rng.choice([g for g in range(1, c + 1) if c % g == 0]))
        out = groups * int(rng.integers(1, 3))
        h, wd = (int(v) for v in rng.integers(3, 8, 2))
        k = tuple(int(v) for v in rng.integers(1, 4, 2))
        stride = tuple(int(v) for v in rng.integers(1, 3, 2))
        padding = tuple(int(v) for v in rng.integers(0, 3, 2))
        dilation = tuple(int(v) for v in rng.integers(1, 3, 2))
        ho = (h + 2 * padding[0] - dilation[0] * (k[0] - 1) - 1) // stride[0] + 1
        wo = (wd + 2 * padding[1] - dilation[1] * (k[1] - 1) - 1) // stride[1] + 1
        if ho < 1 or wo < 1:
            continue
        w = rng.integers(-4, 5, (out, c // groups, *k)) * (rng.random((out, c // groups, *k)) < 0.5)
        configs.append(((c, h, wd), w, stride, padding, dilation, groups))
    return configs


CONFIGS = _random_configs(np.random.default_rng(1234), 60)


def test_random_configs_cover_the_space():
    assert any(cfg[5] > 1 for cfg in CONFIGS)
    assert any(max(cfg[2]) > 1 for cfg in CONFIGS)
    assert any(max(cfg[3]) > 0 for cfg in CONFIGS)
    assert any(max(cfg[4]) > 1 for cfg in CONFIGS)


@pytest.mark.parametrize("index", range(len(CONFIGS)))
def test_conv_fan_out_and_synops_against_brute_force(index):
    shape, w, stride, padding, dilation, groups = CONFIGS[index]
    fan = conv_fan_out(w, shape, stride, padding, dilation, groups)
    np.testing.assert_array_equal(fan, _brute_conv_fan_out(w, shape, stride, padding, dilation, groups))

    rng = np.random.default_rng(index)
    spikes = (rng.random((2, *shape, 3)) < 0.2).astype(np.uint8)
    flat = spikes.reshape(2, -1, 3)
    expected = _brute_conv_synops(spikes, w, stride, padding, dilation, groups)
    np.testing.assert_array_equal(synops(flat, fan.reshape(-1)), expected)


def test_conv_fan_out_matches_input_gradient_at_realistic_size():
    # C=32, 64x64, 3x3: every (output, tap) that reads a real input is one
    # synop, so with padding the fan-out is the gradient of sum(conv2d) w.r.t.
    # the input for the (weight != 0) kernel
    rng = np.random.default_rng(5)
    w = rng.integers(-3, 4, (32, 16, 3, 3)) * (rng.random((32, 16, 3, 3)) < 0.5)
    fan = conv_fan_out(w, (32, 64, 64), (2, 2), (1, 1), (1, 1), 2)
    x = torch.zeros((1, 32, 64, 64), dtype=torch.float64, requires_grad=True)
    kernel = torch.from_numpy((w != 0).astype(np.float64))
    F.conv2d(x, kernel, stride=2, padding=1, groups=2).sum().backward()
    np.testing.assert_array_equal(fan, x.grad[0].numpy().astype(np.int64))
    # and without padding the total is Ho * Wo * nnz(weight)
    fan = conv_fan_out(w, (32, 64, 64), (1, 1), (0, 0), (1, 1), 2)
    assert fan.sum() == 62 * 62 * np.count_nonzero(w)


# ------------------------------------------------- graded messages and recurrent synapses


def test_graded_messages_and_recurrent_synapses_by_brute_force():
    """A graded message costs one operation per nonzero weight whatever its value; a
    recurrent layer's own messages also pass through weight_rec; complex weights count
    both parts."""
    from neurodeploy.netx import RecurrentDenseLayer, ResonateFireNeuron, SigmaDeltaNeuron

    rng = np.random.default_rng(5)
    w0 = rng.integers(-3, 4, size=(6, 4)) * 2
    w1 = rng.integers(-3, 4, size=(5, 6)) * 2
    rec = rng.integers(-3, 4, size=(5, 5)) * 2
    real, imag = rng.integers(-3, 4, size=(3, 5)) * 2, rng.integers(-3, 4, size=(3, 5)) * 2
    network = Network((
        DenseLayer(w0, SigmaDeltaNeuron("sigma_delta", 1)),
        RecurrentDenseLayer(w1, CubaNeuron(64, 1024, 1024), weight_rec=rec),
        DenseLayer(real, ResonateFireNeuron("RF", "RF_PHASE", 500, 3800, 10), weight_imag=imag),
    ))
    inputs = (rng.random((2, 4, 7)) < 0.5).astype(np.uint8)
    graded = np.where(rng.random((2, 6, 7)) < 0.4, rng.integers(-9000, 9000, size=(2, 6, 7)), 0).astype(np.int32)
    spikes1 = (rng.random((2, 5, 7)) < 0.5).astype(np.uint8)
    spikes2 = (rng.random((2, 3, 7)) < 0.5).astype(np.uint8)
    expected = np.zeros((2, 3), dtype=np.int64)
    for b in range(2):
        for t in range(7):
            expected[b, 0] += sum(np.count_nonzero(w0[:, i]) for i in range(4) if inputs[b, i, t])
            expected[b, 1] += sum(np.count_nonzero(w1[:, i]) for i in range(6) if graded[b, i, t] != 0)
            expected[b, 1] += sum(np.count_nonzero(rec[:, i]) for i in range(5) if spikes1[b, i, t])
            expected[b, 2] += sum(np.count_nonzero(real[:, i]) + np.count_nonzero(imag[:, i])
                                  for i in range(5) if spikes1[b, i, t])
    got = network_synops(network, inputs, [graded, spikes1, spikes2])
    np.testing.assert_array_equal(got, expected)
    assert expected.min() > 0
