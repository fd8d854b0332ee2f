"""Structured pruning's removed units, taken out of the exported network.

The prune stage (``prune.scope: neuron | channel``) records in the pruned
checkpoint's ``extra["removed"]`` the units whose every incoming weight it
pruned: ``{"k": [unit, ...]}``, k (a string) the layer's index among the
layers with weights (``SpikingNet.weight_layers``, i.e. the NetX layers with
a synapse: a sigma-delta network's input layer is not counted), a unit a
dense neuron or a conv output channel (its PyTorch index, the last axis of
the layer's Lava shape), ascending. Such a unit gets no input and has no
bias, so it never sends: the network without it and without its synapses
into the next layer sends every other message as before. Each layer kind
does and checks its part (``Layer.without_units``, ``Layer.without_inputs``).
The output layer's neurons are the classes; none is ever removed.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from neurodeploy.loihi.order import channel_neurons
from neurodeploy.netx.base import Layer
from neurodeploy.netx.keys import NetxError

Removed = Mapping[str, Sequence[int]]


def layer_name(layers: Sequence[Layer], index: int) -> str:
    """Layer ``index`` of ``layers`` as ``extra["removed"]`` counts it, and as the network does."""
    weighted = sum(layer.has_synapse for layer in layers[:index])
    return f"weight layer {weighted} (network layer {index}, {layers[index].netx_type})"


def removed_by_layer(layers: Sequence[Layer], removed: Removed) -> dict[int, list[int]]:
    """The units ``removed`` names (module doc), by index in ``layers`` (a network's layers,
    before or after the removal: the same kinds in the same order). ``NetxError`` for a
    key that names no layer with a synapse, or that names the output layer."""
    keys = {str(k): index for k, index in enumerate(i for i, layer in enumerate(layers) if layer.has_synapse)}
    by_layer = {}
    for key, units in removed.items():
        if key not in keys:
            raise NetxError(f"removed units: key {key!r} names no layer with weights (these are '0' to "
                            f"'{len(keys) - 1}')")
        if keys[key] == len(layers) - 1:
            raise NetxError(f"{layer_name(layers, keys[key])}: the output layer's neurons are the classes; "
                            "none of them can be removed")
        by_layer[keys[key]] = list(units)
    return by_layer


def remove_units(layers: Sequence[Layer], removed: Removed) -> list[Layer]:
    """``layers`` (the full network's records, as ``network_to_layers`` gives them) without
    the units ``removed`` names (module doc) and the synapses from them: those layers and
    the inputs of the next ones shrink, every other message is unchanged. ``NetxError``
    naming the layer for a key or unit that does not fit, a unit that gets input, every
    unit of a layer, a layer whose kind cannot lose them (a grouped conv), or a weight
    matrix that would act otherwise or be left all zero."""
    by_layer = removed_by_layer(layers, removed)
    reduced = []
    for index, layer in enumerate(layers):
        try:
            if index - 1 in by_layer:
                layer = layer.without_inputs(by_layer[index - 1], layers[index - 1].lava_shape)
            if index in by_layer:
                layer = layer.without_units(by_layer[index])
        except ValueError as err:  # a NetxError, or a matrix left all zero (netx cannot load it)
            raise NetxError(f"{layer_name(layers, index)}: {err}") from err
        reduced.append(layer)
    return reduced


def removed_neurons(layer: Layer, units: Sequence[int]) -> np.ndarray:
    """bool [n]: the neurons of the layer the reduced ``layer`` was before its ``units`` went,
    in Lava order, True for the removed ones (every neuron of a removed channel)."""
    return channel_neurons((*layer.lava_shape[:-1], layer.lava_shape[-1] + len(units)), units)


def split_removed(messages: np.ndarray, layer: Layer, units: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """One layer's messages from the full network, [N, n, S] in Lava order (SLAYER's), as
    the reduced ``layer`` has them, [N, n - removed neurons, S], and the messages each
    sample sent from the neurons of the removed ``units``, int64 [N] (0 when the units got
    no input, as they must). Without units, ``messages`` itself (no copy)."""
    if not len(units):
        return messages, np.zeros(len(messages), dtype=np.int64)
    gone = removed_neurons(layer, units)
    if messages.shape[1] != gone.size:
        raise ValueError(f"messages of {messages.shape[1]} neurons, but the layer has {gone.size} with its "
                         f"{len(units)} removed unit(s)")
    return messages[:, ~gone], np.count_nonzero(messages[:, gone], axis=(1, 2)).astype(np.int64)
