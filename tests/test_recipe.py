import pytest

from neurodeploy.recipe import DEFAULT_RECIPE, Recipe, RecipeError, load_recipe, recipe_from_dict


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
        ({"data": {"encoding": "poisson"}}, "data.encoding = 'poisson' is not one of: rate, latency"),
        ({"train": {"lr": "fast"}}, "train.lr must be float"),
        ({"prune": {"criterion": "l1"}}, "prune.criterion = 'l1' is not one of: magnitude, random, sf"),
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
