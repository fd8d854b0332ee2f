"""Each imported NIR layer's scale, chosen by measuring it against the float graph
(``neurodeploy import``).

The importer quantizes a layer at the largest scale S (its vThMant; a readout's
NetX units per NIR voltage unit) that keeps its weights within 8 bits
(``export.nir_import``): the finest weights and biases. That is not always the
smallest distance to the float graph: Loihi's current and voltage saturate at
24 bits, which a layer of many inputs can reach at the largest scale (an
Integrator readout over many steps too), and halving S gives them a bit of
headroom for a bit of every weight's resolution. So each layer is tried at its
candidate scales (``ImportedLayer.scales``: S, S/2, S/4, S/8, floored) and keeps
the one whose fixed-point output is closest to the float graph on the import's
own inputs, by the measure the comparison reports (``nir_float.compare_layer``):
the fraction of equal (sample, neuron, step) spike entries, highest wins; for a
readout its RMS voltage error over the RMS float voltage, lowest wins. A tie keeps
the larger scale (the finer weights), so a layer where nothing is gained keeps S.

Layer by layer, in order: layer l is tried in the network of the layers already
chosen before it, run in the golden model, so that it receives the spikes those
fixed-point layers send, as it will on the chip, and the figure of its chosen
scale is the one the comparison then reports for it. (Fed the float graph's
spikes instead, a layer would be chosen for inputs it never gets, and Loihi's
one-step-per-layer timing and resets could not be run as the network runs them.)

Cost: the float graph runs once (``nir_float.run_float``, shared with the
comparison); then one golden-model run per candidate of the network up to that
layer: at most 4 per layer, 4 L (L + 1) / 2 layer-runs for L layers, one at a
time, each within the memory the comparison needs, checked with one candidate's
integer weights (``check_search_memory``) before any input is made or read.
Deterministic: the same inputs, integer arithmetic, candidates in a fixed order.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from neurodeploy.compare.nir_float import FloatRun, agreement_bytes, compare_layer, golden_run
from neurodeploy.export.nir_import import ImportedLayer, NirImport
from neurodeploy.limits import Limits


@dataclass(frozen=True)
class ScaleChoice:
    """One layer's search: ``node`` (its NIR output node), ``scale`` (chosen), ``largest``
    (the largest that fits 8 bits), ``tried``: (scale, figure) per candidate, largest
    first; the figure is the agreement (a spiking layer, higher is closer) or, for a
    ``readout``, the relative RMS voltage error (lower is closer)."""

    node: str
    scale: int
    largest: int
    tried: tuple[tuple[int, float], ...]
    readout: bool


def check_search_memory(imported: NirImport, samples: int, steps: int, limits: Limits) -> None:
    """``LimitError`` (naming --max-memory) unless the search and the comparison fit
    ``limits``: the comparison's bound (``agreement_bytes``; each golden run of the search
    is of a part of the same network) plus one candidate layer's int64 weights."""
    inputs = int(np.prod(imported.input_shape))
    weights = max(sum(weight.size for weight in layer.weights) for layer in imported.layers)
    limits.check_memory(agreement_bytes(inputs, [layer.layer.size for layer in imported.layers], samples, steps)
                        + 8 * weights,
                        f"the scale search and the comparison ({samples} samples x {steps} steps, the float graph in Norse "
                        "and the NetX network in the golden model)")


def choose_scales(imported: NirImport, run: FloatRun) -> tuple[NirImport, tuple[ScaleChoice, ...]]:
    """``imported`` with each layer at its chosen scale (module docstring), and each layer's
    ``ScaleChoice``; ``run``: the float graph on the import's inputs."""
    chosen: list[ImportedLayer] = []
    choices: list[ScaleChoice] = []
    for layer in imported.layers:
        best: tuple[ImportedLayer, float] | None = None
        tried: list[tuple[int, float]] = []
        for scale in layer.scales:
            candidate = layer.at_scale(scale)
            network = imported.network((*chosen, candidate))
            golden = golden_run(network, run, record_state=not candidate.spiking)
            result, _, _ = compare_layer(len(chosen), network, candidate, golden, run)
            figure = result.agreement if candidate.spiking else float(result.error)
            tried.append((scale, figure))
            if best is None or (figure > best[1] if candidate.spiking else figure < best[1]):
                best = (candidate, figure)
        assert best is not None  # ``scales`` holds at least the largest scale
        chosen.append(best[0])
        choices.append(ScaleChoice(layer.name, best[0].scale, layer.largest, tuple(tried), not layer.spiking))
    return dataclasses.replace(imported, layers=tuple(chosen)), tuple(choices)
