"""Chip profiles and the resource and energy estimator, on networks small enough to count by hand."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from netx_builders import conv_network

from neurodeploy.hardware import ProfileError, available_profiles, load_profile
from neurodeploy.hardware.energy import energy_per_inference
from neurodeploy.hardware.profile import FIGURES, OPTIONAL_FIGURES
from neurodeploy.hardware.resources import estimate_resources, index_bits, weight_bits
from neurodeploy.netx import CubaNeuron, DenseLayer, Network

NEURON = CubaNeuron(v_th_mant=10, i_decay=1024, v_decay=512)
# layer 0: 4 neurons <- 3 inputs, 4 nonzero weights; layer 1: 2 neurons <- 4, all weights 2
W0 = np.array([[2, 0, 0], [0, 0, 0], [4, -2, 0], [0, 0, 6]])
W1 = np.full((2, 4), 2)
NETWORK = Network((DenseLayer(W0, NEURON), DenseLayer(W1, NEURON)))


def small_profile(tmp_path: Path, **limits: int) -> Path:
    """loihi1's figures with some limits replaced, written as a profile file."""
    raw = yaml.safe_load(load_profile("loihi1").path.read_text())
    for name, value in limits.items():
        raw["figures"][name]["value"] = value
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_shipped_profiles_cite_every_figure() -> None:
    assert {"loihi1", "loihi2"} <= set(available_profiles())
    loihi1, loihi2 = load_profile("loihi1"), load_profile("loihi2")
    assert set(loihi1.figures) == set(FIGURES)
    assert set(loihi2.figures) == set(FIGURES) | set(OPTIONAL_FIGURES), "Loihi 2 sends graded messages"
    assert not loihi1.has("graded_message_bits") and loihi2.value("graded_message_bits") == 32
    for profile in (loihi1, loihi2):
        assert all(figure.source in profile.sources for figure in profile.figures.values())
    assert loihi1.estimates == []
    assert (loihi1.value("energy_synaptic_op"), loihi1.value("energy_neuron_update_active"),
            loihi1.value("energy_neuron_update_inactive"), loihi1.value("energy_spike_sent")) == (23.6, 81, 52, 1.7)
    assert "energy_synaptic_op" in loihi2.estimates and loihi2.figures["energy_synaptic_op"].reason


@pytest.mark.parametrize("change, message", [
    (lambda raw: raw["figures"].pop("weight_bits"), "missing figure 'weight_bits'"),
    (lambda raw: raw["figures"]["cores_per_chip"].update(source="nowhere"), "figures/cores_per_chip: 'source'"),
    (lambda raw: raw["figures"]["energy_spike_sent"].update(estimate=True), "an estimate needs a 'reason'"),
    (lambda raw: raw["figures"]["neurons_per_core"].update(value=-3), "'value' must be a positive number"),
    (lambda raw: raw["figures"]["neurons_per_core"].update(value=10.5), "'value' must be an integer"),
])
def test_bad_profiles_name_the_key(tmp_path: Path, change, message: str) -> None:
    raw = yaml.safe_load(load_profile("loihi1").path.read_text())
    change(raw)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ProfileError, match=message):
        load_profile(path)
    with pytest.raises(ProfileError, match="no chip profile 'loihi9'"):
        load_profile("loihi9")


def test_weight_bits_by_hand() -> None:
    assert weight_bits(W0) == 3            # shared shift 1: mantissas 1, 2, -1, 3 -> signed 3 bits
    assert weight_bits(np.array([254, -256])) == 8   # 127, -128: a signed byte
    assert weight_bits(np.array([4, 8, 0])) == 2     # shift 2: 1, 2 unsigned
    assert weight_bits(np.array([-6, -2])) == 2      # shift 1: magnitudes 3, 1
    assert weight_bits(np.zeros(3, dtype=np.int64)) == 0


def test_weight_bits_match_netx() -> None:
    from neurodeploy.lavacompat import netx

    rng = np.random.default_rng(0)
    for scale in (3, 20, 60, 127):
        weight = rng.integers(-scale, scale + 1, size=(6, 7)) * 2
        assert weight_bits(weight) == netx.utils.optimize_weight_bits(weight)[1], scale


def test_conv_connectivity_agrees_with_synops_fan_out(tmp_path: Path) -> None:
    """A conv layer's connections (synapse by synapse, for the resource model) and its fan-out
    (one einsum, for synaptic operations) count a presynaptic neuron's nonzero synapses independently."""
    network = conv_network(tmp_path / "conv.net")
    previous = network.input_shape
    for layer in network.layers[1:]:
        previous = network.layers[0].lava_shape if previous == network.input_shape else previous
        [conn] = layer.connections(previous)
        fan_out = np.asarray((conn.weights != 0).sum(axis=0)).ravel()
        np.testing.assert_array_equal(fan_out, layer.fan_out(previous))
        assert conn.structure.nnz > conn.weights.nnz > 0
        previous = layer.lava_shape


def test_resources_by_hand(tmp_path: Path) -> None:
    profile = load_profile(small_profile(tmp_path, neurons_per_core=4, synaptic_memory_bits_per_core=16,
                                         cores_per_chip=2))
    assert index_bits(profile) == 2
    result = estimate_resources(NETWORK, profile)
    first, second = result.layers
    # layer 0: dense 12 synapses x 3 bits = 36; sparse 4 x (3 + 2) = 20 -> sparse; rows 5, 0, 10 | 5 (16 bits a core)
    assert (first.synapses, first.nonzero, first.weight_bits) == (12, 4, 3)
    assert (first.dense_bits, first.sparse_bits, first.storage, first.cores) == (36, 20, "sparse", 2)
    assert first.max_fan_in == 2            # core 0 stores synapses from inputs 0 and 1
    assert first.max_fan_out == 3           # 3 neurons on core 0, each to layer 1's one core
    # layer 1: 8 synapses x 1 bit = 8 dense, 8 x 3 = 24 sparse -> dense, one core
    assert (second.weight_bits, second.dense_bits, second.sparse_bits, second.storage) == (1, 8, 24, "dense")
    assert (second.cores, second.max_fan_in, second.max_fan_out) == (1, 4, 0)
    assert (result.cores, result.chips, result.synaptic_bits) == (3, 2, 28)
    assert result.problems == ("3 cores exceed one chip's 2",)


def test_limits_split_layers_and_report_what_cannot_fit(tmp_path: Path) -> None:
    result = estimate_resources(NETWORK, load_profile(small_profile(tmp_path, neurons_per_core=1, fan_in_per_core=2)))
    assert [layer.cores for layer in result.layers] == [4, 2]
    assert all("fan-in 4" in problem for problem in result.layers[1].problems)
    assert len(result.layers[1].problems) == 2
    # loihi1: everything fits in one core per layer
    assert [layer.cores for layer in estimate_resources(NETWORK, load_profile("loihi1")).layers] == [1, 1]


def test_energy_by_hand() -> None:
    profile = load_profile("loihi1")
    spikes0 = np.zeros((2, 4, 3), dtype=np.uint8)
    spikes0[0, 0, :2] = 1                 # sample 0: 2 spikes
    spikes0[1, 2, :] = 1
    spikes0[1, 3, 0] = 1                  # sample 1: 4 spikes
    spikes1 = np.ones((2, 2, 3), dtype=np.uint8)   # the last layer's spikes are not "sent"
    synops = np.array([[5, 7], [1, 3]])
    energy = energy_per_inference(profile, NETWORK, synops, [spikes0, spikes1])
    assert (energy.synaptic_ops, energy.neuron_updates, energy.spikes_sent) == (8.0, 18.0, 3.0)
    assert energy.energy_pj == pytest.approx(8 * 23.6 + 18 * 81 + 3 * 1.7)
    assert energy.energy_pj_min == pytest.approx(8 * 23.6 + 18 * 52 + 3 * 1.7)
    with pytest.raises(ValueError, match="-1"):
        energy_per_inference(profile, NETWORK, -np.ones((2, 2)), [spikes0, spikes1])


def test_graded_messages_and_recurrent_routing_are_charged() -> None:
    """A graded message is charged Loihi 2's graded figure; a recurrent layer's messages
    are routed to itself too; Loihi 1, which sends spikes only, has no energy for them and
    a resource problem naming the layer's messages."""
    from neurodeploy.netx import RecurrentDenseLayer, SigmaDeltaNeuron

    network = Network((DenseLayer(W0, SigmaDeltaNeuron("sigma_delta", 1)),
                       RecurrentDenseLayer(W1, NEURON, weight_rec=np.full((2, 2), 2))))
    graded = np.zeros((1, 4, 3), dtype=np.int32)
    graded[0, 0, :] = [500, -7, 0]          # 2 graded messages, to layer 1
    spikes = np.zeros((1, 2, 3), dtype=np.uint8)
    spikes[0, 1, :2] = 1                     # 2 spikes, to layer 1 itself (it is the last)
    synops = np.array([[4, 6]])
    loihi2 = load_profile("loihi2")
    energy = energy_per_inference(loihi2, network, synops, [graded, spikes])
    assert (energy.graded_sent, energy.spikes_sent, energy.synaptic_ops) == (2.0, 2.0, 10.0)
    assert energy.energy_pj == pytest.approx(10 * loihi2.value("energy_synaptic_op")
                                             + 2 * loihi2.value("energy_spike_sent")
                                             + 2 * loihi2.value("energy_graded_message_sent")
                                             + 18 * loihi2.value("energy_neuron_update_active"))
    assert "energy_graded_message_sent" in loihi2.estimates
    loihi1 = load_profile("loihi1")
    assert energy_per_inference(loihi1, network, synops, [graded, spikes]).energy_pj is None
    problems = estimate_resources(network, loihi1).layers[0].problems
    assert "it sends 16-bit graded messages; loihi1 sends spikes only" in problems
    assert not estimate_resources(network, loihi2).layers[0].problems
    # the recurrent block is stored: 4 + 4 synapses into layer 1
    assert estimate_resources(network, loihi2).layers[1].synapses == W1.size + 4
