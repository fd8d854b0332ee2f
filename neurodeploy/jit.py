"""Compiled kernels (numba), cached on disk whenever a cache can be written.

``kernel`` compiles a function with ``numba.njit`` and stores the machine
code so that the next process loads it instead of compiling (a fresh
process on a new machine compiles once; docs/benchmarks.md gives the time).

Where: the folder ``NEURODEPLOY_JIT_CACHE`` names, else the package's
``__pycache__/kernels``, else ``~/.cache/neurodeploy/kernels``; the first one
that can be written. When none can (a read-only install), the kernels are
compiled in memory, once per process, with no error.

Freshness: numba's own cache trusts a cached function while its source file
is unchanged, even if a function it calls, in another file, changed. Here
the cache is keyed by a digest of every kernel module's source
(``KERNEL_MODULES``), so that any change to any of them recompiles them all:
each source version's kernels live in a subfolder named by its digest, and
whatever else in the cache folder has not been written for ``STALE_DAYS``
(kernels of versions no longer used) is removed when a process first uses
the folder; nothing else in it is touched.
This uses numba's cache classes (``numba.core.caching``), which are not a
public API: numba is pinned (pyproject.toml).
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator

import numba
from numba.core.caching import CompileResultCacheImpl, FunctionCache, _CacheLocator

PACKAGE = Path(__file__).resolve().parent
# The modules whose compiled functions call each other; their sources key the cache.
KERNEL_MODULES = ("jit.py", "loihi/scalar.py", "netx/fanout.py", "netx/conv_fanout.py", "netx/neurons/cuba.py",
                  "netx/neurons/sdnn.py", "netx/neurons/rf.py")
ENV_CACHE = "NEURODEPLOY_JIT_CACHE"
# Entries of the cache folder other than the current version's, untouched this long, go.
STALE_DAYS = 7
# LLVM -O1 rather than numba's -O3: the kernels run as fast (within this machine's noise,
# benchmarks/golden_vs_lava.py) and a cold first call compiles in 7.7 s instead of 14 s.
OPT_LEVEL = 1


@lru_cache(maxsize=1)
def source_digest() -> str:
    """sha256 over the sources of ``KERNEL_MODULES`` (what a cached kernel was compiled from)."""
    digest = hashlib.sha256(numba.__version__.encode())
    for name in KERNEL_MODULES:
        digest.update((PACKAGE / name).read_bytes())
    return digest.hexdigest()


def cache_candidates() -> list[Path]:
    """The folders tried for the cache, in order (module doc)."""
    if os.environ.get(ENV_CACHE):
        return [Path(os.environ[ENV_CACHE])]
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return [PACKAGE / "__pycache__" / "kernels", home / "neurodeploy" / "kernels"]


class _KernelLocator(_CacheLocator):
    """Puts a kernel's cache in the first writable candidate folder; its stamp is ``source_digest``."""

    def __init__(self, py_func: Callable, py_file: str, folder: Path) -> None:
        self._py_file = py_file  # numba names it when a function cannot be cached
        self._lineno = py_func.__code__.co_firstlineno
        self._path = str(folder / source_digest()[:16])

    def get_cache_path(self) -> str:
        return self._path

    def get_source_stamp(self) -> str:
        return source_digest()

    def get_disambiguator(self) -> str:
        return str(self._lineno)

    @classmethod
    def from_function(cls, py_func: Callable, py_file: str) -> "_KernelLocator | None":
        for folder in cache_candidates():
            locator = cls(py_func, py_file, folder)
            try:
                locator.ensure_cache_path()
            except OSError:
                continue
            prune(folder)
            return locator
        return None


@lru_cache(maxsize=None)
def prune(folder: Path) -> None:
    """Remove the kernels ``folder`` holds besides the current version's that have not been
    written for ``STALE_DAYS``: other versions' subfolders and loose numba cache files (an
    earlier layout), nothing else (``NEURODEPLOY_JIT_CACHE`` may name a folder shared with
    other files). Once per process; what cannot be removed stays."""
    current = source_digest()[:16]
    limit = time.time() - STALE_DAYS * 86400
    for entry in folder.iterdir():
        ours = re.fullmatch("[0-9a-f]{16}", entry.name) is not None or entry.suffix in (".nbi", ".nbc")
        try:
            if not ours or entry.name == current or entry.stat().st_mtime > limit:
                continue
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink()
        except OSError:
            continue


class _KernelCacheImpl(CompileResultCacheImpl):
    _locator_classes = [_KernelLocator]


class _KernelCache(FunctionCache):
    _impl_class = _KernelCacheImpl


@contextmanager
def _optimisation(level: int) -> Iterator[None]:
    """LLVM's optimisation level ``level`` for what numba compiles inside."""
    saved = numba.config.OPT
    numba.config.OPT = numba.config._OptLevel(level)
    try:
        yield
    finally:
        numba.config.OPT = saved


def kernel(function: Callable | None = None, *, inline: bool = False) -> Any:
    """``function`` compiled in nopython mode, without the GIL, at LLVM level ``OPT_LEVEL``;
    cached on disk when a cache folder can be written (module doc), else compiled in
    memory. ``inline``: numba inlines its body into every caller (no call, no copies of
    its arguments). Used bare (``@kernel``) or with options (``@kernel(inline=True)``)."""
    if function is None:
        return lambda wrapped: kernel(wrapped, inline=inline)
    dispatcher = numba.njit(nogil=True, inline="always" if inline else "never")(function)
    try:
        dispatcher._cache = _KernelCache(function)
    except RuntimeError:  # no folder can be written: numba keeps its in-memory NullCache
        pass
    compile_default = dispatcher.compile

    def compile_kernel(signature: Any) -> Any:
        with _optimisation(OPT_LEVEL):
            return compile_default(signature)

    dispatcher.compile = compile_kernel
    return dispatcher
