"""The Python API's arguments, checked by type and range before any work.

One table, ``KINDS``, says what each argument name of ``neurodeploy.api``
takes; ``check_arguments`` checks a call's arguments against it and returns
them normalized (paths as ``Path``, numpy integers as ``int``, shapes as
tuples), or raises ``ArgumentError`` naming the function and the argument
(``verify(steps='4'): expected an integer ...``); a value of the right type
but out of range is named by its command-line flag, as the package's other
errors name options (``--steps must be at least 1, got 0``), since the
command line passes its options through the same checks. A ``bool`` is not a number (``steps=True`` is
refused), a numpy integer is an integer, a path is a ``str`` or an
``os.PathLike`` of one.
"""
from __future__ import annotations

import numbers
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable

import numpy as np

from neurodeploy.limits import Limits
from neurodeploy.simulate.input_options import InputOptionError


class ArgumentError(InputOptionError):
    """An argument of an API function of the wrong type or out of range; the message
    names the function and the argument (``verify(steps='4')``)."""


class _Refused(Exception):
    """Raised by a kind's check: the value is not of that type (no message), or out of
    range (the message says the range)."""


def _integer(value: Any, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise _Refused
    if value < minimum:
        raise _Refused(f"FLAG must be at least {minimum}, got VALUE")
    return int(value)


def _real(value: Any, low: float, high: float) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise _Refused
    if not low <= value <= high:  # NaN fails too
        raise _Refused(f"FLAG: must be in [{low:g}, {high:g}], got VALUE")
    return float(value)


def _path(value: Any) -> Path:
    text = os.fspath(value) if isinstance(value, (str, os.PathLike)) else None
    if not isinstance(text, str):
        raise _Refused
    if text == "" or "\0" in text:
        raise _Refused("FLAG: a path must name a file (not empty, no NUL character)")
    return Path(text)


def _shape(value: Any) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 3:
        raise _Refused
    if any(isinstance(size, (bool, np.bool_)) or not isinstance(size, (numbers.Integral, np.integer))
           for size in value):
        raise _Refused
    if min(value) < 1:
        raise _Refused("FLAG must be three sizes of at least 1, got VALUE")
    return tuple(int(size) for size in value)


def _flag(value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise _Refused
    return bool(value)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise _Refused
    return value


def _callable(value: Any) -> Callable:
    if not callable(value):
        raise _Refused
    return value


def _limits(value: Any) -> Limits:
    if not isinstance(value, Limits):
        raise _Refused
    for item in fields(Limits):
        try:
            _integer(getattr(value, item.name), 1)
        except _Refused as refused:
            raise _Refused(f"FLAG.{item.name} must be an integer of at least 1 (--max-"
                           f"{item.name.replace('_', '-')}), got {getattr(value, item.name)!r}") from refused
    return value


def _recipe(value: Any) -> Any:
    from neurodeploy.recipe import Recipe

    return value if isinstance(value, Recipe) else _path(value)


@dataclass(frozen=True)
class Kind:
    """What an argument takes: ``check`` returns the value normalized or raises
    ``_Refused``; ``expected``: the type in words; ``optional``: None is allowed."""

    check: Callable[[Any], Any]
    expected: str
    optional: bool = True


PATH = Kind(_path, "a path (str or os.PathLike)", optional=False)
OPTIONAL_PATH = Kind(_path, "a path (str or os.PathLike) or None")
COUNT = Kind(lambda value: _integer(value, 1), "an integer (int or numpy integer, not bool) or None")
RECIPE = Kind(_recipe, "a recipe path (str or os.PathLike) or a neurodeploy.recipe.Recipe", optional=False)
KINDS: dict[str, Kind] = {
    "path": PATH, "a": PATH, "b": PATH, "source": PATH, "out": OPTIONAL_PATH,
    "spikes": OPTIONAL_PATH, "events": OPTIONAL_PATH, "bias": OPTIONAL_PATH, "recipe": OPTIONAL_PATH,
    "random_rate": Kind(lambda value: _real(value, 0.0, 1.0), "a number (not bool) or None"),
    "steps": COUNT, "samples": COUNT, "num_layers": COUNT, "batch_size": COUNT, "reset_interval": COUNT,
    "reference": OPTIONAL_PATH,
    "seed": Kind(lambda value: _integer(value, 0), "an integer (int or numpy integer, not bool) or None"),
    "input_shape": Kind(_shape, "(C, H, W): a sequence of three integers, or None"),
    "sparse": Kind(_flag, "True or False", optional=False),
    "restart": Kind(_flag, "True or False", optional=False),
    "layers": Kind(_text, "a str (all or out)", optional=False),
    "format": Kind(_text, "a str (netx, onnx or nir)", optional=False),
    "limits": Kind(_limits, "a neurodeploy.limits.Limits or None"),
    "warn": Kind(_callable, "a callable taking a line", optional=False),
    "progress": Kind(_callable, "a callable taking a line", optional=False),
}


# The arguments that are options of the command line, named by their flag when out of range.
FLAGS = ("spikes", "events", "bias", "recipe", "random_rate", "steps", "samples", "seed", "num_layers",
         "batch_size", "input_shape", "reset_interval", "reference")


def _shown(value: Any) -> str:
    """``value``'s repr, cut to 60 characters."""
    text = " ".join(repr(value).split())
    return text if len(text) <= 60 else f"{text[:57]}..."


def check_arguments(function: str, arguments: dict[str, Any], kinds: dict[str, Kind] | None = None
                    ) -> dict[str, Any]:
    """``arguments`` (name: value) of the API ``function``, each checked against its kind
    (``kinds``, else ``KINDS``, by name) and normalized; ``ArgumentError`` for the first
    that is not of its type (naming the function and argument) or is out of range
    (naming its flag)."""
    checked = {}
    for name, value in arguments.items():
        kind = (kinds or {}).get(name) or KINDS[name]
        if value is None and kind.optional:
            checked[name] = None
            continue
        try:
            checked[name] = kind.check(value)
        except _Refused as refused:
            flag = (f"--{name.replace('_', '-')}" if name in FLAGS else
                    name if name == "limits" else f"{function}({name}={_shown(value)})")
            if str(refused):  # out of range: named by its flag, as the command line names it
                raise ArgumentError(str(refused).replace("FLAG", flag, 1).replace("VALUE", _shown(value))) from None
            raise ArgumentError(f"{function}({name}={_shown(value)}): expected {kind.expected}, "
                                f"got {type(value).__name__}") from None
    return checked
