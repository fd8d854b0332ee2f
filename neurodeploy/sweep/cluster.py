"""Where a sweep's points run: a Ray cluster, started on this machine or joined.

With no address (``--address`` or ``RAY_ADDRESS``), ``ray_cluster`` starts
a local Ray with one CPU per worker (default: every core of this machine)
and the GPUs Ray finds, and shuts it down when the sweep ends, however it
ends (``processes.reap_after_exit`` kills what a SIGKILL leaves). That Ray
keeps its session (sockets, logs) in a temporary folder of its own,
``ndray-*`` under ``RAY_TMPDIR`` or else the system's temporary folder
(``TMPDIR``, /tmp), which goes with it, and what native code writes to this
process's stderr while it runs (Ray's C++ core reporting what it could not do
as Ray stops) goes to ``driver-stderr.log`` there, not to the terminal:
Python's ``sys.stderr`` (the bar, our messages) still writes to the terminal.
With an address it joins that cluster (``ray start --head`` on one machine,
``ray start --address`` on the others), whose nodes must run the same
Python, Ray and neurodeploy, and see the sweep folder at the same path
(shared storage): each task reads the seed's dense network from it and
writes its point files there.
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from neurodeploy.processes import STOP_SIGNALS, descendants, reap_after_exit

# Ray keeps every object a task returns in its object store; a sweep's are rows of
# a few numbers, so a local Ray reserves little shared memory for them.
LOCAL_OBJECT_STORE_BYTES = 128 * 2**20
# Seconds to wait for a cluster's address to accept a connection.
PROBE_SECONDS = 5.0
# Attempts after the first of a task that raises or whose worker dies.
DEFAULT_RETRIES = 2


class ClusterError(ValueError):
    """Ray cannot be started or joined, or the cluster lacks what the sweep asks for."""


@dataclass(frozen=True)
class Cluster:
    """The Ray cluster a sweep runs on: its address (None: started here) and the CPUs
    and GPUs it offers in all."""

    address: str | None
    cpus: float
    gpus: float

    def describe(self) -> str:
        """E.g. ``a local Ray with 2 CPUs`` or ``the Ray cluster at HOST:6379 (64 CPUs, 8 GPUs)``."""
        gpus = f", {self.gpus:g} GPUs" if self.gpus else ""
        if self.address is None:
            return f"a local Ray with {self.cpus:g} CPUs{gpus}"
        return f"the Ray cluster at {self.address} ({self.cpus:g} CPUs{gpus})"


def cluster_address(address: str | None) -> str | None:
    """The cluster to join: ``address``, else ``RAY_ADDRESS``; None starts a local Ray."""
    return address or os.environ.get("RAY_ADDRESS") or None


def check_cluster(address: str | None, workers: int | None) -> None:
    """Before any work: ``ClusterError`` for ``workers`` given with a cluster ``address``,
    or when nothing accepts a connection at ``address`` (``HOST:PORT`` or
    ``ray://HOST:PORT``; Ray itself would keep retrying for many minutes). ``auto``
    (the cluster ``ray start`` left on this machine) is left to Ray."""
    if address is None:
        return
    if workers is not None:
        raise ClusterError(f"--workers sizes a local Ray; the cluster at {address} (--address or RAY_ADDRESS) "
                           "has its own CPUs")
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(f"--address {address}: expected HOST:PORT (e.g. 10.0.0.1:6379, as `ray start --head` "
                           "prints), ray://HOST:PORT or auto")
    try:
        socket.create_connection((host, int(port)), timeout=PROBE_SECONDS).close()
    except OSError as err:
        raise ClusterError(f"--address {address}: no Ray cluster answers there ({err.strerror or err}); start "
                           "one with `ray start --head` or leave --address and RAY_ADDRESS unset for a local "
                           "Ray") from None


def _use_token() -> None:
    """Join with Ray's token authentication when a token is at hand and ``RAY_AUTH_MODE``
    is not set: ``ray start --head`` (Ray 2.60) requires a token, which a driver sends only
    in token mode; a cluster without authentication accepts such a driver too (measured).
    Sets ``RAY_AUTH_MODE=token`` for this process; Ray reads it when first imported."""
    if "RAY_AUTH_MODE" in os.environ:
        return
    if {"RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"} & set(os.environ) or (Path.home() / ".ray" / "auth_token").is_file():
        os.environ["RAY_AUTH_MODE"] = "token"


def _temp_folder() -> Path:
    """A new folder (mode 0700) for a local Ray's session, under ``RAY_TMPDIR`` (which Ray
    itself would use) or else the system's temporary folder. Its name is short: Ray's
    socket paths inside it may not exceed 107 bytes."""
    return Path(tempfile.mkdtemp(prefix="ndray-", dir=os.environ.get("RAY_TMPDIR") or None))


@contextlib.contextmanager
def _native_stderr_to(path: Path) -> Iterator[None]:
    """For the block, file descriptor 2 (what native code in this process, Ray's core among
    it, and the processes started meanwhile write to stderr) goes to ``path``; ``sys.stderr``
    keeps writing where it did, through a copy of the old descriptor."""
    python_stderr = sys.stderr
    python_stderr.flush()
    try:
        kept = os.dup(2)
    except OSError:  # no stderr at all: nothing to keep off it
        yield
        return
    with contextlib.suppress(AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
        if python_stderr.fileno() == 2:
            sys.stderr = open(os.dup(kept), "w", buffering=1, encoding=python_stderr.encoding,
                              errors=python_stderr.errors)
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        if sys.stderr is not python_stderr:
            sys.stderr.close()
            sys.stderr = python_stderr
        os.dup2(kept, 2)
        os.close(kept)


@contextlib.contextmanager
def ray_cluster(address: str | None, workers: int | None, oom_retries: int) -> Iterator[Cluster]:
    """Start (``address`` None) or join Ray for the block, and shut it down after.

    workers: CPUs of the local Ray, one per concurrent point (default: this
    machine's cores). ``check_cluster`` has checked the options. oom_retries: how
    often a local Ray retries a task its memory monitor killed
    (Ray's own default retries those without end). ``ClusterError`` when Ray
    cannot start or the address cannot be joined.
    """
    if address is not None:
        _use_token()  # before Ray's first import, which reads it
    import ray

    temp = _temp_folder() if address is None else None
    try:
        with _native_stderr_to(temp / "driver-stderr.log") if temp else contextlib.nullcontext(), \
                _started(ray, address, workers, oom_retries, temp) as cluster:
            yield cluster
    finally:
        if temp is not None:  # the watcher has removed it, unless Ray failed to start
            shutil.rmtree(temp, ignore_errors=True)


@contextlib.contextmanager
def _started(ray: Any, address: str | None, workers: int | None, oom_retries: int,
             temp: Path | None) -> Iterator[Cluster]:
    """``ray_cluster``'s Ray (the module ``ray``): started with its session in ``temp`` or
    joined, for the block; shut down after."""
    options = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    before = set(descendants(os.getpid()))
    handlers = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    try:
        if address is None:
            ray.init(address="local", num_cpus=workers or len(os.sched_getaffinity(0)),
                     object_store_memory=LOCAL_OBJECT_STORE_BYTES, _temp_dir=str(temp),
                     _system_config={"task_oom_retries": oom_retries}, **options)
        else:
            ray.init(address=address, **options)
    except (OSError, RuntimeError, ValueError) as err:  # OSError: ConnectionError, a socket path too long
        ray.shutdown()
        where = "start a local Ray" if address is None else f"join the Ray cluster at {address}"
        hint = ""
        if address is not None:
            hint = (" (a cluster started with token authentication needs its token here: ~/.ray/auth_token, "
                    "RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH)")
        elif isinstance(err, OSError) and not isinstance(err, ConnectionError):  # a socket path in temp
            hint = " (set RAY_TMPDIR or TMPDIR to a folder with a shorter path)"
        raise ClusterError(f"cannot {where}: {' '.join(str(err).split())}{hint}") from err
    finally:
        # Ray's driver takes SIGTERM (its handler exits; its core's then aborts with a
        # stack dump): the command's own handlers, which stop it as Ctrl-C does, go back.
        for signum, handler in handlers.items():
            if handler is not None and threading.current_thread() is threading.main_thread():
                signal.signal(signum, handler)
    # a local Ray's processes (its agents outlive a killed raylet by minutes) die with this
    # one, and its folder goes after them
    started = [pid for pid in descendants(os.getpid()) if pid not in before]
    release = reap_after_exit(started, temp) if address is None else lambda: None
    try:
        with _ray_reports_silenced(ray):
            resources = ray.cluster_resources()
            yield Cluster(address, float(resources.get("CPU", 0)), float(resources.get("GPU", 0)))
    finally:
        ray.shutdown()
        release()


@contextlib.contextmanager
def _ray_reports_silenced(ray: Any) -> Iterator[None]:
    """For the block, the errors Ray publishes to its driver (``(raylet) Task ... failed. There
    are N retries remaining ...`` with part of a traceback, a worker's death), which the
    driver's ``listen_error_messages`` thread prints to stdout whatever ``log_to_driver`` says,
    are not printed: the sweep prints a line of its own per retried attempt. The switch is
    the one Ray's debugger turns (``ray._private.worker._worker_logs_enabled``; Ray has no
    option for it); the errors still reach the tasks' results and Ray's logs."""
    worker = ray._private.worker
    worker._worker_logs_enabled = False
    try:
        yield
    finally:
        worker._worker_logs_enabled = True
