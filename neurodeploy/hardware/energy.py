"""Energy per inference from measured activity and a chip profile's per-event energies.

For one inference (one sample run from zero state for S steps)::

    E = synops * e_syn + updates * e_update + sent * e_spike        [pJ]

- synops: synaptic operations (``compare.synops``: each presynaptic spike
  costs one per nonzero outgoing weight), summed over layers;
- updates: neuron updates. Loihi is time-stepped and updates every
  configured neuron in every step, so updates = S * (neurons of every layer,
  input layer included). Whether an update is "active" (81 pJ on Loihi 1)
  or "inactive" (52 pJ) is not recorded here, so ``energy_pj`` counts every
  update as active (an upper bound for this term) and ``energy_pj_min``
  every update as inactive (a lower bound);
- sent: spikes of every layer but the last (those are routed to the next
  layer's cores); the last layer's spikes go to the host and input spikes
  come from it, and chip I/O is not modelled. Every spike is charged the
  profile's ``energy_spike_sent`` (within a tile on Loihi 1), not the dearer
  spike to another tile.

Static (leakage) power and the host are not included.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurodeploy.hardware.profile import ChipProfile
from neurodeploy.network.netx import Network


@dataclass(frozen=True)
class EnergyEstimate:
    """Per inference, averaged over samples: counts, and energies in pJ."""

    profile: str
    synaptic_ops: float
    neuron_updates: float
    spikes_sent: float
    energy_pj: float
    energy_pj_min: float

    def as_dict(self) -> dict[str, float | str]:
        """JSON-ready."""
        return dict(self.__dict__)


def energy_per_inference(profile: ChipProfile, network: Network, synops: np.ndarray,
                         layer_spikes: list[np.ndarray]) -> EnergyEstimate:
    """Energy of one inference (module docstring), averaged over the N samples.

    synops: int [N, L] synaptic operations per sample and layer
    (``compare.networks.run_batch``); layer_spikes[l]: [N, n_l, S] spikes of
    layer l, S the steps each sample ran.
    """
    synops = np.asarray(synops)
    if len(layer_spikes) != len(network.layers) or synops.shape != (layer_spikes[0].shape[0], len(network.layers)):
        raise ValueError(f"synops {synops.shape} and {len(layer_spikes)} spike arrays do not match "
                         f"{len(network.layers)} layers")
    if (synops < 0).any():
        raise ValueError("synops holds -1 (a layer whose presynaptic spikes were not recorded)")
    steps = layer_spikes[0].shape[-1]
    samples = synops.shape[0]
    ops = float(synops.sum()) / samples
    updates = float(steps * sum(s.shape[1] for s in layer_spikes))
    sent = float(sum(int(s.sum(dtype=np.int64)) for s in layer_spikes[:-1])) / samples
    fixed = ops * profile.value("energy_synaptic_op") + sent * profile.value("energy_spike_sent")
    return EnergyEstimate(
        profile=profile.name, synaptic_ops=ops, neuron_updates=updates, spikes_sent=sent,
        energy_pj=fixed + updates * profile.value("energy_neuron_update_active"),
        energy_pj_min=fixed + updates * profile.value("energy_neuron_update_inactive"),
    )
