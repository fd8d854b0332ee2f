"""The input set of ``verify`` and ``compare A.net B.net``, from the options that name it.

One of: a spike file, an event file, bias images or random spikes
(``InputOptions``, made by ``make_stimulus``), or a recipe's encoded test
set with its labels (``recipe_test_set``). An option that does not fit the
others, the network or the data is an ``InputOptionError`` naming it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from neurodeploy.limits import Limits
from neurodeploy.netx import Network, network_warnings, read_netx
from neurodeploy.netx.probe import probe_hdf5
from neurodeploy.simulate import inputs
from neurodeploy.simulate.inputs import InputError
from neurodeploy.simulate.stimulus import Stimulus


class InputOptionError(InputError):
    """An option that does not fit the others, the network or the data (a usage error),
    named as on the command line (``--steps`` for the API's ``steps=``). ``where``: the
    file or network the message is about, or None when it is about the options alone."""

    def __init__(self, message: str, where: Path | None = None) -> None:
        super().__init__(message)
        self.where = where


def check_at_least_one(option: str, value: int | None) -> None:
    """``InputOptionError`` unless ``value`` of ``option`` (its flag, ``--steps``) is None
    (not given) or at least 1."""
    if value is not None and value < 1:
        raise InputOptionError(f"{option} must be at least 1, got {value}")


INPUTS = ("spikes", "events", "bias", "random_rate")


@dataclass(frozen=True)
class InputOptions:
    """The input options given: at most one of ``spikes`` (.npy), ``events`` (.npy),
    ``bias`` (.npy) or ``random_rate``, and ``steps`` (T), ``samples`` (N) and ``seed``
    (of ``random_rate``), each None when not given. Checked when made
    (``InputOptionError``): two inputs, a count below 1, a negative seed or one
    without ``random_rate``, and ``samples`` other than 1 with ``events`` (one sample)."""

    spikes: Path | None = None
    events: Path | None = None
    bias: Path | None = None
    random_rate: float | None = None
    steps: int | None = None
    samples: int | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("spikes", "events", "bias"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, Path(getattr(self, name)))
        given = [f"--{name.replace('_', '-')}" for name in INPUTS if getattr(self, name) is not None]
        if len(given) > 1:
            raise InputOptionError(f"{' and '.join(given)}: give one input only")
        check_at_least_one("--steps", self.steps)
        check_at_least_one("--samples", self.samples)
        if self.seed is not None and self.random_rate is None:
            raise InputOptionError("--seed applies to --random-rate only")
        if self.seed is not None and self.seed < 0:
            raise InputOptionError(f"--seed must be at least 0, got {self.seed}")
        if self.events is not None and self.samples is not None and self.samples != 1:
            raise InputOptionError(f"--events holds one sample; --samples {self.samples} does not apply")

    @property
    def given(self) -> bool:
        """Whether one of the four inputs is given."""
        return any(getattr(self, name) is not None for name in INPUTS)


def check_input_shape(network: Network, input_shape: tuple[int, int, int] | None) -> None:
    """An ``input_shape`` is for a conv layer 0 only (elsewhere the file says the input)."""
    if input_shape is not None and not network.layers[0].needs_input_shape:
        raise InputOptionError(f"--input-shape is only for a network whose layer 0 is conv "
                               f"(layer 0 here is {network.kinds[0]}, whose input the file gives)", network.path)


def make_stimulus(options: InputOptions, network: Network, limits: Limits,
                  check: Callable[[int, int], None], warn: Callable[[str], None]) -> Stimulus:
    """The input ``options`` ask for, as a ``Stimulus`` for ``network``. ``check(samples,
    steps)`` checks the command's memory for that input; inputs whose size the options
    give are checked before they are made. ``warn`` gets a line for each note on an
    event file."""
    size = int(np.prod(network.input_shape))
    if options.bias is not None:
        if not network.starts_with_input:
            raise InputOptionError("--bias needs a network whose layer 0 is an input layer", network.path)
        if options.steps is None:
            raise InputOptionError("--bias needs --steps")
        bias = inputs.load_bias(options.bias, network.input_shape, limits)[: options.samples]
        check(len(bias), options.steps)
        return Stimulus(spikes=None, bias=bias, steps=options.steps)
    if options.random_rate is not None:
        if options.steps is None:
            raise InputOptionError("--random-rate needs --steps")
        samples = options.samples or 1
        check(samples, options.steps)
        spikes = inputs.random_spikes(samples, size, options.steps, options.random_rate, options.seed or 0, limits)
    elif options.events is not None:
        notes: list[str] = []
        spikes = inputs.load_events(options.events, size, options.steps, limits, notes)
        for line in notes:
            warn(line)
    else:
        spikes = inputs.load_spikes(options.spikes, network.input_shape, network.starts_with_input,
                                    limits)[: options.samples]
        if options.steps is not None:
            spikes = cycled(spikes, options.steps, options.spikes, limits, warn)
    return Stimulus(spikes=spikes, bias=None, steps=spikes.shape[-1])


def network_and_stimulus(path: str | Path, options: InputOptions, num_layers: int | None,
                         input_shape: tuple[int, int, int] | None, limits: Limits,
                         check: Callable[[Network, int, int], None],
                         warn: Callable[[str], None]) -> tuple[Network, Stimulus]:
    """The NetX file ``path`` (its first ``num_layers`` groups; probed in a child process
    first) and the input ``options`` name for it, as ``verify`` and ``deploy`` read them.
    ``warn`` gets a line for what netx does to the file and for notes on the input;
    ``check(network, samples, steps)`` checks the command's memory before the input is
    made. ``InputOptionError`` when ``options`` name no input or an option is out of range."""
    check_at_least_one("--num-layers", num_layers)
    if not options.given:
        raise InputOptionError("give an input (--spikes, --events, --bias or --random-rate)")
    probe_hdf5(path, limits)
    network = read_netx(path, num_layers, input_shape, limits=limits)
    check_input_shape(network, input_shape)
    for line in network_warnings(network):
        warn(line)
    return network, make_stimulus(options, network, limits, lambda n, t: check(network, n, t), warn)


def cycled(spikes: np.ndarray, steps: int, path: Path, limits: Limits,
           warn: Callable[[str], None]) -> np.ndarray:
    """``spikes`` [N, n, T] cut to ``steps``, or, for more steps than the file has, its
    steps repeated in order (step t is the file's step t mod T), as Lava's
    ``io.source.RingBuffer`` repeats its data; ``warn`` says so. The repeated array is
    checked against ``limits`` before it is made."""
    have = spikes.shape[-1]
    if steps <= have:
        return spikes[..., :steps]
    limits.check_memory(spikes[..., :1].nbytes * steps, f"{path} repeated to {steps} steps")
    warn(f"{path}: its {have} step(s) repeated to {steps} steps, as Lava's io.source.RingBuffer repeats its data")
    return np.take(spikes, np.arange(steps) % have, axis=-1)


def recipe_test_set(recipe_path: Path, network: Network, samples: int | None,
                    limits: Limits) -> tuple[Stimulus, np.ndarray]:
    """The first ``samples`` (default all) of the test set of the recipe at
    ``recipe_path``, encoded as it says, in ``network``'s input order, and their labels."""
    from neurodeploy.data.dataset import dataset_bytes, load_dataset
    from neurodeploy.recipe import load_recipe

    recipe = load_recipe(recipe_path)
    limits.check_memory(dataset_bytes(recipe.data), f"{recipe_path}'s dataset")
    data = load_dataset(recipe.data, recipe.seed)
    if samples is not None and samples > len(data.x_test):
        raise InputOptionError(f"--samples {samples} exceeds the {len(data.x_test)} test samples of {recipe_path}")
    count = samples or len(data.x_test)
    return Stimulus(network.to_lava_order(data.x_test[:count]), None, recipe.data.steps), data.y_test[:count]
