"""End to end on a tiny recipe: real training, real NetX files, real Lava."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from neurodeploy.cli import main
from neurodeploy.compare.equivalence import compare_recordings, exact_samples
from neurodeploy.netx import read_netx
from neurodeploy.simulate.stage import load_layers
from neurodeploy.train.checkpoint import load_checkpoint

TINY = Path(__file__).parent / "recipes" / "tiny.yaml"
REPORT_KEYS = {
    ("dense", "accuracy"), ("pruned", "accuracy"), ("pruned", "sparsity"),
    ("dense", "synops_per_sample"), ("pruned", "synops_per_sample"),
    ("lava", "samples"), ("lava", "dense_exact_fraction"), ("lava", "pruned_exact_fraction"),
    ("lava", "pruned_accuracy"), ("golden", "dense_exact_fraction"), ("golden", "pruned_exact_fraction"),
}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert main(["run", str(TINY), "--out", str(out)]) == 0
    return out


@pytest.mark.slow
@pytest.mark.lava
def test_report_states_exact_equivalence(run_dir):
    report = json.loads((run_dir / "report.json").read_text())
    for section, key in REPORT_KEYS:
        assert key in report[section]
    assert "synops_ratio" in report
    assert set(report["seconds"]) == {"train", "prune", "export", "simulate", "compare"}
    lava = report["lava"]
    assert lava["samples"] == 6
    assert lava["dense_exact_fraction"] == 1.0 and lava["pruned_exact_fraction"] == 1.0
    assert lava["dense_mismatches_per_layer"] == [0, 0] == lava["pruned_mismatches_per_layer"]
    assert lava["dense_equivalent"] and lava["pruned_equivalent"] and lava["synops_equal_golden"]
    assert lava["pruned_sparse_synapses"] is True
    golden = report["golden"]
    assert golden["test_samples"] == report["dense"]["test_samples"] > 300
    assert golden["dense_exact_fraction"] == 1.0 == golden["pruned_exact_fraction"]
    assert golden["dense_mismatches_per_layer"] == [0, 0] == golden["pruned_mismatches_per_layer"]
    assert report["dense"]["accuracy"] == report["dense"]["slayer_accuracy"]
    assert report["pruned"]["sparsity"] >= 0.8
    assert report["synops_ratio"] < 1.0


@pytest.mark.slow
@pytest.mark.lava
def test_lava_spikes_are_real_and_a_flip_is_caught(run_dir):
    with np.load(run_dir / "simulation.npz") as sim:
        golden = dict(enumerate(load_layers(sim, "pruned", "golden_stream")))
        lava = dict(enumerate(load_layers(sim, "pruned", "lava")))
    assert all(s.sum() > 0 for s in lava.values()), "every layer should spike"
    arrivals = {0: 1, 1: 2}
    assert compare_recordings(golden, lava).equivalent
    flipped = {k: v.copy() for k, v in lava.items()}
    column = 3 * 8 + 5  # sample 3, step 5 - 2 of the output layer (layer 1, arrival 2)
    flipped[1][0, column] ^= 1
    eq = compare_recordings(golden, flipped)
    assert eq.mismatches == {0: 0, 1: 1} and eq.first == (1, 0, column)
    assert exact_samples(golden, flipped, arrivals, 6, 8).tolist() == [True, True, True, False, True, True]


@pytest.mark.slow
def test_pruned_export_keeps_masked_weights_zero(run_dir):
    layers = read_netx(run_dir / "pruned.net").layers
    masks = load_checkpoint(run_dir / "pruned.pt").masks
    assert list(masks) == ["blocks.0.synapse.weight", "blocks.1.synapse.weight"]  # exclude: []
    for index, layer in enumerate(layers):
        mask = masks[f"blocks.{index}.synapse.weight"].reshape(layer.weight.shape).numpy()
        assert np.all(layer.weight[~mask] == 0)
        assert (~mask).mean() > 0.5


@pytest.mark.slow
@pytest.mark.lava
@pytest.mark.parametrize("model, sparse", [("dense", True), ("pruned", False)])
def test_verify_our_exports_on_the_other_synapse_kind(run_dir, tmp_path, model, sparse):
    """The pipeline runs dense on Dense and pruned on Sparse synapses; here the other way round."""
    spikes = tmp_path / "x.npy"
    with np.load(run_dir / "simulation.npz") as sim:
        np.save(spikes, sim["inputs"][:5])
    out = tmp_path / "v.json"
    args = ["verify", str(run_dir / f"{model}.net"), "--spikes", str(spikes), "--json", str(out)]
    assert main(args + (["--sparse"] if sparse else [])) == 0
    report = json.loads(out.read_text())
    assert report["equivalent"] and report["samples"] == 5 and report["exact_samples"] == 5
    assert report["sparse_synapses"] is sparse


@pytest.mark.slow
def test_compare_command_on_the_test_set_matches_the_report(run_dir, tmp_path):
    out = tmp_path / "c.json"
    args = ["compare", str(run_dir / "dense.net"), str(run_dir / "pruned.net"), "--recipe", str(TINY)]
    assert main(args + ["--json", str(out)]) == 0
    result = json.loads(out.read_text())
    report = json.loads((run_dir / "report.json").read_text())
    assert result["accuracy_a"] == report["dense"]["accuracy"]
    assert result["accuracy_b"] == report["pruned"]["accuracy"]
    assert result["synops_ratio"] == pytest.approx(report["synops_ratio"])


TINY_CONV = Path(__file__).parent / "recipes" / "tiny_conv.yaml"


@pytest.mark.slow
@pytest.mark.lava
def test_conv_recipe_runs_bit_exactly_in_lava(tmp_path):
    out = tmp_path / "conv"
    assert main(["run", str(TINY_CONV), "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert [type(layer).__name__ for layer in read_netx(out / "pruned.net", input_shape=(1, 8, 8)).layers] == [
        "ConvLayer", "DenseLayer"]
    golden, lava = report["golden"], report["lava"]
    assert golden["dense_exact_fraction"] == 1.0 == golden["pruned_exact_fraction"]
    assert golden["pruned_mismatches_per_layer"] == [0, 0]
    assert lava["dense_exact_fraction"] == 1.0 == lava["pruned_exact_fraction"]
    assert lava["pruned_mismatches_per_layer"] == [0, 0] and lava["synops_equal_golden"]
    assert report["pruned"]["sparsity"] >= 0.6
    rounds = load_checkpoint(out / "pruned.pt").extra["rounds"]
    assert [round(r["target"], 4) for r in rounds] == [round(1 - 0.4 ** 0.5, 4), 0.6]
    with np.load(out / "simulation.npz") as sim:
        assert all(layer.sum() > 0 for layer in load_layers(sim, "pruned", "lava")), "every layer should spike"


@pytest.mark.slow
@pytest.mark.lava
def test_html_report_is_self_contained_and_states_the_figures(run_dir, tmp_path):
    import base64
    import re

    page = (run_dir / "report.html").read_text()
    report = json.loads((run_dir / "report.json").read_text())
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page), "the report must not load anything"
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 4 and all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    for side in ("dense", "pruned"):
        assert f"{report[side]['accuracy']:.4f}" in page
        assert f"{report[side]['synops_per_sample']:.0f}" in page
    assert f"{report['synops_ratio']:.4f}" in page
    for chip in ("loihi1", "loihi2"):
        assert f"{chip}: cores per layer, as Intel's Loihi 2 compiler maps a network" in page
        for side in ("dense", "pruned"):
            hardware = report[side]["hardware"][chip]
            rows = hardware["distribution"]
            assert [row["cores"] for row in rows] == hardware["cores_per_layer"] and sum(
                hardware["cores_per_layer"]) == hardware["cores"]
            assert all(row["neurons"] >= 1 and row["synapses"] >= 0 for row in rows)
            # activity per core: the cores' synaptic operations add up to the network's
            per_core = hardware["per_core"]
            assert len(per_core["syn_ops"]) == hardware["cores"] == len(per_core["layer"])
            assert sum(per_core["syn_ops"]) == pytest.approx(report[side]["synops_per_sample"])
            assert hardware["time_per_step_us"] > 0 and hardware["dynamic_uj"] > 0
            assert f"{hardware['time_per_step_us']:.2f}" in page and f"{hardware['dynamic_uj']:.3f}" in page
        dense, pruned = (report[side]["hardware"][chip] for side in ("dense", "pruned"))
        assert pruned["cores"] <= dense["cores"], "a pruned network never maps to more cores than its dense one"
        assert f"{chip}: activity per core, per inference" in page
    loihi2 = report["dense"]["hardware"]["loihi2"]
    assert loihi2["total_uj"] == pytest.approx(loihi2["static_uj"] + loihi2["dynamic_uj"])
    assert report["dense"]["hardware"]["loihi1"]["static_uj"] is None


def test_raster_marks_and_counts_mismatches():
    from neurodeploy.report.figures import raster_figure

    lava = {side: [np.eye(4, 6, dtype=np.uint8)] for side in ("dense", "pruned")}
    golden = {"dense": [lava["dense"][0].copy()], "pruned": [lava["pruned"][0].copy()]}
    golden["pruned"][0][2, 5] = 1  # one spike only the golden model has
    figure = raster_figure(lava, golden, sample=0)
    titles = [ax.get_title() for ax in figure.axes]
    assert titles == ["dense, layer 0: 4 spikes, 0 mismatches", "pruned, layer 0: 4 spikes, 1 mismatches"]
    crosses = figure.axes[1].collections[1].get_offsets()
    assert crosses.tolist() == [[5.0, 2.0]]


@pytest.mark.slow
@pytest.mark.lava
def test_export_formats_carry_the_netx_network(run_dir):
    import nir

    from neurodeploy.export.onnx_run import run_onnx

    assert main(["export", "--out", str(run_dir), "--format", "onnx"]) == 0
    assert main(["export", "--out", str(run_dir), "--format", "nir"]) == 0
    with np.load(run_dir / "simulation.npz") as sim:
        inputs = sim["inputs"][:20]
        golden = load_layers(sim, "pruned", "golden")
    drain = golden[0].shape[-1] - inputs.shape[-1]
    padded = np.concatenate([inputs, np.zeros((*inputs.shape[:2], drain), dtype=inputs.dtype)], axis=-1)
    onnx_spikes = run_onnx(run_dir / "pruned.onnx", padded)
    for ours, theirs in zip(onnx_spikes, golden):
        assert np.array_equal(ours, theirs[:20])
    graph = nir.read(run_dir / "pruned.nir")
    weight = read_netx(run_dir / "pruned.net").layers[0].weight
    np.testing.assert_allclose(graph.nodes["layer0_linear"].weight, weight / 64)
