"""The chip figures of a SLAYER network under candidate pruning masks: what the pruning
plan measures under a chip objective (``prune.allocation``).

For the network as it is before a round's pruning, the export's integer weights
are computed once (``export.quantize.network_to_layers``); each candidate's masks
zero them, the units of the structured layers whose weights are all pruned are
removed as the export removes them (``export.removal.remove_units``), and the result runs
in the golden model on the training samples given, each alone for T + drain
steps; the mapper and the time and energy model (``hardware.cost.NetworkCost``,
its dense layers on ``Sparse`` synapses, as a pruned network is deployed) turn
that into the chip figures of the profile.
"""
from __future__ import annotations

import copy
import dataclasses
from typing import Any, Collection

import numpy as np
import torch

from neurodeploy.export.quantize import network_to_layers
from neurodeploy.export.removal import remove_units
from neurodeploy.hardware.cost import NetworkCost
from neurodeploy.hardware.profile import load_profile
from neurodeploy.data.dataset import SpikeDataset
from neurodeploy.loihi.order import lava_shape
from neurodeploy.netx import Network
from neurodeploy.prune.allocation import ChipView, MeasureFor
from neurodeploy.prune.objectives import OBJECTIVES
from neurodeploy.recipe import Recipe
from neurodeploy.prune.selection import removed_units
from neurodeploy.simulate.golden import GoldenModel
from neurodeploy.simulate.stimulus import Stimulus
from neurodeploy.train.masks import Masks
from neurodeploy.train.model import SpikingNet

# the weights of a layer with weights, in the order ``SpikingNet.weight_layers`` names them
WEIGHT_ATTRIBUTES = ("weight", "weight_rec")
# training samples the plan measures activity on (at most; ``prune.stats_samples`` if fewer)
PLAN_SAMPLES = 128


def recipe_measure(recipe: Recipe, data: SpikeDataset) -> MeasureFor | None:
    """What the prune stage measures candidates with under ``recipe``'s chip objective
    (``chip_measure`` on its profile and the first training samples); None for ``synops``."""
    if OBJECTIVES.lookup(recipe.prune.objective, "prune.objective =") is None:
        return None
    samples = min(recipe.prune.stats_samples, PLAN_SAMPLES)
    return chip_measure(recipe.prune.profile, data.x_train[:samples], recipe.data.steps)


def chip_measure(profile: str, x: np.ndarray, steps: int, sparse: bool = True) -> MeasureFor:
    """For a model and the names of its layers that lose whole units, its ``ChipView``: the
    measure of its chip figures on ``profile`` under candidate masks (module docstring),
    and its weights the export makes zero; x
    [N, C*H*W, T]: the training samples the activity is measured on, in the model's
    order; sparse: dense layers on netx's ``Sparse`` synapses (False: ``Dense``, as the
    dense network is deployed)."""
    chip = load_profile(profile)

    def for_model(model: SpikingNet, units: Collection[str]) -> ChipView:
        layers = network_to_layers(copy.deepcopy(model).cpu())
        synaptic = [index for index, layer in enumerate(layers) if layer.has_synapse]
        names = model.weight_layers()
        spikes = model.chip_input(x)
        input_shape = lava_shape(model.input_shape)
        params = dict(model.named_parameters())
        zeros = {name: torch.from_numpy(getattr(layers[index], attribute) == 0).reshape(params[name].shape)
                 for index, layer_names in zip(synaptic, names)
                 for attribute, name in zip(WEIGHT_ATTRIBUTES, layer_names)}

        def measure(masks: Masks) -> dict[str, Any]:
            masked = list(layers)
            for index, layer_names in zip(synaptic, names):
                layer = layers[index]
                changes = {attribute: getattr(layer, attribute) * masks[name].reshape(
                               getattr(layer, attribute).shape).numpy()
                           for attribute, name in zip(WEIGHT_ATTRIBUTES, layer_names) if name in masks}
                masked[index] = dataclasses.replace(layer, **changes)
            network = Network(tuple(remove_units(masked, removed_units(masks, names, units))), input_shape)
            stimulus = Stimulus(network.to_lava_order(spikes), None, steps)
            golden = GoldenModel(network, sparse=sparse)
            run = golden.run_samples(stimulus)
            cost = NetworkCost(network, [chip], sparse)
            cost.add(stimulus.batch_spikes(golden.drain_steps), run.spikes)
            return cost.figures(steps)[chip.name]

        return ChipView(measure, zeros)

    return for_model
