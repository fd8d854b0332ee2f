"""The golden model: any network netx loads, batched, bit-exact with Lava ``fixed_pt``.

An independent implementation of what Lava computes: our own arithmetic
(``loihi``), each layer kind's synapse and each neuron model's step
(``netx.layers``, ``netx.neurons``), and no Lava code. It runs layer after
layer: a layer's feedforward synaptic input for every step at once
(``Layer.synapse``), then its neurons step by step (``NeuronModel.step``),
a recurrent synapse's input (``Layer.recurrent``) added each step as it
arrives. Timing is Lava's (``loihi.timing``): every synapse delivers one
step later, plus its axonal delay; an input layer adds no step. Messages
and state are held per layer as [B, n, S] with n in Lava's flat neuron
order: uint8 spikes, or int32 graded values.

A neuron model that netx resets (CUBA) is reset at the columns where netx
resets it (``timing.reset_columns``), as ``harness.run_lava`` configures
Lava; by default the reset interval is the row length, so each row is one
sample and each layer is reset once, when the sample reaches it. Sigma-delta
and resonate-and-fire neurons are never reset by netx: in a stream their
state carries from one sample into the next, here as in Lava.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurodeploy.loihi.arithmetic import wrap32
from neurodeploy.loihi.timing import arrival, drain, reset_columns
from neurodeploy.netx import Network
from neurodeploy.netx.base import Layer, RecurrentSynapse
from neurodeploy.simulate.stimulus import Stimulus


def message_dtype(layer: Layer) -> type:
    """uint8 for a layer that sends spikes, int32 for graded messages."""
    return np.int32 if layer.neuron.message_bits else np.uint8


def message_bytes(network: Network) -> int:
    """Bytes of the widest message any layer of ``network`` sends (1: spikes, 4: graded)."""
    return max(np.dtype(message_dtype(layer)).itemsize for layer in network.layers)


def run_bytes(input_size: int, sizes: list[int], rows: int, steps: int, batch_size: int = 64,
              record_state: bool = False, message_size: int = 1) -> int:
    """An upper bound of the memory ``GoldenModel.run`` takes for ``rows`` x ``steps``.

    input_size: neurons of the input; sizes: neurons of every layer;
    message_size: bytes per message (``message_bytes``). The result holds
    every layer's messages (and up to three int32 state variables when
    recorded), [rows, n_l, steps], twice while the batches are joined; inside
    a batch of ``batch_size`` rows each layer holds its input and synaptic
    input as int64 (8 B each), a float product (8 B), messages and their
    copies.
    """
    per_entry = 2 * (message_size + (12 if record_state else 0))
    batch = min(rows, batch_size)
    return (rows * steps * (input_size + per_entry * sum(sizes))
            + batch * steps * (17 * input_size + 40 * sum(sizes)))


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
    when a delayed synapse's graded products overflow int32).
    """

    def __init__(self, network: Network, sparse: bool = False) -> None:
        self.network = network
        self.starts_with_input = network.starts_with_input
        self.synapses = [layer.synapse(network.previous(index), network.graded_into(index), sparse)
                         for index, layer in enumerate(network.layers)]
        self.recurrent = [layer.recurrent(network.graded_into(index), sparse)
                          for index, layer in enumerate(network.layers)]

    @property
    def input_size(self) -> int:
        """Neurons that layer 0's input (spikes, values, or an input layer's bias) has."""
        return int(np.prod(self.network.input_shape))

    @property
    def drain_steps(self) -> int:
        """Silent steps after a sample until the last layer has seen it (``timing.drain``)."""
        return drain(len(self.network.layers), self.starts_with_input)

    def run_samples(self, stimulus: Stimulus, batch_size: int = 64) -> GoldenRun:
        """Every sample alone for T + drain steps: messages [N, n_l, T + drain] per layer."""
        drain_steps = self.drain_steps
        return self.run(stimulus.batch_spikes(drain_steps), stimulus.batch_bias(drain_steps),
                        steps=stimulus.steps + drain_steps, batch_size=batch_size)

    def run_stream(self, stimulus: Stimulus, record_state: bool = False) -> GoldenRun:
        """All samples as one stream with netx's resets, as ``harness.run_lava`` runs
        them: one row, messages [1, n_l, N*T + drain] per layer."""
        drain_steps = self.drain_steps
        spikes, bias = stimulus.stream_spikes(drain_steps), stimulus.stream_bias(drain_steps)
        return self.run(None if spikes is None else spikes[None], None if bias is None else bias[None],
                        steps=stimulus.stream_length(drain_steps), reset_interval=stimulus.steps,
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

        spikes: [B, n_in, S] integers into layer 0: an input layer's ``a_in``
        (spikes, or values for a layer that takes them), or a synapse's input
        (the network's input is binary: a nonzero counts as 1); neurons in
        Lava order (``Network.to_lava_order``); or None for none.
        bias: an input layer's bias mantissas (the image netx feeds as
        ``bias_mant``), int [B, n_in] (constant) or [B, n_in, S] (per step),
        or None. steps: S when ``spikes`` is None. reset_interval: T of a
        stream of samples (netx's reset interval); None: S, one sample per
        row. Rows run ``batch_size`` at a time.
        """
        if spikes is None and bias is None:
            raise ValueError("give input spikes, an input-layer bias, or both")
        if bias is not None and not (self.starts_with_input and self.network.layers[0].neuron.input_bias_var):
            raise ValueError("a bias input needs a network whose layer 0 is an input layer that takes a bias")
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
        messages = [np.concatenate(chunk) for chunk in zip(*(p.spikes for p in parts))]
        if not record_state:
            return GoldenRun(messages)
        state = [{name: np.concatenate([p.state[layer][name] for p in parts]) for name in parts[0].state[layer]}
                 for layer in range(len(messages))]
        return GoldenRun(messages, state)

    def _run_rows(self, spikes: np.ndarray | None, bias: np.ndarray | None, steps: int,
                  reset_interval: int | None, record_state: bool) -> GoldenRun:
        """Rows in, rows out ([B, n, S]); inside, every array is time-major [S, B, n]."""
        rows = (spikes if spikes is not None else bias).shape[0]
        if spikes is None:
            pre = np.zeros((steps, rows, self.input_size), dtype=np.int64)
        else:
            pre = np.ascontiguousarray(np.moveaxis(spikes, 2, 0)).astype(np.int64)
        if bias is not None:
            bias = bias.astype(np.int64)
            bias = np.moveaxis(bias, 2, 0) if bias.ndim == 3 else np.broadcast_to(bias, (steps, *bias.shape))
        out_messages, out_state = [], []
        for index, layer in enumerate(self.network.layers):
            synapse = self.synapses[index]
            a_in = pre if synapse is None else synapse(pre)
            layer_bias = bias if synapse is None else layer.bias
            resets = (reset_columns(arrival(index, self.starts_with_input), reset_interval or steps, steps)
                      if layer.neuron.resets else np.zeros(steps, dtype=bool))
            messages, state = _neuron_steps(layer, a_in, layer_bias, self.recurrent[index], resets, record_state)
            out_messages.append(messages)
            out_state.append(state)
            pre = messages.astype(np.int64)

        def rows_first(array: np.ndarray) -> np.ndarray:
            return np.ascontiguousarray(np.moveaxis(array, 0, 2))

        messages = [rows_first(m) for m in out_messages]
        if not record_state:
            return GoldenRun(messages)
        return GoldenRun(messages, [{name: rows_first(v) for name, v in s.items()} for s in out_state])


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
