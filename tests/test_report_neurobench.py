"""NeuroBench's metrics in a pipeline run: ``comparison.json``, ``report.json`` and the HTML
report carry them for the dense and the pruned network, from the golden model on the test set.

The run is tests/recipes/keys.yaml (1 epoch on a fifth of digits, 64-8-10, pruned to 0.5;
about 12 s with Lava).
"""
from __future__ import annotations

import json
import shutil
import tracemalloc
from pathlib import Path

import numpy as np

import pytest

from neurodeploy.cli import main
from neurodeploy.report.stage import read_report
from neurodeploy.compare.stage import compare_bytes, compare_stage
from neurodeploy.loihi.timing import drain
from neurodeploy.netx import read_netx
from neurodeploy.pipeline import read_recipe
from neurodeploy.variants import VARIANTS

RECIPE = Path(__file__).parent / "recipes" / "keys.yaml"
METRICS = {"parameter_count", "footprint", "connection_sparsity", "activation_sparsity", "membrane_updates",
           "synaptic_operations"}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("neurobench") / "run"
    assert main(["run", str(RECIPE), "--out", str(out)]) == 0
    return out


@pytest.mark.lava
def test_report_gives_neurobench_metrics_of_both_networks_from_the_golden_model(run_dir):
    report = json.loads((run_dir / "report.json").read_text())
    comparison = json.loads((run_dir / "comparison.json").read_text())
    steps = report["recipe"]["data"]["steps"]
    api_figures = read_report(run_dir / "report.json")  # what neurodeploy.run returns
    for name, variant in VARIANTS.items():
        figures, neurobench = report[name], report[name]["neurobench"]
        assert neurobench == comparison[name]["neurobench"] == getattr(api_figures, name).neurobench
        assert set(neurobench) == METRICS
        operations = neurobench["synaptic_operations"]
        assert set(operations) == {"Effective_ACs", "Effective_MACs", "Dense"}
        # every test sample, counted again with state recorded, gives the report's synaptic operations
        assert operations["Effective_ACs"] + operations["Effective_MACs"] == pytest.approx(
            figures["synops_per_sample"], rel=1e-12)
        assert operations["Effective_MACs"] == 0.0  # a CUBA network sends spikes only
        network = read_netx(run_dir / variant.network)
        weights = sum(w.size for layer in network.layers for w in layer.weights())
        columns = steps + drain(len(network.layers), network.starts_with_input)  # T + drain a sample
        assert neurobench["parameter_count"] == weights == neurobench["footprint"]  # no bias; int8 weights
        assert operations["Dense"] == columns * weights
        # no unit was removed: the exported matrices' zeros are the model's
        assert neurobench["connection_sparsity"] == pytest.approx(figures["sparsity_all_layers"], rel=1e-12)
        assert neurobench["activation_sparsity"] == pytest.approx(1 - figures["activity"], rel=1e-12)
        neurons = sum(layer.size for layer in network.layers)
        assert neurons < neurobench["membrane_updates"] < neurons * columns
    assert report["pruned"]["neurobench"]["connection_sparsity"] > report["dense"]["neurobench"]["connection_sparsity"]
    assert report["pruned"]["neurobench"]["connection_sparsity"] == pytest.approx(0.5, abs=0.01)


@pytest.mark.lava
def test_html_report_has_the_neurobench_table(run_dir):
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    report = json.loads((run_dir / "report.json").read_text())
    start = page.index("<h2>NeuroBench metrics (NeuroBench 2.3 definitions)</h2>")
    table = page[start: page.index("</table>", start)]
    assert "<th>dense</th><th>pruned</th><th>change</th>" in table
    dense, pruned = (report[name]["neurobench"]["connection_sparsity"] for name in ("dense", "pruned"))
    assert f"<td>connection sparsity</td><td>{dense:.4f}</td><td>{pruned:.4f}</td><td>{pruned - dense:+.4f}</td>" \
        in table
    acs = [report[name]["neurobench"]["synaptic_operations"]["Effective_ACs"] for name in ("dense", "pruned")]
    assert (f"<td>synaptic operations per sample: Effective_ACs</td><td>{acs[0]:.1f}</td><td>{acs[1]:.1f}</td>"
            f"<td>{100 * (acs[1] / acs[0] - 1):+.1f} %</td>") in table
    assert table.count("<tr>") == 9  # the head and eight figures


@pytest.mark.lava
def test_compare_stage_holds_less_than_its_memory_bound(run_dir, tmp_path):
    """The bound the recipe is checked against before work starts (``compare_bytes``, its
    NeuroBench run one batch of samples with state) holds for the stage as it runs: the
    peak of what Python and numpy allocate. Holding the whole test set's state (1438
    samples) at once would exceed it."""
    out = tmp_path / "run"
    shutil.copytree(run_dir, out)
    recipe = read_recipe(out)
    network = read_netx(out / "dense.net")
    with np.load(out / "simulation.npz") as sim:
        test, lava = len(sim["labels"]), int(sim["lava_samples"])
    bound = compare_bytes(int(np.prod(network.input_shape)), network.sizes, test, lava, recipe.data.steps,
                          drain(len(network.layers), network.starts_with_input))
    tracemalloc.start()
    try:
        compare_stage(recipe, out)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= bound
    assert json.loads((out / "comparison.json").read_text()) == json.loads((run_dir / "comparison.json").read_text())
