"""Calibrate Loihi 2's time and energy per event against Intel's PilotNet LIF measurement.

Intel published no per-event time or energy for Loihi 2. It did measure one
network: lava-dl's PilotNet LIF (tutorials/lava/lib/dl/netx/pilotnet_snn/
benchmark.ipynb at lava-dl 6b752b7, Oheo Gulch, one chip, 74 cores,
reset_interval=16, one frame as the input layer's bias, 10000 steps):

    408.91 inferences/s of 16 steps   -> 152.85 us per step
    dynamic power 0.447156 W          -> 1.093544 mJ per inference

Loihi 1's per-event figures (``hardware/loihi1.yaml``) are scaled, all times
by one factor k_t and all energies by one factor k_e, so that our model of
the same network on lava-dl's own frame of it (its ground truth
``gts/pilotnet_lif/image.npy``), mapped onto Loihi 2 by our mapper, gives
Intel's two figures. The model is linear in the per-event figures (the
busiest core is the same core whatever the scale), so k = measured /
predicted with Loihi 1's figures. One calibration point: the figures fit
this network exactly and are a scaled copy of Loihi 1's elsewhere.

Run: ``.venv/bin/python hardware/calibrate_loihi2.py``; it prints k_t, k_e
and the figures to write into ``hardware/loihi2.yaml``.
"""
from __future__ import annotations

import numpy as np

from neurodeploy.hardware import load_profile
from neurodeploy.hardware.activity import core_events, core_routes
from neurodeploy.hardware.cost import TIME_FIGURES, ChipCost, CostTally
from neurodeploy.hardware.profile import ChipProfile
from neurodeploy.hardware.resources import estimate_resources
from neurodeploy.netx import read_netx
from neurodeploy.reference import lava_dl_ground_truth
from neurodeploy.simulate.golden import GoldenModel

STEPS_PER_INFERENCE = 16  # netx reset_interval of Intel's run
MEASURED_TIME_PER_STEP_US = 1e6 / 408.91 / STEPS_PER_INFERENCE
MEASURED_DYNAMIC_UJ = 1093.544
ENERGY_FIGURES = ("energy_synaptic_op", "energy_neuron_update", "energy_spike_sent")
PERIODS = 4  # inferences run (each from the reset state)


def pilotnet_cost(profile: ChipProfile, timing: ChipProfile | None = None) -> ChipCost:
    """PilotNet LIF (lava-dl's ground truth) on ``timing``'s per-event figures (default:
    ``profile``'s), mapped onto ``profile``'s cores: one frame as the input layer's bias,
    ``PERIODS`` inferences of 16 steps, each from netx's reset."""
    folder = lava_dl_ground_truth()
    if folder is None:
        raise FileNotFoundError("lava-dl's ground truth (site-packages/tests/lava/lib/dl/netx/gts) is not installed")
    network = read_netx(folder / "pilotnet_lif" / "network.net")
    bias = np.load(folder / "pilotnet_lif" / "image.npy").astype(np.int64).reshape(1, -1)
    resources = estimate_resources(network, profile)
    routes = core_routes(network, resources)
    run = GoldenModel(network).run(None, bias=bias, steps=PERIODS * STEPS_PER_INFERENCE,
                                   reset_interval=STEPS_PER_INFERENCE)
    events = core_events(routes, None, run.spikes)
    tally = CostTally(timing or profile, network, routes, resources.chips)
    tally.add(events.reshape(PERIODS, STEPS_PER_INFERENCE, *events.shape[2:]))
    return tally.cost(STEPS_PER_INFERENCE)


def main() -> None:
    loihi1, loihi2 = load_profile("loihi1"), load_profile("loihi2")
    predicted = pilotnet_cost(loihi2, timing=loihi1)
    k_time = MEASURED_TIME_PER_STEP_US / predicted.time_per_step_us
    k_energy = MEASURED_DYNAMIC_UJ / predicted.dynamic_uj
    print(f"Loihi 1 figures on Loihi 2's mapping: {predicted.time_per_step_us:.2f} us/step "
          f"(busiest core {predicted.busiest_core}, layer {predicted.busiest_layer}), "
          f"{predicted.dynamic_uj:.1f} uJ dynamic per inference")
    print(f"measured: {MEASURED_TIME_PER_STEP_US:.2f} us/step, {MEASURED_DYNAMIC_UJ:.1f} uJ dynamic per inference")
    print(f"k_t = {k_time:.4f}, k_e = {k_energy:.4f}")
    for name in [*TIME_FIGURES.values(), "time_barrier"]:
        print(f"  {name}: {loihi1.value(name) * k_time:.4g}")
    for name in ENERGY_FIGURES:
        print(f"  {name}: {loihi1.value(name) * k_energy:.4g}")


if __name__ == "__main__":
    main()
