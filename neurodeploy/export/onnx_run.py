"""Run a one-step ONNX graph of ``export.onnx_graph`` over time with ONNX Runtime."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import onnx
import onnxruntime

from neurodeploy.export.onnx_graph import NUM_LAYERS_KEY, RESET_KEY, STARTS_WITH_INPUT_KEY
from neurodeploy.loihi.timing import arrival, reset_columns


def iter_onnx(
    path: str | Path,
    spikes: np.ndarray | None,
    bias: np.ndarray | None = None,
    steps: int | None = None,
    reset_interval: int | None = None,
) -> Iterator[dict[str, np.ndarray]]:
    """Step the graph at ``path`` through S steps from zero state; yield each step's outputs.

    spikes: input messages [B, n_in, S] in Lava order, or None (then
    ``steps`` gives S). bias: input-layer bias mantissas [B, n_in] (every
    step) or [B, n_in, S], for a graph whose layer 0 takes one.
    reset_interval: netx's reset interval T: the neuron state of every layer
    netx resets (metadata ``neurodeploy.resets``) is zeroed before the steps
    where netx resets it (``timing.reset_columns``), as ``GoldenModel.run``
    does; None: S, one sample per row. Each step yields the graph's outputs
    by name (``spikes_l``, ``u_l_out``, ...), double [B, n].
    """
    model = onnx.load(str(path))
    props = {p.key: p.value for p in model.metadata_props}
    if STARTS_WITH_INPUT_KEY not in props or NUM_LAYERS_KEY not in props:
        raise ValueError(f"{path}: not a neurodeploy one-step graph (no '{STARTS_WITH_INPUT_KEY}' metadata)")
    starts_with_input = props[STARTS_WITH_INPUT_KEY] == "1"
    resetting = [int(i) for i in props.get(RESET_KEY, "").split(",") if i]
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    sizes = {i.name: i.shape[1] for i in session.get_inputs()}
    if spikes is None and bias is None:
        raise ValueError("give input spikes, an input-layer bias, or both")
    if bias is not None and "bias_in" not in sizes:
        raise ValueError(f"{path}: a bias input needs a network that starts with an input layer")
    if spikes is not None and spikes.shape[1] != sizes["spikes_in"]:
        raise ValueError(f"input has {spikes.shape[1]} neurons, {path} expects {sizes['spikes_in']}")
    rows = (spikes if spikes is not None else bias).shape[0]
    steps = spikes.shape[-1] if spikes is not None else steps
    if steps is None or steps < 1:
        raise ValueError(f"steps = {steps}: give at least one step (spikes [B, n_in, S] or steps=)")
    state = {name: np.zeros((rows, size)) for name, size in sizes.items() if name not in ("spikes_in", "bias_in")}
    resets = {layer: reset_columns(arrival(layer, starts_with_input), reset_interval or steps, steps)
              for layer in resetting}
    neuron_state = {layer: [name for name in state if name.endswith(f"_{layer}_in")
                            and not name.startswith(("pre_", "own_"))] for layer in resetting}
    names = [o.name for o in session.get_outputs()]
    for t in range(steps):
        feed = dict(state)
        feed["spikes_in"] = np.zeros((rows, sizes["spikes_in"])) if spikes is None else spikes[:, :, t].astype(float)
        if "bias_in" in sizes:
            feed["bias_in"] = np.zeros((rows, sizes["bias_in"])) if bias is None else (
                bias if bias.ndim == 2 else bias[:, :, t]).astype(float)
        for layer, columns in resets.items():
            if columns[t]:
                for name in neuron_state[layer]:
                    feed[name] = np.zeros((rows, sizes[name]))
        results = dict(zip(names, session.run(names, feed)))
        state = {name: results[name[: -len("_in")] + "_out"] for name in state}
        yield results


def run_onnx(
    path: str | Path,
    spikes: np.ndarray | None,
    bias: np.ndarray | None = None,
    steps: int | None = None,
    reset_interval: int | None = None,
) -> list[np.ndarray]:
    """Every layer's messages, int64 [B, n_l, S], of the graph at ``path`` run as
    ``iter_onnx`` runs it (the same arguments as ``GoldenModel.run``)."""
    per_step = list(iter_onnx(path, spikes, bias, steps, reset_interval))
    layers = sum(name.startswith("spikes_") for name in per_step[0])
    return [np.stack([step[f"spikes_{layer}"] for step in per_step], axis=-1).astype(np.int64)
            for layer in range(layers)]
