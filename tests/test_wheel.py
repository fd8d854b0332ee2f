"""The package as a user installs it: a wheel built from this checkout, installed
outside it and run from another folder, finds its default recipe and its chip
profiles (package data, through importlib.resources), and runs the default recipe."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from neurodeploy.reference import lava_dl_ground_truth

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, str]:
    """A wheel of this checkout installed (without dependencies: this venv has them)
    into a folder first on PYTHONPATH; the environment to run it with."""
    folder = tmp_path_factory.mktemp("wheel")
    source = folder / "source"  # a copy, so that the build's own folders stay out of the checkout
    for name in ("neurodeploy", "models", "hardware"):
        shutil.copytree(ROOT / name, source / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(folder / "dist"), str(source)], check=True, timeout=300)
    (wheel,) = (folder / "dist").glob("neurodeploy-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "neurodeploy/recipes/digits_mlp.yaml" in names and "neurodeploy/profiles/loihi2.yaml" in names
    assert "neurodeploy/deploy/run_on_loihi2.py" in names
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
                    str(folder / "site"), str(wheel)], check=True, timeout=300)
    return {**os.environ, "PYTHONPATH": str(folder / "site"), "PYTHONDONTWRITEBYTECODE": "1"}


def run_installed(env: dict[str, str], cwd: Path, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def test_the_wheel_finds_its_recipes_and_profiles_from_another_folder(installed, tmp_path):
    code = ("import neurodeploy, neurodeploy.recipe as r, neurodeploy.hardware.profile as p; "
            "print(neurodeploy.__file__); print(r.load_recipe(None).name); print(p.available_profiles()); "
            "print(p.load_profile('loihi2').name)")
    result = run_installed(installed, tmp_path, "-c", code)
    assert result.returncode == 0, result.stderr
    where, recipe, profiles, loihi2 = result.stdout.strip().splitlines()
    assert str(ROOT) not in where and "site" in where
    assert (recipe, profiles, loihi2) == ("digits-mlp", "['loihi1', 'loihi2']", "loihi2")


def test_inspect_from_the_wheel_maps_on_both_chip_profiles(installed, tmp_path):
    gts = lava_dl_ground_truth()
    if gts is None:
        pytest.skip("lava-dl's tiny.net is not installed")
    result = run_installed(installed, tmp_path, "-m", "neurodeploy.cli", "inspect", str(gts.parent / "tiny.net"))
    assert result.returncode == 0, result.stderr
    assert "loihi1:" in result.stdout and "loihi2:" in result.stdout


@pytest.mark.slow
@pytest.mark.lava
def test_run_with_no_recipe_from_the_wheel(installed, tmp_path):
    """``neurodeploy run`` with no recipe: the default, shipped in the wheel, trains to the report."""
    result = run_installed(installed, tmp_path, "-m", "neurodeploy.cli", "run", "--out", "demo", timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "demo" / "report.json").is_file() and "loihi2 cores" in result.stdout
