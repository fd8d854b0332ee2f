"""The ``report`` stage: ``report.json`` and a readable summary."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neurodeploy.fileio import REDO, read_json, write_json
from neurodeploy.recipe import Recipe
from neurodeploy.report.chip import chip_rows
from neurodeploy.report.html import write_html
from neurodeploy.train.families import FAMILIES
from neurodeploy.variants import DENSE, PRUNED, Variant


@dataclass(frozen=True)
class VariantFigures:
    """One network of a run (``variants``: dense or pruned), as its report gives it.

    network: its NetX file; accuracy: the exported network's, in the golden model on
    the whole test set (fraction); sparsity: the zero fraction of its exported
    integer weights in the pruned layers (all layers when none is pruned),
    sparsity_all_layers: over all layers; synops_per_sample: synaptic operations
    per test sample (golden model); messages_per_sample: spikes or nonzero graded
    messages per test sample; golden_exact_fraction: fraction of test samples on
    which the golden model and SLAYER agree on every message; lava_equivalent: Lava
    ``fixed_pt`` and the golden model agree on every message of every layer at every
    step of the Lava samples; lava_accuracy: Lava's on those samples; neurobench:
    NeuroBench 2.3's metrics under its names (``compare.neurobench``: parameter_count,
    footprint, connection_sparsity, activation_sparsity, membrane_updates,
    synaptic_operations), None in a report written before they were.
    """

    network: Path
    accuracy: float
    sparsity: float
    sparsity_all_layers: float
    synops_per_sample: float
    messages_per_sample: float
    golden_exact_fraction: float
    lava_equivalent: bool
    lava_accuracy: float
    neurobench: dict[str, Any] | None = None


@dataclass(frozen=True)
class RunReport:
    """The main figures of a run folder's report; ``report.json`` holds them all.

    report, html: ``DIR/report.json`` and ``DIR/report.html``; dense, pruned: each
    network's figures; synops_ratio: pruned over dense synaptic operations per
    sample; test_samples: the test set the golden model ran; lava_samples: the
    samples Lava ran; caveats: a line for each figure that rests on nothing (a silent
    layer, silent outputs, one class predicted for every sample).
    """

    report: Path
    html: Path
    dense: VariantFigures
    pruned: VariantFigures
    synops_ratio: float
    test_samples: int
    lava_samples: int
    caveats: tuple[str, ...]

    @property
    def equivalent(self) -> bool:
        """Lava and the golden model agree on every message of both networks."""
        return self.dense.lava_equivalent and self.pruned.lava_equivalent


def read_report(path: Path) -> RunReport:
    """The ``RunReport`` of the report at ``path`` (``DIR/report.json``); ``PathError``
    naming it when it is missing or damaged."""
    report = read_json(path, REDO)

    def figures(variant: Variant) -> VariantFigures:
        model, name = report[variant.name], variant.name
        return VariantFigures(
            network=path.parent / variant.network, accuracy=model["accuracy"], sparsity=model["sparsity"],
            sparsity_all_layers=model["sparsity_all_layers"], synops_per_sample=model["synops_per_sample"],
            messages_per_sample=model["messages_per_sample"],
            golden_exact_fraction=report["golden"][f"{name}_exact_fraction"],
            lava_equivalent=report["lava"][f"{name}_equivalent"], lava_accuracy=report["lava"][f"{name}_accuracy"],
            neurobench=model.get("neurobench"),
        )

    return RunReport(report=path, html=path.with_suffix(".html"), dense=figures(DENSE), pruned=figures(PRUNED),
                     synops_ratio=report["synops_ratio"], test_samples=report["golden"]["test_samples"],
                     lava_samples=report["lava"]["samples"], caveats=tuple(report["caveats"]))


def build_report(comparison: dict[str, Any], recipe: dict[str, Any], seconds: dict[str, float]) -> dict[str, Any]:
    """The report: figures per model (golden model, whole test set), golden
    against SLAYER (whole test set), golden against Lava (samples), ratio, timings."""
    dense, pruned = comparison["dense"], comparison["pruned"]
    lava_dense, lava_pruned = dense["lava"], pruned["lava"]

    def model_part(m: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in m.items() if k not in ("lava", "caveats")}

    return {
        "recipe": recipe,
        "dense": model_part(dense),
        "pruned": model_part(pruned),
        "synops_ratio": comparison["synops_ratio"],
        "saving": comparison["saving"],
        "caveats": dense.get("caveats", []) + pruned.get("caveats", []),
        "golden": {
            "test_samples": dense["test_samples"],
            "compared": dense["golden_vs_slayer"]["compared"],
            "dense_exact_fraction": dense["golden_vs_slayer"]["exact_fraction"],
            "pruned_exact_fraction": pruned["golden_vs_slayer"]["exact_fraction"],
            "dense_mismatches_per_layer": dense["golden_vs_slayer"]["mismatches_per_layer"],
            "pruned_mismatches_per_layer": pruned["golden_vs_slayer"]["mismatches_per_layer"],
            "dense_max_difference_per_layer": dense["golden_vs_slayer"]["max_difference_per_layer"],
            "pruned_max_difference_per_layer": pruned["golden_vs_slayer"]["max_difference_per_layer"],
            "dense_seconds": dense["golden_seconds"],
            "pruned_seconds": pruned["golden_seconds"],
        },
        "lava": {
            "samples": lava_dense["samples"],
            "compared": "every message (value included) of every layer at every step, against the golden model",
            "dense_equivalent": lava_dense["equivalent"],
            "pruned_equivalent": lava_pruned["equivalent"],
            "dense_exact_fraction": lava_dense["exact_fraction"],
            "pruned_exact_fraction": lava_pruned["exact_fraction"],
            "dense_mismatches_per_layer": lava_dense["mismatches_per_layer"],
            "pruned_mismatches_per_layer": lava_pruned["mismatches_per_layer"],
            "dense_accuracy": lava_dense["accuracy"],
            "pruned_accuracy": lava_pruned["accuracy"],
            "dense_synops_per_sample": lava_dense["synops_per_sample"],
            "pruned_synops_per_sample": lava_pruned["synops_per_sample"],
            "synops_equal_golden": lava_dense["synops_equal_golden"] and lava_pruned["synops_equal_golden"],
            "dense_sparse_synapses": lava_dense["sparse_synapses"],
            "pruned_sparse_synapses": lava_pruned["sparse_synapses"],
            "dense_seconds": lava_dense["seconds"],
            "pruned_seconds": lava_pruned["seconds"],
        },
        "seconds": seconds,
    }


def summary(report: dict[str, Any]) -> str:
    """A few aligned lines a person reads at the end of a run."""
    d, p, lava, golden = report["dense"], report["pruned"], report["lava"], report["golden"]
    rows = [
        ("", "dense", "pruned"),
        ("accuracy (exported, test set)", f"{d['accuracy']:.4f}", f"{p['accuracy']:.4f}"),
        ("golden = SLAYER, test samples", f"{golden['dense_exact_fraction']:.4f}", f"{golden['pruned_exact_fraction']:.4f}"),
        ("sparsity (pruned layers)", f"{d['sparsity']:.4f}", f"{p['sparsity']:.4f}"),
        ("sparsity (all layers)", f"{d['sparsity_all_layers']:.4f}", f"{p['sparsity_all_layers']:.4f}"),
        ("synaptic ops per sample", f"{d['synops_per_sample']:.0f}", f"{p['synops_per_sample']:.0f}"),
        ("messages per sample", f"{d['messages_per_sample']:.1f}", f"{p['messages_per_sample']:.1f}"),
        ("messages per neuron per step", f"{d['activity']:.4f}", f"{p['activity']:.4f}"),
        ("Lava accuracy", f"{lava['dense_accuracy']:.4f}", f"{lava['pruned_accuracy']:.4f}"),
        ("Lava = golden, samples", f"{lava['dense_exact_fraction']:.4f}", f"{lava['pruned_exact_fraction']:.4f}"),
    ]
    notes: list[str] = []
    for chip, dense_hw in d["hardware"].items():
        pruned_hw = p["hardware"][chip]
        rows += [(f"{chip} {label.replace('µ', 'u')}", a, b, change) for label, a, b, change
                 in chip_rows(dense_hw, pruned_hw)]
        if dense_hw["dynamic_uj"] is None:
            notes.append(f"{chip}: no dynamic energy: the chip sends no graded messages")
        if dense_hw["static_uj"] is None:
            notes.append(f"{chip}: no static energy: its profile gives no static power")
    width = max(len(r[0]) for r in rows)
    lines = [f"{row[0]:<{width}}  {row[1]:>10}  {row[2]:>10}  {row[3] if len(row) > 3 else ''}".rstrip()
             for row in rows]
    lines.extend(notes)
    lines.append(f"synaptic ops ratio (pruned / dense): {report['synops_ratio']:.4f}")
    saving = report["saving"]
    lines.append(
        f"synaptic ops saved per sample: {saving['saving']:.0f}, {100 * saving['share_weights']:.1f} % from fewer "
        f"weights, {100 * saving['share_messages']:.1f} % from fewer messages"
    )
    prune = report["recipe"]["prune"]
    rewind = prune["rewind_epoch"]
    lines.append(
        f"pruning: {prune['criterion']} criterion, {prune['scope']} scope, {prune['rounds']} round(s), "
        + (f"rewound to epoch {rewind} each round" if rewind is not None else "fine-tuned from the trained weights")
        + (f", layers {prune['exclude']} left dense" if prune["exclude"] else "")
    )
    lines.append(
        f"golden model: {golden['test_samples']} test samples, {golden['compared']}; mismatches per layer "
        f"dense {golden['dense_mismatches_per_layer']}, pruned {golden['pruned_mismatches_per_layer']}"
    )
    if golden["dense_exact_fraction"] < 1 or golden["pruned_exact_fraction"] < 1:
        lines.append(
            "SLAYER is not bit-exact with the exported network: largest difference per layer (chip units) "
            f"dense {golden['dense_max_difference_per_layer']}, pruned {golden['pruned_max_difference_per_layer']}"
        )
    lines.append(
        f"Lava: {lava['samples']} samples, {lava['compared']}; "
        f"mismatches per layer dense {lava['dense_mismatches_per_layer']}, "
        f"pruned {lava['pruned_mismatches_per_layer']}"
    )
    timing = ", ".join(f"{k} {v:.1f}s" for k, v in report["seconds"].items())
    lines.append(f"time: {timing}")
    lines.extend(f"caveat: {line}" for line in report["caveats"])
    return "\n".join(lines)


def report_stage(recipe: Recipe, out_dir: Path, seconds: dict[str, float], sweep_dir: Path | None = None) -> Path:
    """Write ``report.json`` from ``comparison.json``, ``recipe`` and the ``seconds`` each
    stage took, and ``report.html`` from it (with ``sweep_dir``'s curves when given);
    returns the JSON's path."""
    comparison = read_json(out_dir / "comparison.json", REDO)
    report = build_report(comparison, recipe.to_dict(), seconds)
    path = write_json(out_dir / "report.json", report)
    write_html(out_dir, recipe.data.steps, FAMILIES[recipe.model.blocks].starts_with_input, sweep_dir)
    return path
