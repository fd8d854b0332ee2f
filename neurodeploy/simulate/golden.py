"""The golden model: any supported NetX network, batched, bit-exact with Lava ``fixed_pt``.

It runs layer after layer: a layer's synaptic input for every step comes
at once, from the spikes as events times the integer weights (sparse dense
input), or one float matrix product or convolution exact for integers
(``_exact_float``), and its neurons then advance step by step with
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
import scipy.sparse
import torch

from neurodeploy.network.netx import ConvLayer, DenseLayer, InputLayer, Layer, Network, whc_to_chw
from neurodeploy.simulate.fixed_point import (
    BIAS_EXP,
    VTH_SHIFT,
    NeuronConstants,
    cuba_step,
    dense_weights,
    shift_accumulated,
    signed_wrap,
)
from neurodeploy.simulate.stimulus import Stimulus
from neurodeploy.simulate.timing import arrival, drain, reset_columns

CONV_ACCUMULATOR_BITS = 24
EVENT_DENSITY = 0.05


def run_bytes(input_size: int, sizes: list[int], rows: int, steps: int, batch_size: int = 64,
              record_state: bool = False) -> int:
    """An upper bound of the memory ``GoldenModel.run`` takes for ``rows`` x ``steps``.

    input_size: neurons of the input; sizes: neurons of every layer. The
    result holds uint8 spikes (and int32 u and v when recorded) of every
    layer, [rows, n_l, steps], twice while the batches are joined; inside a
    batch of ``batch_size`` rows each layer holds its input as floats (8 B),
    a_in (4 B), the float product (8 B), spikes and their copies.
    """
    per_entry = 2 * (1 + (8 if record_state else 0))
    batch = min(rows, batch_size)
    return (rows * steps * (input_size + per_entry * sum(sizes))
            + batch * steps * (9 * input_size + 30 * sum(sizes)))


@dataclass(frozen=True)
class GoldenRun:
    """Per layer: spikes uint8 [B, n_l, S]; u and v int32 [B, n_l, S] when recorded.

    u and v are the values after each step, after a spiking neuron's v was
    reset, as Lava's ``neuron.u`` and ``neuron.v`` read after that step.
    """

    spikes: list[np.ndarray]
    u: list[np.ndarray] | None = None
    v: list[np.ndarray] | None = None


def _permuted(array: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """``array.transpose(axes)`` copied contiguous; torch's copy kernel is about twice numpy's here."""
    return torch.from_numpy(np.ascontiguousarray(array)).permute(*axes).contiguous().numpy()


def _exact_float(weight: np.ndarray) -> type:
    """float32 when every possible sum of this weight matrix's rows is an exact
    float32 integer (below 2^24), else float64 (exact below 2^53)."""
    largest = np.abs(weight).reshape(weight.shape[0], -1).sum(axis=1).max()
    return np.float32 if largest < 1 << 24 else np.float64


class _Dense:
    """Dense synapse: a[t + 1 + d] += (W_d @ s[t]) shifted by the weight exponent.

    Sparse spike trains (at most ``EVENT_DENSITY`` of the entries) are
    accumulated event by event, as the chip does: a CSR matrix of the spikes
    times the integer weights, cost proportional to spikes x fan-out. Denser
    ones go through one float matrix product, exact for integers (see
    ``_exact_float``).
    """

    def __init__(self, layer: DenseLayer, previous: tuple[int, ...]) -> None:
        effective = dense_weights(layer.weight)
        self.exponent = effective.exponent
        self.dtype = _exact_float(effective.weight)
        delay = layer.delay if layer.delay is not None else np.zeros_like(layer.weight)
        # int32 holds every sum of a netx weight row (at most 256 x fan-in < 2^31)
        self.groups = [
            (int(d), np.ascontiguousarray(np.where(delay == d, effective.weight, 0).T, dtype=np.int32))
            for d in np.unique(delay)
        ]
        self.perm = whc_to_chw(previous) if layer.flatten_input else None

    def __call__(self, pre: np.ndarray) -> np.ndarray:
        """pre [S, B, n_pre] spikes; returns int32 [S, B, out] (Lava's a_out is int32)."""
        if self.perm is not None:
            pre = pre[:, :, self.perm]
        steps, rows, size = pre.shape
        flat = pre.reshape(steps * rows, size)
        where = np.flatnonzero(flat)
        events = len(where) <= EVENT_DENSITY * flat.size
        dense = None if events else flat.astype(self.dtype)
        total = np.zeros((steps * rows, self.groups[0][1].shape[1]), dtype=np.int32)
        for d, weight_t in self.groups:  # Lava shifts each delay's sum on its own
            lag = (1 + d) * rows
            if lag >= len(flat):
                continue
            if events:
                total += shift_accumulated(_csr(where, flat.shape, lag) @ weight_t, self.exponent)
            else:
                total[lag:] += shift_accumulated((dense[:-lag] @ weight_t.astype(self.dtype)).astype(np.int32),
                                                 self.exponent)
        return total.reshape(steps, rows, -1)


def _csr(where: np.ndarray, shape: tuple[int, int], lag: int) -> scipy.sparse.csr_matrix:
    """The 0/1 matrix of ``shape`` with ones at the flat indices ``where`` (sorted),
    moved down by ``lag`` rows (rows pushed past the end are dropped)."""
    rows, size = shape
    kept = where[: np.searchsorted(where, (rows - lag) * size)]
    indptr = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(kept // size + lag, minlength=rows), out=indptr[1:])
    data = np.ones(len(kept), dtype=np.int32)
    return scipy.sparse.csr_matrix((data, kept % size, indptr), shape=shape)


class _Conv:
    """Conv synapse: a[t + 1] = wrap24(conv2d(s[t], W)), PyTorch conv2d semantics."""

    def __init__(self, layer: ConvLayer, previous: tuple[int, int, int]) -> None:
        self.layer = layer
        self.previous = previous
        dtype = _exact_float(layer.weight)
        self.torch_dtype = torch.float32 if dtype is np.float32 else torch.float64
        self.weight = torch.from_numpy(layer.weight.astype(dtype))

    def __call__(self, pre: np.ndarray) -> np.ndarray:
        """pre [S, B, n_pre] spikes (n_pre in (W, H, C) order); returns int32 [S, B, n]."""
        steps, rows, _ = pre.shape
        width, height, channels = self.previous
        frames = torch.from_numpy(pre).to(self.torch_dtype).reshape(steps * rows, width, height, channels)
        layer = self.layer
        result = torch.nn.functional.conv2d(
            frames.permute(0, 3, 2, 1), self.weight, stride=layer.stride, padding=layer.padding,
            dilation=layer.dilation, groups=layer.groups,
        )
        total = result.permute(0, 3, 2, 1).reshape(steps, rows, -1).numpy().astype(np.int64)
        out = np.zeros(total.shape, dtype=np.int32)
        out[1:] = signed_wrap(total[:-1], CONV_ACCUMULATOR_BITS)
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

    @property
    def input_size(self) -> int:
        """Neurons that layer 0's input (spikes, or an input layer's bias) has."""
        return int(np.prod(self.network.input_shape))

    @property
    def drain_steps(self) -> int:
        """Silent steps after a sample until the last layer has seen it (``timing.drain``)."""
        return drain(len(self.network.layers), self.starts_with_input)

    def run_samples(self, stimulus: Stimulus, batch_size: int = 64) -> GoldenRun:
        """Every sample alone for T + drain steps: spikes [N, n_l, T + drain] per layer."""
        extra = self.drain_steps
        return self.run(stimulus.batch_spikes(extra), stimulus.batch_bias(extra),
                        steps=stimulus.steps + extra, batch_size=batch_size)

    def run_stream(self, stimulus: Stimulus, record_state: bool = False) -> GoldenRun:
        """All samples as one stream with netx's resets, as ``harness.run_lava`` runs
        them: one row, spikes [1, n_l, N*T + drain] per layer."""
        extra = self.drain_steps
        spikes, bias = stimulus.stream_spikes(extra), stimulus.stream_bias(extra)
        return self.run(None if spikes is None else spikes[None], None if bias is None else bias[None],
                        steps=stimulus.stream_length(extra), reset_interval=stimulus.steps,
                        record_state=record_state)

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

        spikes: [B, n_in, S] 0/1 into layer 0 (a dense or conv layer's
        synapse, or an input layer's ``a_in``), neurons in Lava order (an
        image as (W, H, C): ``Network.to_lava_order``), or None for none.
        bias: input-layer bias mantissas, int [B, n_in] (constant) or
        [B, n_in, S] (per step), or None. steps: S when ``spikes`` is None.
        reset_interval: T of a stream of samples (netx's reset interval);
        None: S, one sample per row. Rows run ``batch_size`` at a time.
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
        """Rows in, rows out ([B, n, S]); inside, every array is time-major [S, B, n]."""
        rows = (spikes if spikes is not None else bias).shape[0]
        if spikes is None:
            pre = np.zeros((steps, rows, self.input_size), dtype=np.uint8)
        else:
            pre = _permuted(spikes.astype(np.uint8, copy=False), (2, 0, 1))
        if bias is not None:
            bias = bias.astype(np.int64)
            bias = _permuted(bias, (2, 0, 1)) if bias.ndim == 3 else np.broadcast_to(bias, (steps, *bias.shape))
        out_spikes, out_u, out_v = [], [], []
        for index, (synapse, constants) in enumerate(zip(self.synapses, self.constants)):
            a_in = pre.astype(np.int32) if synapse is None else synapse(pre)
            resets = reset_columns(arrival(index, self.starts_with_input), reset_interval or steps, steps)
            fired, u, v = _neuron_steps(a_in, constants, bias if synapse is None else None, resets, record_state)
            out_spikes.append(fired)
            out_u.append(u)
            out_v.append(v)
            pre = fired

        def rows_first(arrays: list[np.ndarray]) -> list[np.ndarray]:
            return [_permuted(a, (1, 2, 0)) for a in arrays]

        if not record_state:
            return GoldenRun(spikes=rows_first(out_spikes))
        return GoldenRun(spikes=rows_first(out_spikes), u=rows_first(out_u), v=rows_first(out_v))


def _neuron_steps(
    a_in: np.ndarray,
    constants: NeuronConstants,
    bias: np.ndarray | None,
    resets: np.ndarray,
    record_state: bool,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Advance one layer's neurons over all steps of a_in int32 [S, B, n].

    bias: int64 [S, B, n] input-layer bias mantissas, or None. Returns spikes
    uint8 [S, B, n] and, when recorded, u and v int32 [S, B, n].
    """
    steps, rows, size = a_in.shape
    u = np.zeros((rows, size), dtype=np.int64)
    v = np.zeros((rows, size), dtype=np.int64)
    fired = np.zeros((steps, rows, size), dtype=np.uint8)
    u_all = np.zeros((steps, rows, size), dtype=np.int32) if record_state else None
    v_all = np.zeros((steps, rows, size), dtype=np.int32) if record_state else None
    for t in range(steps):
        if resets[t]:
            u[:] = 0
            v[:] = 0
        fired[t] = cuba_step(u, v, a_in[t], constants, None if bias is None else bias[t])
        if record_state:
            u_all[t] = u
            v_all[t] = v
    return fired, u_all, v_all
