"""One writer per output folder: an advisory lock held while a command writes there.

The lock is ``flock`` on ``DIR/.neurodeploy.lock``: the kernel releases it
when the holder exits, however it exits (SIGKILL included), so a killed
command never leaves a stale lock. The file itself stays, empty but for the
holder's pid, which the message to a second writer names.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path
from typing import Iterator

from neurodeploy.fileio import PathError

LOCK_NAME = ".neurodeploy.lock"


class FolderBusyError(ValueError):
    """Another neurodeploy command is writing to the folder."""


def _prepare(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise PathError(f"{folder}: is a file, not a folder to write in (--out names a folder)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise PathError(f"{folder}: cannot create the folder ({err.strerror})") from err
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PathError(f"{folder}: the folder is not writable")


@contextlib.contextmanager
def folder_lock(folder: str | Path) -> Iterator[Path]:
    """Create ``folder`` if needed and hold its lock for the block; yields the folder.

    Raises ``FolderBusyError`` naming the folder (and the holder's pid) when
    another process holds it, and ``PathError`` when the folder cannot be
    created or written.
    """
    folder = Path(folder)
    _prepare(folder)
    path = folder / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
    except OSError as err:
        raise PathError(f"{path}: cannot open the folder's lock file ({err.strerror})") from err
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise FolderBusyError(
                f"{folder}: another neurodeploy command (pid {holder}) is writing to this folder; "
                "wait for it to finish or use another folder"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield folder
    finally:
        os.close(fd)
