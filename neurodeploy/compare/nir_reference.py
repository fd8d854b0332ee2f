"""Our own float reference of a NIR graph: every node type ``neurodeploy import`` reads, run
as NIR defines it, in float64, for graphs Norse 1.1 cannot run (``nir_float``).

Each step t, the nodes are evaluated in topological order of the graph's edges
(subgraphs flattened, ``export.nir_walk.flat``); a node's input is the sum of
what its predecessors output at step t, except over an edge that closes a loop
(found by a depth-first walk from the Input), which carries the step t - 1
output (zero at t = 0): a recurrent spike acts one step later, as in snnTorch's
RLeaky and RSynaptic and on Loihi. Nodes, with k = dt / tau (forward Euler, the
current first; docs/nir.md)::

    Affine / Linear     y = W x (+ b)              Conv1d / Conv2d   torch's conv (+ bias)
    SumPool2d           sum over each window       AvgPool2d         SumPool2d / (k_h k_w)
    Scale               y = s x                    Flatten           reshape (dims after the batch)
    Delay               y[t] = x[t - tau / dt]
    CubaLIF / CubaLI    I = I + k_syn (w_in x - I);  v = v + k_mem (v_leak - v + r I)
    LIF / LI            v = v + k (v_leak - v + r x)
    IF / I              v = v + r x                (the step's input taken whole; no dt)
    Threshold           z = x > theta

A spiking node outputs z = v > v_threshold and then sets v = v_reset where
z = 1; LI, CubaLI and I output v.
"""
from __future__ import annotations

from typing import Any

import nir
import numpy as np

from neurodeploy.export.nir_walk import FlatGraph
from neurodeploy.netx import NetxError


def _order(graph: FlatGraph) -> tuple[list[str], set[tuple[str, str]]]:
    """(node names in evaluation order, the edges that close loops)."""
    successors: dict[str, list[str]] = {name: [] for name in graph.nodes}
    for pre, post in graph.edges:
        successors[pre].append(post)
    back: set[tuple[str, str]] = set()
    state: dict[str, int] = {}  # 1: on the walk's stack, 2: done
    postorder: list[str] = []
    stack: list[tuple[str, int]] = [(graph.input, 0)]
    state[graph.input] = 1
    while stack:
        name, index = stack.pop()
        if index < len(successors[name]):
            stack.append((name, index + 1))
            following = successors[name][index]
            if state.get(following) == 1:
                back.add((name, following))
            elif following not in state:
                state[following] = 1
                stack.append((following, 0))
        else:
            state[name] = 2
            postorder.append(name)
    return postorder[::-1], back


class _Node:
    """One node's state and step, in torch float64 over a batch [B, ...]."""

    def __init__(self, node: Any, dt: float | None) -> None:
        import torch

        self.node, self.dt, self.torch = node, dt, torch
        self.state: dict[str, Any] = {}
        self.delayed: list[Any] = []

    def param(self, key: str) -> Any:
        return self.torch.as_tensor(np.asarray(getattr(self.node, key), dtype=np.float64))

    def rate(self, key: str) -> Any:
        if self.dt is None:
            raise NetxError("the float reference needs the graph's dt")
        return self.dt / self.param(key)

    def spike(self, v: Any) -> tuple[Any, Any]:
        z = (v > self.param("v_threshold")).to(v.dtype)
        return z, v * (1 - z) + self.param("v_reset") * z

    def step(self, x: Any) -> Any:
        torch, node = self.torch, self.node
        functional = torch.nn.functional
        if isinstance(node, (nir.Input, nir.Output)) or type(node).__name__ == "Identity":
            return x
        if isinstance(node, (nir.Affine, nir.Linear)):
            y = x.reshape(len(x), -1) @ self.param("weight").T
            return y + self.param("bias") if isinstance(node, nir.Affine) and node.bias is not None else y
        if isinstance(node, (nir.Conv1d, nir.Conv2d)):
            conv = functional.conv1d if isinstance(node, nir.Conv1d) else functional.conv2d
            padding = node.padding if isinstance(node.padding, str) else tuple(np.atleast_1d(node.padding).tolist())
            return conv(x, self.param("weight"), None if node.bias is None else self.param("bias"),
                        stride=tuple(np.atleast_1d(node.stride).tolist()), padding=padding,
                        dilation=tuple(np.atleast_1d(node.dilation).tolist()), groups=int(node.groups))
        if isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
            kernel = tuple(int(k) for k in np.broadcast_to(node.kernel_size, 2))
            pooled = functional.avg_pool2d(x, kernel, tuple(int(s) for s in np.broadcast_to(node.stride, 2)),
                                           tuple(int(p) for p in np.broadcast_to(node.padding, 2)),
                                           count_include_pad=True)
            return pooled * (kernel[0] * kernel[1]) if isinstance(node, nir.SumPool2d) else pooled
        if isinstance(node, nir.Flatten):
            end = node.end_dim + 1 if node.end_dim >= 0 else node.end_dim
            return torch.flatten(x, node.start_dim + 1 if node.start_dim >= 0 else node.start_dim, end)
        if isinstance(node, nir.Scale):
            return x * self.param("scale")
        if isinstance(node, nir.Delay):  # each element its own delay, d steps back (zero before the start)
            steps = torch.as_tensor(np.rint(np.broadcast_to(node.delay, x.shape[1:]) / self.dt).astype(np.int64))
            self.delayed.insert(0, x)
            history = torch.stack(self.delayed + [torch.zeros_like(x)])  # [age, B, ...], the last row zeros
            age = torch.clamp(steps, max=len(self.delayed)).expand(x.shape)[None]
            return torch.gather(history, 0, age)[0]
        if isinstance(node, nir.Threshold):
            return (x > self.param("threshold")).to(x.dtype)
        v = self.state.get("v", torch.zeros_like(x))
        if isinstance(node, (nir.CubaLIF, nir.CubaLI)):
            current = self.state.get("i", torch.zeros_like(x))
            current = current + self.rate("tau_syn") * (self.param("w_in") * x - current)
            self.state["i"] = current
            v = v + self.rate("tau_mem") * (self.param("v_leak") - v + self.param("r") * current)
        elif isinstance(node, (nir.LIF, nir.LI)):
            v = v + self.rate("tau") * (self.param("v_leak") - v + self.param("r") * x)
        elif isinstance(node, (nir.IF, nir.I)):
            v = v + self.param("r") * x
        else:
            raise NetxError(f"the float reference has no {type(node).__name__} node")
        if isinstance(node, (nir.CubaLI, nir.LI, nir.I)):
            self.state["v"] = v
            return v
        z, self.state["v"] = self.spike(v)
        return z


def run_reference(graph: FlatGraph, x: np.ndarray, dt: float | None, nodes: list[str]) -> list[np.ndarray]:
    """Run ``graph`` on x [N, *input shape, S] (NIR order); returns each node of ``nodes``'s
    output as float64 [N, n, S] (flattened)."""
    import torch

    order, back = _order(graph)
    inputs: dict[str, list[tuple[str, bool]]] = {name: [] for name in graph.nodes}
    for pre, post in graph.edges:
        inputs[post].append((pre, (pre, post) in back))
    runners = {name: _Node(graph.nodes[name], dt) for name in order}
    samples, steps = len(x), x.shape[-1]
    data = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))
    previous: dict[str, Any] = {}
    recorded: dict[str, list[np.ndarray]] = {name: [] for name in nodes}
    with torch.no_grad():
        for step in range(steps):
            outputs: dict[str, Any] = {}
            for name in order:
                if name == graph.input:
                    value = data[..., step]
                else:
                    parts = [(previous.get(pre) if late else outputs[pre]) for pre, late in inputs[name]]
                    present = [part for part in parts if part is not None]
                    if not present:  # only a loop's input, before its first step
                        continue
                    value = sum(present[1:], present[0])
                outputs[name] = runners[name].step(value)
            previous = outputs
            for name in nodes:
                recorded[name].append(outputs[name].reshape(samples, -1).numpy())
    return [np.stack(recorded[name], axis=-1) for name in nodes]
