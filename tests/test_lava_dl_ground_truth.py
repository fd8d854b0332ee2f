"""The golden model against the ground truth lava-dl ships in its wheel
(``site-packages/tests/lava/lib/dl/netx/gts``), produced by lava-dl's own tests
(``test_hdf5.py``, ``test_hdf5_nx.py``, ``test_blocks.py``), and, on a few
steps, against Lava itself on the same files.

Ground truth used, and how each reference was made (arrays in Lava's (W, H, C, T)
order, flattened C-order into Lava's neuron order):

- ``pilotnet_sdnn/network.net``: ``input.npy`` (the same values every step) into
  the input layer's ``a_in``. ``output.npy``: the last (Sigma) layer's messages for
  steps 0..8; ``act0.npy``: the input (Delta) layer's messages, steps 0..19;
  ``sigma1.npy``, ``sigma2.npy``: the sigma state of layers 1 and 2, steps 0..19.
- ``pilotnet_sdnn/square_network.net`` with ``sigma{1..4}_square.npy``: Loihi 2
  hardware (``test_hdf5_nx.py``): ``act0[:33, :33]`` into conv 1's synapse, the
  sigma state of the four conv layers, steps 0..19.
- ``ntidigits/ntidigits.net`` (read with ``num_layers=5``: layer 5 is an
  ``average`` netx cannot load), ``input.npy`` spikes for 3000 steps:
  ``output.npy`` is the last layer's spikes one step later, all 3000 steps.
  (lava-dl's own test compares ``output[:, -1]`` with ``output.npy[:, 1]``:
  242 entries, all of them zero.)
- ``pilotnet_lif/network.net`` driven by ``image.npy`` as the input layer's bias
  (``test_hdf5_nx.py``): ``input.npy`` the input layer's spikes, ``conv-i*.npy``
  and ``fc-i*.npy`` each layer's spikes, u and v for 24 steps.
- Blocks (no network file; written here as NetX files with this project's records
  and ``write_netx``): ``tinynet_sdnn`` (Delta input block, SigmaDelta conv block,
  Sigma dense block), ``complex_dense/out.npy`` (ComplexDense RF block), and the
  CUBA blocks ``dense`` and ``tinynet`` (input and conv) of ``test_blocks.py``.
  A network without an input layer gets binary input into its first synapse, as
  the blocks do by default.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from neurodeploy.cli import main
from neurodeploy.compare.equivalence import compare_recordings
from neurodeploy.netx import (
    ConvLayer, CubaNeuron, DenseLayer, InputLayer, ResonateFireNeuron, SigmaDeltaNeuron, read_netx, write_netx,
)
from neurodeploy.netx.neurons.rf import decays
from neurodeploy.reference import lava_dl_ground_truth
from neurodeploy.simulate.golden import GoldenModel
from neurodeploy.simulate.harness import run_lava
from neurodeploy.simulate.stimulus import Stimulus


GTS = lava_dl_ground_truth()
if GTS is None:
    pytest.skip("lava-dl's ground truth (site-packages/tests/lava/lib/dl/netx/gts, shipped in the lava-dl wheel) "
                "is not installed", allow_module_level=True)

SDNN = GTS / "pilotnet_sdnn"
NTIDIGITS = GTS / "ntidigits"
LIF = GTS / "pilotnet_lif"


def load(path: Path, steps: int) -> np.ndarray:
    """A reference (..., T) as int64 [neurons, T] in Lava's flat neuron order."""
    return np.load(path).astype(np.int64).reshape(-1, steps)


def assert_equal(ours: np.ndarray, reference: np.ndarray, what: str) -> int:
    """Exact equality of two int arrays, and a reference that is not all zero; its nonzero count."""
    assert reference.size > 0 and np.count_nonzero(reference) > 0, f"{what}: the reference is all zero"
    assert ours.shape == reference.shape, f"{what}: shape {ours.shape}, reference {reference.shape}"
    differ = np.argwhere(ours != reference)
    assert differ.size == 0, (f"{what}: {len(differ)} of {reference.size} entries differ, first at "
                              f"{tuple(differ[0])}: ours {ours[tuple(differ[0])]}, reference "
                              f"{reference[tuple(differ[0])]}")
    return int(np.count_nonzero(reference))


def assert_golden_equals_lava(network, stimulus: Stimulus, silent: tuple[int, ...] = ()) -> dict[int, np.ndarray]:
    """Every message of every layer, golden model (as a stream) against Lava fixed_pt; every
    layer but ``silent`` sends something. Returns Lava's messages per layer."""
    golden = {i: s[0] for i, s in enumerate(GoldenModel(network).run_stream(stimulus).spikes)}
    lava = run_lava(network, stimulus).spikes
    assert set(lava) == set(range(len(network.layers)))
    result = compare_recordings(golden, lava)
    assert result.equivalent, f"mismatches {result.mismatches}, first {result.first}"
    for layer, messages in lava.items():
        assert (np.count_nonzero(messages) == 0) == (layer in silent), f"layer {layer}: {np.count_nonzero(messages)}"
    return lava


# ------------------------------------------------------------------ pilotnet SDNN


def sdnn_input(network, steps: int, crop: int | None = None) -> np.ndarray:
    """input.npy (W, H, C, 1), the same every step, as a_in values [1, n_in, steps]."""
    image = np.load(SDNN / "input.npy")[..., 0]
    if crop is not None:
        image = image[:crop, :crop]
    assert image.shape == network.input_shape
    return np.repeat(image.reshape(1, -1, 1), steps, axis=2).astype(np.int32)


def test_pilotnet_sdnn_output_input_messages_and_sigma_states():
    network = read_netx(SDNN / "network.net")
    assert network.kinds == ["input"] + ["conv"] * 4 + ["dense"] * 4
    assert [layer.neuron.role for layer in network.layers] == ["delta"] + ["sigma_delta"] * 7 + ["sigma"]
    steps = 20
    run = GoldenModel(network).run(sdnn_input(network, steps), record_state=True)
    # lava-dl's test_pilotnet_sdnn: the Sigma layer's messages over len(net.layers) = 9 steps
    assert_equal(run.spikes[-1][0][:, :9].astype(np.int64), load(SDNN / "output.npy", 9), "output.npy")
    assert_equal(run.spikes[0][0].astype(np.int64), load(SDNN / "act0.npy", steps), "act0.npy")
    for layer in (1, 2):
        assert_equal(run.state[layer]["sigma"][0].astype(np.int64), load(SDNN / f"sigma{layer}.npy", steps),
                     f"sigma{layer}.npy")


def test_pilotnet_sdnn_square_network_matches_loihi2_hardware():
    """test_hdf5_nx.py skips the input layer and sends act0[:33, :33] into conv 1's
    synapse. The golden model feeds a network's input into layer 0's synapse as
    binary, so the input layer stays and gets the values whose Delta messages are
    exactly act0[:33, :33] (asserted first): conv 1 then receives the same graded
    messages at the same steps."""
    network = read_netx(SDNN / "square_network.net")
    assert network.kinds == ["input"] + ["conv"] * 4
    steps = 20
    run = GoldenModel(network).run(sdnn_input(network, steps, crop=33), record_state=True)
    act0 = np.load(SDNN / "act0.npy")[:33, :33].astype(np.int64).reshape(-1, steps)
    assert_equal(run.spikes[0][0].astype(np.int64), act0, "act0[:33, :33]")
    for layer in range(1, 5):
        assert_equal(run.state[layer]["sigma"][0].astype(np.int64), load(SDNN / f"sigma{layer}_square.npy", steps),
                     f"sigma{layer}_square.npy")


@pytest.mark.slow
@pytest.mark.lava
def test_pilotnet_sdnn_golden_equals_lava():
    """One step of input.npy (9 columns with the drain): every message of the 9 layers."""
    network = read_netx(SDNN / "network.net")
    stimulus = Stimulus(sdnn_input(network, 1), None, 1)
    lava = assert_golden_equals_lava(network, stimulus)
    np.testing.assert_array_equal(lava[0][:, 0], load(SDNN / "act0.npy", 20)[:, 0])


# ------------------------------------------------------------------ ntidigits


def ntidigits_network():
    network = read_netx(NTIDIGITS / "ntidigits.net", num_layers=5)
    assert network.kinds == ["dense"] * 3 and network.input_shape == (64,) and not network.starts_with_input
    assert network.layers[0].delay is not None and network.layers[0].delay.any()
    return network


def test_ntidigits_output_is_the_last_layer_one_step_later():
    network = ntidigits_network()
    spikes = np.load(NTIDIGITS / "input.npy")
    steps = spikes.shape[1]
    assert steps == 3000 and spikes.any()
    run = GoldenModel(network).run(spikes[None].astype(np.uint8))
    output = run.spikes[-1][0].astype(np.int64)
    reference = np.load(NTIDIGITS / "output.npy").astype(np.int64)
    assert not reference[:, 0].any()
    assert_equal(output[:, :-1], reference[:, 1:], "output.npy[:, 1:]")
    assert not output[:, -1].any(), "the run's last column has no reference; it is silent"


@pytest.mark.lava
def test_ntidigits_golden_equals_lava_and_lava_gives_output_npy():
    network = ntidigits_network()
    steps = 100
    spikes = np.load(NTIDIGITS / "input.npy")[None, :, :steps].astype(np.uint8)
    lava = assert_golden_equals_lava(network, Stimulus(spikes, None, steps))
    reference = np.load(NTIDIGITS / "output.npy").astype(np.int64)[:, 1 : steps + 1]
    assert_equal(lava[2][:, :steps].astype(np.int64), reference, "Lava vs output.npy[:, 1:101]")


# ------------------------------------------------------------------ pilotnet LIF


LIF_REFERENCES = ["conv-0", "conv-1", "conv-2", "conv-3", "conv-4", "fc-0", "fc-1", "fc-2"]  # layers 1..8


def lif_bias(network) -> np.ndarray:
    image = np.load(LIF / "image.npy").astype(np.int64)
    assert image.shape == network.input_shape
    return image.reshape(1, -1)


def test_pilotnet_lif_spikes_u_and_v_of_every_layer():
    """The references (24 steps) restart each layer at column 17 + l (l: its index, the
    input layer 0), as a reset interval of 17 does; lava-dl's hardware test runs netx with
    reset_interval=16 and reads one column, 14, before any second reset. So: with
    reset_interval=16 (netx's, as Lava runs it) the columns before the second reset,
    [0, 16 + l), and with reset_interval=17 all 24 columns.

    v: the reference holds 128 wherever the layer spiked (Lava's v is 0 there, after the
    reset), so v is compared where the reference did not spike. fc-3 (layer 9, threshold
    131071 << 6: never spikes) is left out: its u reference is not W @ fc-2.npy's spikes
    at any shift (it holds -5376 at step 11, no such sum exists), so it does not come
    from the same run as the others."""
    network = read_netx(LIF / "network.net")
    assert network.kinds == ["input"] + ["conv"] * 5 + ["dense"] * 4
    steps = 24
    bias = lif_bias(network)
    netx16 = GoldenModel(network).run(None, bias=bias, steps=steps, reset_interval=16, record_state=True)
    every17 = GoldenModel(network).run(None, bias=bias, steps=steps, reset_interval=17, record_state=True)
    spikes_in = load(LIF / "input.npy", steps)
    assert_equal(netx16.spikes[0][0][:, :16].astype(np.int64), spikes_in[:, :16], "input.npy, netx reset 16")
    assert_equal(every17.spikes[0][0].astype(np.int64), spikes_in, "input.npy")
    for layer, name in enumerate(LIF_REFERENCES, start=1):
        spikes = load(LIF / f"{name}.npy", steps)
        u = load(LIF / f"{name}-u.npy", steps)
        v = load(LIF / f"{name}-v.npy", steps)
        window = 16 + layer
        assert_equal(netx16.spikes[layer][0][:, :window].astype(np.int64), spikes[:, :window], f"{name}, reset 16")
        assert_equal(netx16.state[layer]["u"][0][:, :window].astype(np.int64), u[:, :window], f"{name}-u, reset 16")
        assert_equal(every17.spikes[layer][0].astype(np.int64), spikes, f"{name}.npy")
        assert_equal(every17.state[layer]["u"][0].astype(np.int64), u, f"{name}-u.npy")
        fired = spikes != 0
        assert np.all(v[fired] == 128)
        assert_equal(np.where(fired, 0, every17.state[layer]["v"][0]).astype(np.int64), np.where(fired, 0, v),
                     f"{name}-v.npy where it did not spike")


@pytest.mark.slow
@pytest.mark.lava
def test_pilotnet_lif_golden_equals_lava():
    """Three steps of image.npy as the input layer's bias (12 columns): every spike of
    the 10 layers; the last (threshold 131071 << 6) never spikes."""
    network = read_netx(LIF / "network.net")
    assert_golden_equals_lava(network, Stimulus(None, lif_bias(network), 3), silent=(9,))


# ------------------------------------------------------------------ blocks written as NetX files


def test_tinynet_sdnn_blocks(tmp_path):
    """test_blocks.py TestSDNBlocks. Input: a Delta block, vth 20, fed
    int(input_bias * sin(2 pi t / 15)) into a_in for 15 steps -> input.npy. Conv:
    SigmaDelta, vth 20, stride 2, binary input.npy; lava-dl runs it 1 step, so only
    layer1.npy's step 0 is meaningful (steps 1..15 are unrun: zero), and that step
    shows the bias alone (the synapse delivers one step later): 144 = 36 positions x
    the 4 channels whose bias exceeds 20. Dense: Sigma, binary layer1.npy for 16 steps
    -> layer2.npy."""
    bias_image = np.load(GTS / "tinynet_sdnn" / "input_bias.npy")
    steps = 15
    wave = np.sin(2 * np.pi * np.arange(steps) / steps)
    values = (np.repeat(bias_image[..., None], steps, axis=3) * wave).astype(int)
    spikes_in = np.load(GTS / "tinynet_sdnn" / "input.npy").astype(np.int64)

    def network_of(path: Path, layer, input_shape=None):
        write_netx(path, [layer])
        return read_netx(path, input_shape=input_shape)

    network = network_of(tmp_path / "input.net", InputLayer(shape=(3, 16, 16), neuron=SigmaDeltaNeuron("delta", 20)))
    assert network.input_shape == bias_image.shape
    run = GoldenModel(network).run(values.reshape(1, -1, steps))
    assert assert_equal(run.spikes[0][0].astype(np.int64), spikes_in.reshape(-1, steps), "input.npy") == 1373

    kernel = np.load(GTS / "tinynet_sdnn" / "layer1_kernel.npy")  # Lava [out, kW, kH, in]
    conv_bias = np.load(GTS / "tinynet_sdnn" / "layer1_bias.npy")
    conv = ConvLayer(np.ascontiguousarray(kernel[:, ::-1, ::-1, :].transpose(0, 3, 2, 1)),
                     SigmaDeltaNeuron("sigma_delta", 20), shape=(24, 6, 6), stride=(2, 2), bias=conv_bias)
    network = network_of(tmp_path / "conv.net", conv, input_shape=(3, 16, 16))
    flat_in = spikes_in.reshape(-1, steps)
    run = GoldenModel(network).run(np.concatenate([flat_in, flat_in[:, :1]], axis=1)[None])
    layer1 = load(GTS / "tinynet_sdnn" / "layer1.npy", 16)
    assert not layer1[:, 1:].any()
    assert assert_equal(run.spikes[0][0][:, :1].astype(np.int64), layer1[:, :1], "layer1.npy step 0") == 36 * int(
        np.sum(conv_bias > 20))

    network = network_of(tmp_path / "dense.net",
                         DenseLayer(np.load(GTS / "tinynet_sdnn" / "layer2_weight.npy"), SigmaDeltaNeuron("sigma")))
    run = GoldenModel(network).run(layer1[None])
    assert_equal(run.spikes[0][0].astype(np.int64), load(GTS / "tinynet_sdnn" / "layer2.npy", 16), "layer2.npy")


def test_complex_dense_rf_block(tmp_path):
    """test_blocks.py TestRFBlocks.test_dense: ComplexDense, RF, vth 25, period 11,
    alpha 0.05, binary in.npy for 2000 steps -> out.npy. A NetX file stores the
    (sinDecay, cosDecay) integers, which netx turns into a period and alpha that Lava
    turns back with truncation (``rf.decays``): the file takes a pair that comes back
    as the block's int32(0.95 sin(2 pi / 11) 4096), int32(0.95 cos(2 pi / 11) 4096).

    current.npy (ComplexInput, RF_IZ, vth 1.1, period 7) has no NetX form: vThMant is
    an integer, and netx cannot build an RF input layer (RF neurons have no a_in)."""
    target = (int(np.int32(0.95 * np.sin(2 * np.pi / 11) * 4096)), int(np.int32(0.95 * np.cos(2 * np.pi / 11) * 4096)))
    pairs = [(s, c) for s in range(target[0] - 4, target[0] + 5) for c in range(target[1] - 4, target[1] + 5)
             if decays(s, c) == target]
    assert pairs, f"no file decays give Lava's {target}"
    sin_decay, cos_decay = pairs[0]
    folder = GTS / "complex_dense"
    layer = DenseLayer(np.load(folder / "weight_r.npy").astype(np.int64),
                       ResonateFireNeuron("RF", "RF_PHASE", sin_decay, cos_decay, 25),
                       weight_imag=np.load(folder / "weight_img.npy").astype(np.int64))
    write_netx(tmp_path / "rf.net", [layer])
    network = read_netx(tmp_path / "rf.net")
    spikes = np.load(folder / "in.npy")
    run = GoldenModel(network).run(spikes[None].astype(np.uint8))
    assert assert_equal(run.spikes[0][0].astype(np.int64), load(folder / "out.npy", 2000), "out.npy") == 41512


def test_cuba_dense_and_tinynet_blocks(tmp_path):
    """test_blocks.py TestLIFBlocks. Lava's LIF du = netx's iDecay - 1, so du 4095 is
    iDecay 4096. Dense: vth 6, dv 415, binary in.npy for 2000 steps -> out.npy and
    current.npy (u / 64). tinynet input: bias input_bias.npy, vth 25, dv 1024, 15 steps
    -> input.npy (T, C, H, W layout, one step late). tinynet conv: stride 2, bias, that
    input for 16 steps; lava-dl zeroes u and v after step 0 (the golden model's reset
    when the input first arrives, column 1) and drops the spikes of step 0
    -> layer1.npy (steps 1..15) and current.npy (u / 64, all 16)."""
    dense = DenseLayer(np.load(GTS / "dense" / "weight.npy"), CubaNeuron(v_th_mant=6, i_decay=4096, v_decay=415))
    write_netx(tmp_path / "dense.net", [dense])
    spikes = np.load(GTS / "dense" / "in.npy")
    run = GoldenModel(read_netx(tmp_path / "dense.net")).run(spikes[None].astype(np.uint8), record_state=True)
    assert_equal(run.spikes[0][0].astype(np.int64), load(GTS / "dense" / "out.npy", 2000), "dense out.npy")
    assert_equal(run.state[0]["u"][0].astype(np.int64), load(GTS / "dense" / "current.npy", 2000) * 64,
                 "dense current.npy")

    tiny = GTS / "tinynet"
    neuron = CubaNeuron(v_th_mant=25, i_decay=4096, v_decay=1024)
    write_netx(tmp_path / "input.net", [InputLayer(shape=(3, 16, 16), neuron=neuron)])
    image = np.load(tiny / "input_bias.npy").astype(np.int64)
    run = GoldenModel(read_netx(tmp_path / "input.net")).run(None, bias=image.reshape(1, -1), steps=15)
    spikes_in = np.load(tiny / "input.npy")[0].transpose(2, 1, 0, 3)[..., 1:].astype(np.int64).reshape(-1, 15)
    assert_equal(run.spikes[0][0].astype(np.int64), spikes_in, "tinynet input.npy")

    kernel = np.load(tiny / "layer1_kernel.npy")
    conv = ConvLayer(np.ascontiguousarray(kernel[:, ::-1, ::-1, :].transpose(0, 3, 2, 1)), neuron, shape=(24, 6, 6),
                     stride=(2, 2), bias=np.load(tiny / "layer1_bias.npy"))
    write_netx(tmp_path / "conv.net", [conv])
    network = read_netx(tmp_path / "conv.net", input_shape=(3, 16, 16))
    feed = np.concatenate([spikes_in, np.zeros_like(spikes_in[:, :1])], axis=1)
    run = GoldenModel(network).run(feed[None].astype(np.uint8), record_state=True)
    layer1 = np.load(tiny / "layer1.npy")[0].transpose(2, 1, 0, 3).astype(np.int64).reshape(-1, 16)
    current = np.load(tiny / "current.npy")[0].transpose(2, 1, 0, 3).astype(np.int64).reshape(-1, 16) * 64
    assert_equal(run.spikes[0][0][:, 1:].astype(np.int64), layer1[:, 1:], "tinynet layer1.npy steps 1..15")
    assert_equal(run.state[0]["u"][0].astype(np.int64), current, "tinynet current.npy")


# ------------------------------------------------------------------ the command line on these files


@pytest.mark.slow
@pytest.mark.lava
@pytest.mark.parametrize("net, inspect_options, verify_options", [
    # inspect reads the whole file (ntidigits: up to layer/5, an 'average' netx cannot
    # load); verify only the first layers (netx's num_layers) to keep Lava short (the
    # whole networks are compared with Lava above): pilotnet_sdnn's input and conv 1,
    # pilotnet_lif's input layer driven by image.npy through --bias
    (SDNN / "network.net", [], ["--random-rate", "0.3", "--steps", "2", "--num-layers", "2"]),
    (LIF / "network.net", [], ["--bias", str(LIF / "image.npy"), "--steps", "3", "--num-layers", "1"]),
    (NTIDIGITS / "ntidigits.net", ["--num-layers", "5"],
     ["--spikes", str(NTIDIGITS / "input.npy"), "--steps", "50", "--num-layers", "5"]),
], ids=["pilotnet_sdnn", "pilotnet_lif", "ntidigits"])
def test_cli_inspect_and_verify(net, inspect_options, verify_options, tmp_path):
    assert main(["inspect", str(net), *inspect_options]) == 0
    out = tmp_path / "verify.json"
    code = main(["verify", str(net), *verify_options, "--json", str(out)])
    result = json.loads(out.read_text())
    assert code in (0, 3) and result["equivalent"]
    assert code == (3 if result["silent_layers"] else 0)
    assert result["compared_entries"] > 0
    assert sum(layer["spikes_golden"] for layer in result["layers"]) > 0


def test_cli_inspect_square_network_and_ntidigits_without_num_layers():
    assert main(["inspect", str(SDNN / "square_network.net")]) == 0
    assert main(["inspect", str(NTIDIGITS / "ntidigits.net")]) == 2  # layer/5 'average': netx cannot load it
