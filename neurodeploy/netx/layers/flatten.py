"""``flatten``: no neurons; the next dense layer reads the layer before in (C, H, W) order.

Keys: ``type`` and ``shape`` [C*H*W, 1, 1] (lava-dl writes it; netx never
reads it). netx builds no block for it and connects the next dense layer
through ``out.transpose([2, 1, 0]).flatten()`` (``loihi.order.whc_to_chw``),
but only when a layer it built comes before (after a network's neuron-less
input the flatten changes nothing).
"""
from __future__ import annotations

import numpy as np

from neurodeploy.netx.base import GroupWriter, ReadContext, write_type
from neurodeploy.netx.keys import Keys

NETX_TYPE = "flatten"


class Flatten:
    """The registry entry of ``flatten``: a group that adds no layer."""

    netx_type = NETX_TYPE

    @classmethod
    def read(cls, keys: Keys, context: ReadContext) -> None:
        """Ask the next dense layer to read its input in (C, H, W) order."""
        context.flatten_next = True


def write(writer: GroupWriter, size: int) -> None:
    """A flatten group for a following dense layer of ``size`` inputs, as lava-dl writes it."""
    group = writer.next()
    write_type(group, NETX_TYPE)
    group.create_dataset("shape", data=np.array([size, 1, 1]))
