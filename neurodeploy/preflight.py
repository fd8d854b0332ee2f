"""What can be checked about a recipe before any work starts, checked then.

``neurodeploy run`` (and each stage command, ``sweep`` and ``supermask``)
calls ``check_recipe`` first, so that a recipe that would fail after minutes
of training fails at once, in one line naming its key: a name that is not in
its family's registry (``NAMED``; ``recipe.py`` imports no stage, so this is
where the names are checked), a convolution that does not fit its input, a
split too small for its classes, a CUDA device this machine lacks, a pruned layer that does not exist or a
sparsity that would leave a layer without weights, and the memory and Lava
processes the run would need against ``limits.Limits``.
"""
from __future__ import annotations

import numpy as np

from neurodeploy.compare.stage import compare_bytes
from neurodeploy.data.dataset import DATASETS, dataset_bytes, dataset_shape, dataset_sizes
from neurodeploy.data.encoding import ENCODERS
from neurodeploy.limits import Limits
from neurodeploy.hardware.profile import ProfileError, load_profile
from neurodeploy.prune.criteria import CRITERIA
from neurodeploy.prune.objectives import OBJECTIVES
from neurodeploy.prune.imp import plan
from neurodeploy.prune.optimizers import OPTIMIZERS
from neurodeploy.prune.selection import SCOPES, EmptiedLayerError, pruned_count
from neurodeploy.recipe import Recipe, RecipeError
from neurodeploy.registry import Registry, UnknownNameError
from neurodeploy.simulate.harness import lava_process_count
from neurodeploy.simulate.stage import simulate_bytes
from neurodeploy.loihi.timing import drain
from neurodeploy.train.device import check_device
from neurodeploy.train.families import FAMILIES
from neurodeploy.train.model import layer_shapes


# Every recipe key that names an implementation, and the registry of its names.
NAMED: dict[str, Registry] = {
    "data.dataset": DATASETS,
    "data.encoding": ENCODERS,
    "model.blocks": FAMILIES,
    "prune.criterion": CRITERIA,
    "prune.scope": SCOPES,
    "prune.objective": OBJECTIVES,
    "supermask.optimizer": OPTIMIZERS,
}


def check_names(recipe: Recipe) -> None:
    """``RecipeError`` naming the key for a name its registry (``NAMED``) lacks, listing the
    known ones, for a chip profile (``prune.profile``) that cannot be loaded, or for a
    dataset read from a folder without ``data.path``."""
    for key, registry in NAMED.items():
        section, field = key.split(".")
        try:
            registry.lookup(getattr(getattr(recipe, section), field), f"{key} =")
        except UnknownNameError as err:
            raise RecipeError(str(err)) from None
    try:
        load_profile(recipe.prune.profile)
    except ProfileError as err:
        raise RecipeError(f"prune.profile = {recipe.prune.profile!r}: {err}") from None
    family = FAMILIES[recipe.model.blocks]
    if recipe.model.recurrent and not family.recurrent:
        raise RecipeError(f"model.recurrent: lava-dl has no recurrent {family.name} block (cuba has)")
    data = recipe.data
    if DATASETS[data.dataset].graded(data) and family.input_block is None:
        raise RecipeError(f"data.dataset = {data.dataset!r} gives graded samples (data.frames = {data.frames!r}); "
                          f"model.blocks = {recipe.model.blocks!r} takes spikes: set data.frames = spikes")
    if DATASETS[data.dataset].needs_path and not data.path:
        raise RecipeError(f"data.path is required for data.dataset = {data.dataset!r} (the folder tonic keeps it in)")


def check_recipe(recipe: Recipe, limits: Limits, lava: bool = True, device_here: bool = True) -> None:
    """Raise ``RecipeError`` (a bad key), ``DeviceError`` (``train.device`` missing here)
    or ``LimitError`` (a limit) for anything about running ``recipe`` that is wrong
    before the dataset is even read, the names first (``check_names``). ``lava``: the
    command runs the simulate stage (``run``; a sweep does not). ``device_here``: the
    training runs on this machine (a sweep on a cluster checks the cluster's GPUs
    instead)."""
    check_names(recipe)
    if device_here:
        check_device(recipe.train.device)
    data = recipe.data
    limits.check_memory(dataset_bytes(data), f"the dataset ({data.dataset}, data.steps = {data.steps})")
    input_shape, classes = dataset_shape(data)
    layers = layer_shapes(input_shape, classes, recipe.model)
    names = [f"layer {index}" for index in range(len(layers))]
    weights = dict(zip(names, (count for _, count in layers)))
    for pool in plan(names, recipe.prune, len(recipe.model.conv)).pools:
        try:
            pruned_count([weights[name] for name in pool], recipe.prune.sparsity)
        except EmptiedLayerError as err:
            where = pool[0] if len(pool) == 1 else f"layers {', '.join(n.split()[1] for n in pool)}"
            raise RecipeError(f"prune.sparsity = {recipe.prune.sparsity}: {where}: {err}") from err
    _, test = dataset_sizes(data)
    family = FAMILIES[recipe.model.blocks]
    sizes = [int(np.prod(shape)) for shape, _ in layers]
    if family.starts_with_input:
        sizes.insert(0, int(np.prod(input_shape)))
    message_bytes = 4 if family.graded else 1
    shape = (int(np.prod(input_shape)), sizes, test, min(recipe.simulate.samples, test), data.steps,
             drain(len(sizes), family.starts_with_input), message_bytes)
    limits.check_memory(simulate_bytes(*shape), f"the simulate stage ({test} test samples x {data.steps} steps)")
    limits.check_memory(compare_bytes(*shape), f"the compare stage ({test} test samples x {data.steps} steps)")
    if not lava:
        return
    processes = lava_process_count(len(sizes), starts_with_input=family.starts_with_input, recorded=len(sizes),
                                   source=True)
    limits.check_lava_processes(processes, f"the simulate stage ({len(sizes)} layers)")
