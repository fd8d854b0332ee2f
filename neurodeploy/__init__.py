"""neurodeploy: take a spiking neural network to a Loihi-class chip and check it there.

The Python API (docs/api.md) is ``neurodeploy.read``, ``inspect``, ``verify``,
``compare_networks``, ``export_network`` and ``run``, the functions of
``neurodeploy.api`` (where ``compare_networks`` and ``export_network`` are
``api.compare`` and ``api.export``, named after their commands). They load on
first use (PEP 562 ``__getattr__``), so that importing any part of the package
(every start of the command line does) costs nothing more.

``neurodeploy.compare`` and ``neurodeploy.export`` are the subpackages of those
stages, one name for one thing: ``import neurodeploy.compare.caveats`` and
``from neurodeploy.export import formats`` work as for any package.
"""
from __future__ import annotations

from typing import Any

# the name here -> the function of neurodeploy.api
API = {"read": "read", "inspect": "inspect", "verify": "verify", "compare_networks": "compare",
       "export_network": "export", "run": "run"}
__all__ = list(API)


def __getattr__(name: str) -> Any:
    """``neurodeploy.api``'s function ``API[name]``, imported when first asked for."""
    if name not in API:
        raise AttributeError(f"module 'neurodeploy' has no attribute {name!r}")
    from neurodeploy import api

    return getattr(api, API[name])


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
