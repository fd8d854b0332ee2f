"""The package's layering, walked from the source: data flows one way.

Every ``import neurodeploy.X`` (at module level or inside a function) must go
to the module's own layer or a lower one, as ``LAYERS`` orders them, written
once here; packages must not import each other in a cycle; Lava (``lava.*``)
is imported by ``lavacompat`` alone, and only the Lava harness takes Lava's
runtime from it; the golden model and the ONNX export load no Lava at all.
Scripts shipped to run without the package (``STANDALONE``) are not its
modules: the walks skip them, and they import none of it.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "neurodeploy"

# Lowest first. A module may import its own layer and the layers before it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("fileio", "jit", "limits", "processes", "reference", "lavacompat", "registry", "variants"),
    ("lock", "recipe", "loihi", "stages"),
    ("netx", "hardware"),
    ("data",),
    ("train",),
    ("prune",),
    ("export",),
    ("simulate",),
    ("compare",),
    ("deploy",),      # writes a kit that runs a verified network on Loihi 2
    ("report",),
    ("preflight",),   # checks a recipe against every stage before work starts
    ("pipeline",),    # runs the stages in order
    ("sweep", "analyze"),  # on top of the pipeline
    ("arguments", "api"),  # the Python API and its argument checks: on top of every stage, under the CLI
    ("errors", "cli"),
)
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
# Lava's runtime (not lava-dl's SLAYER, which training uses) through lavacompat: the harness only.
LAVA_RUNTIME_USERS = ("neurodeploy.simulate.harness", "neurodeploy.simulate.recorder")
# Files under the package that are not its modules, each with the reason; the walks skip them.
STANDALONE = {
    ROOT / "deploy" / "run_on_loihi2.py": "a standalone script shipped in the kit, never imported by the package",
}


def _modules() -> dict[str, Path]:
    modules = {}
    for path in ROOT.rglob("*.py"):
        if path in STANDALONE:
            continue
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _imports(path: Path) -> list[tuple[str, tuple[str, ...]]]:
    """(module, names) of every import in ``path``, relative imports resolved."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, tuple(alias.name for alias in node.names)))
    return found


def _top(module: str) -> str:
    """The package (or top-level module) of ``neurodeploy.X.Y``: X."""
    return module.split(".")[1]


def test_every_package_has_a_layer() -> None:
    tops = {_top(name) for name in _modules() if name != "neurodeploy"}
    assert tops <= set(RANK), f"give these a layer in LAYERS: {sorted(tops - set(RANK))}"


def test_no_module_imports_a_later_stage() -> None:
    bad = []
    for name, path in _modules().items():
        if name == "neurodeploy":
            continue
        for target, _ in _imports(path):
            if target.startswith("neurodeploy.") and RANK[_top(target)] > RANK[_top(name)]:
                bad.append(f"{name} imports {target}")
    assert not bad, "reach-backs up the pipeline:\n" + "\n".join(bad)


def test_packages_import_each_other_in_no_cycle() -> None:
    edges: dict[str, set[str]] = defaultdict(set)
    for name, path in _modules().items():
        if name == "neurodeploy":
            continue
        for target, _ in _imports(path):
            if target.startswith("neurodeploy.") and _top(target) != _top(name):
                edges[_top(name)].add(_top(target))
    cycles = [(a, b) for a in edges for b in edges[a] if a in edges.get(b, ())]
    assert not cycles, f"packages importing each other: {cycles}"


def test_lava_is_imported_through_lavacompat_and_its_runtime_by_the_harness_only() -> None:
    bad = []
    for name, path in _modules().items():
        for target, names in _imports(path):
            if (target == "lava" or target.startswith("lava.")) and name != "neurodeploy.lavacompat":
                bad.append(f"{name} imports {target} directly")
            runtime = [n for n in names if n != "slayer"]
            if target == "neurodeploy.lavacompat" and runtime and not name.startswith(LAVA_RUNTIME_USERS):
                bad.append(f"{name} takes {runtime} from lavacompat")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("path", sorted(STANDALONE))
def test_standalone_scripts_import_nothing_of_neurodeploy_and_are_imported_by_nothing(path: Path) -> None:
    """A script exempt from the walks runs where only numpy and Lava are: it imports none of
    the package, and no module imports it."""
    assert not [target for target, _ in _imports(path) if target.split(".")[0] == "neurodeploy"]
    name = path.stem
    users = [module for module, source in _modules().items()
             for target, names in _imports(source) if target.endswith(f".{name}") or name in names]
    assert not users, f"{path.name} is imported by {users}"


@pytest.mark.parametrize("module", [
    "neurodeploy.simulate.golden", "neurodeploy.export.onnx_graph", "neurodeploy.export.onnx_run",
    "neurodeploy.netx", "neurodeploy.loihi.weights", "neurodeploy.train.model",
])
def test_modules_that_check_lava_load_none_of_it(module: str) -> None:
    """The golden model and the ONNX export are independent of the simulator they are checked
    against; training takes lava-dl's SLAYER and none of Lava's runtime."""
    code = (f"import sys, {module}; "
            "print(sorted(m for m in sys.modules if m.startswith('lava.') "
            "and not m.startswith('lava.lib.dl.slayer') and m not in ('lava.lib', 'lava.lib.dl')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", f"{module} loads Lava: {result.stdout[:300]}"
