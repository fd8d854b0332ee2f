"""The golden model: any network netx loads, batched, bit-exact with Lava ``fixed_pt``.

An independent implementation of what Lava computes: our own arithmetic
(``loihi``), each layer kind's synapse and each neuron model's step
(``netx.layers``, ``netx.neurons``), and no Lava code. Timing is Lava's
(``loihi.timing``): every synapse delivers one step later, plus its axonal
delay; an input layer adds no step. Messages and state are held per layer
as [B, n, S] with n in Lava's flat neuron order: uint8 spikes, or int32
graded values.

Two paths compute the same messages and state (tests/test_golden_compiled.py):

- compiled (the default): each layer is one kernel (``NeuronModel.scan``)
  over rows, steps and neurons, its input arriving event by event through
  its synapse's fanout (``netx.fanout``: a cost of messages x fan-out, as
  on the chip); chunks of rows run in threads, one per usable core. The
  kernels are compiled on first use and cached on disk (``neurodeploy.jit``);
- reference (``reference=True``), the readable specification in numpy: a
  layer's feedforward synaptic input for every step at once
  (``Layer.synapse``), then its neurons step by step (``NeuronModel.step``),
  a recurrent synapse's input (``Layer.recurrent``) added each step.

A neuron model that netx resets (CUBA) is reset at the columns where netx
resets it (``timing.reset_columns``), as ``harness.run_lava`` configures
Lava; by default the reset interval is the row length, so each row is one
sample and each layer is reset once, when the sample reaches it. Sigma-delta
and resonate-and-fire neurons are never reset by netx: in a stream their
state carries from one sample into the next, here as in Lava.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from neurodeploy.loihi.arithmetic import wrap32
from neurodeploy.loihi.timing import arrival, drain, reset_columns
from neurodeploy.netx import Network
from neurodeploy.netx.base import Layer, RecurrentSynapse
from neurodeploy.netx.fanout import events_of
from neurodeploy.simulate.stimulus import Stimulus


def message_dtype(layer: Layer) -> type:
    """uint8 for a layer that sends spikes, int32 for graded messages."""
    return np.int32 if layer.neuron.message_bits else np.uint8


def message_bytes(network: Network) -> int:
    """Bytes of the widest message any layer of ``network`` sends (1: spikes, 4: graded)."""
    return max(np.dtype(message_dtype(layer)).itemsize for layer in network.layers)


def run_bytes(input_size: int, sizes: list[int], rows: int, steps: int, batch_size: int = 64,
              record_state: bool = False, message_size: int = 1) -> int:
    """An upper bound of the memory ``GoldenModel.run`` (compiled) takes for ``rows`` x ``steps``.

    input_size: neurons of the input; sizes: neurons of every layer;
    message_size: bytes per message (``message_bytes``). The result holds
    every layer's messages (and up to three int32 state variables when
    recorded), [rows, n_l, steps]. Each chunk of rows running (up to
    ``batch_size`` rows, one chunk per core at a time) holds a copy of its
    input (up to 4 B per entry) and, per layer, the event lists of its input
    and output: up to 8 B per message, twice while they grow (a bound
    reached when every neuron sends at every step), and its recorded state
    until it is copied out.
    """
    per_entry = message_size + (12 if record_state else 0)
    running = min(rows, batch_size * len(os.sched_getaffinity(0)))
    chunk = 4 * input_size + 16 * (input_size + sum(sizes)) + (12 * max(sizes) if record_state else 0)
    return rows * steps * (input_size + per_entry * sum(sizes)) + running * steps * chunk


class _EventBuffers:
    """Event buffers (``fanout.events_of``'s indices and values, int32) kept between runs
    in this process, so that a layer's events are written into memory already touched:
    fresh memory costs a page fault per 4 KiB, as much as writing the events (measured:
    0.12 s against 0.03 s for PilotNet LIF's 4.5 M input-layer events). A running chunk
    of rows holds two pairs (the events into a layer and those out of it); the ``keep``
    largest pairs given back are kept."""

    def __init__(self, keep: int) -> None:
        self._free: list[tuple[np.ndarray, np.ndarray]] = []
        self._lock = threading.Lock()
        self._keep = keep

    def take(self) -> tuple[np.ndarray, np.ndarray]:
        """The largest pair kept, or an empty one."""
        with self._lock:
            if self._free:
                return self._free.pop()
        return np.empty(0, dtype=np.int32), np.empty(0, dtype=np.int32)

    def give(self, pair: tuple[np.ndarray, np.ndarray]) -> None:
        with self._lock:
            self._free = sorted([*self._free, pair], key=lambda kept: kept[0].size)[-self._keep:]


_EVENT_BUFFERS = _EventBuffers(keep=2 * len(os.sched_getaffinity(0)))


@dataclass(frozen=True)
class _Bias:
    """An input layer's bias over a run, without a copy per step: images int64 [B, K, n]
    and index int64 [S], step t taking image index[t] of its row."""

    images: np.ndarray
    index: np.ndarray

    @classmethod
    def of(cls, bias: np.ndarray | None, steps: int) -> "_Bias | None":
        """From ``GoldenModel.run``'s bias: [B, n] (constant) or [B, n, S] (per step)."""
        if bias is None:
            return None
        if bias.ndim == 2:
            return cls(bias[:, None].astype(np.int64), np.zeros(steps, dtype=np.int64))
        return cls(np.ascontiguousarray(np.moveaxis(bias, 2, 1), dtype=np.int64), np.arange(steps))

    def rows(self, start: int, stop: int) -> "_Bias":
        return _Bias(self.images[start:stop], self.index)

    def per_step(self) -> np.ndarray:
        """int64 [S, B, n]."""
        return np.moveaxis(self.images[:, self.index], 1, 0)


@dataclass(frozen=True)
class GoldenRun:
    """Per layer: messages [B, n_l, S] (uint8 spikes or int32 graded values); with
    ``record_state``, per layer a dict of its neuron model's state variables, int32
    [B, n_l, S], each the value after that step (as Lava's Var reads after it)."""

    spikes: list[np.ndarray]
    state: list[dict[str, np.ndarray]] | None = None


class GoldenModel:
    """A NetX network ready to run in Loihi fixed point on the CPU.

    sparse: Lava runs the dense layers on ``Sparse`` synapses (it matters only
    when a delayed synapse's graded products overflow int32). reference: run
    the plain numpy path instead of the compiled one (module doc). threads:
    how many chunks of rows run at once (default: the cores this process may
    use).
    """

    def __init__(self, network: Network, sparse: bool = False, reference: bool = False,
                 threads: int | None = None) -> None:
        self.network = network
        self.threads = threads or len(os.sched_getaffinity(0))
        self.starts_with_input = network.starts_with_input
        self.reference = reference
        layers = list(enumerate(network.layers))
        if reference:
            self.synapses = [layer.synapse(network.previous(index), network.graded_into(index), sparse)
                             for index, layer in layers]
            self.recurrent = [layer.recurrent(network.graded_into(index), sparse) for index, layer in layers]
        else:
            self.fanouts = [layer.fanout(network.previous(index), network.graded_into(index), sparse).arrays()
                            for index, layer in layers]
            recurrent = [layer.recurrent_fanout(network.graded_into(index), sparse) for index, layer in layers]
            self.recurrent_fanouts = [None if fanout is None else fanout.arrays() for fanout in recurrent]

    @property
    def input_size(self) -> int:
        """Neurons that layer 0's input (spikes, values, or an input layer's bias) has."""
        return int(np.prod(self.network.input_shape))

    @property
    def drain_steps(self) -> int:
        """Silent steps after a sample until the last layer has seen it (``timing.drain``)."""
        return drain(len(self.network.layers), self.starts_with_input)

    def run_samples(self, stimulus: Stimulus, batch_size: int = 64, record_state: bool = False) -> GoldenRun:
        """Every sample alone for T + drain steps: messages [N, n_l, T + drain] per layer
        (and, with ``record_state``, its state variables, each [N, n_l, T + drain])."""
        drain_steps = self.drain_steps
        bias = None if stimulus.bias is None else _Bias(  # each sample's image, then zeros
            np.stack([stimulus.bias, np.zeros_like(stimulus.bias)], axis=1).astype(np.int64),
            np.repeat([0, 1], [stimulus.steps, drain_steps]))
        return self._run(stimulus.batch_spikes(drain_steps), bias, stimulus.steps + drain_steps,
                         record_state=record_state, batch_size=batch_size)

    def run_stream(self, stimulus: Stimulus, record_state: bool = False,
                   reset_interval: int | None = None) -> GoldenRun:
        """All samples as one stream with netx's resets, as ``harness.run_lava`` runs
        them: one row, messages [1, n_l, N*T + drain] per layer. reset_interval: netx's
        (default T: each layer reset once per sample)."""
        drain_steps = self.drain_steps
        spikes, length = stimulus.stream_spikes(drain_steps), stimulus.stream_length(drain_steps)
        bias = None if stimulus.bias is None else _Bias(  # the images of the samples, then zeros
            np.concatenate([stimulus.bias, np.zeros_like(stimulus.bias[:1])]).astype(np.int64)[None],
            np.minimum(np.arange(length) // stimulus.steps, stimulus.num_samples))
        return self._run(None if spikes is None else spikes[None], bias, length,
                         reset_interval=reset_interval or stimulus.steps, record_state=record_state)

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

        spikes: [B, n_in, S] integers into layer 0: an input layer's ``a_in``
        (spikes, or values for a layer that takes them), or a synapse's input
        (the network's input is binary: a nonzero counts as 1); neurons in
        Lava order (``Network.to_lava_order``); or None for none.
        bias: an input layer's bias mantissas (the image netx feeds as
        ``bias_mant``), int [B, n_in] (constant) or [B, n_in, S] (per step),
        or None. steps: S when ``spikes`` is None. reset_interval: T of a
        stream of samples (netx's reset interval); None: S, one sample per
        row. Rows run in chunks of at most ``batch_size``, ``threads`` chunks at a
        time; the memory beyond the messages (and state) returned is that of the
        chunks running.
        """
        if spikes is None and bias is None:
            raise ValueError("give input spikes, an input-layer bias, or both")
        steps = spikes.shape[-1] if spikes is not None else steps
        return self._run(spikes, _Bias.of(bias, steps), steps, reset_interval, record_state, batch_size)

    def _run(self, spikes: np.ndarray | None, bias: _Bias | None, steps: int, reset_interval: int | None = None,
             record_state: bool = False, batch_size: int = 64) -> GoldenRun:
        """``run`` with the bias as ``_Bias``."""
        if bias is not None and not (self.starts_with_input and self.network.layers[0].neuron.input_bias_var):
            raise ValueError("a bias input needs a network whose layer 0 is an input layer that takes a bias")
        rows = (spikes if spikes is not None else bias.images).shape[0]
        if spikes is not None and spikes.shape[1] != self.input_size:
            raise ValueError(f"input has {spikes.shape[1]} neurons, the network expects {self.input_size}")
        layers = self.network.layers
        messages = [np.zeros((rows, layer.size, steps), dtype=message_dtype(layer)) for layer in layers]
        state = [{name: np.zeros((rows, layer.size, steps), dtype=np.int32) for name in layer.neuron.state_names}
                 for layer in layers] if record_state else None
        threads = 1 if self.reference else self.threads
        size = max(1, min(batch_size, -(-rows // threads)))
        chunks = [(start, min(start + size, rows)) for start in range(0, rows, size)]
        run_rows = self._run_rows_reference if self.reference else self._run_rows

        def run_chunk(chunk: tuple[int, int]) -> None:
            start, stop = chunk
            run_rows(None if spikes is None else spikes[start:stop], None if bias is None else bias.rows(start, stop),
                     steps, reset_interval, record_state, messages, state, start)

        if threads == 1 or len(chunks) == 1:
            for chunk in chunks:
                run_chunk(chunk)
        else:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                list(pool.map(run_chunk, chunks))
        return GoldenRun(messages, state)

    def _run_rows(self, spikes: np.ndarray | None, bias: _Bias | None, steps: int,
                  reset_interval: int | None, record_state: bool, messages: list[np.ndarray],
                  state: list[dict[str, np.ndarray]] | None, start: int) -> None:
        """Run rows [B, n_in, S] through every layer's kernel (``NeuronModel.scan``), which
        writes their messages straight into ``messages[l][start:start + B]`` (and the state
        into ``state``)."""
        rows = (spikes if spikes is not None else bias.images).shape[0]
        layers = self.network.layers
        pre = _kernel_input(spikes, rows, steps, self.input_size, binary=layers[0].has_synapse)
        # an input layer reads its input directly (``fanout.DIRECT``), not as events
        events = events_of(pre if layers[0].has_synapse else pre[:, :0], *_EVENT_BUFFERS.take())
        for index, layer in enumerate(layers):
            resets = (reset_columns(arrival(index, self.starts_with_input), reset_interval or steps, steps)
                      if layer.neuron.resets else np.zeros(steps, dtype=bool))
            out = messages[index][start : start + rows]
            names = layer.neuron.state_names
            recorded = np.zeros((len(names), rows, layer.size, steps) if record_state else (len(names), 0, 0, 0),
                                dtype=np.int32)
            sent = layer.neuron.scan(self.fanouts[index], self.recurrent_fanouts[index], pre, events,
                                     _kernel_bias(layer, bias, steps), resets, out, recorded, _EVENT_BUFFERS.take())
            _EVENT_BUFFERS.give(events[1:])
            events = sent
            if state is not None:
                for k, name in enumerate(names):
                    state[index][name][start : start + rows] = recorded[k]
            pre = out
        _EVENT_BUFFERS.give(events[1:])

    def _run_rows_reference(self, spikes: np.ndarray | None, bias: _Bias | None, steps: int,
                            reset_interval: int | None, record_state: bool, messages: list[np.ndarray],
                            state: list[dict[str, np.ndarray]] | None, start: int) -> None:
        """``_run_rows`` in plain numpy: every array inside is time-major [S, B, n]."""
        rows = (spikes if spikes is not None else bias.images).shape[0]
        if spikes is None:
            pre = np.zeros((steps, rows, self.input_size), dtype=np.int64)
        else:
            pre = np.ascontiguousarray(np.moveaxis(spikes, 2, 0)).astype(np.int64)
        if bias is not None:
            bias = bias.per_step()
        for index, layer in enumerate(self.network.layers):
            synapse = self.synapses[index]
            a_in = pre if synapse is None else synapse(pre)
            layer_bias = bias if synapse is None else layer.bias
            resets = (reset_columns(arrival(index, self.starts_with_input), reset_interval or steps, steps)
                      if layer.neuron.resets else np.zeros(steps, dtype=bool))
            sent, recorded = _neuron_steps(layer, a_in, layer_bias, self.recurrent[index], resets, record_state)
            messages[index][start : start + rows] = np.moveaxis(sent, 0, 2)
            if state is not None:
                for name, values in recorded.items():
                    state[index][name][start : start + rows] = np.moveaxis(values, 0, 2)
            pre = sent.astype(np.int64)


def _kernel_input(spikes: np.ndarray | None, rows: int, steps: int, size: int, binary: bool) -> np.ndarray:
    """Layer 0's input for the kernels, [B, n, S]: uint8 into a synapse (a nonzero
    counts as 1), uint8 or int32 values into an input layer (reduced modulo 2^32, which
    changes nothing: every neuron model wraps its ``a_in`` shifted to int32); [B, 0, S]
    for none (an input layer fed by its bias alone: ``fanout.DIRECT`` reads zeros)."""
    if spikes is None:
        return np.zeros((rows, 0, steps), dtype=np.uint8)
    if spikes.dtype == np.bool_:
        spikes = spikes.view(np.uint8)
    if binary and spikes.dtype != np.uint8:
        spikes = (spikes != 0).view(np.uint8)
    elif not binary and spikes.dtype not in (np.uint8, np.int32):
        spikes = wrap32(spikes.astype(np.int64)).astype(np.int32)
    return np.ascontiguousarray(spikes)


def _kernel_bias(layer: Layer, given: _Bias | None, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """A layer's bias for its kernel, (images int64 [1 or B, K, n], index int64 [S]), step t
    taking image index[t] (``_Bias``): an input layer's (``given``), else its own
    [1, 1, n], else [1, 1, 0] (none)."""
    if not layer.has_synapse and given is not None:
        return given.images, given.index
    own = np.zeros((1, 1, 0), dtype=np.int64) if layer.bias is None else layer.bias.reshape(1, 1, -1)
    return np.ascontiguousarray(own, dtype=np.int64), np.zeros(steps, dtype=np.int64)


def _neuron_steps(
    layer: Layer,
    a_in: np.ndarray,
    bias: np.ndarray | None,
    recurrence: RecurrentSynapse | None,
    resets: np.ndarray,
    record_state: bool,
) -> tuple[np.ndarray, dict[str, np.ndarray] | None]:
    """Advance one layer's neurons over all steps of a_in int64 [S, B, width].

    bias: int64 [n] (the layer's) or [S, B, n] (an input layer's image), or
    None. Returns its messages [S, B, n] and, when recorded, its state
    variables by name, int32 [S, B, n].
    """
    neuron = layer.neuron
    steps, rows, _ = a_in.shape
    size = layer.size
    state = neuron.init_state(rows, size)
    messages = np.zeros((steps, rows, size), dtype=message_dtype(layer))
    recorded = {name: np.zeros((steps, rows, size), dtype=np.int32) for name in neuron.state_names} \
        if record_state else None
    if recurrence is not None:
        recurrence.start(rows)
    for t in range(steps):
        if resets[t]:
            for array in state:
                array[:] = 0
        step_in = a_in[t] if recurrence is None else wrap32(a_in[t] + recurrence.deliver())
        sent = neuron.step(state, step_in, bias if bias is None or bias.ndim == 1 else bias[t])
        messages[t] = sent
        if recurrence is not None:
            recurrence.send(sent)
        if recorded is not None:
            for name, array in zip(neuron.state_names, state):
                recorded[name][t] = array
    return messages, recorded
