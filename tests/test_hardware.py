"""Chip profiles and the resource and energy estimator, on networks small enough to count by hand."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from netx_builders import conv_network

from neurodeploy.hardware import ProfileError, available_profiles, load_profile
from neurodeploy.hardware.profile import FIGURES, OPTIONAL_FIGURES
from neurodeploy.hardware.resources import estimate_resources, weight_bits
from neurodeploy.netx import CubaNeuron, DenseLayer, Network, read_netx
from neurodeploy.reference import lava_dl_ground_truth

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
    assert sorted(loihi1.estimates) == ["axon_header_bits", "synapse_index_bits"]
    assert (loihi1.value("energy_synaptic_op"), loihi1.value("energy_neuron_update"),
            loihi1.value("energy_spike_sent")) == (23.6, 81, 1.7)
    assert not loihi1.has("static_power_per_chip"), "no published static power for Loihi 1"
    assert loihi2.figures["static_power_per_chip"].basis == "measured"
    for name in ("energy_synaptic_op", "time_synaptic_op", "time_barrier"):
        assert loihi2.figures[name].basis == "calibrated" and "k_" in loihi2.figures[name].reason


@pytest.mark.parametrize("change, message", [
    (lambda raw: raw["figures"].pop("weight_bits"), "missing figure 'weight_bits'"),
    (lambda raw: raw["figures"]["cores_per_chip"].update(source="nowhere"), "figures/cores_per_chip: 'source'"),
    (lambda raw: raw["figures"]["energy_spike_sent"].update(basis="derived"), "a derived figure needs a 'reason'"),
    (lambda raw: raw["figures"]["energy_spike_sent"].update(basis="guessed"), "'basis' must be one of published"),
    (lambda raw: raw["figures"]["time_barrier"].pop("basis"), "time_barrier: 'basis' must be one of"),
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


def test_dense_layers_split_until_their_synaptic_memory_fits(tmp_path: Path) -> None:
    """Rule 3 by hand: layer 0's weights need 3 bits (shared exponent 1), an entry 3 + 10
    bits on loihi1's figures, an axon ceil((k 13 + 2) / 64) words for k entries."""
    loihi1 = estimate_resources(NETWORK, load_profile("loihi1"))
    first, second = loihi1.layers
    assert (first.weight_bits, first.storage, first.cores, first.synapse_words) == (3, "dense", 1, 3)
    assert (first.row.axon_in, first.row.neurons, first.row.synapses, first.row.label) == (3, 4, 3, "Dense(4)")
    assert (second.weight_bits, second.cores, second.synapse_words, second.row.axon_map) == (1, 1, 4, 2)
    assert (loihi1.cores, loihi1.chips, loihi1.synaptic_bits) == (2, 1, 7 * 64)
    tight = load_profile(small_profile(tmp_path, synapse_words_per_core=2, cores_per_chip=4))
    # Dense: every one of the 3 axons reaches every core; 3 words a core whatever the split
    dense = estimate_resources(NETWORK, tight).layers[0]
    assert dense.cores == 4 and list(dense.core_of) == [0, 1, 2, 3]
    assert dense.problems == ("a core needs 3 synaptic memory words, the limit is 2 (one neuron's synapses do "
                              "not fit a core)",)
    # Sparse: 4 neurons -> 2 words too many on one core -> chunks of 2 (core 1: 3 axons) -> chunks of 1
    sparse = estimate_resources(NETWORK, tight, sparse=True)
    assert (sparse.layers[0].storage, sparse.layers[0].cores, sparse.layers[0].synapse_words) == ("sparse", 4, 4)
    assert (sparse.layers[0].row.axon_in, sparse.layers[0].problems) == (2, ())
    # layer 1: 4 axons of one entry each on either of its 2 one-neuron cores, 4 words: no split fits
    assert sparse.layers[1].cores == 2 and sparse.layers[1].problems[0].startswith("a core needs 4 synaptic memory")
    assert sparse.cores == 6 and sparse.problems == ("6 cores exceed one chip's 4",)


def test_limits_that_no_split_meets_are_one_line_naming_the_limit(tmp_path: Path) -> None:
    result = estimate_resources(NETWORK, load_profile(small_profile(tmp_path, neurons_per_core=1, fan_in_per_core=2)))
    assert [layer.cores for layer in result.layers] == [4, 2]
    assert result.layers[1].problems == ("a core needs 4 input axons, the limit is 2",)
    assert result.layers[0].problems == ("a core needs 3 input axons, the limit is 2",)


# Intel's Loihi 2 compiler on lava-dl's PilotNet LIF network (pilotnet_snn/benchmark.ipynb, docs/loihi2-published.md):
# cores per layer in file order, and the per-core Synapses and AxonMap its table prints for the dense layers.
INTEL_PILOTNET_CORES = [13, 25, 13, 3, 3, 2, 12, 1, 1, 1]
INTEL_PILOTNET_DENSE = [(2560, 8, 7253, 8), (100, 50, 1300, 50), (50, 10, 150, 10), (10, 1, 10, 1)]


def _pilotnet() -> Network:
    folder = lava_dl_ground_truth()
    if folder is None:
        pytest.skip("lava-dl's ground truth is not installed")
    return read_netx(folder / "pilotnet_lif" / "network.net")


def test_pilotnet_maps_onto_the_cores_intels_compiler_gave_it() -> None:
    network = _pilotnet()
    loihi2 = load_profile("loihi2")
    result = estimate_resources(network, loihi2)
    cores = [layer.cores for layer in result.layers]
    for ours, intel in zip(cores, INTEL_PILOTNET_CORES, strict=True):
        assert abs(ours - intel) <= max(1, 0.2 * intel), (cores, INTEL_PILOTNET_CORES)
    assert abs(sum(cores) - sum(INTEL_PILOTNET_CORES)) <= 0.1 * sum(INTEL_PILOTNET_CORES)
    assert cores == INTEL_PILOTNET_CORES  # today's rules reproduce it exactly
    dense = [(l.row.axon_in, l.row.neurons - 1, l.row.synapses, l.row.axon_map) for l in result.layers[6:]]
    assert dense[0] == INTEL_PILOTNET_DENSE[0]  # 11 cores of 9 neurons and one of 1
    assert [(a, n + 1, s, m) for a, n, s, m in dense[1:]] == INTEL_PILOTNET_DENSE[1:]
    assert [layer.row.label for layer in result.layers[:6]] == [
        "Conv(16, 66, 3)", "Conv(4, 32, 24)", "Conv(4, 15, 36)", "Conv(8, 7, 48)", "Conv(8, 4, 64)", "Conv(16, 2, 64)"]
    assert result.problems == () and all(layer.problems == () for layer in result.layers)


@pytest.mark.parametrize("profile", ["loihi1", "loihi2"])
def test_every_neuron_is_mapped_once_and_every_core_is_within_its_limits(profile: str, tmp_path: Path) -> None:
    chip = load_profile(profile)
    for network in (_pilotnet(), conv_network(tmp_path / "conv.net"), NETWORK):
        for layer, mapped in zip(network.layers, estimate_resources(network, chip).layers):
            assert mapped.core_of.shape == (layer.size,)
            per_core = np.bincount(mapped.core_of)
            assert per_core.size == mapped.cores and per_core.min() >= 1
            assert per_core.max() <= chip.value("neurons_per_core") and mapped.row.neurons == per_core.max()
            assert mapped.synapse_words <= mapped.cores * chip.value("synapse_words_per_core")


def test_graded_messages_need_a_chip_that_sends_them_and_recurrent_synapses_are_stored() -> None:
    """Loihi 1, which sends spikes only, gets a resource problem naming the layer's
    messages; a recurrent layer stores its own synapses beside its input's."""
    from neurodeploy.netx import RecurrentDenseLayer, SigmaDeltaNeuron

    network = Network((DenseLayer(W0, SigmaDeltaNeuron("sigma_delta", 1)),
                       RecurrentDenseLayer(W1, NEURON, weight_rec=np.full((2, 2), 2))))
    loihi1, loihi2 = load_profile("loihi1"), load_profile("loihi2")
    problems = estimate_resources(network, loihi1).layers[0].problems
    assert "it sends 16-bit graded messages; loihi1 sends spikes only" in problems
    assert not estimate_resources(network, loihi2).layers[0].problems
    # the recurrent block is stored: 4 axons from layer 0 and 2 from layer 1 itself, 2 entries each
    recurrent = estimate_resources(network, loihi2).layers[1]
    assert (recurrent.row.axon_in, recurrent.synapse_words) == (6, 6)


def _random_layer(seed: int, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """A dense layer of random nonzero even weights in [-16, 16] (10..399 x 100..2999,
    drawn from ``seed``) and the same layer with ``fraction`` of its weights zeroed at random."""
    rng = np.random.default_rng(seed)
    weights = 2 * rng.integers(1, 9, size=(int(rng.integers(10, 400)), int(rng.integers(100, 3000))))
    weights *= rng.choice([-1, 1], size=weights.shape)
    return weights, weights * (rng.random(weights.shape) >= fraction)


@pytest.mark.parametrize("profile, seed, dense_cores, looped, fewest",
                         [("loihi1", 9, 7, 10, 6), ("loihi2", 19, 8, 10, 6)])
def test_on_sparse_synapses_a_pruned_layer_takes_the_fewest_cores_that_fit(
        profile: str, seed: int, dense_cores: int, looped: int, fewest: int) -> None:
    """The compiler's loop is not monotone: on these layers, pruned by 30 %, its split of the
    nonzero weights takes more cores than the dense layer's. On Sparse synapses the mapper
    takes the fewest cores whose busiest core fits (each split with one core fewer
    overflows the synaptic memory)."""
    import scipy.sparse

    from neurodeploy.hardware.resources import _chunks, _split

    chip = load_profile(profile)
    weights, pruned = _random_layer(seed, 0.3)
    assert estimate_resources(Network((DenseLayer(weights, NEURON),)), chip).cores == dense_cores
    stored = scipy.sparse.csr_matrix(pruned)
    entry_bits = weight_bits(pruned) + chip.value("synapse_index_bits")
    assert _chunks(stored, chip, entry_bits)[2].size == looped
    mapped = estimate_resources(Network((DenseLayer(pruned, NEURON),)), chip, sparse=True)
    assert mapped.cores == fewest and not mapped.problems
    for ratio in range(1, fewest):
        assert _split(stored, chip, entry_bits, ratio)[2].max() > chip.value("synapse_words_per_core")


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["loihi1", "loihi2"])
def test_a_pruned_layer_never_maps_to_more_cores_than_its_dense_layer(profile: str) -> None:
    """30 random dense layers, each pruned at random to 30, 60, 90 and 99 %: on Sparse
    synapses never more cores than the dense layer on Dense or on Sparse synapses, and each
    pruning never more than the one before it (the masks nest)."""
    chip = load_profile(profile)
    for seed in range(30):
        rng = np.random.default_rng(1000 + seed)
        weights = _random_layer(1000 + seed, 0.0)[0]
        draws = rng.random(weights.shape)
        mapped = [estimate_resources(Network((DenseLayer(weights, NEURON),)), chip).cores,
                  estimate_resources(Network((DenseLayer(weights, NEURON),)), chip, sparse=True).cores]
        for fraction in (0.3, 0.6, 0.9, 0.99):
            pruned = weights * (draws >= fraction)
            cores = estimate_resources(Network((DenseLayer(pruned, NEURON),)), chip, sparse=True).cores
            assert cores <= min(mapped), f"{weights.shape} pruned {fraction}: {cores} cores after {mapped}"
            mapped.append(cores)
