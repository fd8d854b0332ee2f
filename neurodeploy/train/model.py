"""SLAYER CUBA networks built from a recipe: conv blocks, flatten, dense blocks."""
from __future__ import annotations

import numpy as np
import torch

from neurodeploy.lavacompat import slayer
from neurodeploy.loihi.geometry import conv_output_size
from neurodeploy.recipe import ModelSettings, RecipeError


def layer_shapes(
    input_shape: tuple[int, int, int], num_classes: int, settings: ModelSettings
) -> list[tuple[tuple[int, ...], int]]:
    """(output shape, weights) of every neuron layer the settings build on ``input_shape``.

    Conv layers give (C, H, W) (``loihi.geometry.conv_output_size``) and
    C_out x C_in x kernel^2 weights; dense
    layers give (n,) and n x n_in weights. ``RecipeError`` naming
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
    for width_out in (*settings.hidden, num_classes):
        layers.append(((width_out,), width_out * features))
        features = width_out
    return layers


class SpikingNet(torch.nn.Module):
    """image -> conv... -> flatten -> hidden... -> classes, in SLAYER CUBA blocks.

    The input is an image of ``input_shape`` = (C, H, W) flattened in
    (C, H, W) order: x [batch, C*H*W, T]. Conv blocks see it as
    [batch, C, H, W, T]; a ``Flatten`` block joins them to the dense blocks.
    Without conv blocks the network is a stack of ``slayer.block.cuba.Dense``.

    Every block keeps lava-dl's default ``pre_hook_fx`` (the 8-bit weight
    quantizer ``neuron.quantize_8bit``): the forward pass uses the weights
    exactly as they are exported, so PyTorch and Lava see the same network.
    Each block delays its output by one step (SLAYER's ``delay_shift``).
    """

    def __init__(self, input_shape: tuple[int, int, int], num_classes: int, settings: ModelSettings) -> None:
        super().__init__()
        n = settings.neuron
        params = {
            "threshold": n.threshold,
            "current_decay": n.current_decay,
            "voltage_decay": n.voltage_decay,
            "tau_grad": n.tau_grad,
            "scale_grad": n.scale_grad,
            "requires_grad": False,
        }
        self.input_shape = tuple(int(v) for v in input_shape)
        self.num_classes = int(num_classes)
        blocks: list[torch.nn.Module] = []
        shapes = layer_shapes(self.input_shape, self.num_classes, settings)
        channels, features = self.input_shape[0], int(np.prod(self.input_shape))
        for conv, (shape, _) in zip(settings.conv, shapes):
            blocks.append(slayer.block.cuba.Conv(
                params, channels, conv.channels, conv.kernel, stride=conv.stride, padding=conv.padding,
            ))
            channels, features = conv.channels, int(np.prod(shape))
        if settings.conv:
            blocks.append(slayer.block.cuba.Flatten())
        for width_out in (*settings.hidden, num_classes):
            blocks.append(slayer.block.cuba.Dense(params, features, width_out))
            features = width_out
        self.blocks = torch.nn.ModuleList(blocks)

    @property
    def neuron_blocks(self) -> list[torch.nn.Module]:
        """The blocks with synapses and neurons (every block but ``Flatten``), in order."""
        return [block for block in self.blocks if hasattr(block, "synapse")]

    def weight_names(self) -> list[str]:
        """Dotted names of the synaptic weights, one per neuron layer, in order."""
        return [f"blocks.{i}.synapse.weight" for i, block in enumerate(self.blocks) if hasattr(block, "synapse")]

    def image(self, x: torch.Tensor) -> torch.Tensor:
        """x [batch, C*H*W, T] as the first block takes it: [batch, C, H, W, T] before a conv."""
        if isinstance(self.blocks[0], slayer.block.cuba.Conv):
            return x.reshape(x.shape[0], *self.input_shape, x.shape[-1])
        return x

    def layer_spikes(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Spikes of every neuron layer: x [batch, C*H*W, T] -> list of [batch, *shape_l, T].

        Conv layers give [batch, C_l, H_l, W_l, T], dense layers [batch, n_l, T].
        """
        spikes = []
        x = self.image(x)
        for block in self.blocks:
            x = block(x)
            if hasattr(block, "synapse"):
                spikes.append(x)
        return spikes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Output spikes [batch, classes, T] for input spikes [batch, C*H*W, T]."""
        return self.layer_spikes(x)[-1]


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


def classify(output_spikes: np.ndarray, steps: int) -> np.ndarray:
    """Class per sample: argmax of output spike counts over the first ``steps``.

    output_spikes: [samples, classes, T'] with T' >= steps. Ties go to the
    lowest class index. Returns int64 [samples].
    """
    return output_spikes[..., :steps].sum(axis=-1).argmax(axis=-1)
