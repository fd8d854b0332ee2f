"""NetX networks written for tests: every layer type and option the golden model runs, and random networks of every kind."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import torch

from neurodeploy.loihi.geometry import conv_output_size
from neurodeploy.netx import (
    ConvLayer, CubaNeuron, DenseLayer, InputLayer, Network, RecurrentDenseLayer, ResonateFireNeuron,
    SigmaDeltaNeuron, read_netx, write_netx,
)
from neurodeploy.recipe import ConvSettings, ModelSettings
from neurodeploy.reference import fixtures_dir
from neurodeploy.simulate.golden import GoldenModel
from neurodeploy.simulate.stimulus import Stimulus
from neurodeploy.train.model import SpikingNet, build_model

FIXTURES = fixtures_dir()
RANDOM_STEPS = 12
RANDOM_SAMPLES = 2


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


def sdnn_case(folder: Path) -> tuple[Path, Path]:
    """A small sigma-delta network and its input in ``folder``: ``sdnn.net`` (an input layer,
    Delta, 2x6x6; a conv, SigmaDelta, 4x6x6; a dense Sigma output of 5) and ``values.npy``,
    graded values into the input layer's a_in, 2 samples of 8 steps."""
    rng = np.random.default_rng(3)
    path, values = folder / "sdnn.net", folder / "values.npy"
    write_netx(path, [
        InputLayer(shape=(2, 6, 6), neuron=SigmaDeltaNeuron("delta", 3)),
        ConvLayer(weights(rng, (4, 2, 3, 3)), SigmaDeltaNeuron("sigma_delta", 4), shape=(4, 6, 6), padding=(1, 1)),
        DenseLayer(weights(rng, (5, 144), density=0.5), SigmaDeltaNeuron("sigma"), flatten_input=True),
    ])
    np.save(values, rng.integers(-60, 120, size=(2, 72, 8)).astype(np.int32))
    return path, values


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


# ------------------------------------------------------------ random networks of every kind


def _weights(rng: np.random.Generator, shape: tuple[int, ...], gain: float) -> np.ndarray:
    """Integers in [-256, 254] (even or odd, about 60 % nonzero), mostly positive with
    ``gain`` > 1 so that deep layers still receive input."""
    scale = int(min(254, 30 * gain))
    w = rng.integers(-scale // 2, scale + 1, size=shape)
    return np.where(rng.random(shape) < 0.6, w, 0).astype(np.int64)


def _neuron(rng: np.random.Generator, model: str) -> CubaNeuron | SigmaDeltaNeuron | ResonateFireNeuron:
    if model == "cuba":
        return CubaNeuron(v_th_mant=int(rng.integers(4, 80)), i_decay=int(rng.integers(0, 4097)),
                          v_decay=int(rng.integers(1, 4097)))
    if model == "sdnn":
        return SigmaDeltaNeuron("sigma_delta", v_th_mant=int(rng.integers(0, 12)))
    if model == "sigma":
        return SigmaDeltaNeuron("sigma")
    variant = str(rng.choice(["RF_PHASE", "RF_IZHIKEVICH"]))
    radius, angle = rng.uniform(3600, 4090), rng.uniform(0.2, 1.2)
    return ResonateFireNeuron("RF" if variant == "RF_PHASE" else "RF_IZ", variant, int(radius * np.sin(angle)),
                              int(radius * np.cos(angle)), v_th_mant=int(rng.integers(2, 30)))


def random_layers(seed: int, gain: float) -> tuple[list, tuple[int, ...] | None]:
    """The layers drawn by ``seed`` (weights scaled by ``gain``) and, for a conv layer 0,
    the network's input shape (C, H, W)."""
    rng = np.random.default_rng(seed)
    layers: list = []
    shape: tuple[int, ...] = (int(rng.integers(1, 3)), int(rng.integers(5, 9)), int(rng.integers(5, 9)))
    image = bool(rng.random() < 0.6)
    if not image:
        shape = (int(rng.integers(8, 30)),)
    input_shape = shape if image else None
    if rng.random() < 0.5:
        layers.append(InputLayer(shape, CubaNeuron(v_th_mant=int(rng.integers(2, 20)), i_decay=4096, v_decay=1024)
                                 if rng.random() < 0.5 else SigmaDeltaNeuron("delta", int(rng.integers(0, 4)))))
        input_shape = None
    count = int(rng.integers(1, 5))
    for position in range(count):
        last = position == count - 1
        kinds = ["dense", "dense_rec", "complex"] + (["conv", "conv"] if len(shape) == 3 else [])
        kind = str(rng.choice(kinds))
        model = "rf" if kind == "complex" else str(rng.choice(["cuba", "cuba", "sdnn"] + (["sigma"] if last else [])))
        neuron = _neuron(rng, model)
        with_bias = model in ("cuba", "sdnn") and rng.random() < 0.5
        if kind == "conv":
            channels = shape[0]
            groups = 2 if channels % 2 == 0 and rng.random() < 0.5 else 1
            out_channels = groups * int(rng.integers(1, 4))
            kernel, stride, padding = int(rng.integers(1, 4)), int(rng.integers(1, 3)), int(rng.integers(0, 2))
            height, width = (conv_output_size(size, kernel, stride, padding) for size in shape[1:])
            if min(height, width) < 1:
                kernel, stride, padding = 1, 1, 0
                height, width = shape[1:]
            out = (out_channels, height, width)
            layers.append(ConvLayer(_weights(rng, (out_channels, channels // groups, kernel, kernel), gain), neuron,
                                    shape=out, stride=(stride, stride), padding=(padding, padding), groups=groups,
                                    bias=rng.integers(-20, 60, size=out_channels) if with_bias else None))
            shape = out
            continue
        inputs, flatten = int(np.prod(shape)), len(shape) == 3
        size = int(rng.integers(4, 20))
        weight = _weights(rng, (size, inputs), gain)
        bias = rng.integers(-20, 60, size=size) if with_bias else None
        if kind == "complex":
            layers.append(DenseLayer(weight, neuron, flatten_input=flatten,
                                     weight_imag=_weights(rng, (size, inputs), gain)))
        elif kind == "dense_rec":
            layers.append(RecurrentDenseLayer(weight, neuron, bias=bias, flatten_input=flatten,
                                              weight_rec=_weights(rng, (size, size), gain / 2)))
        else:
            delay = rng.integers(0, 5, size=weight.shape) if rng.random() < 0.4 else None
            layers.append(DenseLayer(weight, neuron, bias=bias, delay=delay, flatten_input=flatten))
        shape = (size,)
    return layers, input_shape


def random_network(seed: int, folder: Path) -> tuple[Network, np.ndarray]:
    """A network drawn by ``seed`` in which every layer sends something in the golden
    model on its inputs (stronger weights until it does), read back from its file."""
    for attempt in range(12):
        gain = 1.0 + attempt
        layers, input_shape = random_layers(seed, gain)
        path = folder / f"random_{seed}.net"
        write_netx(path, layers)
        network = read_netx(path, input_shape=input_shape)
        rng = np.random.default_rng(seed + 1000)
        size = int(np.prod(network.input_shape))
        if network.starts_with_input:  # values into the input layer's a_in
            inputs = rng.integers(-40 * attempt - 20, 60 * attempt + 100, size=(RANDOM_SAMPLES, size, RANDOM_STEPS))
        else:  # spikes into the first synapse
            inputs = (rng.random((RANDOM_SAMPLES, size, RANDOM_STEPS)) < 0.4).astype(np.int64)
        run = GoldenModel(network).run_stream(Stimulus(inputs, None, RANDOM_STEPS))
        if all(np.count_nonzero(s) for s in run.spikes):
            return network, inputs
    raise AssertionError(f"seed {seed}: no draw where every layer sends something")


class OffByOneThreshold(GoldenModel):
    """A golden model with layer 1's threshold lowered by one mantissa step: a divergence
    from Lava to locate (``verify``'s tests put it in place of ``GoldenModel``)."""

    def __init__(self, network: Network, sparse: bool = False) -> None:
        layers = list(network.layers)
        layers[1] = replace(layers[1], neuron=replace(layers[1].neuron, v_th_mant=layers[1].neuron.v_th_mant - 1))
        super().__init__(replace(network, layers=tuple(layers)), sparse=sparse)
