"""The golden model: any supported NetX network, batched, bit-exact with Lava ``fixed_pt``.

It runs layer after layer: a layer's synaptic input for every step comes
from one matrix product (dense) or convolution (conv) in float64, exact for
integer sums below 2^53, and its neurons then advance step by step with
``fixed_point.cuba_step`` on the whole batch. Timing is Lava's
(``timing``): each synapse delivers one step later, plus its axonal delay;
an input layer adds no step. Spikes and state are held per layer as
[B, n, S] with n in Lava's flat neuron order (``network.netx``).

Each layer's u and v are zeroed at the columns where netx resets them
(``timing.reset_columns``), as ``harness.run_lava`` configures Lava. By
default the reset interval is the row length: each row is one sample and
each layer is reset once, when the sample reaches it, exactly one window
of a stream (a layer driven by a bias alone may spike before that; the
reset clears it, as in Lava).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from neurodeploy.network.netx import ConvLayer, DenseLayer, InputLayer, Layer, Network, read_netx, whc_to_chw
from neurodeploy.simulate.fixed_point import (
    BIAS_EXP,
    VTH_SHIFT,
    NeuronConstants,
    cuba_step,
    dense_weights,
    shift_accumulated,
    signed_wrap,
)
from neurodeploy.simulate.timing import arrival, reset_columns

CONV_ACCUMULATOR_BITS = 24


@dataclass(frozen=True)
class GoldenRun:
    """Per layer: spikes uint8 [B, n_l, S]; u and v int32 [B, n_l, S] when recorded.

    u and v are the values after each step, after a spiking neuron's v was
    reset, as Lava's ``neuron.u`` and ``neuron.v`` read after that step.
    """

    spikes: list[np.ndarray]
    u: list[np.ndarray] | None = None
    v: list[np.ndarray] | None = None


class _Dense:
    """Dense synapse: a[t + 1 + d] += (W_d @ s[t]) shifted by the weight exponent."""

    def __init__(self, layer: DenseLayer, previous: tuple[int, ...]) -> None:
        effective = dense_weights(layer.weight)
        self.exponent = effective.exponent
        delay = layer.delay if layer.delay is not None else np.zeros_like(layer.weight)
        self.groups = [
            (int(d), np.where(delay == d, effective.weight, 0).astype(np.float64))
            for d in np.unique(delay)
        ]
        self.perm = whc_to_chw(previous) if layer.flatten_input else None

    def __call__(self, pre: np.ndarray) -> np.ndarray:
        if self.perm is not None:
            pre = pre[:, self.perm, :]
        pre = pre.astype(np.float64)
        steps = pre.shape[-1]
        out = np.zeros((pre.shape[0], self.groups[0][1].shape[0], steps), dtype=np.int64)
        for d, weight in self.groups:
            lag = 1 + d
            if lag >= steps:
                continue
            total = np.rint(np.matmul(weight, pre[:, :, : steps - lag])).astype(np.int64)
            out[:, :, lag:] += shift_accumulated(total, self.exponent)
        return out


class _Conv:
    """Conv synapse: a[t + 1] = wrap24(conv2d(s[t], W)), PyTorch conv2d semantics."""

    def __init__(self, layer: ConvLayer, previous: tuple[int, int, int]) -> None:
        self.layer = layer
        self.previous = previous
        self.weight = torch.from_numpy(layer.weight.astype(np.float64))

    def __call__(self, pre: np.ndarray) -> np.ndarray:
        batch, _, steps = pre.shape
        width, height, channels = self.previous
        frames = torch.from_numpy(pre.astype(np.float64)).reshape(batch, width, height, channels, steps)
        frames = frames.permute(0, 4, 3, 2, 1).reshape(batch * steps, channels, height, width)
        layer = self.layer
        result = torch.nn.functional.conv2d(
            frames, self.weight, stride=layer.stride, padding=layer.padding,
            dilation=layer.dilation, groups=layer.groups,
        )
        out_c, out_h, out_w = result.shape[1:]
        result = result.reshape(batch, steps, out_c, out_h, out_w).permute(0, 4, 3, 2, 1)
        total = signed_wrap(np.rint(result.reshape(batch, -1, steps).numpy()).astype(np.int64), CONV_ACCUMULATOR_BITS)
        out = np.zeros_like(total)
        out[:, :, 1:] = total[:, :, :-1]
        return out


def _constants(layer: Layer) -> NeuronConstants:
    neuron = layer.neuron
    bias = None
    if not isinstance(layer, InputLayer) and layer.bias is not None:
        per_neuron = layer.bias if isinstance(layer, DenseLayer) else np.tile(layer.bias, layer.shape[1] * layer.shape[2])
        bias = np.left_shift(per_neuron.astype(np.int64), BIAS_EXP)
    return NeuronConstants(
        i_decay=neuron.i_decay,
        v_decay=neuron.v_decay,
        threshold=neuron.v_th_mant << VTH_SHIFT,
        bias=bias,
    )


class GoldenModel:
    """A NetX network ready to run in Loihi fixed point on the CPU."""

    def __init__(self, network: Network) -> None:
        self.network = network
        self.starts_with_input = network.starts_with_input
        self.synapses = []
        previous = network.input_shape
        for layer in network.layers:
            if isinstance(layer, InputLayer):
                self.synapses.append(None)
            elif isinstance(layer, DenseLayer):
                self.synapses.append(_Dense(layer, previous))
            else:
                self.synapses.append(_Conv(layer, previous))
            previous = layer.lava_shape
        self.constants = [_constants(layer) for layer in network.layers]

    @classmethod
    def from_file(cls, path: str, num_layers: int | None = None) -> GoldenModel:
        """Read ``path`` (its first ``num_layers`` groups) and prepare it."""
        return cls(read_netx(path, num_layers))

    @property
    def input_size(self) -> int:
        """Neurons that layer 0's input (spikes, or an input layer's bias) has."""
        return int(np.prod(self.network.input_shape))

    def run(
        self,
        spikes: np.ndarray | None,
        bias: np.ndarray | None = None,
        steps: int | None = None,
        reset_interval: int | None = None,
        record_state: bool = False,
        batch_size: int = 64,
    ) -> GoldenRun:
        """Run B rows of S steps.

        spikes: [B, n_in, S] 0/1 into layer 0 (a dense layer's synapse, or
        an input layer's ``a_in``), or None for none. bias: input-layer bias
        mantissas, int [B, n_in] (constant) or [B, n_in, S] (per step), or
        None. steps: S when ``spikes`` is None. reset_interval: T of a
        stream of samples (netx's reset interval); None: S, one sample per
        row. Rows run ``batch_size`` at a time.
        """
        if spikes is None and bias is None:
            raise ValueError("give input spikes, an input-layer bias, or both")
        if bias is not None and not self.starts_with_input:
            raise ValueError("a bias input needs a network that starts with an input layer")
        rows = (spikes if spikes is not None else bias).shape[0]
        steps = spikes.shape[-1] if spikes is not None else steps
        if spikes is not None and spikes.shape[1] != self.input_size:
            raise ValueError(f"input has {spikes.shape[1]} neurons, the network expects {self.input_size}")
        parts = [
            self._run_rows(
                None if spikes is None else spikes[start : start + batch_size],
                None if bias is None else bias[start : start + batch_size],
                steps, reset_interval, record_state,
            )
            for start in range(0, rows, batch_size)
        ]

        def joined(field: str) -> list[np.ndarray] | None:
            if getattr(parts[0], field) is None:
                return None
            return [np.concatenate(chunk) for chunk in zip(*(getattr(p, field) for p in parts))]

        return GoldenRun(spikes=joined("spikes"), u=joined("u"), v=joined("v"))

    def _run_rows(
        self,
        spikes: np.ndarray | None,
        bias: np.ndarray | None,
        steps: int,
        reset_interval: int | None,
        record_state: bool,
    ) -> GoldenRun:
        rows = (spikes if spikes is not None else bias).shape[0]
        pre = spikes if spikes is not None else np.zeros((rows, self.input_size, steps), dtype=np.uint8)
        out_spikes, out_u, out_v = [], [], []
        for index, (synapse, constants) in enumerate(zip(self.synapses, self.constants)):
            a_in = pre.astype(np.int64) if synapse is None else synapse(pre)
            layer_bias = bias if synapse is None else None
            first = arrival(index, self.starts_with_input)
            resets = reset_columns(first, reset_interval or steps, steps)
            fired, u, v = _neuron_steps(a_in, constants, layer_bias, resets, record_state)
            out_spikes.append(fired)
            out_u.append(u)
            out_v.append(v)
            pre = fired
        if not record_state:
            return GoldenRun(spikes=out_spikes)
        return GoldenRun(spikes=out_spikes, u=out_u, v=out_v)


def _neuron_steps(
    a_in: np.ndarray,
    constants: NeuronConstants,
    bias: np.ndarray | None,
    resets: np.ndarray,
    record_state: bool,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Advance one layer's neurons over all S steps of a_in int64 [B, n, S].

    Returns spikes uint8 [B, n, S] and, when recorded, u and v int32 [B, n, S].
    """
    rows, size, steps = a_in.shape
    per_step = np.ascontiguousarray(a_in.transpose(2, 0, 1))
    bias_steps = None
    if bias is not None:
        bias = bias.astype(np.int64)
        bias_steps = np.ascontiguousarray(bias.transpose(2, 0, 1)) if bias.ndim == 3 else None
    u = np.zeros((rows, size), dtype=np.int64)
    v = np.zeros((rows, size), dtype=np.int64)
    fired = np.zeros((steps, rows, size), dtype=np.uint8)
    u_all = np.zeros((steps, rows, size), dtype=np.int32) if record_state else None
    v_all = np.zeros((steps, rows, size), dtype=np.int32) if record_state else None
    for t in range(steps):
        if resets[t]:
            u[:] = 0
            v[:] = 0
        step_bias = bias_steps[t] if bias_steps is not None else bias
        fired[t] = cuba_step(u, v, per_step[t], constants, step_bias)
        if record_state:
            u_all[t] = u
            v_all[t] = v
    back = (lambda x: None if x is None else np.ascontiguousarray(x.transpose(1, 2, 0)))
    return back(fired), back(u_all), back(v_all)
