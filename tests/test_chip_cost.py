"""Per-core activity, time per step and energy per inference (``hardware.activity``,
``hardware.cost``): by hand on a 3-core network, and against Intel's PilotNet measurement."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import yaml

from neurodeploy.compare.synops import network_synops
from neurodeploy.hardware import load_profile
from neurodeploy.hardware.activity import EVENTS, core_events, core_routes
from neurodeploy.hardware.cost import CostTally, NetworkCost
from neurodeploy.hardware.resources import estimate_resources
from neurodeploy.netx import CubaNeuron, DenseLayer, Network, RecurrentDenseLayer, SigmaDeltaNeuron
from neurodeploy.reference import lava_dl_ground_truth

NEURON = CubaNeuron(v_th_mant=10, i_decay=1024, v_decay=512)
# layer 0: 4 neurons <- 3 inputs (nonzero: 0<-0, 2<-0, 2<-1, 3<-2); layer 1: 2 neurons <- 4, all 2
W0 = np.array([[2, 0, 0], [0, 0, 0], [4, -2, 0], [0, 0, 6]])
W1 = np.full((2, 4), 2)
NETWORK = Network((DenseLayer(W0, NEURON), DenseLayer(W1, NEURON)))
ROOT = Path(__file__).resolve().parents[1]


def two_per_core(tmp_path: Path) -> object:
    """Loihi 1 with 2 neurons per core: layer 0 on cores 0 ({0, 1}) and 1 ({2, 3}), layer 1 on core 2."""
    raw = yaml.safe_load(load_profile("loihi1").path.read_text())
    raw["figures"]["neurons_per_core"]["value"] = 2
    path = tmp_path / "two.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_profile(path)


def by_hand_messages() -> tuple[np.ndarray, list[np.ndarray]]:
    """One sample, 2 steps: inputs 0 and 2 then 1; layer 0 neurons 0 and 3 then 2; layer 1 neuron 0 at step 1."""
    inputs = np.zeros((1, 3, 2), dtype=np.uint8)
    inputs[0, [0, 2], 0] = 1
    inputs[0, 1, 1] = 1
    layer0 = np.zeros((1, 4, 2), dtype=np.uint8)
    layer0[0, [0, 3], 0] = 1
    layer0[0, 2, 1] = 1
    layer1 = np.zeros((1, 2, 2), dtype=np.uint8)
    layer1[0, 0, 1] = 1
    return inputs, [layer0, layer1]


def test_core_events_by_hand(tmp_path: Path) -> None:
    profile = two_per_core(tmp_path)
    resources = estimate_resources(NETWORK, profile)
    assert [layer.cores for layer in resources.layers] == [2, 1]
    routes = core_routes(NETWORK, resources)
    inputs, spikes = by_hand_messages()
    events = core_events(routes, inputs, spikes)
    assert events.shape == (1, 2, 3, len(EVENTS))
    # columns: syn_ops, dendrite_updates, spikes_in, spikes_out, axon_out
    expected = np.array([
        [[1, 2, 1, 1, 1], [2, 2, 2, 1, 1], [4, 2, 2, 0, 0]],   # step 0
        [[0, 2, 0, 0, 0], [1, 2, 1, 1, 1], [2, 2, 1, 1, 0]],   # step 1
    ])
    np.testing.assert_array_equal(events[0], expected)
    # a layer's cores add up to compare.synops's count
    per_layer = network_synops(NETWORK, inputs, spikes)[0]
    assert [events[..., :2, 0].sum(), events[..., 2, 0].sum()] == list(per_layer)


def test_time_and_energy_by_hand(tmp_path: Path) -> None:
    """Core times (ns, Loihi 1: syn 3.8, update 9.7, in 16, out 30, routed 5.1): step 0
    74.3 / 94.1 / 66.6, step 1 19.4 / 74.3 / 73.0; each step the busiest (core 1) plus the
    1800 ns barrier. Energy: 10 synops, 12 updates, 3 routed spikes."""
    profile = two_per_core(tmp_path)
    resources = estimate_resources(NETWORK, profile)
    routes = core_routes(NETWORK, resources)
    inputs, spikes = by_hand_messages()
    tally = CostTally(profile, NETWORK, routes, resources.chips)
    tally.add(core_events(routes, inputs, spikes))
    cost = tally.cost(steps_per_inference=2)
    assert cost.time_per_step_us == pytest.approx((94.1 + 74.3 + 2 * 1800) / 2 * 1e-3)
    assert cost.slowest_step_us == pytest.approx((94.1 + 1800) * 1e-3)
    assert (cost.busiest_core, cost.busiest_layer) == (1, 0)
    assert cost.inferences_per_second == pytest.approx(1e9 / (94.1 + 74.3 + 2 * 1800))
    assert cost.dynamic_uj == pytest.approx((10 * 23.6 + 12 * 81 + 3 * 1.7) * 1e-6)
    assert cost.static_uj is None and cost.total_uj is None, "Loihi 1 publishes no static power"
    assert [core.time_us for core in cost.cores] == pytest.approx([93.7e-3 / 2, 168.4e-3 / 2, 139.6e-3 / 2])
    assert [core.busiest_fraction for core in cost.cores] == [0.0, 1.0, 0.0]
    assert cost.as_dict()["per_core"]["syn_ops"] == [1.0, 3.0, 6.0]


def test_static_energy_is_the_chips_power_for_the_inference_time() -> None:
    loihi2 = load_profile("loihi2")
    cost = NetworkCost(NETWORK, [loihi2], sparse=False)
    inputs, spikes = by_hand_messages()
    cost.add(inputs, spikes)
    figures = cost.figures(steps_per_inference=5)["loihi2"]
    assert figures["static_uj"] == pytest.approx(loihi2.value("static_power_per_chip") * 5
                                                 * figures["time_per_step_us"])
    assert figures["total_uj"] == pytest.approx(figures["static_uj"] + figures["dynamic_uj"])
    assert figures["basis"]["static_power_per_chip"] == "measured"
    assert figures["basis"]["energy_synaptic_op"] == "calibrated"


def test_graded_messages_and_recurrent_routing_are_charged() -> None:
    """A graded message is charged Loihi 2's graded figure; a recurrent layer's messages
    are routed to its own core; Loihi 1, which sends spikes only, has no dynamic energy."""
    network = Network((DenseLayer(W0, SigmaDeltaNeuron("sigma_delta", 1)),
                       RecurrentDenseLayer(W1, NEURON, weight_rec=np.full((2, 2), 2))))
    graded = np.zeros((1, 4, 3), dtype=np.int32)
    graded[0, 0, :] = [500, -7, 0]          # 2 graded messages, to layer 1
    spikes = np.zeros((1, 2, 3), dtype=np.uint8)
    spikes[0, 1, :2] = 1                     # 2 spikes, to layer 1 itself
    loihi1, loihi2 = load_profile("loihi1"), load_profile("loihi2")
    cost = NetworkCost(network, [loihi1, loihi2], sparse=False)
    cost.add(None, [graded, spikes])
    figures = cost.figures(steps_per_inference=3)
    per_core = figures["loihi2"]["per_core"]
    # layer 1: 4 synops from layer 0's messages and 4 from its own, 4 messages in
    assert (per_core["syn_ops"], per_core["spikes_in"], per_core["axon_out"]) == ([0, 8], [0, 4], [2, 2])
    assert figures["loihi2"]["dynamic_uj"] == pytest.approx(1e-6 * (
        8 * loihi2.value("energy_synaptic_op") + 18 * loihi2.value("energy_neuron_update")
        + 2 * loihi2.value("energy_graded_message_sent") + 2 * loihi2.value("energy_spike_sent")))
    assert figures["loihi1"]["dynamic_uj"] is None and figures["loihi1"]["time_per_step_us"] > 0


def _calibration():
    spec = importlib.util.spec_from_file_location("calibrate_loihi2", ROOT / "hardware" / "calibrate_loihi2.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(lava_dl_ground_truth() is None, reason="lava-dl's ground truth is not installed")
def test_loihi2_profile_reproduces_intels_pilotnet_measurement() -> None:
    """The calibrated Loihi 2 figures give Intel's PilotNet LIF measurement (152.85 us per
    step, 1.0935 mJ dynamic and 0.5676 mJ static per inference) within 0.5 %, the
    busiest core in the first conv layer; Loihi 1's figures on the same mapping are
    2.6 times slower."""
    calibration = _calibration()
    loihi1, loihi2 = load_profile("loihi1"), load_profile("loihi2")
    cost = calibration.pilotnet_cost(loihi2)
    assert cost.time_per_step_us == pytest.approx(calibration.MEASURED_TIME_PER_STEP_US, rel=5e-3)
    assert cost.dynamic_uj == pytest.approx(calibration.MEASURED_DYNAMIC_UJ, rel=5e-3)
    assert cost.static_uj == pytest.approx(1e6 * 0.232078 / 408.91, rel=5e-3)
    assert cost.inferences_per_second == pytest.approx(408.91, rel=5e-3)
    assert cost.busiest_layer == 1 and len(cost.cores) == 74
    slower = calibration.pilotnet_cost(loihi2, timing=loihi1).time_per_step_us / cost.time_per_step_us
    assert slower == pytest.approx(2.64, abs=0.01)
