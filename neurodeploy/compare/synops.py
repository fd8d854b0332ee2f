"""Synaptic operations: the accumulates a spike costs on a Loihi-style chip.

A synaptic operation is one accumulate: each presynaptic message (a spike,
or a nonzero graded message, as NeuroBench counts them) costs one operation
per nonzero outgoing weight that lands on an existing postsynaptic neuron.
With S_i the number of nonzero messages of presynaptic neuron i over all
time steps and F_i its fan-out,

    synops = sum_i  S_i * F_i.

A recurrent layer's own messages also pass through its ``weight_rec``
(fan-out: the nonzeros of each column); a complex layer's through both its
real and imaginary weights. Each kind computes its fan-out
(``Layer.fan_out``, ``Layer.recurrent_fan_out``).

Dense layer, weight W [out, in]:

    F_i = nnz(W[:, i]),    so    synops = sum_i S_i * nnz(W[:, i]).

Conv layer (PyTorch ``conv2d`` semantics: cross-correlation, weight
W [out, C/groups, kH, kW], stride (sH, sW), padding (pH, pW), dilation
(dH, dW), groups; output size Ho = floor((H + 2 pH - dH (kH - 1) - 1) / sH) + 1,
likewise Wo): the fan-out of input position (c, y, x) is the number of
(o, ky, kx) with o in the group of c, W[o, c mod (C/groups), ky, kx] != 0,
and an output position (oy, ox) in [0, Ho) x [0, Wo) with

    oy sH - pH + ky dH == y    and    ox sW - pW + kx dW == x.

Taps that fall into the zero padding touch no input neuron, and a weight
whose output position would lie outside the output map costs nothing.

Synaptic delays shift when an accumulate happens, not how many there are,
so they do not change the count.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from neurodeploy.export.removal import removed_neurons
from neurodeploy.netx import Network


def synops(messages: np.ndarray, fan_out: np.ndarray) -> np.ndarray:
    """Synaptic operations per sample: int64 [B] = sum_{n, s} [messages[b, n, s] != 0] * fan_out[n].

    ``messages`` is [B, n, S] presynaptic messages (spikes, or graded values:
    a message costs the same whatever its value; any integer, bool or float
    dtype), ``fan_out`` [n] in the same neuron order (flat; a
    [B, C, H, W, S] array with a [C, H, W] fan-out is flattened the same
    way). Nonzero messages are counted over S first, so no int64 copy of the
    [B, n, S] array is made.
    """
    messages = np.asarray(messages)
    fan_out = np.asarray(fan_out, dtype=np.int64).reshape(-1)
    if messages.ndim < 3:
        raise ValueError(f"messages must be [B, n, S], got shape {messages.shape}")
    counts = np.count_nonzero(messages, axis=-1).astype(np.int64).reshape(messages.shape[0], -1)
    if counts.shape[1] != fan_out.size:
        raise ValueError(f"messages {messages.shape} do not match fan-out of {fan_out.size} neurons")
    return counts @ fan_out


def network_synops(network: Network, inputs: np.ndarray | None, layer_spikes: list[np.ndarray | None]) -> np.ndarray:
    """Synaptic operations per row and layer: int64 [B, L].

    inputs: [B, n_in, S] messages into layer 0 (None when there are none);
    layer_spikes[l]: [B, n_l, S] messages of layer l, or None when not
    recorded. Layer l's synapses are driven by layer l - 1 (layer 0's by
    ``inputs``), a recurrent layer's also by its own messages; a layer whose
    messages are missing gets -1, an input layer 0 (no synapse). The last
    layer's messages drive no feedforward synapse.
    """
    presynaptic = [inputs, *layer_spikes[:-1]]
    rows = next(s.shape[0] for s in [inputs, *layer_spikes] if s is not None)
    result = np.zeros((rows, len(network.layers)), dtype=np.int64)
    for index, (layer, pre) in enumerate(zip(network.layers, presynaptic)):
        fan = layer.fan_out(network.previous(index))
        recurrent = layer.recurrent_fan_out()
        if fan is None:
            continue
        own = layer_spikes[index]
        missing = pre is None or (recurrent is not None and own is None)
        if missing:
            result[:, index] = -1
            continue
        result[:, index] = synops(pre, fan) + (0 if recurrent is None else synops(own, recurrent))
    return result


def synops_terms(network: Network, inputs: np.ndarray, layer_spikes: list[np.ndarray],
                 removed: Mapping[int, Sequence[int]] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """The two factors of ``network_synops`` for every synapse: (S, F), S float64 [n_pre]
    the nonzero messages of each presynaptic neuron per sample (mean over the B rows),
    F int64 [n_pre] its fan-out; synops per sample = sum over synapses of S . F.

    inputs and layer_spikes as for ``network_synops``, all recorded. Feedforward synapses
    come in layer order, each recurrent one after its layer's feedforward one. removed:
    the units the export removed from each layer (``export.removal.removed_by_layer``):
    their neurons come back with no message and no fan-out, so that the terms line up
    with those of the network they were removed from.
    """
    terms = []
    for index, (layer, pre) in enumerate(zip(network.layers, [inputs, *layer_spikes[:-1]])):
        fan = layer.fan_out(network.previous(index))
        if fan is None:
            continue
        pairs = [(pre, fan, index - 1)]
        recurrent = layer.recurrent_fan_out()
        if recurrent is not None:
            pairs.append((layer_spikes[index], recurrent, index))
        for messages, fan_out, source in pairs:
            counts = np.count_nonzero(messages, axis=-1).reshape(messages.shape[0], -1).mean(axis=0)
            fan_out = np.asarray(fan_out, dtype=np.int64).reshape(-1)
            units = (removed or {}).get(source, [])
            if units:
                gone = removed_neurons(network.layers[source], units)
                counts, fan_out = _restored(counts, gone), _restored(fan_out, gone)
            terms.append((counts, fan_out))
    return terms


def _restored(values: np.ndarray, gone: np.ndarray) -> np.ndarray:
    """values [n'] of the neurons that stay as [n] of the full layer (``gone``: bool [n], the
    removed neurons), zero at the removed ones."""
    full = np.zeros(gone.size, dtype=values.dtype)
    full[~gone] = values
    return full


def saving_shares(dense: list[tuple[np.ndarray, np.ndarray]], pruned: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """How much of the synaptic operations pruning saves comes from fewer weights and how
    much from fewer messages.

    With S(m, f) = sum over synapses of m . f (``synops_terms``; m: messages per
    presynaptic neuron, f: fan-outs) the saving S(m_d, f_d) - S(m_p, f_p) splits,
    symmetrically in the two factors (the Shapley split of a product, exact):

        weights  = [S(m_d, f_d) - S(m_d, f_p) + S(m_p, f_d) - S(m_p, f_p)] / 2
        messages = [S(m_d, f_d) - S(m_p, f_d) + S(m_d, f_p) - S(m_p, f_p)] / 2

    weights + messages = the saving. A share is negative when pruning made that factor
    cost more (a pruned network that sends more messages).
    """
    if len(dense) != len(pruned) or any(fd.shape != fp.shape for (_, fd), (_, fp) in zip(dense, pruned)):
        raise ValueError("the dense and pruned networks do not have the same synapses")

    def total(messages_of, fans_of) -> float:
        return float(sum(m @ f for (m, _), (_, f) in zip(messages_of, fans_of)))

    dd, pp = total(dense, dense), total(pruned, pruned)
    dp, pd = total(dense, pruned), total(pruned, dense)  # (messages, fan-outs)
    weights = (dd - dp + pd - pp) / 2
    messages = (dd - pd + dp - pp) / 2
    saving = dd - pp
    return {
        "synops_dense": dd, "synops_pruned": pp, "saving": saving,
        "from_weights": weights, "from_messages": messages,
        "share_weights": weights / saving if saving else 0.0,
        "share_messages": messages / saving if saving else 0.0,
        "synops_dense_messages_pruned_weights": dp, "synops_pruned_messages_dense_weights": pd,
    }
