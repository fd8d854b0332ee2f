"""Small NetX networks written for tests: every layer type and option the golden model runs."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from neurodeploy.network.netx import ConvLayer, CubaNeuron, DenseLayer, InputLayer, Network, read_netx, write_netx
from neurodeploy.reference import fixtures_dir

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
