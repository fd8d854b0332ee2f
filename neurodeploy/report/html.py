"""``DIR/report.html``: the run's report as one self-contained page.

Everything is inside the file: the styles, and the figures as PNG data
URIs; it opens offline in any browser. Sections: the summary table (dense
against pruned), NeuroBench's metrics of both networks, spike rasters of
one sample with Lava-versus-golden mismatches marked, per-layer spikes and
synaptic operations, and the accuracy-against-sparsity curves of a sweep
when one is given.
"""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from neurodeploy.fileio import REDO, atomic_path, open_npz, read_json
from neurodeploy.report.chip import chip_key, chip_rows
from neurodeploy.report.figures import (accuracy_figure, core_activity_figure, energy_axis, layer_bars_figure,
                                        raster_figure, tradeoff_figure)
from neurodeploy.simulate.stage import load_layers
from neurodeploy.loihi.timing import arrival, drain, split_stream
from neurodeploy.variants import NAMES

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { padding: 0.3em 0.9em; border-bottom: 1px solid #e3e3e3; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.ok { color: #1a7f37; font-weight: 600; } .bad { color: #cf222e; font-weight: 600; }
img { max-width: 100%; } p.note { color: #555; font-size: 0.9em; }
"""


def _png(figure: plt.Figure) -> str:
    """The figure as an ``<img>`` with a PNG data URI; closes the figure."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="figure" src="data:image/png;base64,{data}">'


def _fraction(value: float) -> str:
    css = "ok" if value == 1.0 else "bad"
    return f'<span class="{css}">{value:.4f}</span>'


def summary_rows(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(label, dense, pruned) rows of the summary table, as HTML cell contents; per chip
    profile its cores, time, energy (``chip_rows``) and synaptic memory."""
    d, p, golden, lava = report["dense"], report["pruned"], report["golden"], report["lava"]
    rows = [
        ("accuracy (exported network, test set)", f"{d['accuracy']:.4f}", f"{p['accuracy']:.4f}"),
        ("sparsity of the pruned layers", f"{d['sparsity']:.4f}", f"{p['sparsity']:.4f}"),
        ("sparsity of all layers", f"{d['sparsity_all_layers']:.4f}", f"{p['sparsity_all_layers']:.4f}"),
        ("golden = SLAYER, fraction of test samples exact",
         _fraction(golden["dense_exact_fraction"]), _fraction(golden["pruned_exact_fraction"])),
        ("Lava = golden, fraction of Lava samples exact",
         _fraction(lava["dense_exact_fraction"]), _fraction(lava["pruned_exact_fraction"])),
        ("synaptic operations per sample", f"{d['synops_per_sample']:.0f}", f"{p['synops_per_sample']:.0f}"),
        ("messages (spikes or graded) per sample", f"{d['messages_per_sample']:.1f}", f"{p['messages_per_sample']:.1f}"),
        ("messages per neuron per step", f"{d['activity']:.4f}", f"{p['activity']:.4f}"),
        ("Lava accuracy (Lava samples)", f"{lava['dense_accuracy']:.4f}", f"{lava['pruned_accuracy']:.4f}"),
    ]
    for chip in d["hardware"]:
        hd, hp = d["hardware"][chip], p["hardware"][chip]
        rows += [(f"{chip}: {label}", dense, f"{pruned} ({change})" if change else pruned)
                 for label, dense, pruned, change in chip_rows(hd, hp)]
        rows.append((f"{chip}: synaptic memory, KiB", f"{hd['synaptic_memory_kib']:.1f}",
                     f"{hp['synaptic_memory_kib']:.1f}"))
    return rows


# (key, label, format, whether a change is a difference, not a ratio) of NeuroBench's metrics in the report
NEUROBENCH_FIGURES = (
    ("parameter_count", "parameter count", "{:d}", False),
    ("footprint", "footprint, bytes", "{:d}", False),
    ("connection_sparsity", "connection sparsity", "{:.4f}", True),
    ("activation_sparsity", "activation sparsity", "{:.4f}", True),
    ("membrane_updates", "membrane updates per sample", "{:.1f}", False),
    ("Effective_ACs", "synaptic operations per sample: Effective_ACs", "{:.1f}", False),
    ("Effective_MACs", "synaptic operations per sample: Effective_MACs", "{:.1f}", False),
    ("Dense", "synaptic operations per sample: Dense", "{:.1f}", False),
)


def neurobench_rows(dense: dict[str, Any], pruned: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(label, dense, pruned, change) rows of both networks' NeuroBench metrics (a
    ``NeuroBenchFigures`` dict each, ``compare.neurobench``); change: pruned minus dense
    for a sparsity (a fraction), else pruned against dense in percent ("" when dense is 0)."""
    rows = []
    for key, label, form, difference in NEUROBENCH_FIGURES:
        first, second = ((figures[key] if key in figures else figures["synaptic_operations"][key])
                         for figures in (dense, pruned))
        if difference:
            change = f"{second - first:+.4f}"
        else:
            change = f"{100 * (second / first - 1):+.1f} %" if first else ""
        rows.append((label, form.format(first), form.format(second), change))
    return rows


def neurobench_table(report: dict[str, Any]) -> str:
    """Both networks' NeuroBench metrics (``neurobench_rows``) as an HTML table."""
    rows = neurobench_rows(*(report[name]["neurobench"] for name in NAMES))
    body = "".join(f"<tr><td>{html.escape(label)}</td><td>{a}</td><td>{b}</td><td>{change}</td></tr>"
                   for label, a, b, change in rows)
    head = "".join(f"<th>{name}</th>" for name in NAMES)
    return f"<table><tr><th></th>{head}<th>change</th></tr>{body}</table>"


def distribution_table(report: dict[str, Any], chip: str) -> str:
    """The per-core distribution of both networks on ``chip`` (one row per layer: the
    compiler's columns, ``resources.CoreRow``), as an HTML table."""
    columns = (("cores", "cores"), ("neurons", "neurons / core"), ("synapses", "synapse words / core"),
               ("axon_in", "axons in"), ("axon_map", "axons out"))
    head = "".join(f"<th>{name}: {title}</th>" for name in NAMES for _, title in columns)
    body = ""
    rows = zip(report[NAMES[0]]["hardware"][chip]["distribution"], report[NAMES[1]]["hardware"][chip]["distribution"])
    for first, second in rows:
        cells = "".join(f"<td>{'-' if row[key] is None else row[key]}</td>" for row in (first, second)
                        for key, _ in columns)
        name = f"layer/{first['layer']} {first['type']} {first['label']}"
        body += f"<tr><td>{html.escape(name)}</td>{cells}</tr>"
    return f"<table><tr><th></th>{head}</tr>{body}</table>"


def busiest_text(report: dict[str, Any], chip: str) -> str:
    """Which core sets each network's time per step on ``chip``."""
    return "; ".join(
        f"{side}: the busiest core is core {hw['busiest_core']} (layer {hw['busiest_layer']}), slowest step "
        f"{hw['slowest_step_us']:.2f} µs" for side in NAMES for hw in (report[side]["hardware"][chip],))


def _table(rows: list[tuple[str, str, str]]) -> str:
    body = "".join(f"<tr><td>{html.escape(a)}</td><td>{b}</td><td>{c}</td></tr>" for a, b, c in rows)
    head = "".join(f"<th>{name}</th>" for name in NAMES)
    return f"<table><tr><th></th>{head}</tr>{body}</table>"


def sample_windows(out_dir: Path, steps: int, starts_with_input: bool,
                   sample: int = 0) -> tuple[dict[str, list[np.ndarray]], dict[str, list[np.ndarray]]]:
    """Lava's and the golden model's messages of every layer over one Lava sample's window.

    Returns (lava, golden): side -> list of [n_l, T + drain] arrays (uint8
    spikes or int32 values; the columns that belong to ``sample``,
    ``timing.split_stream``). Layer l first sees a sample at column
    ``arrival(l, starts_with_input)``: l + 1 when the network starts with a
    synapse, l when it starts with an input layer (sigma-delta).
    """
    lava, golden = {}, {}
    with open_npz(out_dir / "simulation.npz", REDO) as sim:
        count = int(sim["lava_samples"])
        for side in NAMES:
            streams = {"lava": load_layers(sim, side, "lava"), "golden": load_layers(sim, side, "golden_stream")}
            drain_steps = drain(len(streams["lava"]), starts_with_input)
            for name, target in (("lava", lava), ("golden", golden)):
                target[side] = [
                    split_stream(stream, arrival(layer, starts_with_input), count, steps, drain_steps)[sample]
                    for layer, stream in enumerate(streams[name])
                ]
    return lava, golden


def write_html(out_dir: Path, steps: int, starts_with_input: bool, sweep_dir: Path | None = None) -> Path:
    """Write ``out_dir/report.html`` from the run's ``report.json`` and ``simulation.npz``
    (``steps`` per sample; and ``sweep_dir/sweep.json`` when given); returns its path."""
    report = read_json(out_dir / "report.json", REDO)
    lava, golden = sample_windows(out_dir, steps, starts_with_input)
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>neurodeploy report: {html.escape(report['recipe']['name'])}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>neurodeploy report: {html.escape(report['recipe']['name'])}</h1>",
        f"<p class='note'>Run folder {html.escape(str(out_dir))}. Accuracy, synaptic operations and spikes "
        f"come from the exported NetX files in the golden model (bit-exact with Lava fixed_pt) on all "
        f"{report['golden']['test_samples']} test samples; Lava ran {report['lava']['samples']} of them.</p>",
        "<h2>Summary</h2>",
        _table(summary_rows(report)),
        *(["<h2>Caveats: figures that rest on nothing</h2><ul>"]
          + [f"<li class='bad'>{html.escape(line)}</li>" for line in report.get("caveats", [])] + ["</ul>"]
          if report.get("caveats") else []),
        f"<p>Synaptic operations, pruned / dense: <b>{report['synops_ratio']:.4f}</b>.</p>",
        "<h2>NeuroBench metrics (NeuroBench 2.3 definitions)</h2>",
        neurobench_table(report),
        "<p class='note'>NeuroBench 2.3's metrics of the exported networks, from their integer weights and the "
        "golden model's messages and membranes on the test set, each sample alone for its T steps and the drain "
        "steps; Effective_ACs + Effective_MACs are the synaptic operations above. Definitions: "
        "docs/neurobench.md.</p>",
        "<p class='note'>Cores, time and energy: neurodeploy.hardware's model with the profiles in hardware/ "
        "(every figure there names its source and basis; docs/hardware.md), from every core's synaptic "
        "operations, neuron updates and messages in the golden model on the test set. A step lasts as long as "
        "its busiest core; static energy is the chip's static power for the time of an inference.</p>",
        *(part for chip in report[NAMES[0]]["hardware"]
          for part in (f"<h2>{html.escape(chip)}: cores per layer, as Intel's Loihi 2 compiler maps a network</h2>",
                       distribution_table(report, chip),
                       f"<h3>{html.escape(chip)}: activity per core, per inference</h3>",
                       _png(core_activity_figure(report, chip)),
                       f"<p class='note'>{busiest_text(report, chip)}</p>")),
        "<p class='note'>One row per layer, dense then pruned (the pruned network on Sparse synapses, as Lava "
        "ran it); per core: the largest core's neurons and axons in, the synaptic memory words and axons out "
        "averaged over the layer's cores. The rules: docs/hardware.md.</p>",
        "<h2>Spikes of one sample (Lava), mismatches against the golden model marked</h2>",
        _png(raster_figure(lava, golden, sample=0)),
        "<h2>Per layer</h2>",
        "<p class='note'>Synaptic operations of layer l are those of the synapses into it.</p>",
        _png(layer_bars_figure(report)),
    ]
    if sweep_dir is not None:
        sweep = read_json(sweep_dir / "sweep.json", "run neurodeploy sweep again")
        summary, profile = sweep["summary"], sweep["recipe"]["prune"].get("profile", "loihi2")
        parts += [
            f"<h2>Sweep: {html.escape(str(sweep_dir))}</h2>",
            _png(accuracy_figure(summary, "sparsity")),
            _png(accuracy_figure(summary, "synops")),
            _png(tradeoff_figure(summary, chip_key("cores", profile), f"cores ({profile})")),
            _png(tradeoff_figure(summary, *energy_axis(summary, profile))),
        ]
    parts.append("</body></html>")
    path = out_dir / "report.html"
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(parts), encoding="utf-8")
    return path
