"""Limits checked before work starts, so that a bad option or recipe is one line, not an
exhausted machine.

Defaults (each can be raised where a user may need more):

- memory: the arrays a command will hold (spikes and state of every layer
  at every step of every sample, datasets, input files) must fit in half of
  this machine's physical memory; ``--max-memory GIB`` raises it;
- Lava processes: Lava forks one OS process per process model (two per
  layer, one per recorder and source, three more for its runtime); at most
  128 (``--max-lava-processes N``). A 300-layer network forked 683 of them
  and took 17 GB before this limit existed;
- layers: a recipe builds at most ``MAX_LAYERS`` layers (``recipe.py``).

The estimates are upper bounds of the largest arrays, not exact peaks;
they exist to refuse the impossible, not to budget the possible.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

GIB = 1 << 30
DEFAULT_LAVA_PROCESSES = 128


class LimitError(ValueError):
    """A command or recipe would exceed a limit; the message names the option or key and the limit."""


def physical_memory() -> int:
    """This machine's physical memory in bytes."""
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def default_memory() -> int:
    """The default memory limit: half of the physical memory."""
    return physical_memory() // 2


@dataclass(frozen=True)
class Limits:
    """memory: bytes a command may plan to hold; lava_processes: OS processes one Lava run may fork.

    Each field is the command-line option ``--max-`` and its name (``--max-memory``,
    ``--max-lava-processes``); its metadata gives the option's ``help``, ``metavar``,
    ``unit`` (bytes per unit of the option's value, which is then a float), ``default``
    (the default in words, where it is not a constant) and ``lava`` (only commands that
    run Lava take it).
    """

    memory: int = field(default_factory=default_memory, metadata={
        "help": "refuse work whose arrays would need more memory than this, in GiB",
        "metavar": "GIB", "unit": GIB, "default": "half of this machine's memory"})
    lava_processes: int = field(default=DEFAULT_LAVA_PROCESSES, metadata={
        "help": "refuse a Lava run that would fork more OS processes than this",
        "metavar": "N", "lava": True})

    def check_memory(self, needed: float, what: str) -> None:
        """``LimitError`` when ``what`` needs more than ``memory`` bytes."""
        if needed > self.memory:
            raise LimitError(
                f"{what} needs about {needed / GIB:.1f} GiB of memory, more than the limit of "
                f"{self.memory / GIB:.1f} GiB (--max-memory GIB raises it; default: half of this machine's memory)"
            )

    def check_lava_processes(self, count: int, what: str) -> None:
        """``LimitError`` when a Lava run of ``what`` would fork more than ``lava_processes`` processes."""
        if count > self.lava_processes:
            raise LimitError(
                f"{what} would start {count} Lava processes, more than the limit of {self.lava_processes} "
                f"(--max-lava-processes N raises it; each takes tens of MB)"
            )
