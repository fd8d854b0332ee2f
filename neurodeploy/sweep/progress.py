"""The sweep's progress: a bar of points done, with the running and the failed, and a line
per event."""
from __future__ import annotations

from typing import Callable

from tqdm import tqdm


class SweepProgress:
    """A tqdm bar on stderr over the points to run, its postfix ``training T, running R,
    failed F``; ``line`` prints above the bar (through ``say``, e.g. ``print``)."""

    def __init__(self, total: int, say: Callable[[str], None]) -> None:
        self.say = say
        self.bar = tqdm(total=total, desc="points", unit="point", dynamic_ncols=True)

    def line(self, text: str) -> None:
        """One line of news (a point finished, a seed trained, a point failed)."""
        with self.bar.external_write_mode():
            self.say(text)

    def update(self, done: int, failed: int, running: int, training: int) -> None:
        """Points finished and failed so far (the bar counts both), points (or trajectories) and
        trainings running."""
        self.bar.n = done + failed
        parts = [f"training {training}"] if training else []
        self.bar.set_postfix_str(", ".join(parts + [f"running {running}", f"failed {failed}"]))

    def close(self) -> None:
        """Leave the bar at its last state."""
        self.bar.close()
