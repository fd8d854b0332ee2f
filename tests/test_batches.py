"""``--batch-size`` of ``compare`` and ``verify``: the same figures, memory bounded by the batch."""
import json
import tracemalloc
from dataclasses import replace

import numpy as np
import pytest

from netx_builders import FIXTURES, OffByOneThreshold, dense_network
from neurodeploy.cli import main
from neurodeploy.compare import verify as verify_module
from neurodeploy.compare.networks import compare_networks
from neurodeploy.hardware.profile import load_profile
from neurodeploy.hardware.resources import estimate_resources
from neurodeploy.limits import LimitError, Limits
from neurodeploy.loihi.timing import drain
from neurodeploy.netx import read_netx, write_netx
from neurodeploy.simulate.inputs import random_spikes
from neurodeploy.simulate.stimulus import Stimulus

OXFORD = FIXTURES / "oxford"


def _silent_output_copy(path, out):
    """The network at ``path`` with its output threshold out of reach: B's output never spikes."""
    network = read_netx(path)
    last = network.layers[-1]
    write_netx(out, [*network.layers[:-1], replace(last, neuron=replace(last.neuron, v_th_mant=1 << 16))])
    return out


def _without_times(report):
    for side in ("a", "b"):
        report[side].pop("golden_s")
    report.pop("batch_size")
    return report


@pytest.mark.parametrize("batch", ["1", "5", "16", "40"])
def test_compare_gives_the_same_figures_in_any_batch_size(tmp_path, batch):
    a = tmp_path / "a.net"
    dense_network(a)
    b = _silent_output_copy(a, tmp_path / "b.net")
    common = ["compare", str(a), str(b), "--random-rate", "0.3", "--steps", "20", "--samples", "16"]
    assert main([*common, "--json", str(tmp_path / "all.json")]) == 0
    assert main([*common, "--batch-size", batch, "--json", str(tmp_path / "batched.json")]) == 0
    whole = json.loads((tmp_path / "all.json").read_text())
    batched = json.loads((tmp_path / "batched.json").read_text())
    assert batched["batch_size"] == min(int(batch), 16) and whole["batch_size"] == 16
    assert any("silent" in line for line in whole["caveats"]), "the case must exercise the caveats"
    assert 0 < whole["a"]["synops_per_sample"] and whole["b"]["layers"][-1]["spikes_per_sample"] == 0
    assert _without_times(batched) == _without_times(whole)
    assert whole["a"]["cores"] == {chip: estimate_resources(read_netx(a), load_profile(chip)).cores
                                   for chip in ("loihi1", "loihi2")}


def test_compare_memory_is_bounded_by_the_batch_not_the_samples():
    network = read_netx(OXFORD / "network.net")

    def peak(samples, batch_size):
        stimulus = Stimulus(random_spikes(samples, 200, 500, 0.02, 0), None, 500)
        tracemalloc.start()
        compare_networks(network, network, stimulus, batch_size=batch_size)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top - stimulus.spikes.nbytes

    messages_per_sample = 2 * sum(network.sizes) * 502  # both networks' uint8 messages
    small, large = peak(8, 4), peak(48, 4)
    assert large - small < 0.1 * 40 * messages_per_sample, (small, large)
    assert peak(48, None) - small > 0.8 * 40 * messages_per_sample


def test_batch_size_lets_a_memory_limit_pass():
    network = read_netx(OXFORD / "network.net")
    stimulus = Stimulus(random_spikes(64, 200, 2000, 0.0, 0), None, 2000)
    limits = Limits(memory=512 * 2**20)
    with pytest.raises(LimitError, match="compare \\(64 samples"):
        compare_networks(network, network, stimulus, limits=limits)
    report = compare_networks(network, network, stimulus, limits=limits, batch_size=4)
    assert report.samples == 64 and report.batch_size == 4


def test_batch_size_must_be_positive(capsys):
    assert main(["compare", "a.net", "b.net", "--random-rate", "0.1", "--steps", "4", "--batch-size", "0"]) == 2
    assert "--batch-size" in capsys.readouterr().err


@pytest.mark.lava
def test_verify_in_batches_compares_every_stream(tmp_path, capsys):
    out = tmp_path / "v.json"
    net = FIXTURES / "mnist_mlp" / "network.net"
    code = main(["verify", str(net), "--random-rate", "0.2", "--steps", "12", "--samples", "5",
                 "--batch-size", "2", "--json", str(out)])
    assert code == 0 and "in 3 streams of up to 2" in capsys.readouterr().out
    report = json.loads(out.read_text())
    network = read_netx(net)
    silent = drain(len(network.layers), network.starts_with_input)  # each stream ends with these
    columns = [2 * 12 + silent, 2 * 12 + silent, 12 + silent]
    assert report["equivalent"] and report["batches"] == 3 and report["columns"] == sum(columns)
    assert report["compared_entries"] == sum(network.sizes) * sum(columns)
    assert report["exact_samples"] == 5
    for layer in report["layers"]:
        assert layer["mismatches"] == 0 and layer["spikes_golden"] == layer["spikes_lava"] > 0


@pytest.mark.lava
def test_verify_in_batches_locates_the_divergence_in_its_stream(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(verify_module, "GoldenModel", OffByOneThreshold)
    out = tmp_path / "v.json"
    args = ["verify", str(FIXTURES / "mnist_mlp" / "network.net"), "--random-rate", "0.2", "--steps", "30",
            "--samples", "3", "--json", str(out)]
    assert main(args) == 1
    whole = json.loads(out.read_text())["first_divergence"]
    assert main([*args, "--batch-size", "1"]) == 1
    assert "of stream" in capsys.readouterr().out
    report = json.loads(out.read_text())
    first = report["first_divergence"]
    assert report["batches"] == 3 and first["batch"] == first["sample"]
    # the stream of one sample is that sample's columns of the whole stream, up to the drain
    assert (first["sample"], first["step"], first["layer"], first["neuron"]) == \
        (whole["sample"], whole["step"], whole["layer"], whole["neuron"])
    assert first["state_golden"] == whole["state_golden"] and first["state_lava"] == whole["state_lava"]
