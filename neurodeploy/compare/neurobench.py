"""NeuroBench's metrics (v2.3, ``neurobench.metrics``) of a deployed NetX network.

NeuroBench measures a torch model through hooks: its ``nn.Linear``/``nn.Conv*``
layers (connections) and its neuron layers (activations), one forward call per
time step. Here the same definitions are applied to the network as Lava runs
it: the NetX file's integer weights and the golden model's messages and state
of N samples, each [N, n_l, S] per layer, S = T + drain steps (every synapse
delivers one step later, so the response to T input steps takes S steps; a
torch twin that delays each synapse by one step, run on the same S columns,
makes the same calls; tests/test_neurobench.py runs NeuroBench's harness on
one).

Static (of the file):

- parameter_count = sum_l numel(W_l) + numel(b_l): every entry of every weight
  matrix (zeros, a recurrent and an imaginary one included), and a layer's
  bias, one per neuron, where it has one (NeuroBench: ``numel`` of the torch
  model's parameters).
- footprint (bytes) = sum over those arrays of numel x element size, each
  array held as the smallest of int8, int16, int32 that holds its values
  (NeuroBench: numel x ``element_size`` of the model's parameters and buffers,
  float32 in a trained torch model; the deployed weights are integers of 9
  bits at most). Neuron constants (threshold, decays) and state are not
  counted: on Loihi they are per-core settings and registers, not stored
  numbers of the network.
- connection_sparsity = sum_l zeros(W_l) / sum_l numel(W_l), weights only
  (NeuroBench rounds it to 4 decimals; this one is not rounded).

Workload (per sample, means over the N samples; m_l[b, i, s] the messages of
layer l, x the network's input, which drives layer 0's synapse):

- activation_sparsity = 1 - sum_l nnz(m_l) / sum_l numel(m_l), over every
  layer with neurons, step and sample (NeuroBench: over the outputs of every
  neuron layer at every forward call).
- synaptic_operations: each synapse (feedforward from the layer before or
  the input, recurrent from the layer itself) at each step s of sample b
  costs ops[b, s] = sum_i [p[b, i, s] != 0] F_i (p its presynaptic messages,
  F_i the nonzero weights of input i that reach a neuron:
  ``Layer.fan_out``); Effective_ACs sums the ops of the (b, s) whose
  messages are all in {-1, 0, 1} (spikes), Effective_MACs the others (graded
  values); Dense = S x the synapses of every matrix, zero weight or not
  (``Layer.connections``), what every input at every step would cost.
  NeuroBench decides AC or MAC per call over the whole batch tensor; here
  per sample, which is NeuroBench's with batch size 1, and with any batch
  size when a synapse's input is spikes or graded throughout.
- membrane_updates = sum_l [n_l + sum_{s >= 1} sum_i [u_l[b, i, s] != u_l[b, i, s - 1]]],
  u_l the layer's membrane (``NeuronModel.membrane_names``: CUBA ``v``,
  resonate-and-fire ``real`` and ``imag``, sigma-delta ``sigma``) after step
  s; NeuroBench counts every neuron at the first call and then each change
  of ``mem`` across a call. A layer without a membrane adds nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neurodeploy.netx import Network

SPIKE_VALUES = (-1, 0, 1)


@dataclass(frozen=True)
class NeuroBenchFigures:
    """NeuroBench's metrics under its names (module doc): parameter_count, footprint
    (bytes), connection_sparsity (zero fraction of the weights), activation_sparsity
    (zero fraction of the messages), membrane_updates per sample, and
    synaptic_operations per sample: ``Effective_MACs``, ``Effective_ACs``, ``Dense``."""

    parameter_count: int
    footprint: int
    connection_sparsity: float
    activation_sparsity: float
    membrane_updates: float
    synaptic_operations: dict[str, float]


def _element_size(values: np.ndarray) -> int:
    """Bytes of the smallest of int8, int16, int32 that holds every value of ``values``."""
    low, high = (int(values.min()), int(values.max())) if values.size else (0, 0)
    for dtype in (np.int8, np.int16, np.int32):
        info = np.iinfo(dtype)
        if info.min <= low and high <= info.max:
            return np.dtype(dtype).itemsize
    raise ValueError(f"values in [{low}, {high}] do not fit in int32")


def static_metrics(network: Network) -> dict[str, int | float]:
    """parameter_count, footprint (bytes) and connection_sparsity of ``network`` (module doc)."""
    weights = [w for layer in network.layers for w in layer.weights()]
    arrays = weights + [layer.bias for layer in network.layers if layer.bias is not None]
    total = sum(w.size for w in weights)
    zeros = sum(w.size - int(np.count_nonzero(w)) for w in weights)
    return {
        "parameter_count": int(sum(a.size for a in arrays)),
        "footprint": int(sum(a.size * _element_size(a) for a in arrays)),
        "connection_sparsity": zeros / total if total else 0.0,
    }


def step_synops(messages: np.ndarray, fan_out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Synaptic operations per sample and step, int64 [B, S] = sum_i [messages[b, i, s] != 0] fan_out[i],
    and bool [B, S]: the step's messages are all in {-1, 0, 1} (spikes: accumulates).
    messages: [B, n, S] (or [B, C, H, W, S] flattened alike); fan_out: [n]."""
    messages = np.asarray(messages)
    rows, steps = messages.shape[0], messages.shape[-1]
    flat = messages.reshape(rows, -1, steps)
    fan_out = np.asarray(fan_out, dtype=np.int64).reshape(-1)
    ops = np.stack([fan_out @ (sample != 0) for sample in flat]) if rows else np.zeros((0, steps), np.int64)
    binary = ~np.any(~np.isin(flat, SPIKE_VALUES), axis=1)
    return ops, binary


@dataclass
class NeuroBenchTally:
    """NeuroBench's workload metrics of one network, summed batch by batch (``add``), and
    all its metrics (``figures``)."""

    network: Network
    samples: int = 0
    messages: int = 0
    entries: int = 0
    accumulates: int = 0
    multiply_accumulates: int = 0
    dense: int = 0
    membrane: int = 0
    _dense_per_step: int = field(init=False)

    def __post_init__(self) -> None:
        self._dense_per_step = sum(int(c.structure.nnz) for i, layer in enumerate(self.network.layers)
                                   for c in layer.connections(self.network.previous(i)))

    def add(self, inputs: np.ndarray | None, spikes: list[np.ndarray], state: list[dict[str, np.ndarray]]) -> None:
        """Count a batch of B samples: inputs [B, n_in, S] into layer 0 (None when layer 0 is
        an input layer), spikes[l] [B, n_l, S] the messages of layer l, state[l] its state
        variables [B, n_l, S] (``GoldenRun.state``)."""
        rows, steps = spikes[0].shape[0], spikes[0].shape[-1]
        self.samples += rows
        self.messages += sum(int(np.count_nonzero(s)) for s in spikes)
        self.entries += sum(s.size for s in spikes)
        self.dense += rows * steps * self._dense_per_step
        for index, (layer, pre) in enumerate(zip(self.network.layers, [inputs, *spikes[:-1]])):
            fan = layer.fan_out(self.network.previous(index))
            pairs = [] if fan is None else [(pre, fan)]
            recurrent = layer.recurrent_fan_out()
            if recurrent is not None:
                pairs.append((spikes[index], recurrent))
            for messages, fan_out in pairs:
                ops, binary = step_synops(messages, fan_out)
                self.accumulates += int(ops[binary].sum())
                self.multiply_accumulates += int(ops[~binary].sum())
            names = layer.neuron.membrane_names
            if names:
                changed = np.zeros(state[index][names[0]][..., 1:].shape, dtype=bool)
                for name in names:
                    values = state[index][name]
                    changed |= values[..., 1:] != values[..., :-1]
                self.membrane += rows * layer.size + int(changed.sum())

    def figures(self) -> NeuroBenchFigures:
        """All of NeuroBench's metrics over the samples added (module doc)."""
        if not self.samples:
            raise ValueError("no samples were added")
        per_sample = self.samples
        return NeuroBenchFigures(
            **static_metrics(self.network),
            activation_sparsity=1.0 - self.messages / self.entries,
            membrane_updates=self.membrane / per_sample,
            synaptic_operations={"Effective_MACs": self.multiply_accumulates / per_sample,
                                 "Effective_ACs": self.accumulates / per_sample,
                                 "Dense": self.dense / per_sample},
        )
