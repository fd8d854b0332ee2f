"""Read an HDF5 file we did not write in a forked child first, with a time limit, so that a
file that crashes or hangs libhdf5, points outside itself or declares more data than memory
holds is one line, not a dead or stuck command.

h5py turns almost every damaged HDF5 file into an exception, but not all:
bytes overwritten in HDF5's global heap (where variable-length strings such
as a neuron's ``type`` live) can crash libhdf5 with a segmentation fault
(found by tests/test_netx_fuzz.py's longer runs: 1 file in 3000) or make it
spin at 100 % CPU inside one C call, where no signal handler runs. So every
command that reads a user's HDF5 file (``verify``, ``compare A.net B.net``,
``inspect``, ``export NET.net``, ``import GRAPH.nir``, ``neurodeploy.api.read``)
first hands it to ``probe_hdf5``, which forks a child that:

1. walks every link of the file without following any: an external link
   (``h5py.ExternalLink``, which would open any file on disk, a FIFO
   included), a link of a user-defined type, a dataset with external storage
   (``external=``, raw bytes from another file) or a virtual dataset
   (``h5py.VirtualLayout``, data from other files) is refused, naming it;
2. checks every dataset's and attribute's memory, the largest of its
   declared shape times its item size, its stored size and its chunk, and
   their sum, against ``Limits.memory`` before reading any: a dataset that is
   declared but never stored (read as its fill value) or a gzip bomb (a few
   MB stored, GBs declared) is refused before it is read;
3. reads every dataset and every attribute.

A child killed by a signal, or still running after ``PROBE_SECONDS`` plus
one second per ``READ_RATE`` bytes it declared it will read, is a
``NetxError`` naming the file (the child is SIGKILLed and reaped); a refusal
of steps 1 and 2 is a ``NetxError`` or ``LimitError`` naming the file and
the dataset. While the parent waits, Ctrl-C and SIGTERM stop it as usual and
the child is killed with it (and, should the parent die of SIGKILL, by
``processes.kill_with_parent``). Any other problem (an exception the child
caught) is left to the reader (``read_netx``, ``nir.read``), which names
the layer and key.
"""
from __future__ import annotations

import math
import os
import select
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import h5py

from neurodeploy.fileio import PathError, check_input
from neurodeploy.limits import LimitError, Limits
from neurodeploy.netx.keys import HDF5_ERRORS, NetxError
from neurodeploy.processes import STOP_SIGNALS, kill_with_parent

PROBE_SECONDS = 20.0  # a file's metadata, and small files whole, read in milliseconds
READ_RATE = 50 * (1 << 20)  # bytes per second granted beyond PROBE_SECONDS (gzip decodes faster)
CHILD_ERRORS = {"netx": NetxError, "limit": LimitError}  # the error a child's refusal is raised as


@dataclass(frozen=True)
class _Item:
    """A dataset or an attribute: where (``dataset 'a/b'``, ``attribute 'k' of 'a'``) and the
    bytes reading it needs at most."""

    where: str
    needed: int


def _links(handle: h5py.File) -> Iterator[tuple[str, int]]:
    """Every link of the file (name, ``h5l.TYPE_*``), none followed (HDF5's ``H5Lvisit``
    enters groups through hard links only)."""
    found: list[tuple[str, int]] = []
    handle.id.links.visit(lambda name, info: found.append((name.decode("utf-8", "replace"), info.type)), info=True)
    return iter(found)


def _bytes(shape: tuple[int, ...] | None, itemsize: int) -> int:
    """Bytes of an array of ``shape`` (None: an empty dataspace) of ``itemsize``-byte items."""
    return 0 if shape is None else math.prod(shape) * itemsize


def _dataset_bytes(dataset: h5py.Dataset) -> int:
    """The most a read of ``dataset`` holds: its declared array, what it stores, or one
    chunk (decoded whole), whichever is largest."""
    itemsize = dataset.dtype.itemsize
    chunk = _bytes(dataset.chunks, itemsize) if dataset.chunks is not None else 0
    return max(_bytes(dataset.shape, itemsize), dataset.id.get_storage_size(), chunk)


def _objects(path: Path, handle: h5py.File) -> Iterator[tuple[str, Any]]:
    """The root and every object reached through a hard link, once each, by its first name;
    ``NetxError`` for a link to outside the file or of a type HDF5 does not define, a
    dataset stored outside the file, or a virtual dataset. An object that cannot be opened
    is skipped (its reader will name it)."""
    yield "/", handle
    seen = {hash(handle.id)}
    for name, kind in _links(handle):
        if kind == h5py.h5l.TYPE_EXTERNAL:
            target = handle.get(name, getlink=True)
            raise NetxError(f"{path}: {name!r} is an HDF5 external link to {target.filename}:{target.path}; a file "
                            "read here must hold its data itself (external links are not followed)")
        if kind not in (h5py.h5l.TYPE_HARD, h5py.h5l.TYPE_SOFT):
            raise NetxError(f"{path}: {name!r} is an HDF5 link of user-defined type {kind}; a file read here "
                            "must hold its data itself (such links are not followed)")
        if kind == h5py.h5l.TYPE_SOFT:
            continue  # a path inside this file, to an object reached by its hard link
        try:
            item = handle[name]
            key = hash(item.id)
        except HDF5_ERRORS:
            continue
        if key in seen:
            continue
        seen.add(key)
        if isinstance(item, h5py.Dataset) and item.external:
            raise NetxError(f"{path}: dataset {name!r} stores its data outside the file (external storage in "
                            f"{item.external[0][0]!r}); a file read here must hold its data itself")
        if isinstance(item, h5py.Dataset) and item.is_virtual:
            raise NetxError(f"{path}: dataset {name!r} is an HDF5 virtual dataset (data from other files); a "
                            "file read here must hold its data itself")
        yield name, item


def _items(name: str, item: Any) -> Iterator[_Item]:
    """The dataset ``item`` (if it is one) and each of its attributes, with their bytes
    (those whose metadata cannot be read are skipped)."""
    if isinstance(item, h5py.Dataset):
        try:
            yield _Item(f"dataset {name!r} (shape {item.shape}, {item.dtype})", _dataset_bytes(item))
        except HDF5_ERRORS:
            pass
    try:
        for attribute in item.attrs:
            info = item.attrs.get_id(attribute)
            yield _Item(f"attribute {attribute!r} of {name!r} (shape {info.shape}, {info.dtype})",
                        max(_bytes(info.shape, info.dtype.itemsize), info.get_storage_size()))
    except HDF5_ERRORS:
        pass


def check_hdf5(path: str | Path, handle: h5py.File, limits: Limits) -> tuple[list[tuple[str, Any]], int]:
    """Steps 1 and 2 of the module doc on the open file ``handle``: its objects (name, object)
    and the bytes reading all of them needs; ``NetxError`` or ``LimitError`` naming the
    link, dataset or attribute refused."""
    path = Path(path)
    objects = list(_objects(path, handle))
    items = [entry for name, item in objects for entry in _items(name, item)]
    for entry in items:
        limits.check_memory(entry.needed, f"{path}: {entry.where}")
    total = sum(entry.needed for entry in items)
    limits.check_memory(total, f"{path}: its {len(items)} datasets and attributes together")
    return objects, total


def _read_all(objects: list[tuple[str, Any]]) -> None:
    """Read every dataset and attribute of ``objects``; one that fails is skipped (its reader
    will name it)."""
    for _, item in objects:
        try:
            if isinstance(item, h5py.Dataset):
                item[()]
            for attribute in item.attrs:
                item.attrs[attribute]
        except HDF5_ERRORS:
            continue


def read_every_dataset(path: str | Path, limits: Limits, report: Any = lambda total: None) -> None:
    """What the child does: steps 1 to 3 of the module doc on ``path``; ``report(total)`` is
    called with the bytes it will read, after the checks and before reading."""
    with h5py.File(path, "r") as handle:
        objects, total = check_hdf5(path, handle, limits)
        report(total)
        _read_all(objects)


def _child(path: Path, limits: Limits, pipe: int, parent: int) -> None:
    """The forked child: dies with its parent and with the signals that stop a command (a
    spinning libhdf5 runs no Python handler; ``parent``: the pid that forked it), reports the bytes it will read (``size N``)
    and a refusal (``netx`` or ``limit``, a tab, the message) on ``pipe``; never returns."""
    code = 0
    try:
        kill_with_parent(parent)
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        read_every_dataset(path, limits, lambda total: os.write(pipe, f"size {total}\n".encode()))
    except NetxError as err:
        os.write(pipe, f"netx\t{err}\n".encode())
    except LimitError as err:
        os.write(pipe, f"limit\t{err}\n".encode())
    except BaseException:
        code = 1  # left to the reader
    os._exit(code)


def _wait(path: Path, pid: int, pipe: int, seconds: float) -> tuple[int, str]:
    """Read the child's lines until it closes the pipe: its exit status and last line. The
    time limit, ``seconds`` from the start, grows by the bytes the child reports it will
    read; ``NetxError`` when it passes (the caller kills the child)."""
    start, allowed, received = time.monotonic(), seconds, b""
    while True:
        left = start + allowed - time.monotonic()
        if left <= 0 or not select.select([pipe], [], [], left)[0]:
            raise NetxError(f"{path}: reading it did not finish within {allowed:.0f} s (a damaged HDF5 file?)")
        chunk = os.read(pipe, 65536)
        if not chunk:
            break
        received += chunk
        for line in chunk.decode("utf-8", "replace").splitlines():
            if line.startswith("size "):
                allowed = time.monotonic() - start + seconds + int(line[5:]) / READ_RATE
    _, status = os.waitpid(pid, 0)
    return status, received.decode("utf-8", "replace").strip().rpartition("\n")[2]


def probe_hdf5(path: str | Path, limits: Limits | None = None, seconds: float | None = None) -> None:
    """Check and read the HDF5 file ``path`` in a forked child (module doc), with
    ``limits`` (default ``Limits()``) and a time limit of ``seconds`` (default
    ``PROBE_SECONDS``) plus the reading time of what it declares. ``NetxError`` when ``path`` is not a regular file (a FIFO would
    block the reader forever), for a link or dataset that takes data from outside the
    file, and when the child crashes or passes the time limit; ``LimitError`` for a
    dataset or attribute, or all of them, larger than the memory limit."""
    try:
        check_input(path, "network file")
    except PathError as err:
        raise NetxError(str(err)) from err
    limits = limits or Limits()
    seconds = PROBE_SECONDS if seconds is None else seconds
    read_end, write_end = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _child(Path(path), limits, write_end, parent)
    os.close(write_end)
    reaped = False
    try:
        status, last = _wait(Path(path), pid, read_end, seconds)
        reaped = True
    finally:
        os.close(read_end)
        if not reaped:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):  # reaped just before a signal arrived
                pass
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        raise NetxError(f"{path}: damaged HDF5 file: reading it crashed the HDF5 library ({name})")
    kind, _, message = last.partition("\t")
    if kind in CHILD_ERRORS:
        raise CHILD_ERRORS[kind](message)
