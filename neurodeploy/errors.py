"""The exceptions that mean bad input, reported by the CLI as one line."""
from __future__ import annotations

from neurodeploy.analyze import AnalysisError
from neurodeploy.data.events import DatasetError
from neurodeploy.export.onnx_graph import OnnxExportError
from neurodeploy.hardware.profile import ProfileError
from neurodeploy.network.netx import NetxError
from neurodeploy.recipe import RecipeError
from neurodeploy.simulate.inputs import InputError
from neurodeploy.sweep.run import SweepError
from neurodeploy.train.checkpoint import CheckpointError

USER_ERRORS: tuple[type[Exception], ...] = (
    RecipeError, NetxError, AnalysisError, DatasetError, InputError, CheckpointError, SweepError,
    OnnxExportError, ProfileError, FileNotFoundError,
)
