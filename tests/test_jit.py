"""The compiled kernels' disk cache (``neurodeploy.jit``): written, loaded by the next
process, keyed by every kernel module's source, and never an error when it cannot be
written (a read-only install compiles in memory)."""
from __future__ import annotations

import ast
import os
import pickle
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from neurodeploy import jit
from neurodeploy.reference import fixtures_dir

PACKAGE = Path(jit.__file__).resolve().parent

# One oxford sample of 400 steps in a fresh process; prints the CUBA kernel's cache hits and
# misses and the spike count of every layer.
SCRIPT = f"""
import numpy as np
from neurodeploy.netx import read_netx
from neurodeploy.netx.neurons import cuba
from neurodeploy.simulate.golden import GoldenModel
from neurodeploy.simulate.stimulus import Stimulus
network = read_netx({str(fixtures_dir() / "oxford" / "network.net")!r})
spikes = (np.random.default_rng(0).random((1, 200, 400)) < 0.005).astype(np.uint8)
run = GoldenModel(network).run_samples(Stimulus(spikes, None, 400))
stats = cuba._scan.stats
print(sum(stats.cache_hits.values()), sum(stats.cache_misses.values()), sum(int(s.sum()) for s in run.spikes))
"""


def _run(cache: str) -> tuple[list[int], str]:
    result = subprocess.run([sys.executable, "-c", SCRIPT], env=dict(os.environ, **{jit.ENV_CACHE: cache}),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return [int(v) for v in result.stdout.split()], result.stderr


def test_kernels_are_cached_on_disk_and_loaded_by_the_next_process(tmp_path: Path) -> None:
    (hits, misses, spikes), _ = _run(str(tmp_path))
    assert (hits, misses) == (0, 1) and spikes > 0
    version = tmp_path / jit.source_digest()[:16]
    assert any(version.glob("cuba._scan-*.nbi")) and any(version.glob("cuba._scan-*.nbc"))
    (hits, misses, again), _ = _run(str(tmp_path))
    assert (hits, misses) == (1, 0) and again == spikes


def test_only_our_version_folders_unused_for_a_week_are_removed(tmp_path: Path) -> None:
    old = time.time() - (jit.STALE_DAYS + 1) * 86400

    def version(name: str, *files: str, stale: bool = True) -> Path:
        folder = tmp_path / name
        for file in (jit.MARKER, *files):
            (folder / file).parent.mkdir(parents=True, exist_ok=True)
            (folder / file).write_text("")
        if stale:
            os.utime(folder / jit.MARKER, (old, old))
        return folder

    stale = version("0123456789abcdef", "cuba._scan-1.py311.nbi", "cuba._scan-1.py311.1.nbc")
    version("fedcba9876543210", "cuba._scan-1.py311.nbi", stale=False)
    version("00000000000000aa", "cuba._scan-1.py311.nbi", "sub/thesis.tex")  # holds more than ours
    version("00000000000000bb", "cuba._scan-1.py311.nbi", "notes.txt")
    foreign = [tmp_path / "deadbeefcafef00d" / "sub" / "thesis.tex", tmp_path / "my_notes.nbi", tmp_path / "notes.txt",
               tmp_path / "00000000000000cc" / "old.nbi"]  # no marker: not ours
    for path in foreign:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    for path in [*foreign, *(p.parent for p in foreign)]:
        os.utime(path, (old, old))
    (hits, misses, _), _ = _run(str(tmp_path))
    assert (hits, misses) == (0, 1)
    assert not stale.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [jit.source_digest()[:16], "fedcba9876543210", "00000000000000aa", "00000000000000bb", "deadbeefcafef00d",
         "my_notes.nbi", "notes.txt", "00000000000000cc"])
    assert all(path.exists() for path in foreign)
    assert (tmp_path / "00000000000000aa" / "sub" / "thesis.tex").exists()


def test_a_cache_that_cannot_be_written_compiles_in_memory_without_a_word(tmp_path: Path) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    (hits, misses, spikes), stderr = _run(str(blocker / "cache"))
    assert (hits, misses) == (0, 1) and spikes > 0
    assert "Warning" not in stderr and "Error" not in stderr, stderr
    assert not (blocker.parent / "cache").exists()


class _Plant:
    """A pickle that, when loaded, makes the folder ``path`` (what an attacker's code would do)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return os.mkdir, (str(self.path),)


def _plant(cache: Path, proof: Path) -> int:
    """Replace every index and data file of the current version in ``cache`` by a pickle that
    makes ``proof`` when loaded; how many were replaced."""
    planted = [*(cache / jit.source_digest()[:16]).glob("*.nbi"), *(cache / jit.source_digest()[:16]).glob("*.nbc")]
    for path in planted:
        path.write_bytes(pickle.dumps(_Plant(proof)))
    return len(planted)


def test_a_cache_folder_others_can_write_is_not_loaded(tmp_path: Path) -> None:
    cache, proof = tmp_path / "shared", tmp_path / "code ran"
    cache.mkdir()
    (_, _, spikes), _ = _run(str(cache))
    assert _plant(cache, proof) >= 2
    cache.chmod(0o1777)  # a shared team folder
    (hits, misses, again), stderr = _run(str(cache))
    assert not proof.exists()
    assert (hits, misses, again) == (0, 1, spikes)
    warnings = [line for line in stderr.splitlines() if "kernel cache" in line]
    assert len(warnings) == 1 and str(cache) in warnings[0] and "in memory" in warnings[0], stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_cache_files_or_folders_of_another_user_are_not_loaded(tmp_path: Path) -> None:
    cache, proof = tmp_path / "cache", tmp_path / "code ran"
    (_, _, spikes), _ = _run(str(cache))
    version = cache / jit.source_digest()[:16]
    assert _plant(cache, proof) >= 2
    for path in version.glob("*.nbi"):
        os.chown(path, 65534, 65534)
    (hits, misses, again), stderr = _run(str(cache))
    assert not proof.exists() and (hits, misses, again) == (0, 1, spikes)
    assert sum("kernel cache" in line for line in stderr.splitlines()) == 1, stderr
    for path in version.iterdir():
        os.chown(path, os.geteuid(), os.getegid())
    os.chown(version, 65534, 65534)  # a version folder another user made before us
    (hits, misses, again), stderr = _run(str(cache))
    assert not proof.exists() and (hits, misses, again) == (0, 1, spikes)
    assert sum("kernel cache" in line for line in stderr.splitlines()) == 1, stderr


def test_cache_folders_are_written_for_their_owner_alone(tmp_path: Path) -> None:
    cache = tmp_path / "new" / "cache"
    _run(str(cache))
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert stat.S_IMODE((cache / jit.source_digest()[:16]).stat().st_mode) == 0o700


def test_every_module_with_a_kernel_keys_the_cache() -> None:
    """A kernel inlines what it calls; its cache must go stale when any kernel module changes."""
    defining = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            decorators = getattr(node, "decorator_list", [])
            names = [d.func.id if isinstance(d, ast.Call) and isinstance(d.func, ast.Name) else getattr(d, "id", None)
                     for d in decorators]
            if "kernel" in names:
                defining.add(path.relative_to(PACKAGE).as_posix())
    assert defining and defining <= set(jit.KERNEL_MODULES), defining - set(jit.KERNEL_MODULES)
    assert jit.source_digest() == jit.source_digest() and len(jit.source_digest()) == 64


def test_cache_folders_in_order(monkeypatch) -> None:
    monkeypatch.setenv(jit.ENV_CACHE, "/somewhere")
    assert jit.cache_candidates() == [Path("/somewhere")]
    monkeypatch.delenv(jit.ENV_CACHE)
    monkeypatch.setenv("XDG_CACHE_HOME", "/xdg")
    assert jit.cache_candidates() == [PACKAGE / "__pycache__" / "kernels", Path("/xdg/neurodeploy/kernels")]
