"""The compiled kernels' disk cache (``neurodeploy.jit``): written, loaded by the next
process, keyed by every kernel module's source, and never an error when it cannot be
written (a read-only install compiles in memory)."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
import time
from pathlib import Path

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


def test_kernels_of_versions_unused_for_a_week_are_removed(tmp_path: Path) -> None:
    old = time.time() - (jit.STALE_DAYS + 1) * 86400
    stale, recent, loose = tmp_path / "0123456789abcdef", tmp_path / "fedcba9876543210", tmp_path / "x.nbi"
    for folder in (stale, recent):
        folder.mkdir()
        (folder / "cuba._scan-1.py311.nbi").write_text("")
    loose.write_text("")
    foreign = tmp_path / "notes.txt"  # not ours: a shared cache folder keeps it
    foreign.write_text("")
    for path in (stale, loose, foreign):
        os.utime(path, (old, old))
    (hits, misses, _), _ = _run(str(tmp_path))
    assert (hits, misses) == (0, 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([jit.source_digest()[:16], recent.name, foreign.name])


def test_a_cache_that_cannot_be_written_compiles_in_memory_without_a_word(tmp_path: Path) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    (hits, misses, spikes), stderr = _run(str(blocker / "cache"))
    assert (hits, misses) == (0, 1) and spikes > 0
    assert "Warning" not in stderr and "Error" not in stderr, stderr
    assert not (blocker.parent / "cache").exists()


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
