"""The registries of the named families: their names, the error for an unknown one, and
the recipe keys checked against them (``preflight.NAMED``)."""
from __future__ import annotations

import ast
import dataclasses
import re
import typing
from pathlib import Path

import pytest
import torch

from neurodeploy.data.dataset import DATASETS
from neurodeploy.data.encoding import ENCODERS
from neurodeploy.hardware.profile import ProfileError, available_profiles, load_profile
from neurodeploy.pipeline import BY_NAME
from neurodeploy.preflight import NAMED
from neurodeploy.prune.criteria import CRITERIA, spiking_firing
from neurodeploy.prune.optimizers import OPTIMIZERS
from neurodeploy.prune.objectives import OBJECTIVES
from neurodeploy.prune.selection import SCOPES
from neurodeploy.recipe import Recipe
from neurodeploy.registry import Registry, UnknownNameError
from neurodeploy.variants import CHECKPOINTS, DENSE, NAMES, NETWORKS, PRUNED, VARIANTS

PACKAGE = Path(__file__).resolve().parents[1] / "neurodeploy"

REGISTRIES = {
    "pruning criterion": (CRITERIA, ("magnitude", "random", "sf")),
    "pruning scope": (SCOPES, ("global", "layerwise", "neuron", "channel")),
    "pruning objective": (OBJECTIVES, ("synops", "cores", "time", "energy")),
    "supermask optimizer": (OPTIMIZERS, ("adam", "sgd")),
    "dataset": (DATASETS, ("digits", "moving_digits", "sequential_digits", "nmnist", "shd")),
    "spike encoding": (ENCODERS, ("rate", "latency")),
    "network variant": (VARIANTS, ("dense", "pruned")),
}


@pytest.mark.parametrize("kind", REGISTRIES)
def test_each_registry_holds_its_names_in_order(kind):
    registry, names = REGISTRIES[kind]
    assert registry.kind == kind
    assert tuple(registry) == names and len(registry) == len(names)
    assert all(name in registry for name in names) and "nothing" not in registry
    assert registry.get("nothing") is None


@pytest.mark.parametrize("kind", REGISTRIES)
def test_an_unknown_name_lists_the_known_ones(kind):
    registry, names = REGISTRIES[kind]
    message = f"{kind} 'nothing' is not one of: {', '.join(names)}"
    with pytest.raises(UnknownNameError, match=re.escape(message)) as error:
        registry["nothing"]
    assert str(error.value) == message and error.value.known == names
    assert isinstance(error.value, KeyError) and isinstance(error.value, ValueError)
    with pytest.raises(UnknownNameError, match=re.escape(f"--option: 'nothing' is not one of: {names[0]}")):
        registry.lookup("nothing", "--option:")


def test_an_unknown_chip_profile_lists_the_known_ones():
    known = available_profiles()
    assert {"loihi1", "loihi2"} <= set(known)
    with pytest.raises(ProfileError, match=re.escape(f"no chip profile 'loihi9' (available: {', '.join(known)})")):
        load_profile("loihi9")


def test_every_name_valued_recipe_key_is_checked_against_a_registry():
    """Every str setting of the recipe is checked by ``preflight`` except the free texts,
    ``train.device`` (its form is checked when the recipe is read, its presence by
    ``preflight.check_device``: tests/test_device.py), ``data.frames`` (one of two, checked
    when the recipe is read) and ``prune.profile`` (a chip profile ``preflight`` loads)."""
    keys = []
    for section in dataclasses.fields(Recipe):
        hint = typing.get_type_hints(Recipe)[section.name]
        if hint is str:
            keys.append(section.name)
        elif dataclasses.is_dataclass(hint):
            keys += [f"{section.name}.{f.name}" for f in dataclasses.fields(hint)
                     if typing.get_type_hints(hint)[f.name] is str]
    assert sorted(keys) == sorted([*NAMED, "name", "data.path", "train.device", "data.frames", "prune.profile"])
    assert all(isinstance(registry, Registry) for registry in NAMED.values())
    defaults = Recipe()
    for key, registry in NAMED.items():  # every default is a registered name
        section, field = key.split(".")
        assert getattr(getattr(defaults, section), field) in registry


def test_criteria_say_what_they_need():
    assert CRITERIA["sf"].score is spiking_firing
    assert [name for name, criterion in CRITERIA.items() if criterion.needs_statistics] == ["sf"]


def test_scopes_pool_the_pruned_layers():
    pruned = ("l0", "l1", "l2")
    assert SCOPES["global"].pools(pruned, {"l0"}, ()) == (("l0",), ("l1", "l2"))
    assert SCOPES["global"].pools(pruned, set(), ()) == (pruned,)
    assert SCOPES["layerwise"].pools(pruned, {"l0"}, ()) == (("l0",), ("l1",), ("l2",))
    assert SCOPES["channel"].pools(pruned, set(), {"l0"}) == (("l0",), ("l1", "l2"))
    assert [name for name, scope in SCOPES.items() if scope.units(True)] == ["neuron", "channel"]
    assert [name for name, scope in SCOPES.items() if scope.units(False)] == ["neuron"]


def test_optimizers_make_the_torch_optimizer_with_the_settings():
    scores = [torch.nn.Parameter(torch.zeros(3))]
    adam = OPTIMIZERS["adam"](scores, 0.01, 0.9, 5e-4)
    sgd = OPTIMIZERS["sgd"](scores, 0.1, 0.8, 1e-3)
    assert isinstance(adam, torch.optim.Adam) and adam.defaults["weight_decay"] == 5e-4
    assert isinstance(sgd, torch.optim.SGD) and (sgd.defaults["lr"], sgd.defaults["momentum"]) == (0.1, 0.8)


def test_variants_name_the_run_folder_files_the_stages_hand_over():
    assert (DENSE.checkpoint, DENSE.network, PRUNED.checkpoint, PRUNED.network) == (
        "dense.pt", "dense.net", "pruned.pt", "pruned.net")
    assert NAMES == ("dense", "pruned")
    assert BY_NAME["train"].outputs == (DENSE.checkpoint,) and BY_NAME["prune"].outputs == (PRUNED.checkpoint,)
    assert BY_NAME["export"].inputs == CHECKPOINTS and BY_NAME["export"].outputs == NETWORKS


def _neurodeploy_imports(module: str) -> set[str]:
    tree = ast.parse((PACKAGE / module).read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.split(".")[0] == "neurodeploy"}


@pytest.mark.parametrize("module, allowed", [
    ("registry.py", set()),
    ("variants.py", {"neurodeploy.registry"}),
])
def test_the_base_modules_import_no_stage(module, allowed):
    assert _neurodeploy_imports(module) <= allowed
