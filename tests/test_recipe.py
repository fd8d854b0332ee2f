import dataclasses
import math
import re
import typing
from typing import Any

import pytest

from neurodeploy.limits import GIB, Limits
from neurodeploy.preflight import check_recipe
from neurodeploy.recipe import DEFAULT_RECIPE, MODELS_DIR, RANGES, Recipe, RecipeError, load_recipe, recipe_from_dict


def test_default_recipe_loads_and_has_a_stable_digest():
    recipe = load_recipe()
    assert recipe == load_recipe(DEFAULT_RECIPE)
    assert recipe.prune.sparsity == 0.9 and recipe.simulate.samples >= 32
    assert recipe.digest() == load_recipe().digest()
    assert recipe.digest() != Recipe().digest() or recipe == Recipe()


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"trian": {}}, "unknown key trian"),
        ({"train": {"epoch": 3}}, "unknown key train.epoch"),
        ({"prune": {"sparsity": 1.0}}, r"prune.sparsity = 1.0 is outside \[0, 1\)"),
        ({"data": {"steps": -4}}, r"data.steps = -4 is outside \[1"),
        ({"model": {"hidden": [0]}}, r"model.hidden = 0 is outside \[1"),
        ({"model": {"hidden": 12}}, "model.hidden must be a list of integers"),
        ({"train": {"lr": "fast"}}, "train.lr must be float"),
        ({"prune": {"rounds": 0}}, r"prune.rounds = 0 is outside \[1"),
        ({"train": {"epochs": 3}, "prune": {"rewind_epoch": 4}}, "prune.rewind_epoch = 4 is after the last epoch"),
        ({"model": {"conv": [{"channels": 4, "stride": 0}]}}, r"model.conv.stride = 0 is outside \[1"),
        ({"model": {"conv": [{"filters": 4}]}}, "unknown key model.conv.filters"),
    ],
)
def test_bad_values_name_the_key(raw, message):
    with pytest.raises(RecipeError, match=message):
        recipe_from_dict(raw)


def test_bad_files_name_the_file(tmp_path):
    with pytest.raises(RecipeError, match="missing.yaml: no such recipe"):
        load_recipe(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(RecipeError, match="bad.yaml: not valid YAML"):
        load_recipe(bad)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("prune: {sparsity: 2}\n")
    with pytest.raises(RecipeError, match="wrong.yaml: prune.sparsity"):
        load_recipe(wrong)


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"data": {"dataset": "mnist"}},
         "data.dataset = 'mnist' is not one of: digits, moving_digits, sequential_digits, nmnist, shd"),
        ({"data": {"encoding": "poisson"}}, "data.encoding = 'poisson' is not one of: rate, latency"),
        ({"prune": {"criterion": "l1"}}, "prune.criterion = 'l1' is not one of: magnitude, random, sf"),
        ({"prune": {"scope": "per-layer"}}, "prune.scope = 'per-layer' is not one of: global, layerwise"),
        ({"supermask": {"optimizer": "rmsprop"}}, "supermask.optimizer = 'rmsprop' is not one of: adam, sgd"),
        ({"data": {"dataset": "shd"}}, "data.path is required for data.dataset = 'shd'"),
    ],
)
def test_names_are_checked_against_the_registries_before_work(raw, message):
    recipe = recipe_from_dict(raw)  # a base module: recipe.py knows types and ranges, not the names
    with pytest.raises(RecipeError, match=re.escape(message)):
        check_recipe(recipe, Limits())


# As on a machine of 128 GiB: the recipes must be runnable, not fit the machine running the tests.
MODEL_LIMITS = Limits(memory=64 * GIB)


@pytest.mark.parametrize("path", sorted(MODELS_DIR.glob("*.yaml")), ids=lambda path: path.name)
def test_every_model_recipe_passes_the_checks_before_work(path):
    check_recipe(load_recipe(path), MODEL_LIMITS)


def test_the_models_folder_holds_recipes():
    assert DEFAULT_RECIPE in sorted(MODELS_DIR.glob("*.yaml"))


def _leaf(key: str) -> tuple[type, Any]:
    """(int or float, a function of a value giving the recipe dict that sets ``key`` to it)
    for a dotted key of ``Recipe``: a value inside a list where the key holds a list
    (``model.hidden``, ``model.conv.kernel``)."""
    cls: Any = Recipe
    path: list[tuple[str, bool]] = []
    for name in key.split("."):
        hint = typing.get_type_hints(cls)[name]
        args = [arg for arg in typing.get_args(hint) if arg is not type(None) and arg is not Ellipsis]
        listed = typing.get_origin(hint) is tuple
        path.append((name, listed))
        cls = args[0] if args else hint

    def raw(value: Any) -> dict[str, Any]:
        for name, listed in reversed(path):
            value = {name: [value] if listed else value}
        return value

    return cls, raw


def _numeric_keys() -> list[str]:
    """The dotted keys of every int and float setting of ``Recipe``, lists included."""
    keys = []

    def walk(cls: Any, prefix: str) -> None:
        for field in dataclasses.fields(cls):
            hint = typing.get_type_hints(cls)[field.name]
            args = [arg for arg in typing.get_args(hint) if arg is not type(None) and arg is not Ellipsis]
            inner = args[0] if args else hint
            if dataclasses.is_dataclass(inner):
                walk(inner, f"{prefix}{field.name}.")
            elif inner in (int, float):
                keys.append(f"{prefix}{field.name}")

    walk(Recipe, "")
    return keys


# Settings a bound of RANGES needs elsewhere in the recipe to be valid.
CONTEXT: dict[str, dict[str, Any]] = {"prune.rewind_epoch": {"train": {"epochs": 100_000}},
                                     "prune.target_cores": {"prune": {"objective": "cores"}},
                                     "prune.target_time": {"prune": {"objective": "time"}}}


def _merged(context: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    """``raw`` with ``context``'s sections added, key by key within a section both name."""
    return {**context, **{section: {**context.get(section, {}), **keys} if isinstance(keys, dict) else keys
                          for section, keys in raw.items()}}


def _bounds() -> list[tuple[str, str]]:
    return [(key, side) for key in RANGES for side in ("low", "high")]


@pytest.mark.parametrize("key, side", _bounds(), ids=lambda v: str(v))
def test_every_range_holds_at_its_bound(key, side):
    """The bound is accepted when inclusive, refused when exclusive (then the nearest value
    inside is accepted); one step beyond it (1 for an int, the next float for a float) is
    refused; a refusal names the key."""
    low, high, low_in, high_in = RANGES[key]
    bound, inclusive, outward = (low, low_in, -math.inf) if side == "low" else (high, high_in, math.inf)
    kind, raw = _leaf(key)
    context = CONTEXT.get(key, {})

    def accepted(value: Any) -> None:
        recipe_from_dict(_merged(context, raw(value)))

    def refused(value: Any) -> None:
        with pytest.raises(RecipeError, match=re.escape(f"{key} = {value!r} is outside")):
            recipe_from_dict(_merged(context, raw(value)))

    if kind is int:
        assert float(bound).is_integer(), f"{key}: an int setting with bound {bound}"
        bound = int(bound)
        inside = bound + 1 if side == "low" else bound - 1
        beyond = bound - 1 if side == "low" else bound + 1
    else:
        bound = float(bound)
        inside = math.nextafter(bound, -outward)
        beyond = math.nextafter(bound, outward)
    if inclusive:
        accepted(bound)
    else:
        refused(bound)
        accepted(inside)
    refused(beyond)


def test_every_numeric_setting_has_a_range():
    assert sorted(_numeric_keys()) == sorted(RANGES)


def test_added_keys_name_the_settings_only_when_changed():
    """The pruning objective's keys and data.frames (added after run folders were first
    written): at their defaults a recipe's digest is what it was before (the digest of
    the recipe without them, pinned here), changed they change it and are checked before
    work starts."""
    from neurodeploy.preflight import check_names

    assert load_recipe().digest() == "27990fbebce2", "the default recipe's digest from before the keys"
    base = load_recipe().to_dict()
    digests = {load_recipe().digest()}
    for section, key, value in [("prune", "objective", "cores"), ("prune", "profile", "loihi1"),
                                ("data", "frames", "spikes")]:
        changed = {**base, section: {**base[section], key: value}}
        digests.add(recipe_from_dict(changed).digest())
    targeted = {**base, "prune": {**base["prune"], "objective": "time", "target_time": 5.0}}
    digests.add(recipe_from_dict(targeted).digest())
    assert len(digests) == 5
    for prune, message in [({"objective": "watts"}, "prune.objective = 'watts' is not one of: synops, cores"),
                           ({"profile": "loihi9"}, "prune.profile = 'loihi9': no chip profile 'loihi9'")]:
        with pytest.raises(RecipeError, match=re.escape(message)):
            check_names(recipe_from_dict({**base, "prune": {**base["prune"], **prune}}))
