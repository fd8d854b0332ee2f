"""SLAYER networks built from a recipe: [input], conv blocks, flatten, dense blocks, output."""
from __future__ import annotations

import numpy as np
import torch

from neurodeploy.lavacompat import slayer
from neurodeploy.loihi.geometry import conv_output_size
from neurodeploy.recipe import ModelSettings, RecipeError
from neurodeploy.train.families import FAMILIES


def layer_shapes(
    input_shape: tuple[int, int, int], num_classes: int, settings: ModelSettings
) -> list[tuple[tuple[int, ...], int]]:
    """(output shape, weights) of every layer with weights the settings build on ``input_shape``.

    Conv layers give (C, H, W) (``loihi.geometry.conv_output_size``) and
    C_out x C_in x kernel^2 weights; dense
    layers give (n,) and n x n_in weights, plus n x n recurrent ones for a
    recurrent hidden layer. A sigma-delta Input block has no weights and is
    not listed. ``RecipeError`` naming
    ``model.conv[i]`` when a convolution leaves no output pixel, and
    ``model.conv`` for an image-less dataset.
    """
    channels, height, width = input_shape
    if settings.conv and height * width == 1:
        raise RecipeError("model.conv needs image inputs (C, H, W); this dataset gives flat vectors")
    layers: list[tuple[tuple[int, ...], int]] = []
    for index, conv in enumerate(settings.conv):
        out_h, out_w = (conv_output_size(size, conv.kernel, conv.stride, conv.padding) for size in (height, width))
        if min(out_h, out_w) < 1:
            raise RecipeError(
                f"model.conv[{index}]: kernel {conv.kernel} with padding {conv.padding} does not fit its "
                f"{height}x{width} input (no output pixel)"
            )
        layers.append(((conv.channels, out_h, out_w), conv.channels * channels * conv.kernel**2))
        channels, height, width = conv.channels, out_h, out_w
    features = channels * height * width
    for width_out in settings.hidden:
        layers.append(((width_out,), width_out * (features + (width_out if settings.recurrent else 0))))
        features = width_out
    layers.append(((num_classes,), num_classes * features))
    return layers


class SpikingNet(torch.nn.Module):
    """image -> [input] -> conv... -> flatten -> hidden... -> classes, in lava-dl blocks.

    The block family (``model.blocks``, ``train.families``) picks the blocks: CUBA
    ones, or sigma-delta ones behind an Input block that delta-encodes the input.
    The input is an image of ``input_shape`` = (C, H, W) flattened in
    (C, H, W) order: x [batch, C*H*W, T] (0/1 spikes for CUBA, values for
    sigma-delta). Conv blocks see it as [batch, C, H, W, T]; a ``Flatten``
    block joins them to the dense blocks. Hidden dense blocks are
    ``cuba.Recurrent`` with ``model.recurrent``.

    Every block keeps lava-dl's default ``pre_hook_fx`` (the 8-bit weight
    quantizer ``neuron.quantize_8bit``): the forward pass uses the weights
    exactly as they are exported, so PyTorch and Lava see the same network.
    Recurrent blocks keep their neuron state between calls (lava-dl makes them
    persistent); ``forward`` clears it before and after, so every batch starts
    from rest and the state dict holds no batch-shaped state.
    """

    def __init__(self, input_shape: tuple[int, int, int], num_classes: int, settings: ModelSettings) -> None:
        super().__init__()
        self.family = FAMILIES.lookup(settings.blocks, "model.blocks =")
        if settings.recurrent and not self.family.recurrent:
            raise RecipeError(f"model.recurrent: lava-dl has no recurrent {settings.blocks} block")
        params = self.family.params(settings.neuron)
        hidden_params = dict(params, dropout=slayer.neuron.Dropout(p=settings.dropout)) if settings.dropout else params
        blocks_of = self.family.module
        self.input_shape = tuple(int(v) for v in input_shape)
        self.num_classes = int(num_classes)
        self.conv_layers = len(settings.conv)  # the first layers of ``weight_layers`` are conv
        blocks: list[torch.nn.Module] = []
        if self.family.input_block is not None:
            blocks.append(self.family.input_block(dict(params)))
        shapes = layer_shapes(self.input_shape, self.num_classes, settings)
        channels, features = self.input_shape[0], int(np.prod(self.input_shape))
        for conv, (shape, _) in zip(settings.conv, shapes):
            blocks.append(blocks_of.Conv(
                dict(hidden_params), channels, conv.channels, conv.kernel, stride=conv.stride, padding=conv.padding,
            ))
            channels, features = conv.channels, int(np.prod(shape))
        if settings.conv:
            blocks.append(blocks_of.Flatten())
        hidden = slayer.block.cuba.Recurrent if settings.recurrent else blocks_of.Dense
        for width_out in settings.hidden:
            blocks.append(hidden(dict(hidden_params), features, width_out))
            features = width_out
        blocks.append(self.family.output_block(dict(params), features, num_classes))
        self.blocks = torch.nn.ModuleList(blocks)

    @property
    def neuron_blocks(self) -> list[torch.nn.Module]:
        """The blocks with synapses and neurons (not ``Flatten``, not an Input block), in order."""
        return [block for block in self.blocks if _weights_of(block)]

    def weight_layers(self) -> list[tuple[str, ...]]:
        """Per layer with weights, in order: the dotted names of its synaptic weights
        (``synapse.weight``; a recurrent block's ``input_synapse.weight`` and
        ``recurrent_synapse.weight``)."""
        return [tuple(f"blocks.{i}.{name}.weight" for name in _weights_of(block))
                for i, block in enumerate(self.blocks) if _weights_of(block)]

    def weight_names(self) -> list[str]:
        """Dotted names of every synaptic weight, layer by layer."""
        return [name for layer in self.weight_layers() for name in layer]

    def image(self, x: torch.Tensor) -> torch.Tensor:
        """x [batch, C*H*W, T] as the first block takes it: [batch, C, H, W, T] before a conv."""
        if any(isinstance(block, self.family.module.Conv) for block in self.blocks):
            return x.reshape(x.shape[0], *self.input_shape, x.shape[-1])
        return x

    def chip_input(self, x: np.ndarray) -> np.ndarray:
        """The network's input x [N, C*H*W, T] as the chip receives it: uint8 spikes, or a
        sigma-delta Input block's a_in, its own 8-bit quantizer times 64 (int32)."""
        if self.family.input_block is None:
            return x.astype(np.uint8)
        with torch.no_grad():
            values = self.blocks[0].pre_hook_fx(torch.from_numpy(np.ascontiguousarray(x)).float(), descale=True)
        return np.rint(values.numpy()).astype(np.int32)

    @property
    def output_lag(self) -> int:
        """Columns by which the exported network's output runs behind SLAYER's (``family.lag``)."""
        return self.family.lag(sum(map(_is_layer, self.blocks)) - 1)

    def _rest(self) -> None:
        """Clear what lava-dl's recurrent blocks keep from the previous call."""
        for block in self.blocks:
            if isinstance(block, slayer.block.cuba.Recurrent):
                block.spike_state = torch.zeros(1)
                block.neuron.current_state = torch.zeros(1)
                block.neuron.voltage_state = torch.zeros(1)

    def layer_spikes(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Messages of every layer the exported network has: x [batch, C*H*W, T] -> list
        of [batch, *shape_l, T] (an Input block's included).

        Conv layers give [batch, C_l, H_l, W_l, T], dense layers [batch, n_l, T].
        """
        self._rest()
        spikes = []
        x = self.image(x)
        for block in self.blocks:
            x = block(x)
            if _is_layer(block):
                spikes.append(x)
        self._rest()
        return spikes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Output [batch, classes, T] (spikes, or a Sigma's values) for inputs [batch, C*H*W, T]."""
        return self.layer_spikes(x)[-1]

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """[batch, classes] the loss and ``classify`` rank: the family's reading of the output."""
        return self.family.logits(self(x))


def _is_layer(block: torch.nn.Module) -> bool:
    """Whether the block is a layer of the exported network (every block but ``Flatten``)."""
    return not isinstance(block, (slayer.block.cuba.Flatten, slayer.block.sigma_delta.Flatten))


def _weights_of(block: torch.nn.Module) -> tuple[str, ...]:
    """The synapse attribute names of a block that has weights (none for Flatten, Input)."""
    if isinstance(block, slayer.block.cuba.Recurrent):
        return ("input_synapse", "recurrent_synapse")
    return ("synapse",) if hasattr(block, "synapse") else ()


def build_model(input_shape: int | tuple[int, ...], num_classes: int, settings: ModelSettings) -> SpikingNet:
    """The network a recipe describes for inputs of ``input_shape``.

    input_shape: (C, H, W), or a number of inputs n for a fully connected
    network (taken as (n, 1, 1)).
    """
    if isinstance(input_shape, int):
        input_shape = (input_shape, 1, 1)
    if len(input_shape) != 3:
        raise ValueError(f"input shape {tuple(input_shape)} is not (C, H, W)")
    return SpikingNet(tuple(input_shape), num_classes, settings)


def classify(output_spikes: np.ndarray, steps: int, start: int = 0) -> np.ndarray:
    """Class per sample: argmax of the output summed over columns [start, start + steps)
    (spike counts, or a Sigma output's values).

    output_spikes: [samples, classes, T'] with T' >= start + steps. Ties go to the
    lowest class index. Returns int64 [samples].
    """
    window = output_spikes[..., start : start + steps]
    total = window.sum(axis=-1, dtype=np.int64 if np.issubdtype(window.dtype, np.integer) else np.float64)
    return total.argmax(axis=-1)
