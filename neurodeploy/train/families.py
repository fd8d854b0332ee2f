"""The lava-dl block families a recipe builds (``model.blocks``), registered by name.

A family says which SLAYER blocks make a network and how their output relates to what
the chip sends, so that SLAYER, the golden model and Lava can be compared message for
message:

- ``cuba``: ``slayer.block.cuba`` Conv, Flatten, Dense (or Recurrent) blocks; binary
  spikes; every block delays its output by one step, so SLAYER's step t of every layer
  is the golden model's column t (``loihi.timing``). Logits: output spike counts.
- ``sigma_delta``: ``slayer.block.sigma_delta`` Input, Conv, Flatten, Dense and Output
  blocks; graded messages. The Input block delta-encodes the input (a_in = x * 64 on
  the chip), hidden blocks are ReLU sigma-delta neurons, the Output block a Sigma. The
  blocks do not delay, while Lava delivers every message one step later, so SLAYER's
  step t of layer l is column t + arrival(l) = t + l. A message of value m (SLAYER's
  float, floored to 1/4096) is the integer m * 4096 on the chip; the Sigma output's
  value s is s * 2^18 (``netx.neurons.sdnn``). Logits: the output's mean over time.

Measured bit-exact against the golden model on both families (tests/test_families.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from neurodeploy.lavacompat import slayer
from neurodeploy.loihi.timing import arrival
from neurodeploy.netx.neurons.sdnn import MESSAGE_SCALE, STATE_SCALE
from neurodeploy.recipe import NeuronSettings
from neurodeploy.registry import Registry


def _cuba_params(neuron: NeuronSettings) -> dict[str, Any]:
    return {"threshold": neuron.threshold, "current_decay": neuron.current_decay,
            "voltage_decay": neuron.voltage_decay, "tau_grad": neuron.tau_grad,
            "scale_grad": neuron.scale_grad, "requires_grad": False}


def _sigma_delta_params(neuron: NeuronSettings) -> dict[str, Any]:
    return {"threshold": neuron.threshold, "tau_grad": neuron.tau_grad, "scale_grad": neuron.scale_grad,
            "requires_grad": False, "shared_param": True, "activation": torch.nn.functional.relu}


Sink = Callable[[torch.Tensor], None]


def _watch_voltage(block: torch.nn.Module, sink: Sink) -> Callable[[], None]:
    """Pass every voltage the block's CUBA neuron computes (``neuron.dynamics``, before
    spike and reset; a recurrent block's one step at a time) to ``sink``; returns the undo."""
    neuron = block.neuron
    dynamics = neuron.dynamics

    def watched(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        current, voltage = dynamics(x)
        sink(voltage)
        return current, voltage

    neuron.dynamics = watched
    return lambda: delattr(neuron, "dynamics")


def _watch_delta(block: torch.nn.Module, sink: Sink) -> Callable[[], None]:
    """Pass |a[t] - a[t-1]| (a[-1] = 0), the change of the activation a sigma-delta neuron
    compares with its delta threshold (the residue aside), to ``sink``; returns the undo.
    An Output block (a Sigma) has no delta and passes nothing."""
    def hook(_module: torch.nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        a = args[0]
        sink(torch.diff(a, dim=-1, prepend=torch.zeros_like(a[..., :1])).abs())

    return block.neuron.delta.register_forward_pre_hook(hook).remove


@dataclass(frozen=True)
class BlockFamily:
    """How one lava-dl block family builds a network and reads back its messages.

    params: neuron settings -> lava-dl's neuron parameter dict.
    module: the ``slayer.block`` module holding Conv, Flatten and Dense.
    input_block: params -> the block that takes the network's input (None: the first
        Conv or Dense block takes it directly).
    output_block: (params, in, out) -> the output block.
    recurrent: whether hidden blocks may be ``cuba.Recurrent``.
    graded: messages carry values (int32 on the chip) rather than spikes (uint8).
    watch_threshold_input: (block, sink) -> undo: passes to ``sink`` what each neuron
        compares with its threshold, [batch, channels, ..., T] (a CUBA voltage, a
        sigma-delta neuron's activation change), as the block runs.
    """

    name: str
    params: Callable[[NeuronSettings], dict[str, Any]]
    module: Any
    input_block: Callable[[dict[str, Any]], torch.nn.Module] | None
    output_block: Callable[[dict[str, Any], int, int], torch.nn.Module]
    recurrent: bool
    graded: bool
    watch_threshold_input: Callable[[torch.nn.Module, Sink], Callable[[], None]]

    def __deepcopy__(self, memo: dict) -> "BlockFamily":
        """A family is a constant (it holds a module): a copied network shares it."""
        return self

    @property
    def starts_with_input(self) -> bool:
        """Whether the exported network's layer 0 is an input layer."""
        return self.input_block is not None

    def lag(self, layer: int) -> int:
        """Columns by which the golden model's layer ``layer`` runs behind SLAYER's."""
        return arrival(layer, True) if self.graded else 0

    def logits(self, output: torch.Tensor) -> torch.Tensor:
        """[batch, classes] from the output [batch, classes, T]: spike counts, or the mean value."""
        return output.mean(-1) if self.graded else output.sum(-1)

    def chip_values(self, messages: np.ndarray, output: bool) -> np.ndarray:
        """SLAYER's messages of one layer as the chip's integers: spikes as uint8, graded
        messages times ``MESSAGE_SCALE`` (the Sigma output times ``STATE_SCALE``) as int32."""
        if not self.graded:
            return messages.astype(np.uint8)
        return np.rint(messages.astype(np.float64) * (STATE_SCALE if output else MESSAGE_SCALE)).astype(np.int32)


CUBA = BlockFamily(
    name="cuba", params=_cuba_params, module=slayer.block.cuba, input_block=None,
    output_block=lambda params, n_in, n_out: slayer.block.cuba.Dense(params, n_in, n_out),
    recurrent=True, graded=False, watch_threshold_input=_watch_voltage,
)
SIGMA_DELTA = BlockFamily(
    name="sigma_delta", params=_sigma_delta_params, module=slayer.block.sigma_delta,
    input_block=lambda params: slayer.block.sigma_delta.Input(params),
    output_block=lambda params, n_in, n_out: slayer.block.sigma_delta.Output(params, n_in, n_out),
    recurrent=False, graded=True, watch_threshold_input=_watch_delta,
)
FAMILIES: Registry[BlockFamily] = Registry("block family", {f.name: f for f in (CUBA, SIGMA_DELTA)})
