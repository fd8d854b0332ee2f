"""The two networks every run makes and compares: the trained dense one and the pruned one.

Each is named once here with its files in the run folder: its checkpoint (written by
the train or prune stage) and its NetX network (written by export). Every stage after
prune handles both, in ``NAMES`` order, and keys its results by the name. Imports no
stage.
"""
from __future__ import annotations

from dataclasses import dataclass

from neurodeploy.registry import Registry


@dataclass(frozen=True)
class Variant:
    """A network of a run: its ``name``, its ``checkpoint`` and ``network`` file names, and
    whether Lava runs it on ``Sparse`` synapses (the pruned network, as it would be
    deployed) or ``Dense`` ones."""

    name: str
    checkpoint: str
    network: str
    sparse_synapses: bool


DENSE = Variant("dense", checkpoint="dense.pt", network="dense.net", sparse_synapses=False)
PRUNED = Variant("pruned", checkpoint="pruned.pt", network="pruned.net", sparse_synapses=True)
VARIANTS: Registry[Variant] = Registry("network variant", {v.name: v for v in (DENSE, PRUNED)})
NAMES: tuple[str, ...] = tuple(VARIANTS)
CHECKPOINTS: tuple[str, ...] = tuple(v.checkpoint for v in VARIANTS.values())
NETWORKS: tuple[str, ...] = tuple(v.network for v in VARIANTS.values())
