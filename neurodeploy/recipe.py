"""Model recipes: one frozen dataclass per stage, joined into ``Recipe``.

A recipe is a YAML file in ``models/`` whose sections match the dataclasses
below field for field. Unknown keys, wrong types and values out of range are
errors that name the file and the dotted key (``RecipeError``). This is a base
module, importing no stage: the names a key picks from a family (a dataset, a
criterion, ...) are checked against the family's registry by
``preflight.check_recipe`` before any work starts.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import typing
from importlib import resources
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from neurodeploy.fileio import PathError, check_input

# The recipes shipped with the package (models/ in the source tree, package data in a wheel).
MODELS_DIR = Path(str(resources.files("neurodeploy") / "recipes"))
DEFAULT_RECIPE = MODELS_DIR / "digits_mlp.yaml"
# Layers a recipe may build (conv + hidden + output): a sanity limit far above
# any network here; each layer costs Lava three processes (limits.py).
MAX_LAYERS = 64


class RecipeError(ValueError):
    """A recipe file or value that cannot be used; the message names the key."""


@dataclass(frozen=True)
class DataSettings:
    """Dataset, split and spike encoding.

    dataset: ``digits`` (scikit-learn's, always available); the two made
        from it, also built in: ``moving_digits`` (each digit gliding across
        a ``canvas`` x ``canvas`` frame, graded frames for sigma-delta
        networks, ``neurodeploy.data.moving``) and ``sequential_digits``
        (one image row per step window, thermometer-coded spikes for
        recurrent networks, ``neurodeploy.data.sequential``); or the event
        datasets ``nmnist`` and ``shd`` read by tonic from ``path``
        (``neurodeploy.data.events``).
    steps: T, the number of time steps each sample is encoded over
        (sequential_digits: a multiple of 8, steps // 8 per image row).
    test_fraction, split_seed: the digits datasets (digits, moving_digits,
        sequential_digits).
    encoding, max_rate: digits only. max_rate:
        for ``rate`` encoding, the spike probability per step of a pixel at
        full intensity (a pixel of intensity x in [0, 1] spikes with
        probability ``x * max_rate`` at every step).
    path: event datasets: the folder tonic keeps the dataset in (its
        ``save_to``; ``~`` expands).
    step_us: event datasets: microseconds per time step.
    train_samples, test_samples: event datasets: use at most this many
        samples of each set, a random subset drawn with ``split_seed`` (0:
        all of them).
    canvas: moving_digits: the frame's side in pixels (the 8x8 digit moves
        within it).
    trajectories: moving_digits: motions per training image (the training
        set holds this many copies of each image, each moving its own way;
        the test set one per image).
    levels: sequential_digits: thermometer levels per pixel (input neurons
        per pixel column; 8 x levels inputs).
    frames: moving_digits: ``graded`` (the frames, for a sigma-delta
        network's Input block) or ``spikes`` (each pixel spikes at each step
        with probability intensity x ``max_rate``, for a spiking network).
    """

    dataset: str = "digits"
    test_fraction: float = 0.2
    split_seed: int = 0
    encoding: str = "rate"
    steps: int = 16
    max_rate: float = 1.0
    path: str = ""
    step_us: int = 1000
    train_samples: int = 0
    test_samples: int = 0
    canvas: int = 16
    trajectories: int = 1
    levels: int = 4
    frames: str = "graded"


@dataclass(frozen=True)
class NeuronSettings:
    """SLAYER CUBA neuron parameters, in SLAYER's float units.

    threshold: in weight units (``vThMant = int(threshold * 64)``).
    current_decay, voltage_decay: fractions lost per step, in [0, 1]
        (``iDecay = round(current_decay * 4096)``).
    tau_grad, scale_grad: surrogate gradient width and scale.
    """

    threshold: float = 1.25
    current_decay: float = 0.25
    voltage_decay: float = 0.03
    tau_grad: float = 0.03
    scale_grad: float = 3.0


@dataclass(frozen=True)
class ConvSettings:
    """One SLAYER CUBA Conv block: ``channels`` output channels, a square
    ``kernel``, ``stride`` and zero ``padding`` (pixels on each side).

    Output size per side: floor((size + 2 padding - kernel) / stride) + 1.
    Downsampling is done by the stride: netx cannot load pooling layers.
    """

    channels: int = 8
    kernel: int = 3
    stride: int = 1
    padding: int = 1


@dataclass(frozen=True)
class ModelSettings:
    """lava-dl SLAYER blocks: image -> conv... -> flatten -> hidden... -> classes.

    blocks: the lava-dl block family (``neurodeploy.train.families``):
        ``cuba`` (``slayer.block.cuba``: binary spikes, CUBA LIF neurons) or
        ``sigma_delta`` (``slayer.block.sigma_delta``: an Input block that
        delta-encodes graded inputs, ReLU sigma-delta Conv and Dense blocks
        sending graded messages, and an Output block, a Sigma).
    conv: convolution blocks applied to the input image ([C, H, W], digits
        1x8x8), in order; empty for a fully connected network, which sees
        the image flattened in (C, H, W) order.
    hidden: widths of the Dense blocks between the flattened features and
        the output layer.
    recurrent: the hidden blocks are ``slayer.block.cuba.Recurrent`` (each
        neuron also receives the layer's own spikes of the previous step);
        ``cuba`` only.
    dropout: probability of dropping a hidden neuron's output in training
        (lava-dl's neuron ``Dropout``; off in evaluation and export).
    neuron: the neurons' parameters; ``sigma_delta`` uses ``threshold`` (the
        delta threshold), ``tau_grad`` and ``scale_grad`` only.
    """

    blocks: str = "cuba"
    conv: tuple[ConvSettings, ...] = ()
    hidden: tuple[int, ...] = (256,)
    recurrent: bool = False
    dropout: float = 0.0
    neuron: NeuronSettings = field(default_factory=NeuronSettings)


@dataclass(frozen=True)
class TrainSettings:
    """Training with Adam on the spike-count cross-entropy.

    device: the torch device training, pruning and the pruning statistics
        run on: ``cpu``, ``cuda`` or ``cuda:N`` (``neurodeploy.train.device``).
        Export, the golden model and Lava always run on the CPU.
    """

    epochs: int = 20
    batch_size: int = 32
    lr: float = 0.003
    device: str = "cpu"


@dataclass(frozen=True)
class PruneSettings:
    """Iterative pruning with rewinding (Algorithm 1 of the paper).

    ``rounds`` = K rounds each prune the fraction p = 1 - (1 - sparsity)^(1/K)
    of the weights still alive in the pruned layers (one-shot pruning is
    K = 1), so that the last round reaches ``sparsity``. After each round the
    surviving weights are reset to their values after ``rewind_epoch`` epochs
    of training (None: kept at their trained values, i.e. fine-tuning) and
    trained for ``finetune_epochs`` epochs with the mask held.

    criterion: how weights are ranked (``neurodeploy.prune.criteria``):
        ``magnitude`` |w|, ``random``, or ``sf``, the spiking-firing
        probability of Eq. 12/13 and S.43.
    scope: ``global`` ranks the weights of all pruned layers together;
        ``layerwise`` prunes every layer to the same sparsity; ``neuron``
        removes whole units, a dense layer's neurons and a conv layer's
        output channels; ``channel`` removes a conv layer's output channels
        and a dense layer's weights (``neurodeploy.prune.selection``).
    objective: what the pruning plan minimises (``neurodeploy.prune.objectives``):
        ``synops`` (the criterion's ranking over the scope's pools), or what
        the chip ``profile`` bills: ``cores``, ``time`` (per step) or
        ``energy`` (per inference), each layer giving up what saves most.
    profile: the chip profile (``hardware/``) the objective is measured on.
    target_cores, target_time: a bound on the objective (``cores``: at most
        this many cores; ``time``: at most this time per step, µs): the plan
        minimises it until within the bound, then spends the rest of
        ``sparsity`` as the criterion ranks, keeping within it; None: no bound.
    exclude: layer indices left dense (negative counts from the end, so -1
        is the output layer).
    magnitude_layers: layer indices ranked by |w| whatever the criterion
        (SF-IMP-1 keeps magnitude for the encoding and output layers); each
        is pruned on its own to the round's sparsity.
    dynamic_layers: layer indices whose mask applies in the forward pass only
        (SF-IMP-2): weight updates and rewinds ignore it, so a pruned weight
        keeps learning and may come back in a later round.
    stats_samples: training samples used to measure the firing rates and
        membrane potentials the ``sf`` criterion needs.
    """

    criterion: str = "magnitude"
    scope: str = "global"
    exclude: tuple[int, ...] = ()
    magnitude_layers: tuple[int, ...] = ()
    dynamic_layers: tuple[int, ...] = ()
    sparsity: float = 0.9
    rounds: int = 1
    rewind_epoch: int | None = None
    finetune_epochs: int = 10
    lr: float = 0.001
    stats_samples: int = 512
    objective: str = "synops"
    profile: str = "loihi2"
    target_cores: int | None = None
    target_time: float | None = None


@dataclass(frozen=True)
class SupermaskSettings:
    """Edge-popup supermask search (``neurodeploy supermask``): how the scores train.

    The weights stay at their signed-constant random initialization (scaled
    by ``weight_scale``); only the scores learn, with ``optimizer`` (``adam``
    or the paper's ``sgd`` with ``momentum``), ``lr``, ``weight_decay``.
    """

    epochs: int = 20
    batch_size: int = 32
    lr: float = 0.002
    optimizer: str = "adam"
    momentum: float = 0.9
    weight_decay: float = 5e-4
    weight_scale: float = 1.0


@dataclass(frozen=True)
class SimulateSettings:
    """How many test samples Lava runs (PyTorch runs the same ones)."""

    samples: int = 32


@dataclass(frozen=True)
class Recipe:
    """Everything that determines a run; ``digest`` names it."""

    name: str = "digits-mlp"
    seed: int = 0
    data: DataSettings = field(default_factory=DataSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    train: TrainSettings = field(default_factory=TrainSettings)
    prune: PruneSettings = field(default_factory=PruneSettings)
    supermask: SupermaskSettings = field(default_factory=SupermaskSettings)
    simulate: SimulateSettings = field(default_factory=SimulateSettings)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (tuples become lists), as written to YAML/JSON."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def identity(self) -> dict[str, Any]:
        """``to_dict`` without the keys of ``ADDED_KEYS`` that hold their default: what
        names the settings in every digest, so that folders written before a key was
        added keep their digests while it is left alone."""
        settings = self.to_dict()
        for key, default in ADDED_KEYS.items():
            section, _, name = key.partition(".")
            if settings[section].get(name) == default:
                del settings[section][name]
        return settings

    def digest(self) -> str:
        """Hex SHA-256 prefix of the settings (``identity``), stable across runs."""
        text = json.dumps(self.identity(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


# Keys added after run and sweep folders were first written, with their defaults: a
# digest leaves a key out while it holds its default (``Recipe.identity``).
ADDED_KEYS: dict[str, Any] = {"train.device": "cpu", "data.frames": "graded", "prune.objective": "synops", "prune.profile": "loihi2",
                              "prune.target_cores": None, "prune.target_time": None}
DEVICE_PATTERN = re.compile(r"cpu|cuda(:[0-9]+)?")
FRAMES = ("graded", "spikes")  # data.frames


# (low, high, low inclusive, high inclusive) for every bounded numeric key.
RANGES: dict[str, tuple[float, float, bool, bool]] = {
    "seed": (0, 2**32 - 1, True, True),
    "data.test_fraction": (0.0, 1.0, False, False),
    "data.split_seed": (0, 2**32 - 1, True, True),
    "data.steps": (1, 100_000, True, True),
    "data.max_rate": (0.0, 1.0, False, True),
    "data.step_us": (1, 10_000_000, True, True),
    "data.train_samples": (0, 100_000_000, True, True),
    "data.test_samples": (0, 100_000_000, True, True),
    "data.canvas": (8, 256, True, True),
    "data.trajectories": (1, 64, True, True),
    "data.levels": (1, 16, True, True),
    "model.hidden": (1, 1_000_000, True, True),
    "prune.exclude": (-1_000, 1_000, True, True),
    "prune.magnitude_layers": (-1_000, 1_000, True, True),
    "prune.dynamic_layers": (-1_000, 1_000, True, True),
    "prune.rounds": (1, 1_000, True, True),
    "prune.rewind_epoch": (0, 100_000, True, True),
    "prune.stats_samples": (1, 1_000_000, True, True),
    "prune.target_cores": (1, 1_000_000, True, True),
    "prune.target_time": (0.0, 1e9, False, True),
    "model.conv.channels": (1, 4096, True, True),
    "model.conv.kernel": (1, 64, True, True),
    "model.conv.stride": (1, 64, True, True),
    "model.conv.padding": (0, 64, True, True),
    "model.dropout": (0.0, 1.0, True, False),
    "model.neuron.threshold": (1 / 64, 2047, True, True),
    "model.neuron.current_decay": (0.0, 1.0, True, True),
    "model.neuron.voltage_decay": (0.0, 1.0, True, True),
    "model.neuron.tau_grad": (0.0, 1e6, False, True),
    "model.neuron.scale_grad": (0.0, 1e6, False, True),
    "train.epochs": (0, 100_000, True, True),
    "train.batch_size": (1, 1_000_000, True, True),
    "train.lr": (0.0, 10.0, False, True),
    "prune.sparsity": (0.0, 1.0, True, False),
    "prune.finetune_epochs": (0, 100_000, True, True),
    "prune.lr": (0.0, 10.0, False, True),
    "simulate.samples": (1, 1_000_000, True, True),
    "supermask.epochs": (0, 100_000, True, True),
    "supermask.batch_size": (1, 1_000_000, True, True),
    "supermask.lr": (0.0, 10.0, False, True),
    "supermask.momentum": (0.0, 1.0, True, False),
    "supermask.weight_decay": (0.0, 1.0, True, True),
    "supermask.weight_scale": (0.0, 1e6, False, True),
}


def _check_range(key: str, value: float) -> None:
    if key not in RANGES:
        return
    low, high, low_in, high_in = RANGES[key]
    ok_low = value >= low if low_in else value > low
    ok_high = value <= high if high_in else value < high
    if not (ok_low and ok_high):
        def number(v: float) -> str:
            return str(int(v)) if float(v).is_integer() and abs(v) >= 1e6 else f"{v:g}"

        interval = f"{'[' if low_in else '('}{number(low)}, {number(high)}{']' if high_in else ')'}"
        raise RecipeError(f"{key} = {value!r} is outside {interval}")


def _convert(cls: type, raw: Mapping[str, Any], prefix: str) -> Any:
    """Build dataclass ``cls`` from ``raw``, checking keys, types and ranges."""
    if not isinstance(raw, Mapping):
        raise RecipeError(f"{prefix or 'recipe'} must be a mapping, got {type(raw).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        where = f"{prefix}." if prefix else ""
        raise RecipeError(
            f"unknown key {where}{unknown[0]} (known: {', '.join(sorted(fields))})"
        )
    defaults = cls()
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for name, value in raw.items():
        key = f"{prefix}.{name}" if prefix else name
        default = getattr(defaults, name)
        hint = hints[name]
        if dataclasses.is_dataclass(default):
            values[name] = _convert(type(default), value, key)
        elif default is None:
            kind = next(arg for arg in typing.get_args(hint) if arg is not type(None))
            values[name] = None if value is None else _scalar(key, value, kind)
        elif typing.get_args(hint) and dataclasses.is_dataclass(typing.get_args(hint)[0]):
            if not isinstance(value, (list, tuple)):
                raise RecipeError(f"{key} must be a list of mappings, got {value!r}")
            values[name] = tuple(_convert(typing.get_args(hint)[0], item, key) for item in value)
        elif isinstance(default, tuple):
            if not isinstance(value, (list, tuple)) or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in value
            ):
                raise RecipeError(f"{key} must be a list of integers, got {value!r}")
            for v in value:
                _check_range(key, v)
            values[name] = tuple(value)
        else:
            values[name] = _scalar(key, value, type(default))
    return cls(**values)


def _scalar(key: str, value: Any, kind: type) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise RecipeError(f"{key} must be {kind.__name__}, got {value!r}")
    if kind in (int, float):
        _check_range(key, value)
    return value


def recipe_from_dict(raw: Mapping[str, Any]) -> Recipe:
    """Validate a nested dict and return the ``Recipe`` it describes."""
    recipe = _convert(Recipe, raw, "")
    layers = len(recipe.model.conv) + len(recipe.model.hidden) + 1
    if layers > MAX_LAYERS:
        raise RecipeError(f"model: {layers} layers (conv, hidden and output) exceed the limit of {MAX_LAYERS}")
    if not DEVICE_PATTERN.fullmatch(recipe.train.device):
        raise RecipeError(f"train.device = {recipe.train.device!r} is not a torch device this can train on "
                          "(cpu, cuda or cuda:N)")
    if recipe.data.frames not in FRAMES:
        raise RecipeError(f"data.frames = {recipe.data.frames!r} is not one of: {', '.join(FRAMES)}")
    prune = recipe.prune
    for key, objective in (("target_cores", "cores"), ("target_time", "time")):
        if getattr(prune, key) is not None and prune.objective != objective:
            raise RecipeError(f"prune.{key} bounds the {objective} objective: set prune.objective = {objective} "
                              f"(it is {prune.objective!r})")
    rewind = recipe.prune.rewind_epoch
    if rewind is not None and rewind > recipe.train.epochs:
        raise RecipeError(f"prune.rewind_epoch = {rewind} is after the last epoch (train.epochs = {recipe.train.epochs})")
    return recipe


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a mapping holding one key twice (YAML
    itself lets the last one win silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"key {key!r} appears twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_recipe(path: str | Path | None = None) -> Recipe:
    """Read and validate a recipe YAML (``models/digits_mlp.yaml`` when None).

    Raises ``RecipeError`` with the file name for a missing or unreadable
    file, one that is not a regular file (a FIFO would block), not UTF-8,
    not YAML, empty, holds a key twice, or is invalid.
    """
    path = Path(path) if path is not None else DEFAULT_RECIPE
    try:
        check_input(path, "recipe")
        text = path.read_bytes().decode("utf-8")
    except PathError as err:
        raise RecipeError(str(err)) from err
    except OSError as err:
        raise RecipeError(f"{path}: cannot read recipe: {err.strerror}") from err
    except UnicodeDecodeError as err:
        raise RecipeError(f"{path}: not a UTF-8 text file (byte {err.start} is not UTF-8)") from err
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(err, "problem", None) or " ".join(str(err).split())
        raise RecipeError(f"{path}: not valid YAML: {problem}{where}") from err
    if raw is None:
        raise RecipeError(f"{path}: the recipe is empty; give at least one key (every key has a default: "
                          f"see {DEFAULT_RECIPE.name})")
    try:
        return recipe_from_dict(raw)
    except RecipeError as err:
        raise RecipeError(f"{path}: {err}") from err
