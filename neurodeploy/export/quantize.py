"""From a trained SLAYER network to NetX records, and the ``export`` stage.

Blocks map one to one: ``slayer.block.cuba.Conv`` to a ``ConvLayer``,
``slayer.block.cuba.Dense`` to a ``DenseLayer``, and a
``slayer.block.cuba.Flatten`` after a conv block to ``flatten_input`` on
the dense layer that follows (the writer puts the ``flatten`` group back).
The file is the same, key for key and value for value, as lava-dl's own
``block.export_hdf5`` (tests/test_export.py, tests/test_conv_export.py).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from neurodeploy.lavacompat import slayer
from neurodeploy.loihi.geometry import conv_output_size
from neurodeploy.netx import write_netx
from neurodeploy.netx.layers.conv import ConvLayer
from neurodeploy.netx.layers.dense import DenseLayer
from neurodeploy.netx.neurons.cuba import CubaNeuron
from neurodeploy.recipe import Recipe
from neurodeploy.train.checkpoint import load_checkpoint
from neurodeploy.variants import VARIANTS

NeuronLayer = DenseLayer | ConvLayer


def _integer_weight(block: torch.nn.Module, shape: tuple[int, ...]) -> np.ndarray:
    """The block's weights through its own 8-bit quantizer, as NetX integers of ``shape``.

    ``pre_hook_fx(w, descale=True)`` gives ``round(w / (2/64)) * 2`` clipped
    to [-256, 254]: the integers SLAYER's forward pass uses, times 64.
    """
    synapse = block.synapse
    with torch.no_grad():
        weight = synapse.pre_hook_fx(synapse.weight, descale=True)
    weight = weight.reshape(shape).numpy()
    w_int = np.rint(weight).astype(np.int64)
    if not np.array_equal(w_int, weight):
        raise ValueError("the quantizer gave non-integer weights; is pre_hook_fx the 8-bit quantizer?")
    return w_int


def _neuron(block: torch.nn.Module) -> CubaNeuron:
    """The block's ``device_params`` (vThMant, iDecay, vDecay, refDelay, gradedSpike)."""
    params = block.neuron.device_params
    return CubaNeuron(
        v_th_mant=int(params["vThMant"]),
        i_decay=int(params["iDecay"]),
        v_decay=int(params["vDecay"]),
        ref_delay=int(params["refDelay"]),
        graded_spike=bool(params["gradedSpike"]),
    )


def _check_exportable(block: torch.nn.Module) -> None:
    """Reject what these records do not carry: axonal delays, neuron norms (biases),
    weight normalisation."""
    if getattr(block, "delay", None) is not None:
        raise ValueError("axonal delays (delay=True) are not exported")
    if getattr(block.neuron, "norm", None) is not None:
        raise ValueError("a neuron norm (a bias) is not exported")
    if block.synapse.weight_norm_enabled:
        raise ValueError("weight normalisation is enabled; disable it before exporting")


def _conv_output_shape(block: torch.nn.Module, input_shape: tuple[int, int, int] | None) -> tuple[int, int, int]:
    """Output (C, H, W) of a conv block: the neuron shape its first forward pass set,
    or computed from ``input_shape`` (checked against each other when both are known)."""
    synapse = block.synapse
    computed = None
    if input_shape is not None:
        height, width = (
            conv_output_size(size, k, s, p, d)
            for size, p, d, k, s in zip(input_shape[1:], synapse.padding, synapse.dilation,
                                        synapse.kernel_size, synapse.stride)
        )
        computed = (int(synapse.out_channels), height, width)
    shape = block.neuron.shape
    if shape is None:
        if computed is None:
            raise ValueError("output shape unknown: run one forward pass or give the input shape (C, H, W)")
        return computed
    shape = tuple(int(s) for s in shape)
    if computed is not None and computed != shape:
        raise ValueError(f"neuron shape {list(shape)} differs from {list(computed)} computed for input {list(input_shape)}")
    return shape


def block_to_layer(
    block: torch.nn.Module,
    input_shape: tuple[int, int, int] | None = None,
    flatten_input: bool = False,
) -> NeuronLayer:
    """One ``slayer.block.cuba.Dense`` or ``Conv`` as a NetX record.

    Weights: the block's own quantizer (``_integer_weight``); neuron: its
    ``device_params``. Conv: stride, padding, dilation and groups from the
    synapse (their (H, W) entries; SLAYER's third, time, axis is 1, 0, 1);
    the output shape from the neuron (set by a forward pass) or from
    ``input_shape``, the block's input (C, H, W). flatten_input: the dense
    layer reads a conv layer's output through a ``flatten``.
    """
    if not isinstance(block, (slayer.block.cuba.Dense, slayer.block.cuba.Conv)):
        raise ValueError(f"{type(block).__name__} blocks are not exported (Dense, Conv and Flatten are)")
    _check_exportable(block)
    synapse = block.synapse
    if isinstance(block, slayer.block.cuba.Dense):
        return DenseLayer(weight=_integer_weight(block, tuple(synapse.weight.shape[:2])), neuron=_neuron(block),
                          flatten_input=flatten_input)
    return ConvLayer(
        weight=_integer_weight(block, tuple(synapse.weight.shape[:4])),
        neuron=_neuron(block),
        shape=_conv_output_shape(block, input_shape),
        stride=tuple(int(v) for v in synapse.stride[:2]),
        padding=tuple(int(v) for v in synapse.padding[:2]),
        dilation=tuple(int(v) for v in synapse.dilation[:2]),
        groups=int(synapse.groups),
    )


def network_to_layers(model: torch.nn.Module, input_shape: tuple[int, int, int] | None = None) -> list[NeuronLayer]:
    """Every neuron block of ``model.blocks`` as a NetX record, in order.

    ``model.blocks`` mixes Conv, Flatten and Dense blocks; a Flatten must
    follow a Conv block and makes the next Dense read it flattened in
    (C, H, W) order. input_shape: (C, H, W) of the model's input, needed
    only for conv blocks that have not run a forward pass; default
    ``model.input_shape`` when the model has one. Errors name the block.
    """
    if input_shape is None:
        input_shape = getattr(model, "input_shape", None)
    shape = None if input_shape is None else tuple(int(v) for v in input_shape)
    layers: list[NeuronLayer] = []
    flatten = False
    for index, block in enumerate(model.blocks):
        name = f"blocks.{index} ({type(block).__name__})"
        after_conv = bool(layers) and len(layers[-1].lava_shape) == 3 and not flatten  # an image out
        if isinstance(block, slayer.block.cuba.Flatten):
            if not after_conv:
                raise ValueError(f"{name}: a Flatten block must follow a Conv block")
            flatten = True
            continue
        if isinstance(block, slayer.block.cuba.Conv) and layers and not after_conv:
            raise ValueError(f"{name}: a Conv block must follow the input or another Conv block")
        if isinstance(block, slayer.block.cuba.Dense) and after_conv:
            raise ValueError(f"{name}: a Dense block after a Conv block needs a Flatten block between them")
        try:
            layer = block_to_layer(block, shape, flatten)
        except ValueError as err:
            raise ValueError(f"{name}: {err}") from err
        flatten = False
        shape = tuple(reversed(layer.lava_shape)) if len(layer.lava_shape) == 3 else None
        layers.append(layer)
    if flatten:
        raise ValueError(f"blocks.{len(model.blocks) - 1} (Flatten): a Flatten block must be followed by a Dense block")
    if not layers:
        raise ValueError("the model has no Dense or Conv blocks to export")
    return layers


def export_model(model: torch.nn.Module, path: Path, input_shape: tuple[int, int, int] | None = None) -> list[NeuronLayer]:
    """Quantize ``model`` and write it to ``path``; returns the records written.

    input_shape: as for ``network_to_layers``.
    """
    layers = network_to_layers(model, input_shape)
    write_netx(path, layers)
    return layers


def export_stage(recipe: Recipe, out_dir: Path) -> tuple[Path, ...]:
    """Write each variant's network (``dense.net``, ``pruned.net``) from its checkpoint in
    ``out_dir`` (the networks ``recipe.model`` describes); returns their paths."""
    paths = []
    for variant in VARIANTS.values():
        model = load_checkpoint(out_dir / variant.checkpoint).model(recipe.model)
        path = out_dir / variant.network
        export_model(model, path)
        paths.append(path)
    return tuple(paths)
