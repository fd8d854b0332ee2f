"""How an exported network is measured, written once: export, read, reorder, golden model,
classify. ``run`` (the simulate stage), ``sweep`` and ``supermask`` all go through it, so
the golden model always sees the test set in Lava's neuron order.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch

from neurodeploy.export.quantize import export_model
from neurodeploy.loihi.timing import drain
from neurodeploy.netx import Network, read_netx
from neurodeploy.simulate.golden import GoldenModel, GoldenRun
from neurodeploy.simulate.stimulus import Stimulus
from neurodeploy.train.model import classify


@dataclass(frozen=True)
class Measurement:
    """An exported network on a set of samples.

    network: the file as read; stimulus: the samples in Lava's neuron order
    ([N, n_in, T] spikes); run: the golden model on every sample alone for
    T + drain steps (messages [N, n_l, T + drain] per layer); predictions:
    int64 [N], ``classify`` of the output over the first T steps.
    """

    network: Network
    stimulus: Stimulus
    run: GoldenRun
    predictions: np.ndarray

    def inputs(self) -> np.ndarray:
        """The samples as the golden model ran them: [N, n_in, T + drain], silent after T."""
        return self.stimulus.batch_spikes(drain(len(self.network.layers), self.network.starts_with_input))

    def accuracy(self, labels: np.ndarray) -> float:
        """Fraction of samples whose prediction is ``labels`` ([N])."""
        return float((self.predictions == labels).mean())


def measure_file(path: Path, input_shape: tuple[int, ...] | None, x: np.ndarray, steps: int,
                 sparse: bool = False, output_lag: int = 0) -> Measurement:
    """Read the NetX file ``path`` (``input_shape``: NetX (C, H, W) of its input, needed for a
    strided conv layer 0), put the samples x [N, C*H*W, T] (a trained model's (C, H, W)
    order, as the chip takes them: uint8 spikes or int32 a_in, ``SpikingNet.chip_input``)
    into Lava's order and run each alone in the golden model (``sparse``: as Lava's
    Sparse synapses run it). ``output_lag``: the columns the output runs behind SLAYER's
    (``SpikingNet.output_lag``), where classification starts."""
    network = read_netx(path, input_shape=input_shape)
    stimulus = Stimulus(network.to_lava_order(x), None, steps)
    run = GoldenModel(network, sparse=sparse).run_samples(stimulus)
    return Measurement(network, stimulus, run, classify(run.spikes[-1], steps, output_lag))


def measure_model(model: torch.nn.Module, path: Path, x: np.ndarray, steps: int,
                  removed: Mapping[str, Sequence[int]] | None = None) -> Measurement:
    """Export ``model`` (a SLAYER network with ``input_shape``; without the units
    ``removed``, as a structured pruning recorded them) to ``path`` and measure the file
    (``measure_file``) on the dataset's x [N, C*H*W, T]. A model trained on another
    device is moved to the CPU first (in place): export and the golden model run there."""
    model.cpu()
    export_model(model, path, removed=removed)
    return measure_file(path, model.input_shape, model.chip_input(x), steps, output_lag=model.output_lag)
