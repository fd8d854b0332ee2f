"""The Python API (docs/api.md): its example runs as written, its results are typed and are
what the command line writes, and it loads only when used."""
from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
import types
import typing
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import neurodeploy
from neurodeploy.api import Exported
from neurodeploy.cli import main
from neurodeploy.compare.networks import Comparison
from neurodeploy.compare.verification import Verification
from neurodeploy.netx import Network
from neurodeploy.recipe import RecipeError, load_recipe
from neurodeploy.report.inspect import Inspection
from neurodeploy.report.stage import RunReport
from neurodeploy.simulate.input_options import InputOptionError
from netx_builders import FIXTURES

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "api.md"
OXFORD = FIXTURES / "oxford" / "network.net"


def example() -> list[str]:
    """The ```python blocks of docs/api.md in order, the checkout's paths (``"models/...``)
    made absolute, so that they run from any working directory."""
    blocks = re.findall(r"^```python\n(.*?)^```", DOC.read_text(), flags=re.S | re.M)
    assert len(blocks) >= 5, "docs/api.md lost its example"
    return [block.replace('"models/', f'"{ROOT}/models/') for block in blocks]


def conforms(value: Any, hint: Any) -> bool:
    """Whether ``value`` is of the type ``hint`` (dataclasses field by field, unions,
    tuples, dicts; an ``int`` is not a ``float`` and a ``bool`` is not an ``int``)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(conforms(value, arg) for arg in args)
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(conforms(item, args[0]) for item in value)
        return len(value) == len(args) and all(conforms(item, arg) for item, arg in zip(value, args))
    if origin is dict:
        return isinstance(value, dict) and all(conforms(k, args[0]) and conforms(v, args[1])
                                               for k, v in value.items())
    if hint is type(None):
        return value is None
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if dataclasses.is_dataclass(hint):
        return isinstance(value, hint) and all(conforms(getattr(value, name), field_hint)
                                               for name, field_hint in typing.get_type_hints(hint).items()
                                               if name in {f.name for f in dataclasses.fields(hint)})
    return isinstance(value, origin or hint)


def without_seconds(value: Any) -> Any:
    """JSON with the wall seconds (which differ between runs) left out."""
    if isinstance(value, dict):
        return {k: without_seconds(v) for k, v in value.items() if k not in ("timing", "golden_s")}
    if isinstance(value, list):
        return [without_seconds(v) for v in value]
    return value


def as_json(result: Any) -> Any:
    """A result's ``to_dict()`` as the JSON file holds it, seconds left out."""
    return without_seconds(json.loads(json.dumps(result.to_dict())))


def cli_json(tmp_path: Path, *args: str) -> Any:
    """What ``neurodeploy ARGS --json`` writes, seconds left out."""
    out = tmp_path / "cli.json"
    assert main([*args, "--json", str(out)]) == 0
    return without_seconds(json.loads(out.read_text()))


@pytest.mark.slow
@pytest.mark.lava
def test_the_example_runs_and_its_results_are_typed_and_what_the_cli_writes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    names: dict[str, Any] = {}
    for number, block in enumerate(example(), 1):
        exec(compile(block, f"{DOC} (python block {number})", "exec"), names)  # noqa: S102 (our own docs)

    tiny, image = names["TINY"], names["IMAGE"]
    assert isinstance(names["network"], Network) and names["network"].kinds == ["input", "conv", "conv"]
    for value, kind in [(names["info"], Inspection), (names["check"], Verification), (names["diff"], Comparison),
                        (names["result"], RunReport), (names["test"], Comparison)]:
        assert conforms(value, kind), f"{kind.__name__} holds a value of another type than its field says"
        with pytest.raises(dataclasses.FrozenInstanceError):
            value.samples = 0
    # the same calls as the commands: the same JSON, wall seconds aside
    assert as_json(names["info"]) == cli_json(tmp_path, "inspect", str(tiny))
    check = names["check"]
    assert check.equivalent and check.first_divergence is None and check.layers[2].spikes_lava > 0
    assert as_json(check) == cli_json(tmp_path, "verify", str(tiny), "--bias", str(image), "--steps", "17")
    assert as_json(names["diff"]) == cli_json(tmp_path, "compare", str(tiny), "tiny_pruned.net", "--bias",
                                              str(image), "--steps", "17")
    assert 0 < names["diff"].synops_ratio < 1 and "accuracy_a" not in names["diff"].to_dict()
    for fmt in ("onnx", "nir"):
        assert (tmp_path / f"tiny.{fmt}").stat().st_size > 0

    result = names["result"]
    assert result.report == Path("runs/api-example/report.json") and result.report.is_file() and result.html.is_file()
    assert result.pruned.network.is_file() and result.dense.network.name == "dense.net"
    report = json.loads(result.report.read_text())
    assert (result.dense.accuracy, result.pruned.sparsity, result.synops_ratio, result.lava_samples) == (
        report["dense"]["accuracy"], report["pruned"]["sparsity"], report["synops_ratio"], report["lava"]["samples"])
    assert result.pruned.sparsity > 0.8 and result.equivalent and result.lava_samples == 2
    assert names["test"].accuracy_a is not None and names["test"].samples == result.test_samples
    # a run folder exports through the same function, the NetX files first
    exported = neurodeploy.export_network("runs/api-example", "onnx")
    assert exported == Exported(networks=(result.dense.network, result.pruned.network),
                                converted=(Path("runs/api-example/dense.onnx"), Path("runs/api-example/pruned.onnx")))
    assert all(path.is_file() for path in exported.converted)


@pytest.mark.parametrize("call, message", [
    (lambda: neurodeploy.verify(OXFORD), "give an input (--spikes, --events, --bias or --random-rate)"),
    (lambda: neurodeploy.verify(OXFORD, spikes="s.npy", random_rate=0.1), "--spikes and --random-rate: give one"),
    (lambda: neurodeploy.verify(OXFORD, random_rate=0.1, steps=0), "--steps must be at least 1, got 0"),
    (lambda: neurodeploy.verify(OXFORD, spikes="s.npy", seed=1), "--seed applies to --random-rate only"),
    (lambda: neurodeploy.verify(OXFORD, random_rate=0.1, steps=4, layers="some"), "--layers 'some' is not one of"),
    (lambda: neurodeploy.compare_networks(OXFORD, OXFORD, recipe="r.yaml", steps=3), "--steps does not apply to --recipe"),
    (lambda: neurodeploy.inspect(OXFORD, num_layers=0), "--num-layers must be at least 1, got 0"),
    (lambda: neurodeploy.export_network(OXFORD, "netx", "x.net"), "is NetX already"),
    (lambda: neurodeploy.export_network(OXFORD, "onnx"), "needs out, the file to write"),
    (lambda: neurodeploy.export_network(OXFORD, "tflite", "x"), "--format 'tflite' is not one of: netx, onnx, nir"),
])
def test_bad_arguments_are_the_packages_one_line_errors(call, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputOptionError, match=re.escape(message)):
        call()
    assert list(tmp_path.iterdir()) == [], "nothing is written"


def test_a_recipe_changed_by_hand_is_validated_before_anything_is_written(tmp_path):
    recipe = load_recipe()
    with pytest.raises(RecipeError, match=r"train.epochs = -1 is outside \[0, 100000\]"):
        neurodeploy.run(replace(recipe, train=replace(recipe.train, epochs=-1)), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_the_api_loads_on_first_use_and_its_names_leave_the_subpackages_alone():
    code = ("import sys, neurodeploy, neurodeploy.cli; print('neurodeploy.api' in sys.modules); "
            "import neurodeploy.compare.caveats as caveats; from neurodeploy.export import formats; "
            "print(caveats.__name__, formats.__name__, neurodeploy.compare.__name__, 'neurodeploy.api' in sys.modules); "
            "print(neurodeploy.compare_networks.__module__, neurodeploy.export_network.__module__)")
    lines = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           timeout=120).stdout.split("\n")
    assert lines[:3] == ["False", "neurodeploy.compare.caveats neurodeploy.export.formats neurodeploy.compare False",
                         "neurodeploy.api neurodeploy.api"]
    assert set(neurodeploy.__all__) <= set(dir(neurodeploy))
    assert all(callable(getattr(neurodeploy, name)) for name in neurodeploy.__all__)
    assert neurodeploy.compare_networks is neurodeploy.api.compare and neurodeploy.export_network is neurodeploy.api.export
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        neurodeploy.nothing
