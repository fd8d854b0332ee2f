"""A Lava run ends its runtime's child processes however it ends: normally, by an exception, by Ctrl-C."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from netx_builders import FIXTURES, dense_network
from neurodeploy.simulate import harness
from neurodeploy.simulate.recorder import models
from neurodeploy.simulate.stimulus import Stimulus

OXFORD = FIXTURES / "oxford"


def descendants(pid: int) -> dict[int, str]:
    """Every live process below ``pid`` (from /proc) -> its command line; zombies left out."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        if not fields.get("State", "").startswith("Z"):
            parents.setdefault(int(fields["PPid"]), []).append(int(entry))
    found: dict[int, str] = {}
    stack = list(parents.get(pid, []))
    while stack:
        child = stack.pop()
        try:
            found[child] = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        stack.extend(parents.get(child, []))
    return found


def lava_children() -> set[int]:
    """This process's descendants except multiprocessing's resource tracker, which lives as long as we do."""
    return {pid for pid, cmd in descendants(os.getpid()).items() if "resource_tracker" not in cmd}


def alive(pids) -> set[int]:
    return {pid for pid in pids if os.path.exists(f"/proc/{pid}")
            and not Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"}


@pytest.fixture
def small(tmp_path):
    network = dense_network(tmp_path / "d.net")
    rng = np.random.default_rng(0)
    return network, Stimulus((rng.random((2, 30, 20)) < 0.3).astype(np.uint8), None, 20)


@pytest.mark.lava
def test_normal_run_leaves_no_child(small):
    before = lava_children()
    run = harness.run_lava(*small)
    assert sum(s.sum() for s in run.spikes.values()) > 0
    assert lava_children() == before


@pytest.mark.lava
def test_exception_after_the_runtime_started_propagates_and_leaves_no_child(small, monkeypatch):
    def failing_unpack(words, length):
        assert lava_children(), "the runtime's processes should be running while the recorders are read"
        raise OSError("reading the recorder failed")

    monkeypatch.setattr(harness, "unpack", failing_unpack)
    before = lava_children()
    with pytest.raises(OSError, match="reading the recorder failed"):
        harness.run_lava(*small)
    assert lava_children() == before


@pytest.mark.lava
def test_exception_inside_a_lava_process_does_not_hang_and_leaves_no_child(small, monkeypatch):
    """A process model that raises ends Lava's run with a RuntimeError; Lava's own stop() would then hang."""
    recorder_step = models.PySpikeRecorderModel.run_spk

    def failing_step(self):
        if self.time_step == 5:
            raise ValueError("recorder failed at step 5")
        recorder_step(self)

    monkeypatch.setattr(models.PySpikeRecorderModel, "run_spk", failing_step)  # the forked children inherit it
    before = lava_children()
    with pytest.raises(RuntimeError, match="Exception"):
        harness.run_lava(*small)
    assert lava_children() == before


# Run first in the interrupted commands: SIGUSR2 then prints every thread's Python stack
# (in the process and, inherited through fork, in each of Lava's), for a report of a hang.
STACKS_ON_SIGUSR2 = "import faulthandler, signal; faulthandler.register(signal.SIGUSR2, all_threads=True)\n"
LONG_RUN = STACKS_ON_SIGUSR2 + f"""
import numpy as np
from neurodeploy.netx import read_netx
from neurodeploy.simulate.harness import run_lava
from neurodeploy.simulate.inputs import load_events
from neurodeploy.simulate.stimulus import Stimulus
spikes = load_events("{OXFORD / 'input_events.npy'}", 200, 2000)
run_lava(read_netx("{OXFORD / 'network.net'}"), Stimulus(np.repeat(spikes, 50, axis=0), None, 2000))
"""


def interrupt_inside_run(command: list[str]) -> tuple[subprocess.CompletedProcess, set[int], float]:
    """Start ``command`` in its own process group, SIGINT the whole group (as a terminal's Ctrl-C does)
    2 s after Lava's processes appeared; its result, the descendants it had, and seconds to exit."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while len(descendants(process.pid)) < 5:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "Lava's processes never started"
            time.sleep(0.1)
        time.sleep(2)
        children = set(descendants(process.pid))
        assert process.poll() is None, "the run should still be going"
        os.killpg(process.pid, signal.SIGINT)
        start = time.monotonic()
        try:
            out, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running 60 s after SIGINT:\n{hang_report(process)}")
        seconds = time.monotonic() - start
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    deadline = time.monotonic() + 5  # the resource tracker exits when it sees its parent gone
    while alive(children) and time.monotonic() < deadline:
        time.sleep(0.1)
    return subprocess.CompletedProcess(command, process.returncode, out, err), children, seconds


def hang_report(process: subprocess.Popen) -> str:
    """What a command that did not exit was doing: each process's state and kernel wait
    channel, then every thread's Python stack (SIGUSR2, ``STACKS_ON_SIGUSR2``) and its stderr."""
    lines = []
    for pid, command in {process.pid: "(the command)", **descendants(process.pid)}.items():
        try:
            state = Path(f"/proc/{pid}/status").read_text().split("State:\t", 1)[1].split("\n", 1)[0]
            wchan = Path(f"/proc/{pid}/wchan").read_text()
        except (OSError, IndexError):
            continue
        lines.append(f"{pid} {state} wchan={wchan} {command[:120]}")
        os.kill(pid, signal.SIGUSR2)
    time.sleep(2)
    os.killpg(process.pid, signal.SIGKILL)
    _, err = process.communicate()
    return "\n".join(lines) + "\n--- stderr ---\n" + err[-20000:]


@pytest.mark.slow
@pytest.mark.lava
def test_ctrl_c_during_a_run_stops_every_child_process():
    result, children, seconds = interrupt_inside_run([sys.executable, "-c", LONG_RUN])
    assert len(children) >= 7  # 2 layers x (synapse, neurons), source, recorders, runtime service, servers
    assert alive(children) == set()
    assert result.returncode == -signal.SIGINT, result.stderr
    assert result.stderr.count("KeyboardInterrupt") == 1, result.stderr  # no traceback from the children
    assert seconds < 30


@pytest.mark.slow
@pytest.mark.lava
def test_ctrl_c_in_neurodeploy_verify_is_one_line_and_exit_130():
    command = [sys.executable, "-c", STACKS_ON_SIGUSR2 + "import runpy; runpy.run_module('neurodeploy.cli', "
               "run_name='__main__')", "verify", str(OXFORD / "network.net"),
               "--random-rate", "0.05", "--steps", "2000", "--samples", "30"]
    result, children, _ = interrupt_inside_run(command)
    assert alive(children) == set()
    assert result.returncode == 130
    assert result.stderr.strip().splitlines()[-1] == "neurodeploy: interrupted"
    assert "Traceback" not in result.stderr, result.stderr
