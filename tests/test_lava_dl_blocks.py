"""Networks written by lava-dl's own blocks and ``export_hdf5``, read here and run in the
golden model and in Lava: sigma-delta (Input, Conv, Dense with a batch-norm bias, Output),
CUBA conv and dense with axonal delays, and ``cuba.Recurrent``. Every message of every
layer at every step is compared, values included, and every layer must send some."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from neurodeploy.compare.equivalence import compare_recordings
from neurodeploy.lavacompat import slayer
from neurodeploy.netx import Network, read_netx
from neurodeploy.simulate.golden import GoldenModel
from neurodeploy.simulate.harness import run_lava
from neurodeploy.simulate.stimulus import Stimulus

pytestmark = pytest.mark.lava

STEPS = 16
CUBA = {"threshold": 0.5, "current_decay": 0.25, "voltage_decay": 0.1, "tau_grad": 0.1, "scale_grad": 1,
        "requires_grad": False}
SDNN = {"threshold": 0.05, "tau_grad": 0.5, "scale_grad": 1, "requires_grad": False, "shared_param": True,
        "activation": F.relu}


def exported(blocks: torch.nn.ModuleList, x: torch.Tensor, path: Path, delays: bool = False) -> Path:
    """Run ``blocks`` once on ``x`` (lava-dl sets shapes on the first pass), give every
    delayed block random delays 0..3, and write the file with lava-dl's ``export_hdf5``."""
    with torch.no_grad():
        for block in blocks:
            x = block(x)
        for block in blocks:
            if delays and getattr(block, "delay", None) is not None:
                block.delay.delay.data = torch.randint(0, 4, block.delay.delay.shape).float()
    with h5py.File(path, "w") as handle:
        group = handle.create_group("layer")
        for index, block in enumerate(blocks):
            block.export_hdf5(group.create_group(str(index)))
    return path


def assert_golden_equals_lava(network: Network, inputs: np.ndarray) -> dict[int, np.ndarray]:
    """Every layer's messages (values, not just events) in a stream of the samples, golden
    against Lava; every layer sends something. inputs: [N, n_in, T], Lava order."""
    stimulus = Stimulus(inputs, None, inputs.shape[-1])
    golden = {i: s[0] for i, s in enumerate(GoldenModel(network).run_stream(stimulus).spikes)}
    lava = run_lava(network, stimulus).spikes
    result = compare_recordings(golden, lava)
    assert set(lava) == set(golden) == set(range(len(network.layers)))
    assert result.compared == sum(s.size for s in golden.values())
    assert result.equivalent, f"mismatches {result.mismatches}, first {result.first}"
    assert all(np.count_nonzero(s) > 0 for s in lava.values()), \
        f"every layer must send for the test to mean something: {[np.count_nonzero(s) for s in lava.values()]}"
    return golden


def lava_order(x: torch.Tensor) -> np.ndarray:
    """[N, C, H, W, T] SLAYER image to [N, W*H*C, T] in Lava's neuron order."""
    n, c, h, w, t = x.shape
    return x.numpy().transpose(0, 3, 2, 1, 4).reshape(n, w * h * c, t)


def test_sigma_delta_input_conv_dense_output(tmp_path: Path) -> None:
    torch.manual_seed(0)
    normed = {**SDNN, "norm": slayer.neuron.norm.MeanOnlyBatchNorm}
    blocks = torch.nn.ModuleList([
        slayer.block.sigma_delta.Input(SDNN),
        slayer.block.sigma_delta.Conv(SDNN, 2, 4, 3, stride=2, padding=1, weight_scale=2),
        slayer.block.sigma_delta.Conv(SDNN, 4, 6, 3, padding=1, weight_scale=2),
        slayer.block.sigma_delta.Flatten(),
        slayer.block.sigma_delta.Dense(normed, 6 * 4 * 4, 12, weight_scale=2),
        slayer.block.sigma_delta.Output(SDNN, 12, 5, weight_scale=2),
    ])
    blocks[4].neuron.norm.running_mean.data = -torch.rand(12) * 0.5  # a bias of up to +0.5
    x = torch.rand(2, 2, 8, 8, STEPS) * 2
    network = read_netx(exported(blocks, x, tmp_path / "sdnn.net"))
    assert network.kinds == ["input", "conv", "conv", "dense", "dense"]
    roles = [layer.neuron.role for layer in network.layers]
    assert roles == ["delta", "sigma_delta", "sigma_delta", "sigma_delta", "sigma"]
    assert network.layers[3].bias is not None and np.any(network.layers[3].bias)
    # graded values into the Delta input layer's a_in, as lava-dl's PilotNet SDNN test feeds it
    inputs = np.round(lava_order(x) * 64).astype(np.int32)
    golden = assert_golden_equals_lava(network, inputs)
    assert np.abs(golden[4]).max() > 1 << 8, "the Sigma output carries values, not 0/1"


def test_cuba_conv_and_dense_with_delays(tmp_path: Path) -> None:
    torch.manual_seed(1)
    blocks = torch.nn.ModuleList([
        slayer.block.cuba.Conv(CUBA, 2, 4, 3, stride=2, padding=1, weight_scale=3, delay=True),
        slayer.block.cuba.Flatten(),
        slayer.block.cuba.Dense(CUBA, 4 * 4 * 4, 12, weight_scale=3, delay=True),
        slayer.block.cuba.Dense(CUBA, 12, 5, weight_scale=3),
    ])
    x = (torch.rand(2, 2, 8, 8, STEPS) < 0.3).float()
    path = exported(blocks, x, tmp_path / "delays.net", delays=True)
    network = read_netx(path, input_shape=(2, 8, 8))
    with h5py.File(path) as handle:
        conv_delay, dense_delay = handle["layer/0/delay"][()], handle["layer/2/delay"][()]
    assert conv_delay.max() > 0 and dense_delay.max() > 0
    # netx ignores a conv layer's delay (warned) and honours a dense layer's, one per output
    assert list(network.warnings) == [f"{path}: layer/0: key 'delay' (up to {int(conv_delay.max())} steps) is "
                                      "ignored: netx builds a conv layer without delays, and so does this reader"]
    np.testing.assert_array_equal(network.layers[1].delay, np.repeat(dense_delay[:, None], 64, axis=1))
    assert_golden_equals_lava(network, lava_order(x).astype(np.uint8))


def test_cuba_recurrent(tmp_path: Path) -> None:
    torch.manual_seed(2)
    blocks = torch.nn.ModuleList([
        slayer.block.cuba.Dense(CUBA, 20, 16, weight_scale=3),
        slayer.block.cuba.Recurrent(CUBA, 16, 16, weight_scale=3),
        slayer.block.cuba.Dense(CUBA, 16, 6, weight_scale=3),
    ])
    x = (torch.rand(2, 20, STEPS) < 0.3).float()
    network = read_netx(exported(blocks, x, tmp_path / "rec.net"))
    assert network.kinds == ["dense", "dense_rec", "dense"]
    assert np.count_nonzero(network.layers[1].weight_rec) > 0
    golden = assert_golden_equals_lava(network, x.numpy().astype(np.uint8))
    # the recurrent path matters: without it layer 1 sends something else
    layers = list(network.layers)
    layers[1] = replace(layers[1], weight_rec=np.zeros_like(layers[1].weight_rec))
    plain = Network(tuple(layers))
    alone = GoldenModel(plain).run_stream(Stimulus(x.numpy().astype(np.uint8), None, STEPS)).spikes[1][0]
    assert not np.array_equal(alone, golden[1])
