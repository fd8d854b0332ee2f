"""Energy per inference from measured activity and a chip profile's per-event energies.

For one inference (one sample run from zero state for S steps)::

    E = synops * e_syn + updates * e_update + spikes * e_spike + graded * e_graded      [pJ]

- synops: synaptic operations (``compare.synops``: each nonzero presynaptic
  message costs one per nonzero outgoing weight, recurrent synapses
  included), summed over layers;
- updates: neuron updates. Loihi is time-stepped and updates every
  configured neuron in every step, so updates = S * (neurons of every layer,
  input layer included). Whether an update is "active" (81 pJ on Loihi 1)
  or "inactive" (52 pJ) is not recorded here, so ``energy_pj`` counts every
  update as active (an upper bound for this term) and ``energy_pj_min``
  every update as inactive (a lower bound);
- spikes, graded: nonzero messages routed between cores: those of every
  layer but the last (to the next layer), and a recurrent layer's to
  itself; the last layer's go to the host and input messages come from
  it, and chip I/O is not modelled. A spike is charged the profile's
  ``energy_spike_sent`` (within a tile on Loihi 1), not the dearer spike to
  another tile; a graded message ``energy_graded_message_sent``. On a chip
  without graded messages a network that sends them has no energy (None).

Static (leakage) power and the host are not included.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurodeploy.hardware.profile import ChipProfile
from neurodeploy.netx import Network


@dataclass(frozen=True)
class EnergyEstimate:
    """Per inference, averaged over samples: counts, and energies in pJ (None when the
    chip cannot send the network's graded messages)."""

    profile: str
    synaptic_ops: float
    neuron_updates: float
    spikes_sent: float
    graded_sent: float
    energy_pj: float | None
    energy_pj_min: float | None

    def as_dict(self) -> dict[str, float | str | None]:
        """JSON-ready."""
        return dict(self.__dict__)


def energy_per_inference(profile: ChipProfile, network: Network, synops: np.ndarray,
                         layer_spikes: list[np.ndarray]) -> EnergyEstimate:
    """Energy of one inference (module docstring), averaged over the N samples.

    synops: int [N, L] synaptic operations per sample and layer
    (``compare.networks.run_batch``); layer_spikes[l]: [N, n_l, S] messages of
    layer l, S the steps each sample ran.
    """
    synops = np.asarray(synops)
    if len(layer_spikes) != len(network.layers) or synops.shape != (layer_spikes[0].shape[0], len(network.layers)):
        raise ValueError(f"synops {synops.shape} and {len(layer_spikes)} message arrays do not match "
                         f"{len(network.layers)} layers")
    if (synops < 0).any():
        raise ValueError("synops holds -1 (a layer whose presynaptic messages were not recorded)")
    steps = layer_spikes[0].shape[-1]
    samples = synops.shape[0]
    ops = float(synops.sum()) / samples
    updates = float(steps * sum(s.shape[1] for s in layer_spikes))
    sent = {False: 0.0, True: 0.0}  # graded or not -> messages sent per sample
    last = len(network.layers) - 1
    for index, (layer, messages) in enumerate(zip(network.layers, layer_spikes)):
        routed = (index < last) + (layer.recurrent_fan_out() is not None)
        sent[bool(layer.neuron.message_bits)] += routed * np.count_nonzero(messages) / samples
    spikes, graded = sent[False], sent[True]
    energy, energy_min = None, None
    if not graded or profile.has("energy_graded_message_sent"):
        fixed = (ops * profile.value("energy_synaptic_op") + spikes * profile.value("energy_spike_sent")
                 + (graded * profile.value("energy_graded_message_sent") if graded else 0.0))
        energy = fixed + updates * profile.value("energy_neuron_update_active")
        energy_min = fixed + updates * profile.value("energy_neuron_update_inactive")
    return EnergyEstimate(profile=profile.name, synaptic_ops=ops, neuron_updates=updates, spikes_sent=spikes,
                          graded_sent=graded, energy_pj=energy, energy_pj_min=energy_min)
