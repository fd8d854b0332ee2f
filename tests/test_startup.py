"""The command line starts without loading what its command does not need: ``--help``,
every ``COMMAND --help`` and ``inspect`` import no torch, Lava or Ray (their start-up
is seconds; benchmarks/startup.py measures it), and a command still reports its
errors in one line when the module that defines the error was never imported."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from neurodeploy.cli import build_parser
from neurodeploy.errors import USER_ERROR_CLASSES, loaded
from neurodeploy.reference import lava_dl_ground_truth

HEAVY = ("torch", "lava", "ray")
PROBE = """
import json, sys
from neurodeploy.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted({name.split('.')[0] for name in sys.modules} & set(%r))))
""" % (HEAVY,)


def heavy_modules(*args: str) -> list[str]:
    """The heavy packages a fresh Python has loaded after ``neurodeploy ARGS``."""
    result = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120)
    return json.loads(result.stdout.strip().splitlines()[-1])


def commands() -> list[str]:
    parser = build_parser()
    return sorted(parser._subparsers._group_actions[0].choices)


def test_importing_the_cli_loads_no_torch_lava_or_ray():
    assert heavy_modules() == []  # no arguments: the usage error, after the parser is built


@pytest.mark.parametrize("command", ["", *commands()])
def test_help_loads_no_torch_lava_or_ray(command):
    assert heavy_modules(*([command] if command else []), "--help") == []


def test_inspect_loads_no_torch_lava_or_ray():
    gts = lava_dl_ground_truth()
    if gts is None:
        pytest.skip("lava-dl's tiny.net is not installed")
    assert heavy_modules("inspect", str(gts.parent / "tiny.net")) == []


def test_every_user_error_is_named_by_the_module_that_defines_it():
    """``loaded`` relies on it: an error's class exists only once its own module is loaded."""
    import importlib

    for module, name in USER_ERROR_CLASSES:
        error = getattr(importlib.import_module(module), name)
        assert issubclass(error, Exception) and error.__module__ == module, (module, name)
    assert len(loaded(USER_ERROR_CLASSES)) == len(USER_ERROR_CLASSES)


def test_an_error_of_a_module_never_imported_cannot_be_matched_and_is_not_needed():
    assert loaded((("neurodeploy.no_such_module", "Error"),)) == ()
