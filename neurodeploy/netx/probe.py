"""Read a file we did not write in a child process first, so a crash of libhdf5 is an error.

h5py turns almost every damaged HDF5 file into an exception, but not all:
bytes overwritten in HDF5's global heap (where variable-length strings such
as a neuron's ``type`` live) can crash libhdf5 with a segmentation fault,
which no Python code can catch (found by tests/test_netx_fuzz.py's longer
runs: 1 file in 3000). The commands that read a user's file (``verify``,
``compare A.net B.net``, ``inspect``) first read every dataset of it in a
forked child (a few milliseconds); a child killed by a signal becomes a
``NetxError``. Any other problem is left to ``read_netx``, which names the
layer and key.
"""
from __future__ import annotations

import os
import signal
from pathlib import Path

import h5py

from neurodeploy.fileio import PathError, check_input
from neurodeploy.netx.keys import NetxError


def read_every_dataset(path: str | Path) -> None:
    """Open ``path`` with h5py and read every dataset in it (what the child does)."""
    with h5py.File(path, "r") as handle:
        handle.visititems(lambda name, item: item[()] if isinstance(item, h5py.Dataset) else None)


def probe_hdf5(path: str | Path) -> None:
    """Raise ``NetxError`` when ``path`` is not a regular file (a FIFO would block the
    reader forever) or reading every dataset of it kills the reading process."""
    try:
        check_input(path, "network file")
    except PathError as err:
        raise NetxError(str(err)) from err
    pid = os.fork()
    if pid == 0:  # the child: read, and leave without running any exit handler of the parent's
        try:
            read_every_dataset(path)
        except BaseException:
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        raise NetxError(f"{path}: damaged HDF5 file: reading it crashed the HDF5 library ({name})")
