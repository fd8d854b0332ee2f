"""neurodeploy: take a spiking neural network to a Loihi-class chip and check it there.

The Python API (docs/api.md) is ``neurodeploy.read``, ``inspect``, ``verify``,
``compare``, ``export`` and ``run``, the functions of ``neurodeploy.api``. They
load on first use, so that importing any part of the package (every start of
the command line does) costs nothing more.

``compare`` and ``export`` are also the names of subpackages, which the import
system binds as attributes of this package when it loads them; a module
``__getattr__`` (PEP 562) is then never asked again. So the names are
properties of this module's class instead: they always give the functions,
and the subpackages stay importable by their full names
(``from neurodeploy.compare import networks``).
"""
from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

__all__ = ["compare", "export", "inspect", "read", "run", "verify"]


def _api_function(name: str) -> property:
    """The attribute ``name``: ``neurodeploy.api``'s function, imported when first asked for."""

    def get(package: ModuleType) -> Any:
        from neurodeploy import api

        return getattr(api, name)

    def bind(package: ModuleType, value: Any) -> None:
        """The import system binding subpackage ``name`` here: it stays in ``sys.modules``
        only. Anything else is refused: the function is ``neurodeploy.api``'s to replace."""
        if not isinstance(value, ModuleType):
            raise AttributeError(f"neurodeploy.{name} is neurodeploy.api.{name}: set that one")

    return property(get, bind, doc=f"``neurodeploy.api.{name}``")


class _Package(ModuleType):
    """This package's module: the API's names are properties (``_api_function``)."""

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *__all__})


for _name in __all__:
    setattr(_Package, _name, _api_function(_name))
del _name
sys.modules[__name__].__class__ = _Package
