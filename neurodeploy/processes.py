"""No process outlives neurodeploy: children die with their parent, and SIGTERM or
SIGHUP stop a command the way Ctrl-C does.

Lava forks one OS process per process model, plus a runtime service and a
shared-memory server; ``sweep`` starts a local Ray. Measured on lava-nc 0.10.0
before this module: a ``verify`` whose main process got SIGKILL left its 10
Lava processes running with parent 1, and 22 shared-memory segments in
/dev/shm.

- ``die_with_parent`` registers a fork hook: every child forked from the main
  thread asks Linux to SIGKILL it when its parent dies
  (``prctl(PR_SET_PDEATHSIG)``), and exits at once if the parent is already
  gone. Python's resource tracker, which is not killed (it is exec'd, not
  forked, and ignores signals), then sees the last of them exit and unlinks
  the shared memory they left (measured: 0 segments left).
  Only forks from the main thread: Linux sends the signal when the forking
  *thread* ends, which for another thread may be long before the process.
- ``reap_after_exit`` covers processes that are not our children: a local Ray
  started by ``sweep`` runs two agent processes under its raylet, which, the
  raylet killed with the sweep, linger for one to two minutes (measured on
  Ray 2.60.0: 70 to 110 s after a SIGKILL). A watcher process, exec'd and so
  not killed with its parent, waits for this process to end and then kills
  the processes it was given (those still alive and the same processes),
  and, given the folder the local Ray keeps its session in, every process
  whose command line names it (workers the raylet started late) and then
  the folder.
- ``terminate_like_interrupt`` turns SIGTERM and SIGHUP into ``Terminated``,
  a ``KeyboardInterrupt``, so that every cleanup that runs on Ctrl-C (Lava's
  runtime stopped, children killed, temporary files removed) runs for them
  too.
"""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Iterable

PR_SET_PDEATHSIG = 1
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_fork = {"installed": False, "from_main": False, "parent": 0}


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived; ``signum`` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _before_fork() -> None:
    _fork["from_main"] = threading.current_thread() is threading.main_thread()
    _fork["parent"] = os.getpid()


def _in_child() -> None:
    if _fork["from_main"]:
        kill_with_parent(_fork["parent"])


def kill_with_parent(parent: int | None = None) -> None:
    """In a child just forked from the main thread: ask Linux to SIGKILL it when its parent
    dies; exit at once if ``parent`` (its pid before the fork; default: the parent that
    ``die_with_parent``'s hook saw fork) is already gone. Nothing off Linux."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != (parent or _fork["parent"]):  # the parent died before prctl took effect
        os._exit(1)


def die_with_parent() -> None:
    """From now on, children forked from the main thread die with this process (idempotent)."""
    if not _fork["installed"]:
        os.register_at_fork(before=_before_fork, after_in_child=_in_child)
        _fork["installed"] = True


_received = {"signum": 0}


def _raise_terminated(signum: int, frame: Any) -> None:
    _received["signum"] = signum
    raise Terminated(signum)


def terminate_like_interrupt() -> None:
    """Raise ``Terminated`` in the main thread on SIGTERM and SIGHUP (main thread only)."""
    if threading.current_thread() is threading.main_thread():
        _received["signum"] = 0
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, _raise_terminated)


def stop_signal(interrupt: KeyboardInterrupt) -> signal.Signals:
    """The signal that stopped the command: ``Terminated``'s; for a plain
    ``KeyboardInterrupt``, the SIGTERM or SIGHUP that arrived before it, if one did (Ray's
    ``wait`` re-raises whatever a signal handler raised as a plain KeyboardInterrupt),
    else SIGINT (Ctrl-C)."""
    if isinstance(interrupt, Terminated):
        return signal.Signals(interrupt.signum)
    return signal.Signals(_received["signum"] or signal.SIGINT)


def exit_code(interrupt: KeyboardInterrupt) -> int:
    """The shell's code for a command stopped by a signal: 128 + its number (130 for Ctrl-C)."""
    return 128 + stop_signal(interrupt)


def _stat(pid: int) -> list[str] | None:
    """Fields 3 onwards of /proc/PID/stat (state, ppid, ..., starttime at index 19)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (children, their children, ...), from /proc."""
    parents = {}
    for entry in Path("/proc").iterdir():
        fields = _stat(int(entry.name)) if entry.name.isdigit() else None
        if fields is not None and fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


# The watcher: reads stdin until EOF (its parent closed the pipe or died), then SIGKILLs
# each PID:STARTTIME of its arguments after the first that is still that process, and,
# when the first argument names a folder, every other process whose command line names a
# path inside it; then removes that folder. Signals that stop a command are ignored, so
# that a Ctrl-C or SIGTERM to the terminal's group cannot stop it before its work.
_WATCHER = """
import os, shutil, signal, sys
for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(signum, signal.SIG_IGN)
def start(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None
def names(pid, inside):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return inside in handle.read()
    except OSError:
        return False
folder, targets = sys.argv[1], [argument.split(":") for argument in sys.argv[2:]]
while sys.stdin.buffer.read(4096):
    pass
if folder:
    inside = os.fsencode(os.path.join(folder, ""))
    targets += [(pid, start(int(pid))) for pid in os.listdir("/proc")
                if pid.isdigit() and int(pid) != os.getpid() and names(pid, inside)]
for pid, started in targets:
    if started is not None and start(int(pid)) == started:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except OSError:
            pass
if folder:
    shutil.rmtree(folder, ignore_errors=True)
"""


def reap_after_exit(pids: Iterable[int], folder: Path | None = None) -> Callable[[], None]:
    """Kill ``pids`` once this process has ended, however it ends (SIGKILL included).

    Starts the watcher (``python -I -S -c``, exec'd: not a fork of this
    process and its threads) holding the read end of a pipe; returns
    ``release``, which closes the pipe (the watcher then kills whichever of
    ``pids`` are still alive) and waits for the watcher. A process whose pid
    was reused is never killed: each is identified by its start time.
    folder: a folder this process made for the processes it started (a local
    Ray's temporary folder); the watcher also kills every process whose
    command line names a path inside it (those started later, e.g. Ray's
    workers) and then removes it.
    """
    targets = [f"{pid}:{fields[19]}" for pid in pids if (fields := _stat(pid)) is not None]
    watcher = subprocess.Popen([sys.executable, "-I", "-S", "-c", _WATCHER, str(folder or ""), *targets],
                               stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def release() -> None:
        watcher.stdin.close()
        watcher.wait()

    return release
