"""From a trained SLAYER network to NetX records, and the ``export`` stage.

Blocks map one to one, through one table (``_block_kinds``) from lava-dl
block class to a converter:

- ``cuba.Dense``, ``cuba.Conv`` (CUBA neurons), ``sigma_delta.Dense``,
  ``sigma_delta.Conv`` (``SDNN`` sigma-delta neurons) to a ``DenseLayer`` or
  ``ConvLayer``;
- ``sigma_delta.Output`` to a ``DenseLayer`` of ``sigma_output`` neurons
  (a ``Sigma``: no delta encoder);
- ``cuba.Recurrent`` to a ``RecurrentDenseLayer`` (``weight`` from its input
  synapse, ``weight_rec`` from its recurrent one);
- ``sigma_delta.Input`` (the first block only) to an ``InputLayer`` of
  ``Delta`` neurons;
- a ``Flatten`` (either kind) after an image (a conv block or an image
  input) to ``flatten_input`` on the dense layer that follows (the writer
  puts the ``flatten`` group back).

The file is the same, key for key and value for value, as lava-dl's own
``block.export_hdf5`` (tests/test_export.py, tests/test_conv_export.py,
tests/test_export_blocks.py); lava-dl stores the weights as float32
integers, we store int16. The export stage then takes the units a structured
pruning removed out of the pruned network (``removal``).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import torch

from neurodeploy.lavacompat import slayer
from neurodeploy.loihi.geometry import conv_output_size
from neurodeploy.export.removal import remove_units
from neurodeploy.netx import NetxError, write_netx
from neurodeploy.netx.layers.conv import ConvLayer
from neurodeploy.netx.layers.dense import DenseLayer
from neurodeploy.netx.layers.dense_rec import RecurrentDenseLayer
from neurodeploy.netx.layers.input import InputLayer
from neurodeploy.netx.neurons.cuba import CubaNeuron
from neurodeploy.netx.neurons.sdnn import SigmaDeltaNeuron
from neurodeploy.recipe import Recipe
from neurodeploy.train.checkpoint import CheckpointError, load_checkpoint
from neurodeploy.variants import VARIANTS

NeuronLayer = DenseLayer | ConvLayer | InputLayer  # RecurrentDenseLayer is a DenseLayer


def _integer_weight(synapse: torch.nn.Module, shape: tuple[int, ...]) -> np.ndarray:
    """A synapse's weights through its own 8-bit quantizer, as NetX integers of ``shape``.

    ``pre_hook_fx(w, descale=True)`` gives ``round(w / (2/64)) * 2`` clipped
    to [-256, 254]: the integers SLAYER's forward pass uses, times 64.
    """
    with torch.no_grad():
        weight = synapse.pre_hook_fx(synapse.weight, descale=True)
    weight = weight.reshape(shape).numpy()
    w_int = np.rint(weight).astype(np.int64)
    if not np.array_equal(w_int, weight):
        raise ValueError("the quantizer gave non-integer weights; is pre_hook_fx the 8-bit quantizer?")
    return w_int


def _dense_weight(synapse: torch.nn.Module) -> np.ndarray:
    return _integer_weight(synapse, tuple(synapse.weight.shape[:2]))


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


def _sdnn_neuron(block: torch.nn.Module, role: str) -> SigmaDeltaNeuron:
    """The block's sigma-delta ``device_params`` (vThMant, activation) in ``role``; lava-dl
    writes the neuron's vThMant for a ``sigma_output`` block too (netx does not read it)."""
    params = block.neuron.device_params
    return SigmaDeltaNeuron(role=role, v_th_mant=int(params["vThMant"]), activation=str(params["activation"]))


def _check_exportable(block: torch.nn.Module, synapses: tuple[torch.nn.Module, ...]) -> None:
    """Reject what these records do not carry: axonal delays, neuron norms (biases), a
    sigma-delta neuron's bias, weight normalisation of any of ``synapses``."""
    if getattr(block, "delay", None) is not None:
        raise ValueError("axonal delays (delay=True) are not exported")
    if getattr(block.neuron, "norm", None) is not None:
        raise ValueError("a neuron norm (a bias) is not exported")
    if getattr(block.neuron, "bias_is_set", False):
        raise ValueError("a sigma-delta neuron bias (neuron.set_bias) is not exported (lava-dl's export drops it too)")
    if any(synapse.weight_norm_enabled for synapse in synapses):
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


# ------------------------------------------------------------------ one converter per block kind
# Each takes the block, the (C, H, W) shape of its input when known (the model's input for an
# Input block) and whether it reads a Flatten; each checks the block (``_check_exportable``).


def _conv(block: torch.nn.Module, neuron: CubaNeuron | SigmaDeltaNeuron,
          input_shape: tuple[int, ...] | None) -> ConvLayer:
    """Stride, padding, dilation and groups from the synapse (their (H, W) entries;
    SLAYER's third, time, axis is 1, 0, 1)."""
    synapse = block.synapse
    return ConvLayer(
        weight=_integer_weight(synapse, tuple(synapse.weight.shape[:4])),
        neuron=neuron,
        shape=_conv_output_shape(block, input_shape),
        stride=tuple(int(v) for v in synapse.stride[:2]),
        padding=tuple(int(v) for v in synapse.padding[:2]),
        dilation=tuple(int(v) for v in synapse.dilation[:2]),
        groups=int(synapse.groups),
    )


def _cuba_dense(block: torch.nn.Module, input_shape: tuple[int, ...] | None, flatten_input: bool) -> DenseLayer:
    _check_exportable(block, (block.synapse,))
    return DenseLayer(weight=_dense_weight(block.synapse), neuron=_neuron(block), flatten_input=flatten_input)


def _cuba_conv(block: torch.nn.Module, input_shape: tuple[int, ...] | None, flatten_input: bool) -> ConvLayer:
    _check_exportable(block, (block.synapse,))
    return _conv(block, _neuron(block), input_shape)


def _cuba_recurrent(block: torch.nn.Module, input_shape: tuple[int, ...] | None,
                    flatten_input: bool) -> RecurrentDenseLayer:
    """``weight`` from the input synapse, ``weight_rec`` from the recurrent one, each
    through its own quantizer."""
    _check_exportable(block, (block.input_synapse, block.recurrent_synapse))
    if getattr(block, "bias", None) is not None:
        raise ValueError("a recurrent block's bias is not exported (lava-dl's export drops it too)")
    return RecurrentDenseLayer(weight=_dense_weight(block.input_synapse), neuron=_neuron(block),
                               flatten_input=flatten_input, weight_rec=_dense_weight(block.recurrent_synapse))


def _sdnn_dense(block: torch.nn.Module, input_shape: tuple[int, ...] | None, flatten_input: bool) -> DenseLayer:
    _check_exportable(block, (block.synapse,))
    return DenseLayer(weight=_dense_weight(block.synapse), neuron=_sdnn_neuron(block, "sigma_delta"),
                      flatten_input=flatten_input)


def _sdnn_conv(block: torch.nn.Module, input_shape: tuple[int, ...] | None, flatten_input: bool) -> ConvLayer:
    _check_exportable(block, (block.synapse,))
    return _conv(block, _sdnn_neuron(block, "sigma_delta"), input_shape)


def _sdnn_output(block: torch.nn.Module, input_shape: tuple[int, ...] | None, flatten_input: bool) -> DenseLayer:
    _check_exportable(block, (block.synapse,))
    return DenseLayer(weight=_dense_weight(block.synapse), neuron=_sdnn_neuron(block, "sigma"),
                      flatten_input=flatten_input)


def _sdnn_input(block: torch.nn.Module, input_shape: tuple[int, ...] | None, flatten_input: bool) -> InputLayer:
    """Shape: the neuron's (C, H, W) or (n,), as its first forward pass set it and lava-dl
    writes it, or ``input_shape`` (checked against each other when both are known)."""
    if block.neuron is None:
        raise ValueError("an Input block without neurons is not exported (give it neuron_params)")
    _check_exportable(block, ())
    if block.weight is not None or block.bias is not None:
        raise ValueError("an Input block's weight or bias (its input scaling) is not exported: netx ignores "
                         "an input layer's 'weight' and 'bias' keys; fold it into the input instead")
    shape = block.neuron.shape
    given = None if input_shape is None else tuple(int(v) for v in input_shape)
    if shape is None:
        if given is None:
            raise ValueError("input shape unknown: run one forward pass or give the input shape (C, H, W) or (n,)")
        shape = given
    shape = tuple(int(v) for v in shape)
    if given is not None and given != shape:
        raise ValueError(f"neuron shape {list(shape)} differs from the input shape {list(given)}")
    return InputLayer(shape=shape, neuron=_sdnn_neuron(block, "delta"))


Converter = Callable[[torch.nn.Module, "tuple[int, ...] | None", bool], NeuronLayer]


@dataclass(frozen=True)
class _Kind:
    """role: where the block may stand (``input``: first only; ``conv``: after the input
    or a conv, an image out; ``dense``: after a flat layer or a Flatten; ``flatten``:
    after an image, no layer of its own); convert: None for a Flatten."""

    role: str
    convert: Converter | None


@functools.cache
def _block_kinds() -> dict[type, _Kind]:
    """The one table of exported lava-dl block classes (a subclass maps as its base)."""
    cuba, sdnn = slayer.block.cuba, slayer.block.sigma_delta
    return {
        cuba.Dense: _Kind("dense", _cuba_dense),
        cuba.Conv: _Kind("conv", _cuba_conv),
        cuba.Recurrent: _Kind("dense", _cuba_recurrent),
        cuba.Flatten: _Kind("flatten", None),
        sdnn.Input: _Kind("input", _sdnn_input),
        sdnn.Dense: _Kind("dense", _sdnn_dense),
        sdnn.Conv: _Kind("conv", _sdnn_conv),
        sdnn.Output: _Kind("dense", _sdnn_output),
        sdnn.Flatten: _Kind("flatten", None),
    }


def _kind(block: torch.nn.Module) -> _Kind:
    kinds = _block_kinds()
    for cls in type(block).__mro__:
        if cls in kinds:
            return kinds[cls]
    names = sorted({f"{cls.__module__.rsplit('.', 1)[-1]}.{cls.__name__}" for cls in kinds})
    raise ValueError(f"{type(block).__name__} blocks are not exported (these are: {', '.join(names)})")


def block_to_layer(
    block: torch.nn.Module,
    input_shape: tuple[int, ...] | None = None,
    flatten_input: bool = False,
) -> NeuronLayer:
    """One lava-dl block (module doc) as a NetX record.

    Weights: the block's own quantizer (``_integer_weight``); neuron: its
    ``device_params``. input_shape: the block's input (C, H, W), for a conv
    block that has not run a forward pass; for an Input block, the network's
    input. flatten_input: a dense layer reads an image through a ``flatten``.
    """
    kind = _kind(block)
    if kind.convert is None:
        raise ValueError(f"a {type(block).__name__} block has no layer of its own: network_to_layers applies it "
                         "to the Dense block that follows")
    return kind.convert(block, input_shape, flatten_input)


def _next_role(blocks: torch.nn.ModuleList, index: int) -> str | None:
    """The role of the block after ``index`` (None at the end or for a block not exported)."""
    try:
        return _kind(blocks[index + 1]).role if index + 1 < len(blocks) else None
    except ValueError:
        return None


def _a(word: str) -> str:
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


def network_to_layers(model: torch.nn.Module, input_shape: tuple[int, ...] | None = None) -> list[NeuronLayer]:
    """Every block of ``model.blocks`` as a NetX record, in order.

    An Input block must come first; a Flatten must follow an image (a Conv
    block or an image Input) and makes the next Dense (or Output, or
    Recurrent) read it flattened in (C, H, W) order. input_shape: (C, H, W)
    of the model's input, needed only for blocks that have not run a forward
    pass (an Input block followed by a Dense one takes it flat, (C*H*W,), as
    lava-dl's Dense reads [N, n, T]); default ``model.input_shape`` when the
    model has one. Errors name the block.
    """
    if input_shape is None:
        input_shape = getattr(model, "input_shape", None)
    shape = None if input_shape is None else tuple(int(v) for v in input_shape)
    layers: list[NeuronLayer] = []
    flatten = False
    for index, block in enumerate(model.blocks):
        name = f"blocks.{index} ({type(block).__name__})"
        try:
            kind = _kind(block)
        except ValueError as err:
            raise ValueError(f"{name}: {err}") from err
        image = bool(layers) and len(layers[-1].lava_shape) == 3 and not flatten  # an image out
        before = type(model.blocks[index - 1]).__name__ if index else None
        if kind.role == "input" and index:
            raise ValueError(f"{name}: an Input block must be the first block")
        if kind.role == "input" and shape is not None and _next_role(model.blocks, index) == "dense":
            shape = (int(np.prod(shape)),)  # a Dense block reads the input flat: [N, C*H*W, T]
        if kind.role == "flatten":
            if not image:
                raise ValueError(f"{name}: a Flatten block must follow a Conv block (or an image Input block)")
            flatten = True
            continue
        if kind.role == "conv" and layers and not image:
            raise ValueError(f"{name}: a Conv block must follow the input or another Conv block")
        if kind.role == "dense" and image:
            raise ValueError(f"{name}: {_a(type(block).__name__)} block after {_a(before)} block needs a Flatten "
                             "block between them")
        try:
            layer = kind.convert(block, shape, flatten)
        except ValueError as err:
            raise ValueError(f"{name}: {err}") from err
        flatten = False
        shape = tuple(reversed(layer.lava_shape)) if len(layer.lava_shape) == 3 else None
        layers.append(layer)
    if flatten:
        raise ValueError(f"blocks.{len(model.blocks) - 1} (Flatten): a Flatten block must be followed by a Dense block")
    if not any(layer.has_synapse for layer in layers):
        raise ValueError("the model has no Dense or Conv blocks to export")
    return layers


def export_model(model: torch.nn.Module, path: Path, input_shape: tuple[int, ...] | None = None,
                 removed: Mapping[str, Sequence[int]] | None = None) -> list[NeuronLayer]:
    """Quantize ``model`` and write it to ``path``; returns the records written.

    input_shape: as for ``network_to_layers``. removed: the units a structured pruning
    removed (``removal.remove_units``), taken out of the network written.
    """
    layers = network_to_layers(model, input_shape)
    if removed:
        layers = remove_units(layers, removed)
    write_netx(path, layers)
    return layers


def export_stage(recipe: Recipe, out_dir: Path) -> tuple[Path, ...]:
    """Write each variant's network (``dense.net``, ``pruned.net``) from its checkpoint in
    ``out_dir`` (the networks ``recipe.model`` describes), without the units its
    checkpoint's ``extra["removed"]`` names (``removal.remove_units``; only a structured
    pruning's checkpoint has them); returns their paths."""
    paths = []
    for variant in VARIANTS.values():
        checkpoint = load_checkpoint(out_dir / variant.checkpoint)
        layers = network_to_layers(checkpoint.model(recipe.model))
        if "removed" in checkpoint.extra:
            try:
                layers = remove_units(layers, checkpoint.extra["removed"])
            except NetxError as err:
                raise CheckpointError(f"{checkpoint.path}: its removed units: {err}") from err
        path = out_dir / variant.network
        write_netx(path, layers)
        paths.append(path)
    return tuple(paths)
