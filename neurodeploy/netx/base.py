"""What every neuron model and layer kind provides, and what a reader hands from layer to layer.

A neuron model (``neurons/``) and a layer kind (``layers/``) are each one
module holding all there is to know about them: the record, how NetX stores
it (``read``, ``write``), the golden model's step, how messages are counted
and connected, and the hardware resources it takes. ``registry`` maps NetX
type names to them; nothing else dispatches on a type.

Conventions: neuron arrays are flat in Lava's order (``loihi.order``); a
layer of B rows and n neurons holds int64 arrays [B, n]; a message is an
int64 value (0/1 for a spike, any int32 value for a graded message).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Sequence

import h5py
import numpy as np

from neurodeploy.limits import Limits
from neurodeploy.netx.fanout import Fanout
from neurodeploy.netx.keys import Keys, NetxError


class NeuronModel(ABC):
    """A neuron model: its NetX parameters and its fixed-point dynamics.

    Subclasses are frozen dataclasses. ``type_names`` are the NetX
    ``neuron/type`` strings it reads; ``resets``: netx resets it every
    ``reset_interval`` steps (CUBA) or never (sigma-delta,
    resonate-and-fire).
    """

    type_names: ClassVar[tuple[str, ...]]
    resets: ClassVar[bool]
    # Takes complex input (real and imaginary synapses, ``a_real_in``, ``a_imag_in``).
    complex_input: ClassVar[bool] = False
    # The Lava Var an input layer's image is fed to as a bias (CUBA: ``bias_mant``);
    # None when the model takes its input through ``a_in`` only.
    input_bias_var: ClassVar[str | None] = None

    @property
    @abstractmethod
    def state_names(self) -> tuple[str, ...]:
        """Names of its state arrays, as its Lava process names its Vars."""

    @property
    def membrane_names(self) -> tuple[str, ...]:
        """Its state variables that integrate the synaptic input, its membrane potential
        (NeuroBench's membrane updates count the steps at which one of them changes);
        empty for a model that has none."""
        return ()

    @property
    def state_bits(self) -> int:
        """Bits of state per neuron (24 per state variable, Loihi's width)."""
        return 24 * len(self.state_names)

    @classmethod
    @abstractmethod
    def read(cls, keys: Keys, type_name: str, input_layer: bool) -> "NeuronModel":
        """The model the group ``keys`` (``layer/i/neuron``) describes, as netx builds it
        for a layer that is (``input_layer``) or is not the network's input layer."""

    @abstractmethod
    def write(self, group: h5py.Group) -> None:
        """Write the neuron keys into ``group`` (``layer/i``) as lava-dl does."""

    @property
    @abstractmethod
    def message_bits(self) -> int:
        """Bits of the messages it sends: 0 for a spike (the next synapse counts a
        nonzero as 1), more for a graded value the next synapse multiplies."""

    @abstractmethod
    def check_bias(self, bias: np.ndarray | None) -> None:
        """``NetxError`` when a layer ``bias`` cannot go with this model (netx fails)."""

    @abstractmethod
    def init_state(self, rows: int, size: int) -> list[np.ndarray]:
        """Zero state: one int64 array [rows, size] per name in ``state_names``."""

    @abstractmethod
    def step(self, state: list[np.ndarray], a_in: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
        """Advance ``state`` (in place) by one step; return the messages [B, n].

        a_in: int64 [B, n], this step's synaptic input as Lava's channel holds
        it (int32 values). bias: int64 per-neuron bias mantissas ([n] or
        [B, n]) as the file or the caller gives them, or None.
        """

    @abstractmethod
    def scan(self, feed: tuple, recurrence: tuple | None, pre: np.ndarray, events: tuple, bias: tuple,
             resets: np.ndarray, out: np.ndarray, state: np.ndarray, buffers: tuple) -> tuple:
        """Run rows of these neurons over every step, compiled: the golden model's fast
        path, the same arithmetic as ``step`` (a property test requires equal messages and
        state).

        feed: the synapse into the layer (``Fanout.arrays``); recurrence: the layer's
        synapse from itself, or None; pre: the sending layer's messages [B, n_in, S]
        (uint8 spikes or int32 values) and ``events`` the same as events
        (``fanout.events_of``); bias: (images int64 [1 or B, K, n], index int64 [S]), step t
        taking image index[t] (n = 0: none; ``fanout.bias_at``); resets:
        bool [S], zero the state before that step (each row starts from zero). Writes
        messages into ``out`` [B, n, S] (uint8 or int32, zeros on entry) and, when
        ``state`` [k, B, n, S] int32 is not empty, each state variable (``state_names``)
        after every step. buffers: (indices, values) int32 arrays the events of ``out`` are
        written into (grown when too small). Returns the events of ``out`` for the next
        layer: (pointers [B, S + 1], indices, values), the buffers as written, valid up
        to pointers[-1, -1].
        """

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """The parameters as stored and decoded to SLAYER units (``inspect``)."""

    def notes(self) -> list[str]:
        """What netx does with its keys that a user should know (``inspect`` warnings)."""
        return []

    def onnx_step(self, graph: Any, index: int, size: int, a_in: str, bias: np.ndarray | None,
                  bias_input: str | None) -> str:
        """Write this model's step for layer ``index`` into the one-step ONNX graph
        (``export.onnx_graph.OnnxGraph``) for ``size`` neurons: read ``a_in`` and
        ``{name}_{index}_in`` for each state variable, write ``{name}_{index}_out``; return
        the messages' tensor. bias: the layer's bias mantissas; bias_input: an input
        layer's image tensor."""
        raise NetxError(f"the ONNX export has no {self.describe()['type']} neuron")

    def nir_node(self, shape: tuple[int, ...], bias: np.ndarray | None, input_gain: float, dt: float) -> Any:
        """The NIR node of these neurons (NIR ``shape``: (C, H, W) or (n,)); bias: mantissas
        broadcastable to ``shape``; input_gain: what one unit on its input adds (1 after a
        weight node, 1/64 for an input layer fed Lava ``a_in`` integers); dt: one Loihi
        step in the graph's time unit (seconds). ``NetxError`` when NIR has no such neuron."""
        raise NetxError(f"NIR has no node for {self.describe()['type']} neurons")

    def never_emits(self, positive_drive: np.ndarray, bias: np.ndarray) -> np.ndarray | None:
        """bool [n]: neurons that can never send, given each one's largest input per
        step (the sum of its positive weights times the largest message) and bias;
        None when the model cannot say."""
        return None


@dataclass
class ReadContext:
    """What reading one layer needs from the layers read before it.

    previous: Lava shape of what feeds the next layer (None until known);
    blocks: layers with neurons read so far; flatten_next: a ``flatten``
    asks the next dense layer to read its input in (C, H, W) order (netx
    applies it only between two blocks); input_shape: Lava shape of the
    network's input as the file gives it (a neuron-less input group) or a
    conv layer 0 found it; given_shape: the caller's (Lava order), or None;
    limits: the memory a layer's arrays may take (a conv's declared ``shape`` is
    checked against it before its bias is tiled to one value per neuron).
    """

    path: Path
    warnings: list[str]
    previous: tuple[int, ...] | None = None
    blocks: int = 0
    flatten_next: bool = False
    input_shape: tuple[int, ...] | None = None
    given_shape: tuple[int, ...] | None = None
    limits: Limits = field(default_factory=Limits)


class Synapse(ABC):
    """A feedforward synapse of the golden model: all steps at once.

    ``__call__(pre)``: pre int64 [S, B, n_pre] messages (spikes or graded
    values, Lava order); returns int64 [S, B, n], the input each neuron's
    ``a_in`` receives at each step, already delayed (one step, plus any
    axonal delay) and held as Lava's int32 channel holds it.
    """

    @abstractmethod
    def __call__(self, pre: np.ndarray) -> np.ndarray:
        ...


class RecurrentSynapse(ABC):
    """A synapse from a layer to itself: step by step, since its input is the layer's output.

    ``start(rows)`` empties its buffer; ``deliver()`` gives int64 [B, n], what
    it adds to ``a_in`` this step; ``send(messages)`` takes this step's
    messages [B, n], which arrive one step (plus any delay) later.
    """

    @abstractmethod
    def start(self, rows: int) -> None:
        ...

    @abstractmethod
    def deliver(self) -> np.ndarray:
        ...

    @abstractmethod
    def send(self, messages: np.ndarray) -> None:
        ...


@dataclass(frozen=True)
class Connections:
    """A synapse matrix's connectivity, CSR [n_out, n_in], both axes in Lava order:
    ``structure`` 1 for every synapse the connectivity defines, zero weight or not;
    ``weights`` the nonzero integer weights; ``recurrent``: its inputs are the layer's
    own neurons (else the layer before)."""

    structure: Any
    weights: Any
    recurrent: bool = False


class Layer(ABC):
    """A layer with neurons (and, but for an input layer, a synapse into them).

    Subclasses are frozen dataclasses with at least ``neuron`` and ``bias``
    (int64 per neuron, Lava order, or None). ``netx_type`` is the NetX
    ``type`` it is read from and written as.
    """

    netx_type: ClassVar[str]
    weight_rows: ClassVar[str] = "neurons"  # what a row of ``weights()`` feeds, in words
    needs_input_shape: ClassVar[bool] = False  # as layer 0, its input shape is not in the file
    neuron: NeuronModel
    bias: np.ndarray | None

    @classmethod
    @abstractmethod
    def read(cls, keys: Keys, context: ReadContext) -> "Layer | None":
        """The layer in group ``keys``, or None for a group that adds no layer
        (``flatten``, an input layer without neurons); updates ``context``."""

    @abstractmethod
    def write(self, writer: "GroupWriter") -> None:
        """Write the layer (and any group it implies, e.g. a flatten) as lava-dl does."""

    @property
    @abstractmethod
    def lava_shape(self) -> tuple[int, ...]:
        """The shape of its neurons in Lava: (W, H, C) or (n,)."""

    @property
    def size(self) -> int:
        """Its number of neurons."""
        return int(np.prod(self.lava_shape))

    @property
    def has_synapse(self) -> bool:
        """Whether something feeds it through a synapse (all but an input layer)."""
        return True

    @abstractmethod
    def input_size(self) -> int:
        """Neurons of what feeds it (its synapse's inputs, or its own for an input layer)."""

    def network_input(self, given: tuple[int, ...] | None) -> tuple[int, ...]:
        """Lava shape of a network's input when this layer is its first: here (n,) of its
        synapse's inputs; ``given`` (Lava order) is checked against it."""
        if given is not None and int(np.prod(given)) != self.input_size():
            raise NetxError(f"input shape {list(reversed(given))} does not hold the {self.input_size()} inputs "
                            "of key 'weight'")
        return (self.input_size(),)

    @abstractmethod
    def synapse(self, previous: tuple[int, ...], graded: bool, sparse: bool) -> Synapse | None:
        """Its feedforward synapse in the golden model (None for an input layer).
        previous: Lava shape of what feeds it; graded: the messages into it carry
        values; sparse: Lava runs it on ``Sparse`` synapses."""

    def recurrent(self, graded: bool, sparse: bool) -> RecurrentSynapse | None:
        """Its synapse from itself (``dense_rec``), or None."""
        return None

    @abstractmethod
    def fanout(self, previous: tuple[int, ...], graded: bool, sparse: bool) -> "Fanout":
        """Its feedforward synapse as the compiled golden model runs it (``netx.fanout``;
        an input layer's is ``direct``); arguments as ``synapse``."""

    def recurrent_fanout(self, graded: bool, sparse: bool) -> "Fanout | None":
        """Its synapse from itself as the compiled golden model runs it, or None."""
        return None

    @abstractmethod
    def fan_out(self, previous: tuple[int, ...]) -> np.ndarray | None:
        """int64 [n_pre]: for each neuron of what feeds it, its nonzero synapses into
        this layer (each message it sends costs that many operations); None for an
        input layer."""

    def recurrent_fan_out(self) -> np.ndarray | None:
        """int64 [n]: nonzero synapses from each of its own neurons back into it, or None."""
        return None

    @abstractmethod
    def connections(self, previous: tuple[int, ...]) -> list[Connections]:
        """Its synapse matrices (feedforward, then recurrent) for the resource model;
        empty for an input layer."""

    @abstractmethod
    def weights(self) -> list[np.ndarray]:
        """Its weight matrices as stored (for sparsity, bits and inspect); empty for an input layer."""

    def without_units(self, units: Sequence[int]) -> "Layer":
        """The layer without its units ``units`` (ascending indices on the last axis of
        ``lava_shape``: a dense layer's neurons, a conv layer's output channels), their
        weights, bias and delays; the units must get no input (``check_silent``), so that
        they never send and their removal changes no other message. ``NetxError`` when
        they do, when they are every unit, or when the kind cannot lose units."""
        raise NetxError(f"a layer of type '{self.netx_type}' has no units to remove")

    def without_inputs(self, units: Sequence[int], previous: tuple[int, ...]) -> "Layer":
        """The layer without its synapses from the units ``units`` of the layer before it,
        of Lava shape ``previous`` before their removal (a unit of a (W, H, C) layer is a
        channel: its every neuron, ``loihi.order.channel_neurons``); what its other
        synapses deliver is unchanged. ``NetxError`` when the kind cannot lose inputs."""
        raise NetxError(f"a layer of type '{self.netx_type}' has no synapses from the layer before to remove")

    def describe(self) -> dict[str, Any]:
        """Layer facts beyond shape and weights for ``inspect`` (stride, delays, ...)."""
        return {}

    def nir_synapse(self, shape: tuple[int, ...]) -> tuple[list[tuple[str, Any]], tuple[int, ...]]:
        """NIR nodes (name suffix, node) of its synapse, in order, for an input of NIR
        ``shape``, and its output shape; ``NetxError`` when NIR cannot express it."""
        raise NetxError(f"NIR has no node for a {self.netx_type} synapse")

    def nir_recurrent(self) -> Any | None:
        """The NIR node of its recurrent synapse (its output feeds its own neurons), or None."""
        return None

    def onnx_synapse(self, graph: Any, index: int, previous: tuple[int, ...], graded: bool, pre: str) -> str:
        """Write its feedforward synapse into the one-step ONNX graph
        (``export.onnx_graph.OnnxGraph``) reading the previous step's messages ``pre``;
        return the synaptic input's tensor."""
        raise NetxError(f"the ONNX export has no {self.netx_type} synapse")

    def onnx_recurrent(self, graph: Any, index: int, graded: bool, own: str) -> str | None:
        """Its recurrent synapse's input from its own previous messages ``own``, or None."""
        return None

    def notes(self) -> list[str]:
        """What netx does with this layer that a user should know (``inspect`` warnings)."""
        return []


def kept_units(units: Sequence[int], count: int, what: str) -> np.ndarray:
    """bool [count]: the units of a layer of ``count`` units (``what``: "neurons", "output
    channels", ...) that stay when ``units`` go. ``NetxError`` unless ``units`` are
    integers in [0, count), strictly ascending, and leave at least one unit."""
    gone = np.asarray(units)
    if gone.ndim != 1 or gone.size == 0 or not np.issubdtype(gone.dtype, np.integer):
        raise NetxError(f"the {what} to remove must be a non-empty list of integers, got {units!r}")
    if gone[0] < 0 or gone[-1] >= count or np.any(np.diff(gone) <= 0):
        raise NetxError(f"the {what} to remove must be distinct indices in [0, {count}) in ascending order, "
                        f"got {gone.tolist()}")
    if gone.size == count:
        raise NetxError(f"cannot remove all {count} {what}: a layer keeps at least one")
    keep = np.ones(count, dtype=bool)
    keep[gone] = False
    return keep


def check_silent(units: Sequence[int], incoming: list[np.ndarray], what: str) -> None:
    """``NetxError`` naming the first of ``units`` that gets input: ``incoming`` holds what
    reaches them, one array [len(units), ...] per weight matrix or bias. Only a unit whose
    incoming weights and bias are all zero never sends (CUBA: current and voltage stay 0;
    sigma-delta: zero activation), so only such a unit can go without changing another
    message."""
    busy = np.zeros(len(units), dtype=bool)
    for values in incoming:
        busy |= np.any(values.reshape(len(units), -1) != 0, axis=1)
    if busy.any():
        raise NetxError(f"{what} {int(np.asarray(units)[busy][0])} gets input (a nonzero weight or bias; "
                        f"{int(busy.sum())} of the {len(units)} to remove do): only a unit that gets none never "
                        "sends, and can be removed without changing any other message")


@dataclass
class GroupWriter:
    """Hands out ``layer/0``, ``layer/1``, ... of a file being written."""

    handle: h5py.Group
    count: int = field(default=0)

    def next(self) -> h5py.Group:
        group = self.handle.create_group(str(self.count))
        self.count += 1
        return group


def write_type(group: h5py.Group, name: str) -> None:
    """The ``type`` key as lava-dl writes it: fixed-length ASCII, shape (1,)."""
    group.create_dataset("type", (1,), "S10", [name.encode()])
