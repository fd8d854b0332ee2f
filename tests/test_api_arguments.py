"""Every public argument of the Python API is checked by type and range before any work
(before a file is read): a wrong one is ``ArgumentError`` (an ``InputOptionError``) naming
the function and the argument; numpy integers and os.PathLike paths are welcome."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import neurodeploy
from neurodeploy import api
from neurodeploy.arguments import KINDS, ArgumentError
from neurodeploy.limits import Limits
from neurodeploy.simulate.input_options import InputOptionError
from netx_builders import FIXTURES

OXFORD = FIXTURES / "oxford" / "network.net"
TINY = Path(__file__).parent / "recipes" / "tiny.yaml"
RANDOM = dict(random_rate=0.1, steps=4)

# (function, good arguments, argument, bad value, what the message says)
BAD = [
    ("read", {}, "path", 123, "read(path=123): expected a path"),
    ("read", {}, "path", "", "read(path=''): a path must name a file"),
    ("verify", RANDOM, "bias", "", "--bias: a path must name a file"),
    ("read", {}, "num_layers", 1.0, "read(num_layers=1.0): expected an integer"),
    ("inspect", {}, "input_shape", (3.5, 16, 16), "inspect(input_shape=(3.5, 16, 16)): expected (C, H, W)"),
    ("inspect", {}, "input_shape", "3,16,16", "expected (C, H, W)"),
    ("inspect", {}, "input_shape", (3, 0, 16), "--input-shape must be three sizes of at least 1"),
    ("inspect", {}, "num_layers", True, "inspect(num_layers=True): expected an integer"),
    ("verify", RANDOM, "steps", "4", "verify(steps='4'): expected an integer"),
    ("verify", RANDOM, "steps", 4.5, "verify(steps=4.5): expected an integer"),
    ("verify", RANDOM, "steps", True, "verify(steps=True): expected an integer"),
    ("verify", RANDOM, "steps", np.int64(0), "--steps must be at least 1, got 0"),
    ("verify", RANDOM, "samples", 2.5, "verify(samples=2.5)"),
    ("verify", RANDOM, "seed", "0", "verify(seed='0')"),
    ("verify", RANDOM, "seed", -1, "--seed must be at least 0"),
    ("verify", RANDOM, "batch_size", "2", "verify(batch_size='2')"),
    ("verify", RANDOM, "batch_size", 2.5, "verify(batch_size=2.5)"),
    ("verify", RANDOM, "batch_size", 0, "--batch-size must be at least 1"),
    ("verify", RANDOM, "random_rate", float("nan"), "--random-rate: must be in [0, 1]"),
    ("verify", RANDOM, "random_rate", "0.1", "verify(random_rate='0.1'): expected a number"),
    ("verify", RANDOM, "limits", "big", "verify(limits='big'): expected a neurodeploy.limits.Limits"),
    ("verify", RANDOM, "limits", Limits(memory=0), "limits.memory must be an integer of at least 1"),
    ("verify", RANDOM, "limits", Limits(lava_processes=2.5), "limits.lava_processes"),
    ("verify", RANDOM, "sparse", "yes", "verify(sparse='yes'): expected True or False"),
    ("verify", RANDOM, "layers", 1, "verify(layers=1): expected a str"),
    ("verify", RANDOM, "warn", "print", "verify(warn='print'): expected a callable"),
    ("verify", RANDOM, "spikes", 5, "verify(spikes=5): expected a path"),
    ("verify", RANDOM, "num_layers", "2", "verify(num_layers='2')"),
    ("compare", RANDOM, "batch_size", True, "compare(batch_size=True)"),
    ("compare", RANDOM, "recipe", 7, "compare(recipe=7): expected a path"),
    ("compare", RANDOM, "b", None, "compare(b=None): expected a path"),
    ("compare", RANDOM, "input_shape", [3, 16, 16.0], "compare(input_shape=[3, 16, 16.0])"),
    ("export", {"format": "onnx", "out": "x.onnx"}, "format", 3, "export(format=3): expected a str"),
    ("export", {"format": "onnx", "out": "x.onnx"}, "out", b"x.onnx", "export(out=b'x.onnx'): expected a path"),
    ("export", {"format": "onnx", "out": "x.onnx"}, "source", 0, "export(source=0)"),
]


def call(function: str, good: dict, name: str, value):
    """``neurodeploy.api.FUNCTION`` with oxford's network (two for compare) and ``good``,
    ``name`` set to ``value``."""
    positional = {"compare": {"a": OXFORD, "b": OXFORD}, "export": {"source": OXFORD}}.get(function,
                                                                                         {"path": OXFORD})
    arguments = {**positional, **good, name: value}
    return getattr(api, function)(**arguments)


@pytest.mark.parametrize("function, good, name, value, message", BAD)
def test_a_bad_argument_is_one_typed_error_naming_it_before_any_work(function, good, name, value, message,
                                                                     tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    opened = []
    monkeypatch.setattr("neurodeploy.netx.probe.probe_hdf5", lambda path: opened.append(path))
    with pytest.raises(ArgumentError, match=re.escape(message)) as raised:
        call(function, good, name, value)
    assert isinstance(raised.value, InputOptionError) and "\n" not in str(raised.value)
    assert opened == [] and list(tmp_path.iterdir()) == [], "checked before any file is read or written"


@pytest.mark.parametrize("recipe, out, options, message", [
    (123, "run", {}, "run(recipe=123): expected a recipe path"),
    (TINY, 5, {}, "run(out=5): expected a path"),
    (TINY, None, {}, "run(out=None): expected a path"),
    (TINY, "run", {"restart": "no"}, "run(restart='no'): expected True or False"),
    (TINY, "run", {"limits": {"memory": 1}}, "run(limits={'memory': 1})"),
    (TINY, "run", {"progress": None}, "run(progress=None): expected a callable"),
])
def test_run_checks_its_arguments_before_writing(recipe, out, options, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ArgumentError, match=re.escape(message)):
        neurodeploy.run(recipe, out, **options)
    assert list(tmp_path.iterdir()) == []


def test_every_argument_of_every_api_function_has_a_kind():
    import inspect

    for function in ("read", "inspect", "verify", "compare", "export", "run"):
        for name in inspect.signature(getattr(api, function)).parameters:
            assert name in KINDS, f"{function}({name}=) is not checked"


def test_numpy_integers_and_pathlike_paths_are_accepted_and_results_hold_python_ints(tmp_path):
    shutil.copy(OXFORD, tmp_path / "net.net")

    class Where:  # an os.PathLike that is not a Path
        def __fspath__(self) -> str:
            return str(tmp_path / "net.net")

    result = neurodeploy.verify(Where(), random_rate=np.float32(0.2), steps=np.int64(3), samples=np.int32(2),
                                seed=np.uint8(1), batch_size=np.int16(1), sparse=np.bool_(False))
    assert result.steps == 3 and type(result.steps) is int and result.samples == 2
    network = neurodeploy.read(Where(), num_layers=np.int64(2))
    assert len(network.layers) == 2
