"""The exceptions that mean bad input, reported by the CLI as one line."""
from __future__ import annotations

from neurodeploy.network.netx import NetxError
from neurodeploy.recipe import RecipeError
from neurodeploy.simulate.inputs import InputError
from neurodeploy.train.checkpoint import CheckpointError

USER_ERRORS: tuple[type[Exception], ...] = (
    RecipeError, NetxError, InputError, CheckpointError, FileNotFoundError,
)
