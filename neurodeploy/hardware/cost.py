"""Time per step and energy per inference of a mapped network, from its per-core activity.

With e[s, c, k] the events of core c in step s (``activity.EVENTS``) and the
profile's time per event (ns), core c's time in step s is

    t[s, c] = syn_ops t_syn + dendrite_updates t_update + spikes_in t_in
              + spikes_out t_spike + axon_out t_out                          [ns]

and a step ends when its busiest core is done and the barrier has passed:

    T[s] = max_c t[s, c] + t_barrier.

Time per step is the mean of T[s] over every step of every sample; an
inference takes ``steps_per_inference`` steps (the sample's T: the chip
streams samples back to back, netx's reset interval), so inferences per
second = 1 / (steps_per_inference x time per step).

Energy of one inference (pJ; the sample's whole response, T + drain steps,
mean over samples):

    dynamic = sum_{s, c} syn_ops e_syn + dendrite_updates e_update + axon_out e_msg
    static  = P_static x chips x steps_per_inference x time per step

e_msg is ``energy_spike_sent`` for a core whose layer sends spikes,
``energy_graded_message_sent`` for one that sends graded messages (dynamic
energy None on a chip without them); static energy is None on a profile
without ``static_power_per_chip``. The chip's input and output from the
host are not counted. docs/hardware.md gives each figure's source and the
calibration of Loihi 2's against Intel's PilotNet measurement.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from neurodeploy.hardware.activity import EVENTS, CoreRoutes, core_events, core_routes
from neurodeploy.hardware.profile import ChipProfile
from neurodeploy.hardware.resources import NetworkResources, estimate_resources, network_connections
from neurodeploy.netx import Network

# the profile's time figure (ns) per event of ``activity.EVENTS``
TIME_FIGURES = {"syn_ops": "time_synaptic_op", "dendrite_updates": "time_neuron_update",
                "spikes_in": "time_message_in", "spikes_out": "time_spike_out", "axon_out": "time_message_out"}


@dataclass(frozen=True)
class CoreFigures:
    """One core: its layer (index among the layers with neurons), its events per
    inference (``activity.EVENTS``, sums over the sample's steps, mean over samples), its
    mean time per step (µs) and the fraction of steps in which it was the busiest."""

    layer: int
    syn_ops: float
    dendrite_updates: float
    spikes_in: float
    spikes_out: float
    axon_out: float
    time_us: float
    busiest_fraction: float


@dataclass(frozen=True)
class ChipCost:
    """A network's time and energy on one chip profile (module docstring): time per step
    (µs, mean, and the slowest step), the core that is busiest most often and its layer,
    inferences per second, and per inference static, dynamic and total energy (µJ; None
    where the profile cannot give it), with every core's figures."""

    profile: str
    steps_per_inference: int
    time_per_step_us: float
    slowest_step_us: float
    busiest_core: int
    busiest_layer: int
    inferences_per_second: float
    static_uj: float | None
    dynamic_uj: float | None
    total_uj: float | None
    cores: tuple[CoreFigures, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready; the per-core figures as columns (``per_core``: name -> list over cores)."""
        result = {key: value for key, value in self.__dict__.items() if key != "cores"}
        result["per_core"] = {name: [getattr(core, name) for core in self.cores]
                              for name in CoreFigures.__dataclass_fields__}
        return result


class CostTally:
    """Sums a network's per-core events batch by batch (``add``) into a ``ChipCost``
    (``cost``), holding a few numbers per core, not the events."""

    def __init__(self, profile: ChipProfile, network: Network, routes: CoreRoutes, chips: int) -> None:
        self.profile, self.routes, self.chips = profile, routes, chips
        self.times = np.array([profile.value(TIME_FIGURES[event]) for event in EVENTS], dtype=np.float64)
        graded = np.array([bool(layer.neuron.message_bits) for layer in network.layers])[routes.layer_of]
        self.energies = _energies(profile, graded)
        # integer sums, so that the figures do not depend on how samples are batched
        self.events = np.zeros((routes.cores, len(EVENTS)), dtype=np.int64)
        self.busiest_events = np.zeros(len(EVENTS), dtype=np.int64)  # of each step's busiest core
        self.busiest = np.zeros(routes.cores, dtype=np.int64)
        self.slowest_ns, self.steps, self.samples = 0.0, 0, 0

    def add(self, events: np.ndarray) -> None:
        """Count a batch: ``events`` int [N, S, C, len(EVENTS)] (``activity.core_events``)."""
        flat = events.reshape(-1, *events.shape[2:])  # [N S, C, E]
        core_ns = flat @ self.times
        busiest = core_ns.argmax(axis=-1)
        self.events += flat.sum(axis=0)
        self.busiest_events += flat[np.arange(flat.shape[0]), busiest].sum(axis=0)
        self.busiest += np.bincount(busiest, minlength=self.routes.cores)
        self.slowest_ns = max(self.slowest_ns, float(core_ns.max(initial=0.0)) + self.profile.value("time_barrier"))
        self.steps += int(flat.shape[0])
        self.samples += int(events.shape[0])

    def cost(self, steps_per_inference: int) -> ChipCost:
        """The figures of what was added, an inference being ``steps_per_inference`` steps."""
        if not self.steps:
            raise ValueError("no steps were counted")
        per_step_ns = float(self.busiest_events @ self.times) / self.steps + self.profile.value("time_barrier")
        core_ns = self.events @ self.times
        inference_s = steps_per_inference * per_step_ns * 1e-9
        static = (self.profile.value("static_power_per_chip") * self.chips * inference_s * 1e6
                  if self.profile.has("static_power_per_chip") else None)
        per_inference = self.events / self.samples
        dynamic = None if self.energies is None else float((per_inference * self.energies).sum()) * 1e-6
        busiest = int(self.busiest.argmax())
        cores = tuple(
            CoreFigures(layer=int(self.routes.layer_of[c]), **dict(zip(EVENTS, map(float, per_inference[c]))),
                        time_us=float(core_ns[c] / self.steps * 1e-3),
                        busiest_fraction=float(self.busiest[c] / self.steps))
            for c in range(self.routes.cores))
        return ChipCost(
            profile=self.profile.name, steps_per_inference=steps_per_inference, time_per_step_us=per_step_ns * 1e-3,
            slowest_step_us=self.slowest_ns * 1e-3, busiest_core=busiest,
            busiest_layer=int(self.routes.layer_of[busiest]), inferences_per_second=1.0 / inference_s,
            static_uj=static, dynamic_uj=dynamic,
            total_uj=None if static is None or dynamic is None else static + dynamic, cores=cores)


def _energies(profile: ChipProfile, graded: np.ndarray) -> np.ndarray | None:
    """float [C, len(EVENTS)]: pJ per event of each core (module docstring); None when a
    core sends graded messages the chip cannot send."""
    if graded.any() and not profile.has("energy_graded_message_sent"):
        return None
    energies = np.zeros((graded.size, len(EVENTS)))
    energies[:, EVENTS.index("syn_ops")] = profile.value("energy_synaptic_op")
    energies[:, EVENTS.index("dendrite_updates")] = profile.value("energy_neuron_update")
    message = EVENTS.index("axon_out")
    energies[:, message] = profile.value("energy_spike_sent")
    if graded.any():
        energies[graded, message] = profile.value("energy_graded_message_sent")
    return energies



class NetworkCost:
    """A network on chip profiles: mapped once per profile (``resources``, its dense layers
    on ``Sparse`` synapses where ``sparse``), its messages counted batch by batch
    (``add``), its figures per profile (``figures``)."""

    def __init__(self, network: Network, profiles: list[ChipProfile], sparse: bool) -> None:
        self.network = network
        connections = network_connections(network)
        self.mapped = []
        for profile in profiles:
            resources = estimate_resources(network, profile, connections, sparse=sparse)
            routes = core_routes(network, resources, connections)
            self.mapped.append((profile, resources, CostTally(profile, network, routes, resources.chips)))

    def add(self, inputs: np.ndarray | None, layer_spikes: list[np.ndarray], batch_size: int = 256) -> None:
        """Count N samples: inputs [N, n_in, S] into layer 0's synapse (None: none),
        layer_spikes[l] [N, n_l, S] (each sample's whole response), ``batch_size`` at a time."""
        for start in range(0, layer_spikes[0].shape[0], batch_size):
            rows = slice(start, start + batch_size)
            batch = (None if inputs is None else inputs[rows], [spikes[rows] for spikes in layer_spikes])
            for _, _, tally in self.mapped:
                tally.add(core_events(tally.routes, *batch))

    def figures(self, steps_per_inference: int) -> dict[str, dict[str, Any]]:
        """Per profile name: cores and chips, per layer and in the compiler's per-core
        distribution (``resources.CoreRow``, with the layer's group), synaptic memory (and
        ``memory_bound_words``, ``memory_bound_entries``: the words and synapse entries of
        the layers that take more cores than their neurons need, whose memory sets their
        cores), the
        ``ChipCost`` (an inference being ``steps_per_inference`` steps), and the basis of
        the profile's time, energy and power figures that apply (the graded message's only
        for a network that sends them)."""
        result = {}
        graded = any(layer.neuron.message_bits for layer in self.network.layers)
        for profile, resources, tally in self.mapped:
            result[profile.name] = {
                "cores": resources.cores,
                "cores_per_layer": [layer.cores for layer in resources.layers],
                "distribution": [{"layer": self.network.group_of(layer.index), "type": layer.kind,
                                  **asdict(layer.row)} for layer in resources.layers],
                "chips": resources.chips,
                "synaptic_memory_kib": resources.synaptic_bits / 8 / 1024,
                **_memory_bound(resources, profile),
                **tally.cost(steps_per_inference).as_dict(),
                "basis": {name: figure.basis for name, figure in profile.figures.items()
                          if name.startswith(("time_", "energy_", "static_"))
                          and (graded or name != "energy_graded_message_sent")},
                "estimates": sorted(profile.estimates),
            }
        return result


def _memory_bound(resources: NetworkResources, profile: ChipProfile) -> dict[str, int]:
    """The synaptic memory words and entries of the layers whose memory, not their
    neurons, sets their cores (more cores than ceil(neurons / neurons_per_core))."""
    bound = [layer for layer in resources.layers
             if layer.cores > math.ceil(layer.neurons / profile.value("neurons_per_core"))]
    return {"memory_bound_words": sum(layer.synapse_words for layer in bound),
            "memory_bound_entries": sum(layer.entries for layer in bound)}
