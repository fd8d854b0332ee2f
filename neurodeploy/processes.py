"""No process outlives neurodeploy: children die with their parent, and SIGTERM or
SIGHUP stop a command the way Ctrl-C does.

Lava forks one OS process per process model, plus a runtime service and a
shared-memory server; ``sweep`` forks workers. Measured on lava-nc 0.10.0
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
- ``terminate_like_interrupt`` turns SIGTERM and SIGHUP into ``Terminated``,
  a ``KeyboardInterrupt``, so that every cleanup that runs on Ctrl-C (Lava's
  runtime stopped, children killed, temporary files removed) runs for them
  too.
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
from typing import Any

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
    if not _fork["from_main"] or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != _fork["parent"]:  # the parent died before prctl took effect
        os._exit(1)


def die_with_parent() -> None:
    """From now on, children forked from the main thread die with this process (idempotent)."""
    if not _fork["installed"]:
        os.register_at_fork(before=_before_fork, after_in_child=_in_child)
        _fork["installed"] = True


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated(signum)


def terminate_like_interrupt() -> None:
    """Raise ``Terminated`` in the main thread on SIGTERM and SIGHUP (main thread only)."""
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, _raise_terminated)


def exit_code(interrupt: KeyboardInterrupt) -> int:
    """The shell's code for a command stopped by a signal: 128 + its number (130 for Ctrl-C)."""
    return 128 + (interrupt.signum if isinstance(interrupt, Terminated) else signal.SIGINT)
