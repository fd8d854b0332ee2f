"""What ``verify`` reports: per layer, the first divergence, the timing, the whole result.

The golden model is compared with Lava ``fixed_pt`` (``verify``) or with recorded
messages (``against_reference``); both report a ``Verification``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from neurodeploy.compare.chip_check import ChipFigure

LAVA = "Lava fixed_pt"


@dataclass(frozen=True)
class VerifiedLayer:
    """One layer of a verification, its figures summed over every batch.

    index: its place among the layers with neurons; group: the ``layer/i`` group it
    was read from; type: its NetX type; neuron: its neuron model in one line;
    neurons: its neuron count; spikes_golden, spikes_lava: nonzero messages (spikes,
    or graded messages) on each side, Lava's None for a layer it did not record;
    mismatches: (neuron, column) entries that differ, None when not recorded;
    synops, synops_lava: synaptic operations from each side's messages, Lava's None
    where its messages do not give them (a layer it did not record feeds this one).
    Against a reference (``against_reference``) the Lava fields hold the reference's,
    and reference, lag, columns_compared say which file or key it was, the shift of
    its columns against the stream's and how many of its columns were compared (None
    against Lava, and for a layer the reference does not hold).
    """

    index: int
    group: int
    type: str
    neuron: str
    neurons: int
    spikes_golden: int
    spikes_lava: int | None
    mismatches: int | None
    synops: int
    synops_lava: int | None
    reference: str | None = None
    lag: int | None = None
    columns_compared: int | None = None


@dataclass(frozen=True)
class Divergence:
    """Where the golden model and Lava first differ, and how.

    layer, group: the layer (its index and ``layer/i`` group); neuron: its index
    in Lava's flat (W, H, C) order, neuron_index: the same in the layer's Lava
    shape; column: the column of its batch's stream; sample, step: the sample (over
    all batches) and its step that column belongs to; message_golden,
    message_lava: both sides' message there (0/1, or the graded value);
    state_golden, state_lava: the neuron model's state variables after that step
    (u and v for CUBA; sigma, act and residue for sigma-delta; real and imag for
    resonate-and-fire, integers as Lava holds them), state_before_*: after the step
    before; batch: the batch (stream) it is in, from 0.
    """

    layer: int
    group: int
    neuron: int
    neuron_index: tuple[int, ...]
    column: int
    sample: int
    step: int
    message_golden: int
    message_lava: int
    state_golden: dict[str, int]
    state_lava: dict[str, int]
    state_before_golden: dict[str, int]
    state_before_lava: dict[str, int]
    batch: int


@dataclass(frozen=True)
class Timing:
    """Wall seconds each side ran, over every batch (Lava's includes building its network)."""

    golden_s: float
    lava_s: float


@dataclass(frozen=True)
class Verification:
    """The golden model against Lava ``fixed_pt`` on one input set (``verify``).

    network: the NetX file; equivalent: no compared message differs (then
    first_divergence is None); samples, steps: the input set (N samples of T
    steps); batch_size, batches: the samples per stream and the number of
    streams; columns: stream columns over all batches (each stream is its
    samples' steps and the steps the last messages take to leave the network);
    sparse_synapses: Lava ran dense layers on ``Sparse`` synapses;
    layers_compared: ``all`` or ``out`` (the last layer only); compared_entries:
    (neuron, column) entries compared; exact_samples: samples whose every
    compared message agrees; silent_layers: compared layers with no message on
    either side, where nothing was compared; layers: per layer
    (``VerifiedLayer``); first_divergence: in the first batch that has one;
    timing: seconds per side. against: what the golden model was compared with (Lava
    fixed_pt, or a reference: ``against_reference``); unused_references: a
    reference's files or keys not compared, each with why; chip: the chip's figures
    in a recording beside the model's (``chip_check.ChipFigure``).
    """

    network: str
    equivalent: bool
    samples: int
    steps: int
    batch_size: int
    batches: int
    columns: int
    sparse_synapses: bool
    layers_compared: str
    compared_entries: int
    exact_samples: int
    silent_layers: tuple[int, ...]
    layers: tuple[VerifiedLayer, ...]
    first_divergence: Divergence | None
    timing: Timing
    against: str = LAVA
    unused_references: tuple[str, ...] = ()
    chip: tuple[ChipFigure, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON ``neurodeploy verify --json`` writes: these fields, nested dataclasses as
        objects, tuples as lists."""
        return asdict(self)


def states_around(state: dict[str, np.ndarray], neuron: int, column: int) -> tuple[dict[str, int], dict[str, int]]:
    """A neuron's state variables (``GoldenRun.state`` of its layer: [1, n, L] each) after the
    step of ``column`` and after the step before it (zeros when ``column`` is 0), as
    ``Divergence.state_golden`` and ``state_before_golden`` hold them."""
    after = {name: int(values[0, neuron, column]) for name, values in state.items()}
    before = {name: int(values[0, neuron, column - 1]) if column else 0 for name, values in state.items()}
    return after, before
