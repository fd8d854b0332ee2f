"""The exceptions that mean bad input or a refused request, reported by the CLI as one line."""
from __future__ import annotations

from neurodeploy.analyze import AnalysisError
from neurodeploy.compare.networks import NetworkMismatchError
from neurodeploy.data.digits import SplitError
from neurodeploy.data.events import DatasetError
from neurodeploy.export.onnx_graph import OnnxExportError
from neurodeploy.fileio import PathError
from neurodeploy.hardware.profile import ProfileError
from neurodeploy.limits import LimitError
from neurodeploy.lock import FolderBusyError
from neurodeploy.netx import NetxError
from neurodeploy.pipeline import StageError
from neurodeploy.prune.selection import EmptiedLayerError
from neurodeploy.recipe import RecipeError
from neurodeploy.registry import UnknownNameError
from neurodeploy.simulate.inputs import InputError
from neurodeploy.sweep.cluster import ClusterError
from neurodeploy.sweep.run import SweepError
from neurodeploy.train.checkpoint import CheckpointError
from neurodeploy.train.device import DeviceError

USER_ERRORS: tuple[type[BaseException], ...] = (
    RecipeError, NetxError, AnalysisError, DatasetError, InputError, CheckpointError, SweepError,
    OnnxExportError, ProfileError, PathError, LimitError, FolderBusyError, StageError, SplitError,
    EmptiedLayerError, NetworkMismatchError, UnknownNameError, DeviceError, ClusterError,
    OSError, MemoryError,
)


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
