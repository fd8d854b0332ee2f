"""Small NetX networks written for tests: every layer type and option the golden model runs."""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import torch

from neurodeploy.network.netx import ConvLayer, CubaNeuron, DenseLayer, InputLayer, Network, read_netx, write_netx
from neurodeploy.recipe import ConvSettings, ModelSettings
from neurodeploy.reference import fixtures_dir
from neurodeploy.train.model import SpikingNet, build_model

FIXTURES = fixtures_dir()


def weights(rng: np.random.Generator, shape: tuple[int, ...], density: float = 0.6, scale: int = 40) -> np.ndarray:
    """Even integers in [-2 scale, 2 scale], about ``density`` of them nonzero."""
    w = rng.integers(-scale, scale + 1, size=shape) * 2
    return np.where(rng.random(shape) < density, w, 0).astype(np.int64)


def conv_network(path: Path, seed: int = 0) -> Network:
    """input 2x7x7 -> conv 4x4x4 (stride 2, pad 1) -> conv 6x4x4 (dilation 2, pad 2, groups 2)
    -> flatten -> dense 12 (bias, axonal delays 0..3) -> dense 5."""
    rng = np.random.default_rng(seed)
    leaky = CubaNeuron(v_th_mant=40, i_decay=1024, v_decay=512)
    layers = [
        InputLayer(shape=(2, 7, 7), neuron=CubaNeuron(v_th_mant=20, i_decay=4096, v_decay=1024)),
        ConvLayer(weights(rng, (4, 2, 3, 3)), leaky, shape=(4, 4, 4), stride=(2, 2), padding=(1, 1)),
        ConvLayer(weights(rng, (6, 2, 3, 3)), leaky, shape=(6, 4, 4), padding=(2, 2), dilation=(2, 2), groups=2,
                  bias=rng.integers(-4, 8, size=6)),
        DenseLayer(weights(rng, (12, 96), density=0.4), leaky, bias=rng.integers(-2, 6, size=12),
                   delay=np.repeat(rng.integers(0, 4, size=(12, 1)), 96, axis=1), flatten_input=True),
        DenseLayer(weights(rng, (5, 12), density=0.8, scale=60), CubaNeuron(v_th_mant=30, i_decay=2048, v_decay=256)),
    ]
    write_netx(path, layers)
    return read_netx(path)


def dense_network(path: Path, seed: int = 0, delays: bool = False) -> Network:
    """dense 30 -> 20 (optionally per-synapse delays 0..5) -> 8, with small odd weights in
    the last layer, and in the first when it has delays, so that netx rescales them
    (a negative weight exponent: Lava floors each delay's shifted sum on its own)."""
    rng = np.random.default_rng(seed)
    neuron = CubaNeuron(v_th_mant=30, i_decay=1024, v_decay=512)
    first = weights(rng, (20, 30), density=0.5)
    if delays:
        first = np.where(first != 0, rng.integers(-15, 16, size=first.shape) | 1, 0)
        neuron = CubaNeuron(v_th_mant=3, i_decay=1024, v_decay=512)
    layers = [
        DenseLayer(first, neuron, delay=rng.integers(0, 6, size=first.shape) if delays else None),
        DenseLayer(np.where(rng.random((8, 20)) < 0.7, rng.integers(-7, 8, size=(8, 20)), 0),
                   CubaNeuron(v_th_mant=4, i_decay=512, v_decay=128)),
    ]
    write_netx(path, layers)
    return read_netx(path)


# the neuron of models/digits_mlp.yaml: vThMant 80, iDecay 1024, vDecay 123
SLAYER_NEURON = {"threshold": 1.25, "current_decay": 0.25, "voltage_decay": 0.03,
                 "tau_grad": 0.03, "scale_grad": 3.0, "requires_grad": False}


def slayer_conv_net(seed: int = 0, first_stride: int = 1, weight_scale: tuple[float, ...] = (3, 2, 2)) -> SpikingNet:
    """The project's model for a 1x8x8 image: Conv(1->4, k3, stride s, pad 1), Conv(4->8, k3,
    stride 2, pad 1), Flatten, Dense(8*H*W -> 10), with the neuron of models/digits_mlp.yaml
    and each layer's initial weights scaled by ``weight_scale`` so that every layer spikes."""
    torch.manual_seed(seed)
    settings = ModelSettings(
        conv=(ConvSettings(channels=4, kernel=3, stride=first_stride, padding=1),
              ConvSettings(channels=8, kernel=3, stride=2, padding=1)),
        hidden=(),
    )
    model = build_model((1, 8, 8), 10, settings)
    with torch.no_grad():
        for block, scale in zip(model.neuron_blocks, weight_scale):
            block.synapse.weight.mul_(scale)
    return model


def assert_same_file_as_lava_dl(model: torch.nn.Module, ours: Path, theirs: Path) -> list[bytes]:
    """Write ``theirs`` with lava-dl's own ``export_hdf5`` of every block of ``model`` and
    check that ``ours`` holds the same groups, keys and values; returns the layer types."""
    with h5py.File(theirs, "w") as handle:
        group = handle.create_group("layer")
        for i, block in enumerate(model.blocks):
            block.export_hdf5(group.create_group(str(i)))
    with h5py.File(ours) as a_file, h5py.File(theirs) as b_file:
        assert sorted(a_file["layer"]) == sorted(b_file["layer"]) == [str(i) for i in range(len(model.blocks))]
        for i in range(len(model.blocks)):
            a, b = a_file[f"layer/{i}"], b_file[f"layer/{i}"]
            keys, other = set(), set()
            a.visit(keys.add)
            b.visit(other.add)
            assert keys == other, i
            for key in keys:
                if isinstance(a[key], h5py.Dataset):
                    np.testing.assert_array_equal(np.asarray(a[key][()]), np.asarray(b[key][()]), err_msg=f"{i}/{key}")
        return [a_file[f"layer/{i}/type"][0] for i in range(len(model.blocks))]
