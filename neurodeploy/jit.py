"""Compiled kernels (numba), cached on disk whenever a safe cache can be written.

``kernel`` compiles a function with ``numba.njit`` and stores the machine
code so that the next process loads it instead of compiling (a fresh
process on a new machine compiles once; docs/benchmarks.md gives the time).

Where: the folder ``NEURODEPLOY_JIT_CACHE`` names, else the package's
``__pycache__/kernels``, else ``~/.cache/neurodeploy/kernels``; the first one
that can be written and is trusted. When none can (a read-only install), the
kernels are compiled in memory, once per process, with no error.

Trust: numba's cache files are pickles, and loading a pickle runs whatever
code it names, so a cache file is code. A cache folder is trusted only when
it is owned by the user running this process and no one else can write it
(no group or other write bit; a shared 1777 folder is not trusted), and so is
each version folder in it; each index and data file is opened without
following links and loaded only when it is a regular file owned by this user
that no one else can write. Otherwise nothing is loaded from it, the kernels
are compiled in memory, and one warning line says so. The folders this
module creates are mode 0700.

Freshness: numba's own cache trusts a cached function while its source file
is unchanged, even if a function it calls, in another file, changed. Here
the cache is keyed by a digest of every kernel module's source
(``KERNEL_MODULES``), so that any change to any of them recompiles them all:
each source version's kernels live in a subfolder named by its digest,
marked as ours by a file ``MARKER`` whose time is refreshed by every process
that uses the version. A version folder whose marker has not been refreshed
for ``STALE_DAYS`` is removed when a process first uses the cache folder,
only when it holds nothing but the marker and numba's cache files; nothing
else in the cache folder is touched (``NEURODEPLOY_JIT_CACHE`` may name a
folder shared with other files).
This uses numba's cache classes (``numba.core.caching``), which are not a
public API: numba is pinned (pyproject.toml).
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import pickle
import re
import stat
import sys
import time
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator

import numba
from numba.core.caching import CompileResultCacheImpl, FunctionCache, IndexDataCacheFile, _CacheLocator

PACKAGE = Path(__file__).resolve().parent
# The modules whose compiled functions call each other; their sources key the cache.
KERNEL_MODULES = ("jit.py", "loihi/scalar.py", "netx/fanout.py", "netx/conv_fanout.py", "netx/neurons/cuba.py",
                  "netx/neurons/sdnn.py", "netx/neurons/rf.py")
ENV_CACHE = "NEURODEPLOY_JIT_CACHE"
# A version folder whose marker is untouched this long goes.
STALE_DAYS = 7
# The file that marks a version folder as written by this module.
MARKER = "neurodeploy-kernels"
# What numba writes in a version folder: index, data, and their temporary files while written.
NUMBA_FILE = re.compile(r".+\.(nbi|nbc)(\.tmp\.[0-9a-f]+)?")
# LLVM -O1 rather than numba's -O3: the kernels run as fast (within this machine's noise,
# benchmarks/golden_vs_lava.py) and a cold first call compiles in 7.7 s instead of 14 s.
OPT_LEVEL = 1


class UntrustedCacheError(Exception):
    """A cache folder or file that this process must not load (module doc, Trust)."""


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


def check_trusted(info: os.stat_result, path: str | Path, kind: int) -> None:
    """``UntrustedCacheError`` naming ``path`` unless ``info`` (its ``lstat`` or ``fstat``) is
    of file type ``kind`` (``stat.S_IFDIR`` or ``stat.S_IFREG``), owned by this process's
    user and writable by no one else."""
    if stat.S_IFMT(info.st_mode) != kind:
        raise UntrustedCacheError(f"{path} is not a {'folder' if kind == stat.S_IFDIR else 'regular file'}")
    if info.st_uid != os.geteuid():
        raise UntrustedCacheError(f"{path} is owned by uid {info.st_uid}, not by this user (uid {os.geteuid()})")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UntrustedCacheError(f"{path} can be written by other users (mode {stat.S_IMODE(info.st_mode):04o})")


_warned = False


def _distrust(reason: str) -> None:
    """Print, once per process, that the kernel cache is not loaded and why."""
    global _warned
    if not _warned:
        _warned = True
        print(f"neurodeploy: warning: kernel cache not loaded: {reason}; compiling the kernels in memory "
              "(docs/reliability.md says what the cache trusts)", file=sys.stderr)


def _make_folder(path: Path, follow: bool) -> None:
    """Create ``path`` (and missing parents) mode 0700 where it is missing; ``OSError`` when
    this user cannot write it (the next candidate is tried), ``UntrustedCacheError`` when it
    is not trusted (``follow``: through a symlink at ``path``)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not os.access(path, os.W_OK | os.X_OK):
        raise PermissionError(f"{path}: not writable")
    check_trusted(path.stat() if follow else path.lstat(), path, stat.S_IFDIR)


class _KernelLocator(_CacheLocator):
    """Puts a kernel's cache in the first candidate folder that can be written, unless one
    is not trusted (then nowhere); its stamp is ``source_digest``."""

    def __init__(self, py_func: Callable, py_file: str, folder: Path) -> None:
        self._py_file = py_file  # numba names it when a function cannot be cached
        self._lineno = py_func.__code__.co_firstlineno
        self._root = folder
        self._path = str(folder / source_digest()[:16])

    def ensure_cache_path(self) -> None:
        """Create the cache folder and this version's folder (mode 0700) where missing,
        check both are trusted, and create or refresh the version's ``MARKER``."""
        _make_folder(self._root, follow=True)
        _make_folder(Path(self._path), follow=False)
        marker = Path(self._path) / MARKER
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            check_trusted(os.fstat(fd), marker, stat.S_IFREG)
        finally:
            os.close(fd)
        os.utime(marker)

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
            except UntrustedCacheError as err:
                _distrust(str(err))
                return None
            except OSError:
                continue
            prune(folder)
            return locator
        return None


@lru_cache(maxsize=None)
def prune(folder: Path) -> None:
    """Remove the version folders of ``folder`` besides the current one whose ``MARKER`` has
    not been refreshed for ``STALE_DAYS`` and that hold nothing but the marker and numba's
    cache files (``NUMBA_FILE``), all trusted; nothing else (``NEURODEPLOY_JIT_CACHE`` may
    name a folder shared with other files). Once per process; what cannot be removed stays."""
    current = source_digest()[:16]
    limit = time.time() - STALE_DAYS * 86400
    for entry in folder.iterdir():
        if entry.name == current or re.fullmatch("[0-9a-f]{16}", entry.name) is None:
            continue
        with contextlib.suppress(OSError, UntrustedCacheError):
            check_trusted(entry.lstat(), entry, stat.S_IFDIR)
            marker = (entry / MARKER).lstat()
            check_trusted(marker, entry / MARKER, stat.S_IFREG)
            names = os.listdir(entry)
            if marker.st_mtime > limit or not all(name == MARKER or NUMBA_FILE.fullmatch(name) for name in names):
                continue
            for name in names:
                check_trusted((entry / name).lstat(), entry / name, stat.S_IFREG)
            for name in sorted(names, key=lambda name: name == MARKER):  # the marker last
                (entry / name).unlink()
            entry.rmdir()


class _TrustedCacheFile(IndexDataCacheFile):
    """numba's index and data files, each loaded only when it and its folder are trusted
    (``UntrustedCacheError`` otherwise); the rest is numba's."""

    def _read(self, name: str) -> bytes:
        """The bytes of ``name`` in the cache folder, opened without following a link, after
        checking the folder and the file (``FileNotFoundError`` when it is missing)."""
        try:
            folder = os.open(self._cache_path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError as err:
            if isinstance(err, FileNotFoundError):
                raise
            raise UntrustedCacheError(f"{self._cache_path}: {err.strerror}") from err
        path = os.path.join(self._cache_path, name)
        try:
            check_trusted(os.fstat(folder), self._cache_path, stat.S_IFDIR)
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder)
        except OSError as err:
            if isinstance(err, FileNotFoundError):
                raise
            raise UntrustedCacheError(f"{path}: {err.strerror}") from err
        finally:
            os.close(folder)
        with open(fd, "rb") as handle:
            check_trusted(os.fstat(fd), path, stat.S_IFREG)
            return handle.read()

    def _load_index(self) -> dict:
        """numba's ``_load_index`` (a numba version, then the source stamp and the
        overloads), read through ``_read``."""
        try:
            stream = io.BytesIO(self._read(self._index_name))
        except FileNotFoundError:
            return {}
        if pickle.load(stream) != self._version:
            return {}
        stamp, overloads = pickle.loads(stream.read())
        return overloads if stamp == self._source_stamp else {}

    def _load_data(self, name: str) -> Any:
        return pickle.loads(self._read(name))


class _KernelCacheImpl(CompileResultCacheImpl):
    _locator_classes = [_KernelLocator]


class _KernelCache(FunctionCache):
    """numba's function cache over ``_TrustedCacheFile``: a cache file that is not trusted
    turns this kernel's cache off (compiled in memory) with one warning per process."""

    _impl_class = _KernelCacheImpl

    def __init__(self, py_func: Callable) -> None:
        super().__init__(py_func)
        self._cache_file = _TrustedCacheFile(self._cache_path, self._impl.filename_base,
                                             self._impl.locator.get_source_stamp())

    def load_overload(self, sig: Any, target_context: Any) -> Any:
        try:
            return super().load_overload(sig, target_context)
        except UntrustedCacheError as err:
            _distrust(str(err))
            self.disable()
            return None

    def save_overload(self, sig: Any, data: Any) -> None:
        try:
            super().save_overload(sig, data)
        except UntrustedCacheError as err:
            _distrust(str(err))
            self.disable()


@contextlib.contextmanager
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
