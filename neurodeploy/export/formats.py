"""Other formats of the exported networks: ONNX and NIR, made from the NetX files.

``neurodeploy export --format F`` writes ``dense.net`` and ``pruned.net``
as always, then converts each file to ``DIR/{dense,pruned}.{F}`` (one per
``variants.VARIANTS``), so every format carries exactly the network written
to NetX. ``neurodeploy export NET.net --format F --out FILE`` converts any
NetX file (``convert_file``). The names of the formats (``FORMATS``) load
nothing else: the command line lists them in its help, which imports no
torch, HDF5 or Lava (the readers are imported where a conversion runs).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from neurodeploy.limits import Limits
from neurodeploy.variants import VARIANTS

if TYPE_CHECKING:
    from neurodeploy.netx import Network


def _nir(network: Network, path: Path) -> Path:
    from neurodeploy.export.nir_graph import export_nir

    return export_nir(network, path)


def _onnx(network: Network, path: Path) -> Path:
    from neurodeploy.export.onnx_graph import export_onnx

    return export_onnx(network, path)


CONVERTERS: dict[str, tuple[str, Callable[[Network, Path], Path]]] = {
    "onnx": (".onnx", _onnx),
    "nir": (".nir", _nir),
}
# measured on a conv layer: about 55 (ONNX) and 170 (NIR) bytes per neuron, with room
CONVERT_NEURON_BYTES = 256
# What ``export`` writes: the NetX files only, or also one of the converted formats.
FORMATS: tuple[str, ...] = ("netx", *CONVERTERS)


def convert_stage(out_dir: Path, fmt: str) -> list[Path]:
    """Convert ``DIR/dense.net`` and ``DIR/pruned.net`` to format ``fmt``; returns the paths."""
    from neurodeploy.netx import read_netx
    from neurodeploy.train.checkpoint import load_checkpoint

    suffix, convert = CONVERTERS[fmt]
    paths = []
    for variant in VARIANTS.values():
        input_shape = load_checkpoint(out_dir / variant.checkpoint).input_shape
        network = read_netx(out_dir / variant.network, input_shape=input_shape)
        paths.append(convert(network, out_dir / f"{variant.name}{suffix}"))
    return paths


def convert_file(net: Path, fmt: str, out: Path, input_shape: Sequence[int] | None = None,
                 limits: Limits | None = None) -> Path:
    """Convert the NetX file ``net`` (a user's: read through ``probe_hdf5`` first, with
    ``limits``) to format ``fmt`` at ``out``; returns ``out``.

    input_shape: (C, H, W) of a network whose layer 0 is a conv (the file does
    not hold it). A layer the format cannot carry is an error naming the file
    and ``layer/i`` (``OnnxExportError``, ``NirExportError``); nothing is written.
    """
    from neurodeploy.netx import read_netx
    from neurodeploy.netx.probe import probe_hdf5

    probe_hdf5(net, limits)
    network = read_netx(net, input_shape=None if input_shape is None else tuple(input_shape), limits=limits)
    neurons = sum(network.sizes)
    (limits or Limits()).check_memory(CONVERT_NEURON_BYTES * neurons, f"converting {net} ({neurons} neurons) to {fmt}")
    return CONVERTERS[fmt][1](network, out)
