"""Files in and out: atomic writes, checked paths, content digests, run files read safely.

Writes: a file appears complete under its name, or not at all
(``atomic_path``), with the permissions the user's umask gives, and never
through a symlink, onto a device, a FIFO or a directory (``check_output``).

Reads: a path a user names must be a regular file (``check_input``): a FIFO
would block forever, a device could be endless. ``read_json`` and
``open_npz`` turn a damaged run file into one line that names it.

Inputs and outputs of one command: no output is one of its inputs, or
another of its outputs, by any name (``check_distinct``).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np


REDO = "run the stage that writes it again (neurodeploy run, or the stage's own command)"


class PathError(ValueError):
    """A path that cannot be read or written as asked; the message names it."""


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def check_output(path: str | Path) -> Path:
    """``path`` as a file to write: refused (``PathError``) when it is a symlink, a
    directory, a device, a FIFO or a socket, or when its folder is a file."""
    path = Path(path)
    try:
        info = path.lstat()
    except FileNotFoundError:
        info = None
    except OSError as err:
        raise PathError(f"{path}: cannot write here ({err.strerror})") from err
    if info is not None:
        if stat.S_ISLNK(info.st_mode):
            raise PathError(f"{path}: is a symlink; neurodeploy does not write through links (give the target itself)")
        if not stat.S_ISREG(info.st_mode):
            raise PathError(f"{path}: is {_kind(info.st_mode)}, not a file to write")
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        raise PathError(f"{parent}: is a file, not a folder to write {path.name} in")
    return path


def check_input(path: str | Path, what: str = "file") -> Path:
    """``path`` as a file to read: it must exist and be a regular file (after links)."""
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError as err:
        raise PathError(f"{path}: no such {what}") from err
    except OSError as err:
        raise PathError(f"{path}: cannot read ({err.strerror})") from err
    if not stat.S_ISREG(info.st_mode):
        raise PathError(f"{path}: is {_kind(info.st_mode)}; a {what} must be a regular file")
    return path


NamedPath = tuple[str, "str | os.PathLike[str] | None"]
"""A path with the role a command gives it (``("--json", path)``); a None path is not given."""


def _identity(path: str | os.PathLike[str]) -> tuple:
    """What makes two names one file: device and inode of an existing path (after links,
    so hard and symbolic links are the file they name), else the resolved path."""
    try:
        info = os.stat(path)
    except OSError:
        return ("new", os.path.realpath(path))
    return ("file", info.st_dev, info.st_ino)


def _inside(path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> bool:
    """Whether ``path`` resolves to somewhere under ``folder`` (after links)."""
    real, top = os.path.realpath(path), os.path.realpath(folder)
    return os.path.commonpath([real, top]) == top


def check_distinct(inputs: Iterable[NamedPath], outputs: Iterable[NamedPath],
                   folders: Iterable[NamedPath] = ()) -> None:
    """``PathError`` (one line naming both paths) when an output is the same file as an
    input or as another output: same device and inode for files that exist, same
    resolved path for those that do not yet, so through symbolic and hard links.
    ``folders``: folders the command writes files of its own naming into; an input
    inside one is refused too. Called before any work, so nothing has been written."""
    given = [(role, path) for role, path in inputs if path is not None]
    seen = {_identity(path): (role, path, True) for role, path in given}
    for role, path in outputs:
        if path is None:
            continue
        identity = _identity(path)
        if identity not in seen:
            seen[identity] = (role, path, False)
            continue
        other_role, other, read = seen[identity]
        if read:
            raise PathError(f"{path}: {role} is the same file as {other_role} {other}, which the command "
                            f"reads; an output never replaces an input (give another {role})")
        raise PathError(f"{path}: {role} is the same file as {other_role} {other}; give each output its own path")
    for role, folder in folders:
        for input_role, path in given:
            if folder is not None and _inside(path, folder):
                raise PathError(f"{path}: {input_role} is inside {folder}, which {role} writes into; "
                                "move it out first")


def _umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place on success.

    On an exception the temporary file is removed and ``path`` is untouched,
    so an interrupted write never leaves a half-written file under its name.
    The file gets mode 0666 less the umask, as ``open`` would give it.
    ``path`` is checked first (``check_output``). A failure to make, fill or rename the
    temporary file is a ``PathError`` naming ``path``, the file the user asked for,
    never the temporary name.
    """
    path = check_output(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise PathError(f"{path}: cannot write here ({err.strerror or err})") from err
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as err:
        if err.filename not in (tmp, path, str(path)):
            raise
        raise PathError(f"{path}: cannot write ({err.strerror or err})") from err
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path: str | Path, value: Any) -> Path:
    """Write ``value`` as indented JSON, atomically; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")
    return Path(path)


def file_digest(path: str | Path) -> str:
    """Hex SHA-256 of the file's bytes."""
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def read_json(path: str | Path, remedy: str = "") -> Any:
    """The JSON value in ``path``; ``PathError`` naming the file when it is missing,
    not a regular file, not UTF-8 or not JSON. ``remedy`` ends the message."""
    path = check_input(path, "JSON file")
    hint = f"; {remedy}" if remedy else ""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise PathError(f"{path}: not a UTF-8 text file{hint}") from err
    except json.JSONDecodeError as err:
        raise PathError(f"{path}: damaged JSON ({err.msg} at line {err.lineno}){hint}") from err


@contextlib.contextmanager
def open_npz(path: str | Path, remedy: str = "") -> Iterator[np.lib.npyio.NpzFile]:
    """``np.load`` of an .npz file (never unpickling), with every array checked readable:
    a truncated or damaged file is a ``PathError`` naming it."""
    path = check_input(path, ".npz file")
    hint = f"; {remedy}" if remedy else ""
    try:
        archive = np.load(path, allow_pickle=False)
        bad = archive.zip.testzip()
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise PathError(f"{path}: damaged .npz file ({' '.join(str(err).split())}){hint}") from err
    if bad is not None:
        archive.close()
        raise PathError(f"{path}: damaged .npz file (member {bad} fails its checksum){hint}")
    with archive:
        yield archive
