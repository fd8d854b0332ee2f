"""One writer per output folder: an advisory lock held while a command writes there.

The lock is ``flock`` on the folder itself (a descriptor of the directory,
where the file system can lock one) and on ``DIR/.neurodeploy.lock``: the
kernel releases both when the holder
exits, however it exits (SIGKILL included), so a killed command never
leaves a stale lock. The file stays, empty but for the holder's pid, which
the message to a second writer names.

A folder deleted (or renamed away and replaced) under a command is a new
folder, which a second command may lock: so the holder checks, before each
stage writes (``HeldFolder.check``), that the path still names the folder it
locked, and stops with one line naming it when it does not.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from neurodeploy.fileio import PathError

LOCK_NAME = ".neurodeploy.lock"


class FolderBusyError(ValueError):
    """Another neurodeploy command is writing to the folder."""


class FolderChangedError(PathError):
    """The locked folder was deleted or replaced while the command wrote to it."""


def _prepare(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise PathError(f"{folder}: is a file, not a folder to write in (--out names a folder)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise PathError(f"{folder}: cannot create the folder ({err.strerror})") from err
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PathError(f"{folder}: the folder is not writable")


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


@dataclass(frozen=True)
class HeldFolder:
    """A locked folder: ``path``, and descriptors of the directory and its lock file."""

    path: Path
    folder_fd: int
    lock_fd: int

    def check(self) -> None:
        """``FolderChangedError`` naming the folder unless ``path`` still names the locked
        directory and its lock file is still the one locked."""
        try:
            same = (_same(os.stat(self.path), os.fstat(self.folder_fd))
                    and _same(os.stat(LOCK_NAME, dir_fd=self.folder_fd, follow_symlinks=False),
                              os.fstat(self.lock_fd)))
        except OSError:
            same = False
        if not same:
            raise FolderChangedError(
                f"{self.path}: the folder was deleted or replaced while this command wrote to it; stopped "
                "(nothing more is written; run the command again)"
            )


def _flock(fd: int, folder: Path, lock_fd: int, optional: bool = False) -> None:
    """``flock`` ``fd`` exclusively, or ``FolderBusyError`` naming ``folder`` and the pid in
    the lock file. ``optional``: a file system that cannot lock this descriptor (NFS
    turns ``flock`` into a byte-range lock, which a directory cannot take) is let be."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
            if optional:
                return
            raise
        holder = os.pread(lock_fd, 32, 0).decode(errors="replace").strip() or "unknown"
        raise FolderBusyError(
            f"{folder}: another neurodeploy command (pid {holder}) is writing to this folder; "
            "wait for it to finish or use another folder"
        ) from None


@contextlib.contextmanager
def folder_lock(folder: str | Path) -> Iterator[HeldFolder]:
    """Create ``folder`` if needed and hold its lock for the block; yields the
    ``HeldFolder``, whose ``check`` a writer calls before each stage.

    Raises ``FolderBusyError`` naming the folder (and the holder's pid) when
    another process holds it, and ``PathError`` when the folder cannot be
    created or written.
    """
    folder = Path(folder)
    _prepare(folder)
    with contextlib.ExitStack() as stack:
        try:
            folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            stack.callback(os.close, folder_fd)
            lock_fd = os.open(LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666, dir_fd=folder_fd)
            stack.callback(os.close, lock_fd)
        except OSError as err:
            raise PathError(f"{folder / LOCK_NAME}: cannot open the folder's lock ({err.strerror})") from err
        _flock(folder_fd, folder, lock_fd, optional=True)
        _flock(lock_fd, folder, lock_fd)
        held = HeldFolder(folder, folder_fd, lock_fd)
        held.check()
        os.ftruncate(lock_fd, 0)
        os.pwrite(lock_fd, f"{os.getpid()}\n".encode(), 0)
        yield held
