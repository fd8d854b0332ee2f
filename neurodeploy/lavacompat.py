"""The one place where Lava and lava-dl are imported.

lava-nc 0.10.0 and lava-dl 0.6.0 declare Python <3.11 and break on 3.11 in
exactly two places (see ``shared/docs/lava-notes.md``):

1. ``lava/magma/compiler/var_model.py`` gives dataclass fields a default that
   is an instance of another dataclass (``x: ByteEncoder = ByteEncoder()``).
   Python 3.11 rejects such unhashable defaults. We load that one module from
   its own source with each such default rewritten to
   ``field(default_factory=ByteEncoder)``, which is what 3.10 would have done
   without sharing one instance between all objects.
2. ``lava.lib.dl.slayer`` imports its ``object_detection`` subpackage, which
   needs torchvision and OpenCV. Nothing this project uses needs it. When
   either is missing we register a placeholder for that subpackage only; using
   it raises an ``ImportError`` that says what is missing.

Nothing under site-packages is edited and no other import error is caught:
any other failure propagates unchanged. Every other module of neurodeploy
imports Lava names from here, so the hooks are always installed first.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import re
import sys
import types
from typing import Sequence

VAR_MODEL = "lava.magma.compiler.var_model"
OBJECT_DETECTION = "lava.lib.dl.slayer.object_detection"
OBJECT_DETECTION_NEEDS = ("torchvision", "cv2")

_DATACLASS_DEFAULT = re.compile(
    r"^(?P<indent>\s+)(?P<name>\w+): (?P<cls>ByteEncoder) = (?P=cls)\(\)$",
    re.MULTILINE,
)


def patch_var_model_source(source: str) -> str:
    """Rewrite ``name: ByteEncoder = ByteEncoder()`` fields to default factories.

    Raises ``ImportError`` when the source has no such field, so that a Lava
    release which changed this file fails loudly instead of half-patched.
    """
    patched, count = _DATACLASS_DEFAULT.subn(
        r"\g<indent>\g<name>: \g<cls> = field(default_factory=\g<cls>)", source
    )
    if count == 0:
        raise ImportError(
            f"{VAR_MODEL}: no 'ByteEncoder = ByteEncoder()' field found to patch; "
            "this Lava release differs from lava-nc 0.10.0"
        )
    return patched.replace(
        "from dataclasses import dataclass, InitVar",
        "from dataclasses import dataclass, InitVar, field",
        1,
    )


class _PatchedSourceLoader(importlib.abc.Loader):
    """Executes a module from its file after ``patch_var_model_source``."""

    def __init__(self, origin: str) -> None:
        self.origin = origin

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        with open(self.origin, encoding="utf-8") as handle:
            source = patch_var_model_source(handle.read())
        exec(compile(source, self.origin, "exec"), module.__dict__)


class _ObjectDetectionPlaceholder(types.ModuleType):
    """Stands in for slayer.object_detection when its dependencies are absent."""

    def __init__(self, name: str, missing: Sequence[str]) -> None:
        super().__init__(name)
        self.__missing = tuple(missing)

    def __getattr__(self, attr: str) -> object:
        if attr.startswith("__"):
            raise AttributeError(attr)
        raise ImportError(
            f"{self.__name__} needs {', '.join(self.__missing)}, which "
            "neurodeploy does not install (no CPU build of torchvision exists)"
        )


class _PlaceholderLoader(importlib.abc.Loader):
    def __init__(self, missing: Sequence[str]) -> None:
        self.missing = missing

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return _ObjectDetectionPlaceholder(spec.name, self.missing)

    def exec_module(self, module: types.ModuleType) -> None:
        return None


class LavaCompatFinder(importlib.abc.MetaPathFinder):
    """Meta-path finder that handles exactly the two modules named above."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname == VAR_MODEL:
            spec = importlib.machinery.PathFinder.find_spec(fullname, path)
            if spec is None or spec.origin is None:
                return None
            return importlib.util.spec_from_file_location(
                fullname, spec.origin, loader=_PatchedSourceLoader(spec.origin)
            )
        if fullname == OBJECT_DETECTION:
            missing = [m for m in OBJECT_DETECTION_NEEDS if importlib.util.find_spec(m) is None]
            if not missing:
                return None
            return importlib.machinery.ModuleSpec(fullname, _PlaceholderLoader(missing))
        return None


def install() -> None:
    """Put ``LavaCompatFinder`` first on ``sys.meta_path`` (idempotent)."""
    if not any(isinstance(f, LavaCompatFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, LavaCompatFinder())


install()

# Every Lava and lava-dl name the project uses, imported after the hooks.
import lava.lib.dl.netx as netx  # noqa: E402
import lava.lib.dl.slayer as slayer  # noqa: E402
import lava.proc.conv.utils as conv_utils  # noqa: E402
from lava.magma.core.decorator import implements, requires, tag  # noqa: E402
from lava.magma.core.model.py.model import PyLoihiProcessModel  # noqa: E402
from lava.magma.core.model.py.ports import PyInPort  # noqa: E402
from lava.magma.core.model.py.type import LavaPyType  # noqa: E402
from lava.magma.core.process.ports.ports import InPort  # noqa: E402
from lava.magma.core.process.process import AbstractProcess  # noqa: E402
from lava.magma.core.process.variable import Var  # noqa: E402
from lava.magma.core.resources import CPU  # noqa: E402
from lava.magma.core.run_conditions import RunSteps  # noqa: E402
from lava.magma.core.run_configs import Loihi2SimCfg  # noqa: E402
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol  # noqa: E402
from lava.proc.io.source import RingBuffer as SourceRingBuffer  # noqa: E402
from lava.utils import weightutils  # noqa: E402

# lava-dl's own tests do this before running conv layers: torch inside Lava's
# worker processes "sometimes causes multiprocessing error"; SciPy is used.
conv_utils.TORCH_IS_AVAILABLE = False

__all__ = [
    "AbstractProcess",
    "CPU",
    "InPort",
    "LavaPyType",
    "Loihi2SimCfg",
    "LoihiProtocol",
    "PyInPort",
    "PyLoihiProcessModel",
    "Var",
    "implements",
    "requires",
    "tag",
    "RunSteps",
    "SourceRingBuffer",
    "install",
    "netx",
    "patch_var_model_source",
    "slayer",
    "weightutils",
]
