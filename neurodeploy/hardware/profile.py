"""Chip profiles: the figures of a neuromorphic chip, each with its source.

A profile is a YAML file in ``hardware/`` (see ``hardware/loihi1.yaml``)::

    name: loihi1
    title: ...
    sources: {key: citation, ...}
    figures:
      cores_per_chip: {value: 128, unit: ..., source: key}
      ...

Every figure of ``FIGURES`` must be present with a positive ``value``, a
``source`` that is a key of ``sources`` and a ``basis`` (``BASES``: how the
figure was obtained); one that is not published or measured as such needs a
``reason``. ``OPTIONAL_FIGURES`` may be absent: the graded-message pair
both or neither (a chip without them sends spikes only), static power
alone (then no static energy). ``note`` and ``unit`` are free text.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

# The chip profiles shipped with the package (hardware/ in the source tree, package data in a wheel).
HARDWARE_DIR = Path(str(resources.files("neurodeploy") / "profiles"))

# figure name -> what it means (the unit the estimator assumes)
FIGURES = {
    "cores_per_chip": "neuromorphic cores per chip",
    "neurons_per_core": "neurons (compartments) the compiler places on one core",
    "synapse_words_per_core": "synaptic memory per core, words",
    "synapse_word_bits": "bits of a synaptic memory word",
    "synapse_index_bits": "bits a synapse entry takes beside its weight (the postsynaptic neuron's index)",
    "axon_header_bits": "bits an input axon's synapse list takes beside its entries",
    "weight_bits": "largest weight mantissa, bits",
    "fan_in_per_core": "distinct presynaptic neurons (input axons) per core",
    "fan_out_per_core": "output axons (axon map entries) per core",
    "time_synaptic_op": "time per synaptic operation, ns",
    "time_neuron_update": "time per neuron update (every neuron, every step), ns",
    "time_message_in": "time per message a core receives, ns",
    "time_spike_out": "time per message a core's neurons send, ns",
    "time_message_out": "time per message a core routes to another core, ns",
    "time_barrier": "time of the barrier that ends a step, ns",
    "energy_synaptic_op": "energy per synaptic operation, pJ",
    "energy_neuron_update": "energy per neuron update, pJ",
    "energy_spike_sent": "energy per spike routed to a core, pJ",
}
# Figures a chip may lack: the graded pair (without it the chip sends spikes only) and
# static power (without it no static energy).
GRADED_FIGURES = {
    "graded_message_bits": "largest payload of a graded message (graded spike), bits",
    "energy_graded_message_sent": "energy per graded message routed to a core, pJ",
}
OPTIONAL_FIGURES = {
    **GRADED_FIGURES,
    "static_power_per_chip": "static (leakage) power of one chip while it runs, W",
}
# how a figure was obtained: printed by its source, measured on the chip by its source,
# fitted here to a measurement, derived here from a source's output, taken from another chip
BASES = ("published", "measured", "calibrated", "derived", "assumed")
INTEGER_FIGURES = ("cores_per_chip", "neurons_per_core", "synapse_words_per_core", "synapse_word_bits",
                   "synapse_index_bits", "axon_header_bits", "weight_bits", "fan_in_per_core", "fan_out_per_core",
                   "graded_message_bits")
FIGURE_KEYS = {"value", "unit", "source", "basis", "reason", "note"}


class ProfileError(ValueError):
    """A chip profile that cannot be used; names the file and the key."""


@dataclass(frozen=True)
class Figure:
    """One number of a profile: its value, the key of its source, its basis (``BASES``)."""

    value: float
    source: str
    basis: str
    reason: str | None = None
    unit: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class ChipProfile:
    """A chip's figures (``FIGURES``) by name, and the citations they refer to."""

    name: str
    title: str
    sources: dict[str, str]
    figures: dict[str, Figure]
    path: Path | None = None

    def has(self, name: str) -> bool:
        """Whether the profile gives figure ``name`` (optional figures may be absent)."""
        return name in self.figures

    def value(self, name: str) -> float:
        """The value of figure ``name`` (int for the counts of ``INTEGER_FIGURES``)."""
        return self.figures[name].value

    @property
    def estimates(self) -> list[str]:
        """Names of the figures neither published nor measured as such."""
        return [name for name, figure in self.figures.items() if figure.basis not in ("published", "measured")]


def available_profiles() -> list[str]:
    """Names of the profiles shipped with the package (``hardware/``; file stems), sorted.
    ``ProfileError`` when there are none: an installation without its package data
    would otherwise report no chip figures and say nothing."""
    names = sorted(path.stem for path in HARDWARE_DIR.glob("*.yaml"))
    if not names:
        raise ProfileError(f"no chip profiles in {HARDWARE_DIR}: the package was installed without its data "
                           "(reinstall neurodeploy)")
    return names


def load_profile(name_or_path: str | Path) -> ChipProfile:
    """Read and validate a profile: a name in ``hardware/`` (``loihi1``) or a YAML path.

    A file is parsed once while it is unchanged (cached by path, size and
    modification time)."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = HARDWARE_DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            raise ProfileError(f"no chip profile '{name_or_path}' (available: {', '.join(available_profiles())})")
    try:
        info = path.stat()
    except OSError as err:
        raise ProfileError(f"{path}: cannot read the profile ({err})") from err
    return _parse_profile(path.resolve(), info.st_size, info.st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _parse_profile(path: Path, size: int, mtime_ns: int) -> ChipProfile:
    """The profile in ``path`` (``size`` and ``mtime_ns`` key the cache)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise ProfileError(f"{path}: cannot read the profile ({err})") from err
    if not isinstance(raw, dict):
        raise ProfileError(f"{path}: a profile is a mapping with name, title, sources, figures")
    for key in ("name", "title", "sources", "figures"):
        if key not in raw:
            raise ProfileError(f"{path}: missing key '{key}'")
    sources, figures = raw["sources"], raw["figures"]
    if not isinstance(sources, dict) or not isinstance(figures, dict):
        raise ProfileError(f"{path}: 'sources' and 'figures' must be mappings")
    unknown = set(figures) - set(FIGURES) - set(OPTIONAL_FIGURES)
    if unknown:
        raise ProfileError(f"{path}: unknown figure '{sorted(unknown)[0]}' "
                           f"(known: {', '.join([*FIGURES, *OPTIONAL_FIGURES])})")
    parsed = {}
    for name in FIGURES:
        if name not in figures:
            raise ProfileError(f"{path}: missing figure '{name}' ({FIGURES[name]})")
        parsed[name] = _figure(path, name, figures[name], sources)
    graded = [name for name in GRADED_FIGURES if name in figures]
    if graded and len(graded) != len(GRADED_FIGURES):
        raise ProfileError(f"{path}: give both {' and '.join(GRADED_FIGURES)} or neither")
    for name in (name for name in OPTIONAL_FIGURES if name in figures):
        parsed[name] = _figure(path, name, figures[name], sources)
    return ChipProfile(str(raw["name"]), str(raw["title"]), {str(k): str(v) for k, v in sources.items()},
                       parsed, path)


def _figure(path: Path, name: str, raw: object, sources: dict) -> Figure:
    where = f"{path}: figures/{name}"
    if not isinstance(raw, dict):
        raise ProfileError(f"{where}: expected a mapping with value and source")
    unknown = set(raw) - FIGURE_KEYS
    if unknown:
        raise ProfileError(f"{where}: unknown key '{sorted(unknown)[0]}' (allowed: {', '.join(sorted(FIGURE_KEYS))})")
    value = raw.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ProfileError(f"{where}: 'value' must be a positive number, got {value!r}")
    if name in INTEGER_FIGURES and value != int(value):
        raise ProfileError(f"{where}: 'value' must be an integer, got {value!r}")
    source = raw.get("source")
    if source not in sources:
        raise ProfileError(f"{where}: 'source' {source!r} is not a key of 'sources'")
    basis = raw.get("basis")
    if basis not in BASES:
        raise ProfileError(f"{where}: 'basis' must be one of {', '.join(BASES)}, got {basis!r}")
    if basis not in ("published", "measured") and not raw.get("reason"):
        raise ProfileError(f"{where}: a {basis} figure needs a 'reason'")
    return Figure(
        value=int(value) if name in INTEGER_FIGURES else float(value), source=str(source), basis=basis,
        reason=raw.get("reason"), unit=raw.get("unit"), note=raw.get("note"),
    )
