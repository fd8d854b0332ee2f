"""SIGTERM and SIGKILL leave no process and no shared memory behind: verify, run and sweep.

Each case starts the real command in a session of its own, waits until it
has children (Lava's processes, or the sweep's Ray training), sends the signal to
the main process, and then counts the processes left in the session and the
shared-memory segments that appeared. Before these fixes a SIGKILLed verify
left its 10 Lava processes running with parent 1 and 22 segments in /dev/shm,
and a SIGTERMed sweep left both workers computing; a SIGKILLed sweep on Ray
left Ray's two agent processes for 70 to 110 s until ``processes.reap_after_exit``.
"""
from __future__ import annotations

import signal
from pathlib import Path
from typing import Callable

import pytest

from neurodeploy.reference import fixtures_dir
from process_tools import kill_session, session_processes, shm_segments, start_cli, wait_for

TINY = Path(__file__).parent / "recipes" / "tiny.yaml"


def _verify_args(tmp_path: Path) -> list[str]:
    oxford = fixtures_dir() / "oxford"
    return ["verify", str(oxford / "network.net"), "--events", str(oxford / "input_events.npy"), "--steps", "2000"]


def _run_args(tmp_path: Path) -> list[str]:
    recipe = tmp_path / "long_lava.yaml"  # 300 Lava samples: a few seconds in Lava to be caught in
    recipe.write_text(TINY.read_text().replace("samples: 6", "samples: 300"))
    return ["run", str(recipe), "--out", str(tmp_path / "run")]


def _sweep_args(tmp_path: Path) -> list[str]:
    return ["sweep", str(TINY), "--criteria", "magnitude", "--sparsity", "0.5,0.8", "--seeds", "2",
            "--workers", "2", "--out", str(tmp_path / "sweep")]


def _children(count: int) -> Callable[[int], bool]:
    return lambda sid: len(session_processes(sid)) >= 1 + count


def _training(sid: int) -> bool:
    """A Ray worker of the sweep trains (its title is ``ray::train-s1``): the sweep is under way."""
    titles = []
    for pid in session_processes(sid):
        try:
            titles.append(Path(f"/proc/{pid}/cmdline").read_bytes())
        except OSError:
            continue
    return any(title.startswith(b"ray::train-s") for title in titles)


# (arguments, when to send the signal: Lava's 10 children for verify, its 7+ for run, a
# sweep's Ray training a seed)
COMMANDS = {"verify": (_verify_args, _children(8)), "run": (_run_args, _children(7)),
            "sweep": (_sweep_args, _training)}


@pytest.mark.slow
@pytest.mark.lava
# (a SIGKILLed sweep: tests/test_sweep.py kills its driver and workers, counts what is left
# and resumes)
@pytest.mark.parametrize("command, signum", [
    (command, signum) for command in COMMANDS for signum in (signal.SIGTERM, signal.SIGKILL)
    if (command, signum) != ("sweep", signal.SIGKILL)
], ids=lambda value: value.name if isinstance(value, signal.Signals) else value)
def test_a_signal_to_the_main_process_leaves_nothing_behind(command, signum, tmp_path):
    arguments, ready = COMMANDS[command]
    segments_before = shm_segments()
    process = start_cli(*arguments(tmp_path))
    sid = process.pid
    try:
        started = wait_for(lambda: ready(sid) or process.poll() is not None, 120)
        assert started and process.poll() is None, f"{command} ended before it could be signalled"
        process.send_signal(signum)
        process.wait(timeout=60)
        assert wait_for(lambda: not session_processes(sid), 20), \
            f"left behind after {signum.name}: {session_processes(sid)}"
        leaked = {name for name in shm_segments() - segments_before if name.startswith("psm_")}
        assert wait_for(lambda: not {n for n in shm_segments() - segments_before if n.startswith("psm_")}, 20), \
            f"{len(leaked)} shared-memory segments left"
        if signum == signal.SIGTERM:
            assert process.returncode == 128 + signal.SIGTERM
            assert "neurodeploy: stopped by SIGTERM" in process.stderr.read()
        else:
            assert process.returncode == -signal.SIGKILL
    finally:
        kill_session(sid)
        process.stdout.close()
        process.stderr.close()


@pytest.mark.slow
@pytest.mark.lava
def test_sigterm_to_the_whole_group_as_timeout_sends_it_stops_verify_cleanly(tmp_path):
    segments_before = shm_segments()
    process = start_cli(*_verify_args(tmp_path))
    sid = process.pid
    try:
        assert wait_for(lambda: len(session_processes(sid)) >= 9, 120)
        import os

        os.killpg(sid, signal.SIGTERM)  # Lava's children get it too, and ignore it: the parent stops them
        process.wait(timeout=60)
        assert process.returncode == 128 + signal.SIGTERM
        stderr = process.stderr.read()
        assert stderr.strip() == "neurodeploy: stopped by SIGTERM", stderr
        assert wait_for(lambda: not session_processes(sid), 20)
        assert wait_for(lambda: not {n for n in shm_segments() - segments_before if n.startswith("psm_")}, 20)
    finally:
        kill_session(sid)
        process.stdout.close()
        process.stderr.close()
