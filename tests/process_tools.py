"""Start neurodeploy as a real process in a session of its own, signal it, and count what it leaves.

Every process a command starts stays in its session (Lava's children, the
sweep's workers, Python's resource tracker), even after it is orphaned and
reparented, so the session id finds them all. Shared-memory segments are
counted in /dev/shm.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

SHM = Path("/dev/shm")


def start_cli(*args: str, cwd: Path | None = None) -> subprocess.Popen:
    """``python -m neurodeploy.cli ARGS`` as the leader of a new session (its pid is the session id)."""
    env = {**os.environ, "TQDM_DISABLE": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "neurodeploy.cli", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def session_processes(sid: int) -> list[int]:
    """Pids of the live (not zombie) processes of session ``sid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, session = fields[0], int(fields[3])
        if session == sid and state != "Z":
            found.append(int(entry.name))
    return found


def shm_segments() -> set[str]:
    """Names in /dev/shm (Python's shared memory, Lava's channels among it)."""
    return {path.name for path in SHM.iterdir()} if SHM.is_dir() else set()


def wait_for(condition, timeout: float, interval: float = 0.05) -> bool:
    """Poll ``condition()`` until it is true or ``timeout`` seconds pass; returns its last value."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(interval)
    return bool(condition())


def kill_session(sid: int) -> None:
    """SIGKILL whatever is left in session ``sid`` (cleanup after a failed test)."""
    for pid in session_processes(sid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
