"""Start and always stop a Lava runtime: no child process outlives a run.

Lava's CPU runtime forks one OS process per process model, one for the
runtime service and one shared-memory manager server. Two ways it leaks them
or hangs, measured on lava-nc 0.10.0:

- Ctrl-C in a terminal sends SIGINT to the whole process group (a closed
  terminal SIGHUP, ``timeout`` SIGTERM): every child dies of it (on SIGINT
  each printing a traceback), and the parent's ``stop()`` then waits forever
  for the runtime service's answer. ``started`` forks the children with those
  signals deferred, so they inherit a handler that ignores them; the parent
  alone handles them and stops the children. The children also die with the
  parent if it is killed outright (``processes.die_with_parent``).
- When a process model raises, Lava ends the run with a RuntimeError after its
  processes have exited, and ``stop()`` again waits forever. ``stop_runtime``
  stops gracefully only while every child is alive, and kills what is left.
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Any, Iterator

from neurodeploy.processes import STOP_SIGNALS, die_with_parent


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold back SIGINT, SIGTERM and SIGHUP for the block; the first that came is
    raised again after it.

    Processes forked inside the block keep the holding handler, so they ignore
    these signals for good. Only in the main thread (elsewhere Python cannot
    set handlers, and signals are delivered to the main thread anyway).
    """
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    if threading.current_thread() is not threading.main_thread() or None in previous.values():
        yield
        return
    received: list[int] = []
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda number, frame: received.append(number))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if received:
        signal.raise_signal(received[0])


def _actors(runtime: Any) -> list[Any]:
    """The runtime's child processes (multiprocessing ``Process`` objects)."""
    infrastructure = getattr(runtime, "_messaging_infrastructure", None)
    return list(getattr(infrastructure, "actors", []))


def _alive(actor: Any) -> bool:
    try:
        return actor.is_alive()
    except ValueError:  # closed: Lava joined it already
        return False


def stop_runtime(process: Any) -> None:
    """Stop ``process``'s Lava runtime and end all its child processes.

    A no-op when no runtime was created. Graceful (Lava's ``stop``) while the
    runtime is started and every child is alive; any child still alive after
    that, or when the graceful stop is skipped or fails, is killed, and the
    shared memory is released. Safe to call again. Raises what the graceful
    stop raised, after the cleanup.
    """
    runtime = process.runtime
    if runtime is None or getattr(runtime, "_messaging_infrastructure", None) is None:
        return
    try:
        if runtime._is_started and all(_alive(actor) for actor in _actors(runtime)):
            runtime.stop()
    finally:
        for actor in _actors(runtime):
            if _alive(actor):
                actor.kill()
        runtime._is_started = False
        runtime._is_running = False
        runtime.stop()  # not started: joins the children, shuts the shared memory down


@contextmanager
def started(process: Any, run_cfg: Any) -> Iterator[None]:
    """Compile ``process``'s network and start its runtime; stop it on leaving.

    Inside, ``process.run(condition)`` runs it. The runtime is stopped however
    the block ends (normally, by an exception, by Ctrl-C); an exception from
    the block is re-raised unchanged, with a note if stopping failed too.
    """
    die_with_parent()
    try:
        with _signals_deferred():
            process.create_runtime(run_cfg=run_cfg)
        yield
    except BaseException as error:
        try:
            stop_runtime(process)
        except Exception as failure:
            error.add_note(f"stopping Lava's runtime also failed: {failure!r}")
        raise
    stop_runtime(process)
