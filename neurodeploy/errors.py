"""The exceptions that mean bad input or a refused request, reported by the CLI as one line."""
from __future__ import annotations

import sys

# Where each of the package's user errors is defined: (module, class). Bad input or a
# refused request, which the command line reports as one line (exit code 2).
USER_ERROR_CLASSES: tuple[tuple[str, str], ...] = (
    ("neurodeploy.recipe", "RecipeError"), ("neurodeploy.netx.keys", "NetxError"),
    ("neurodeploy.analyze.perturb", "AnalysisError"), ("neurodeploy.data.events", "DatasetError"),
    ("neurodeploy.simulate.inputs", "InputError"), ("neurodeploy.train.checkpoint", "CheckpointError"),
    ("neurodeploy.sweep.run", "SweepError"), ("neurodeploy.export.onnx_graph", "OnnxExportError"),
    ("neurodeploy.hardware.profile", "ProfileError"), ("neurodeploy.fileio", "PathError"),
    ("neurodeploy.limits", "LimitError"), ("neurodeploy.lock", "FolderBusyError"),
    ("neurodeploy.pipeline", "StageError"), ("neurodeploy.data.digits", "SplitError"),
    ("neurodeploy.prune.selection", "EmptiedLayerError"), ("neurodeploy.compare.networks", "NetworkMismatchError"),
    ("neurodeploy.registry", "UnknownNameError"), ("neurodeploy.train.device", "DeviceError"),
    ("neurodeploy.sweep.cluster", "ClusterError"),
)


def loaded(classes: tuple[tuple[str, str], ...]) -> tuple[type[BaseException], ...]:
    """The classes of ``classes`` (module, name) whose module is loaded. An exception of
    a class whose module was never imported cannot have been raised, so matching an
    error against these is matching it against all of them, without importing a
    module (and torch or Lava with it) that the command did not need."""
    return tuple(getattr(sys.modules[module], name) for module, name in classes if module in sys.modules)


def user_errors() -> tuple[type[BaseException], ...]:
    """The user errors that can have been raised so far (``loaded``), and ``OSError`` and
    ``MemoryError``."""
    return (*loaded(USER_ERROR_CLASSES), OSError, MemoryError)


def describe(error: BaseException, memory_option: bool = True) -> str:
    """``error`` as one line: the message of our own errors; for an ``OSError`` the file
    and what the system said (a full disk, a read-only folder); for a ``MemoryError``
    what to do (``memory_option``: the command takes ``--max-memory``)."""
    if isinstance(error, MemoryError):
        if memory_option:
            return ("out of memory (lower --max-memory below this machine's free memory to be refused before "
                    "work starts)")
        return "out of memory (free memory on this machine, or give the command smaller inputs)"
    if isinstance(error, OSError) and error.strerror:
        where = f"{error.filename}: " if error.filename else ""
        return f"{where}{error.strerror}"
    return " ".join(str(error).split()) or type(error).__name__
