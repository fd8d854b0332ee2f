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
imports Lava names from here, so the hooks are always installed first. The
names are imported on first use: ``from neurodeploy.lavacompat import
slayer`` loads lava-dl's SLAYER and none of Lava's runtime.
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

# Every Lava and lava-dl name the project uses, by module, imported on first
# use (PEP 562) after the hooks: training needs lava-dl's SLAYER only, and
# should not load Lava's runtime (``lava.magma``) with it.
_NAMES = {
    "netx": ("lava.lib.dl.netx", None),
    "slayer": ("lava.lib.dl.slayer", None),
    "weightutils": ("lava.utils.weightutils", None),
    "implements": ("lava.magma.core.decorator", "implements"),
    "requires": ("lava.magma.core.decorator", "requires"),
    "tag": ("lava.magma.core.decorator", "tag"),
    "PyLoihiProcessModel": ("lava.magma.core.model.py.model", "PyLoihiProcessModel"),
    "PyInPort": ("lava.magma.core.model.py.ports", "PyInPort"),
    "LavaPyType": ("lava.magma.core.model.py.type", "LavaPyType"),
    "InPort": ("lava.magma.core.process.ports.ports", "InPort"),
    "AbstractProcess": ("lava.magma.core.process.process", "AbstractProcess"),
    "Var": ("lava.magma.core.process.variable", "Var"),
    "CPU": ("lava.magma.core.resources", "CPU"),
    "RunSteps": ("lava.magma.core.run_conditions", "RunSteps"),
    "Loihi2SimCfg": ("lava.magma.core.run_configs", "Loihi2SimCfg"),
    "LoihiProtocol": ("lava.magma.core.sync.protocols.loihi_protocol", "LoihiProtocol"),
    "SourceRingBuffer": ("lava.proc.io.source", "RingBuffer"),
    "Monitor": ("lava.proc.monitor.process", "Monitor"),
}


def __getattr__(name: str) -> object:
    """The Lava or lava-dl object ``name`` (``_NAMES``), imported on first use."""
    if name not in _NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module_name, attribute = _NAMES[name]
    module = importlib.import_module(module_name)
    if name != "slayer":  # everything else runs in, or with, Lava's runtime
        _prepare_lava_runtime()
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def _prepare_lava_runtime() -> None:
    """lava-dl's own tests do this before running conv layers: torch inside Lava's
    worker processes "sometimes causes multiprocessing error"; SciPy is used."""
    import lava.proc.conv.utils as conv_utils

    conv_utils.TORCH_IS_AVAILABLE = False


__all__ = ["install", "patch_var_model_source", *_NAMES]
