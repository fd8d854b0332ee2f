"""``neurodeploy analyze DIR --perturbation prune|quantize``: Theorem 3.5 against measured flips.

Writes ``DIR/analysis_<perturbation>.json`` (everything), ``.csv`` (one row
per layer) and ``.png`` (the figure), each atomically; the two
perturbations of one run do not overwrite each other.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import torch

from neurodeploy.analyze.flips import flip_rates
from neurodeploy.analyze.measure import block_inputs, block_outputs, is_layer, layer_traces, neuron_constants
from neurodeploy.analyze.perturb import AnalysisError, perturbed_pair
from neurodeploy.analyze.plot import plot_analysis
from neurodeploy.analyze.record import layer_record
from neurodeploy.data.dataset import load_dataset
from neurodeploy.fileio import atomic_path, read_json, write_json
from neurodeploy.lock import folder_lock
from neurodeploy.pipeline import require_stages
from neurodeploy.preflight import check_names
from neurodeploy.recipe import Recipe


def _finite(value: Any) -> Any:
    """JSON has no infinity: an infinite figure (a decay of 0) is written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _subset(x: Any, samples: int | None) -> torch.Tensor:
    return torch.as_tensor(x[:samples] if samples is not None else x, dtype=torch.float32)


def analyze(out_dir: Path, recipe: Recipe, perturbation: str, samples: int | None = None) -> dict[str, Any]:
    """The analysis of run folder ``out_dir`` as a dict (see docs/analysis.md).

    Statistics (eps, densities, crisis probabilities, bounds) come from the
    first ``samples`` training samples, flips from the first ``samples`` test
    samples; None means all of them.
    """
    if samples is not None and samples < 1:
        raise AnalysisError(f"--samples must be at least 1, got {samples}")
    pair = perturbed_pair(out_dir, recipe, perturbation)
    data = load_dataset(pair.recipe.data, pair.recipe.seed)
    image = pair.reference.image
    x_fit, x_test = image(_subset(data.x_train, samples)), image(_subset(data.x_test, samples))
    ref_blocks, pert_blocks = pair.reference.blocks, pair.perturbed.blocks
    fit_inputs, test_inputs = block_inputs(ref_blocks, x_fit), block_inputs(ref_blocks, x_test)
    end_ref, end_pert = block_outputs(ref_blocks, x_test), block_outputs(pert_blocks, x_test)
    layers = []
    for index, (ref, pert) in enumerate(zip(ref_blocks, pert_blocks)):
        if not is_layer(ref):
            continue
        fit = layer_traces(ref, pert, fit_inputs[index])
        test = layer_traces(ref, pert, test_inputs[index])
        row = {"layer": len(layers), **layer_record(neuron_constants(ref.neuron), fit, test)}
        row["end_to_end_flip_rate"] = flip_rates(end_ref[index], end_pert[index]).flip_rate
        layers.append({key: _finite(value) for key, value in row.items()})
    return {
        "run": str(out_dir),
        "perturbation": perturbation,
        "reference": pair.reference_description,
        "perturbed": pair.perturbed_description,
        "statistics_samples": int(x_fit.shape[0]),
        "statistics_set": "train",
        "flip_samples": int(x_test.shape[0]),
        "flip_set": "test",
        "steps": int(x_test.shape[-1]),
        "checks": _checks(layers),
        "layers": layers,
    }


def _checks(layers: list[dict[str, Any]]) -> dict[str, bool]:
    """What must hold on the test data whatever the network: the derivation's two inequalities."""
    def within(value: float, bound: float | None) -> bool:
        return bound is None or value <= bound

    return {
        "voltage_error_within_eps_voltage": all(
            within(row["voltage_error_max_test"], row["eps_voltage_test"]) for row in layers
        ),
        "voltage_error_within_pathwise_bound": all(row["pathwise_bound_holds_test"] for row in layers),
        "first_flip_rate_within_crisis_probability": all(
            row["first_flip_rate"] <= row["crisis_probability_test"] for row in layers
        ),
        "first_flip_rate_within_pathwise_crisis_probability": all(
            row["first_flip_rate"] <= row["crisis_probability_pathwise_test"] for row in layers
        ),
        "layer_first_flip_rate_within_layer_crisis": all(
            row["layer_first_flip_rate"] <= row["layer_crisis_probability_test"] for row in layers
        ),
    }


def analysis_paths(out_dir: Path, perturbation: str) -> tuple[Path, Path, Path]:
    """(json, csv, png) paths of one perturbation's analysis in ``out_dir``."""
    stem = out_dir / f"analysis_{perturbation}"
    return stem.with_suffix(".json"), stem.with_suffix(".csv"), stem.with_suffix(".png")


def analyze_run(out_dir: Path, perturbation: str, samples: int | None = None) -> Path:
    """Run the analysis on run folder ``out_dir`` and write its json, csv and png; returns
    the json path. The folder's train and prune stages must be up to date with its recipe,
    whose names are checked first (``preflight.check_names``)."""
    out_dir = Path(out_dir)
    with folder_lock(out_dir):
        recipe = require_stages(out_dir, "prune")
        check_names(recipe)
        if recipe.model.recurrent or recipe.model.blocks != "cuba":
            raise AnalysisError("analyze measures feed-forward CUBA networks (model.blocks = cuba, "
                                "model.recurrent = false)")
        analysis = analyze(out_dir, recipe, perturbation, samples)
        json_path, csv_path, png_path = analysis_paths(out_dir, perturbation)
        with atomic_path(csv_path) as tmp, tmp.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(analysis["layers"][0]))
            writer.writeheader()
            writer.writerows(analysis["layers"])
        plot_analysis(analysis, png_path)
        write_json(json_path, analysis)
    return json_path


def _fmt(value: float | None) -> str:
    return "inf" if value is None else f"{value:.3g}"


def summary_lines(path: Path) -> list[str]:
    """A short table of ``analysis_<perturbation>.json`` for the terminal."""
    analysis = read_json(path)
    lines = [
        f"analysis of {analysis['run']}, perturbation {analysis['perturbation']}:",
        f"  reference: {analysis['reference']}; perturbed: {analysis['perturbed']}",
        f"  prediction from {analysis['statistics_samples']} {analysis['statistics_set']} samples, "
        f"flips on {analysis['flip_samples']} {analysis['flip_set']} samples; rates per neuron-step",
        f"  {'layer':>5} {'N':>5} {'eps':>8} {'eps_v':>8} {'p(u_th)':>8} {'p_sup':>8} "
        f"{'crisis':>8} {'bound':>8} {'pathwise':>8} {'1st flip':>8} {'flip':>8} {'end2end':>8}",
    ]
    for row in analysis["layers"]:
        figures = (
            row["eps"], row["eps_voltage"], row["density_threshold"], row["p_sup"], row["crisis_probability"],
            row["bound_neuron_step"], row["crisis_probability_pathwise"], row["first_flip_rate"], row["flip_rate"], row["end_to_end_flip_rate"],
        )
        lines.append(f"  {row['layer']:>5} {row['neurons']:>5} " + " ".join(f"{_fmt(v):>8}" for v in figures))
    failed = [name for name, ok in analysis["checks"].items() if not ok]
    lines.append("  checks on the test data: " + ("all hold" if not failed else "FAILED " + ", ".join(failed)))
    return lines
