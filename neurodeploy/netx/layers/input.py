"""The network's ``input`` layer: neurons fed from outside, with no synapse.

Keys: ``shape`` (NetX order, [C, H, W] or [n]) and a ``neuron`` group. netx
drives its neurons through ``a_in`` (spikes, or graded values for a
sigma-delta ``Delta``) or, for CUBA, through their bias (``bias_mant``, an
image). ``weight`` and ``bias`` keys, which lava-dl writes for its input
blocks, are read by netx and discarded. An input group without a neuron
group only gives the network's input shape: netx builds no layer for it and
the next layer is the first (``ReadContext.input_shape``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from neurodeploy.loihi.order import lava_shape
from neurodeploy.netx.base import Connections, GroupWriter, Layer, NeuronModel, ReadContext, Synapse, write_type
from neurodeploy.netx.fanout import Fanout, direct_fanout
from neurodeploy.netx.keys import Keys, NetxError


@dataclass(frozen=True)
class InputLayer(Layer):
    """shape: NetX order, [C, H, W] or [n]; ignored_keys: ``weight``/``bias`` in the file."""

    shape: tuple[int, ...]
    neuron: NeuronModel
    ignored_keys: tuple[str, ...] = ()

    netx_type: ClassVar[str] = "input"
    bias: ClassVar[None] = None  # the image, if any, is the caller's input, not a key

    @classmethod
    def read(cls, keys: Keys, context: ReadContext) -> "InputLayer | None":
        from neurodeploy.netx.registry import read_neuron

        if context.blocks or context.input_shape is not None:
            raise NetxError("an input layer must be the first layer")
        shape = keys.positive_shape("shape", (1, 2, 3))
        if not keys.has("neuron"):
            context.input_shape = context.previous = lava_shape(shape)
            return None
        layer = cls(shape=shape, neuron=read_neuron(keys, input_layer=True),
                    ignored_keys=tuple(key for key in ("weight", "bias") if keys.has(key)))
        if keys.tolerant and layer.ignored_keys:
            keys.warn(f"input layer has key(s) {', '.join(repr(k) for k in layer.ignored_keys)}, which netx ignores "
                      "(it drives an input layer through its neurons' bias or a_in)")
        return layer

    def write(self, writer: GroupWriter) -> None:
        group = writer.next()
        write_type(group, self.netx_type)
        group.create_dataset("shape", data=np.array(self.shape))
        self.neuron.write(group)

    @property
    def lava_shape(self) -> tuple[int, ...]:
        return lava_shape(self.shape)

    @property
    def has_synapse(self) -> bool:
        return False

    def input_size(self) -> int:
        return self.size

    def network_input(self, given: tuple[int, ...] | None) -> tuple[int, ...]:
        """Its own shape; ``given`` (Lava order) must equal it, or, for a flat layer, hold as
        many inputs (an image a flat input layer reads flattened, as a dense layer 0 does)."""
        flat = len(self.shape) == 1 and given is not None and int(np.prod(given)) == self.size
        if given is not None and tuple(given) != self.lava_shape and not flat:
            raise NetxError(f"input shape {list(reversed(given))} differs from the input layer's key 'shape' "
                            f"{list(self.shape)}")
        return self.lava_shape

    def synapse(self, previous: tuple[int, ...], graded: bool, sparse: bool) -> Synapse | None:
        return None

    def fanout(self, previous: tuple[int, ...], graded: bool, sparse: bool) -> Fanout:
        return direct_fanout(self.size)

    def fan_out(self, previous: tuple[int, ...]) -> None:
        return None

    def connections(self, previous: tuple[int, ...]) -> list[Connections]:
        return []

    def weights(self) -> list[np.ndarray]:
        return []

    def notes(self) -> list[str]:
        return self.neuron.notes()

    def nir_synapse(self, shape: tuple[int, ...]) -> tuple[list[tuple[str, Any]], tuple[int, ...]]:
        return [], shape
