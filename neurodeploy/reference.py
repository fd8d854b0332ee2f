"""Where lava-dl's reference networks are: the fixtures the tests and benchmarks check against.

The fixtures live outside the repository, in a folder ``shared/fixtures``
beside the checkout (or beside one of its parent folders); the environment
variable ``NEURODEPLOY_FIXTURES`` names another place. lava-dl's wheel ships
its own ground truth (``tests/lava/lib/dl/netx/gts`` in site-packages).
"""
from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path

ENV = "NEURODEPLOY_FIXTURES"


def fixtures_dir() -> Path:
    """The fixtures folder; ``FileNotFoundError`` saying where it looked when there is none."""
    if ENV in os.environ:
        path = Path(os.environ[ENV])
        if not path.is_dir():
            raise FileNotFoundError(f"{ENV}={path} is not a folder")
        return path
    here = Path(__file__).resolve().parent
    candidates = [parent / "shared" / "fixtures" for parent in here.parents]
    for path in candidates:
        if path.is_dir():
            return path
    raise FileNotFoundError(
        f"no shared/fixtures folder above {here}; set {ENV} to the folder of lava-dl's reference networks"
    )


def lava_dl_ground_truth() -> Path | None:
    """lava-dl's ``gts`` folder (pilotnet_lif, pilotnet_sdnn, ntidigits, ...), found through
    the installed distribution's files without importing it, or None when absent."""
    try:
        folder = Path(importlib.metadata.distribution("lava-dl").locate_file("tests/lava/lib/dl/netx/gts"))
    except importlib.metadata.PackageNotFoundError:
        return None
    return folder if folder.is_dir() else None
