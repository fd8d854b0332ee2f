"""Potentials and spikes of SLAYER CUBA layers, reference against perturbed, on the same input.

A layer is a block with a ``synapse`` and a CUBA ``neuron``. Both blocks of
a pair get the same input spikes (the reference network's); what differs is
the synaptic input x = W s that each computes from them. The neuron's state
on the CPU is an integer in units of ``lsb`` = 1 / neuron.s_scale (1/4096 of
a SLAYER unit): each step it adds trunc0(x / lsb) and decays with trunc0.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class NeuronConstants:
    """What the theory needs of a CUBA neuron.

    threshold: the decision point, a spike iff v >= threshold (SLAYER adds
        ``threshold_eps`` = 0.01 lsb to the threshold to spike strictly above
        it, as Loihi does). beta_current, beta_voltage: 1 - decay / 4096 with
        the decays as quantized for the chip. lsb: state resolution.
    """

    threshold: float
    beta_current: float
    beta_voltage: float
    lsb: float


@dataclass(frozen=True)
class LayerTraces:
    """One layer run twice, float64 [samples, neurons, T], neurons flattened.

    x_*: the synaptic input the neuron integrates (trunc0 to the state lsb);
    v_*: membrane potential before reset (the paper's u); s_*: bool spikes at
    the step they are fired (before the block's one-step output delay).
    """

    x_ref: np.ndarray
    x_pert: np.ndarray
    v_ref: np.ndarray
    v_pert: np.ndarray
    s_ref: np.ndarray
    s_pert: np.ndarray


def is_layer(block: torch.nn.Module) -> bool:
    """True for blocks that have a synapse and a neuron (the ones analysed)."""
    return getattr(block, "synapse", None) is not None and getattr(block, "neuron", None) is not None


def neuron_constants(neuron: torch.nn.Module) -> NeuronConstants:
    """Threshold, decay factors and state lsb of a SLAYER CUBA neuron."""
    p_scale = float(neuron.p_scale)
    return NeuronConstants(
        threshold=float(neuron.threshold) + float(neuron.threshold_eps),
        beta_current=1.0 - float(neuron.cx_current_decay) / p_scale,
        beta_voltage=1.0 - float(neuron.cx_voltage_decay) / p_scale,
        lsb=1.0 / float(neuron.s_scale),
    )


def _flat(t: torch.Tensor) -> np.ndarray:
    return t.reshape(t.shape[0], -1, t.shape[-1]).double().numpy()


@torch.no_grad()
def _run_neuron(neuron: torch.nn.Module, z: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(effective input, voltage, spikes) of ``neuron`` for synaptic input z [samples, ..., T]."""
    lsb_units = (neuron.s_scale * z).to(torch.int64)  # what the CPU dynamics add per step
    _, voltage = neuron.dynamics(z)
    spikes = neuron.spike(voltage) > 0
    return _flat(lsb_units) / float(neuron.s_scale), _flat(voltage), _flat(spikes)


def neuron_traces(neuron: torch.nn.Module, z_ref: torch.Tensor, z_pert: torch.Tensor) -> LayerTraces:
    """Drive one CUBA neuron population with two synaptic inputs [samples, ..., T]."""
    if z_ref.shape != z_pert.shape:
        raise ValueError(f"synaptic inputs differ in shape: {tuple(z_ref.shape)} and {tuple(z_pert.shape)}")
    x_ref, v_ref, s_ref = _run_neuron(neuron, z_ref)
    x_pert, v_pert, s_pert = _run_neuron(neuron, z_pert)
    return LayerTraces(x_ref, x_pert, v_ref, v_pert, s_ref, s_pert)


@torch.no_grad()
def layer_traces(block_ref: torch.nn.Module, block_pert: torch.nn.Module, spikes_in: torch.Tensor) -> LayerTraces:
    """The reference and the perturbed block on the same input spikes [samples, inputs..., T].

    Both use the reference block's neuron: a perturbation changes weights,
    not neuron parameters.
    """
    return neuron_traces(block_ref.neuron, block_ref.synapse(spikes_in), block_pert.synapse(spikes_in))


@torch.no_grad()
def block_inputs(blocks: torch.nn.ModuleList, x: torch.Tensor) -> list[torch.Tensor]:
    """The input spikes each block receives in the network: x, then each block's (delayed) output."""
    inputs = []
    for block in blocks:
        inputs.append(x)
        x = block(x)
    return inputs


@torch.no_grad()
def block_outputs(blocks: torch.nn.ModuleList, x: torch.Tensor) -> list[np.ndarray]:
    """Every block's output spikes [samples, neurons, T] (bool) when the network runs on x."""
    outputs = []
    for block in blocks:
        x = block(x)
        outputs.append(_flat(x) > 0)
    return outputs
