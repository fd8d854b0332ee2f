"""The Python API: read, inspect, verify and compare NetX networks, export them, run a recipe.

Each function returns a frozen dataclass (or, for ``read``, the ``Network``
records) and prints nothing; the command line (``neurodeploy.cli``) calls
these same functions and prints from what they return. They sit on top of
every stage, as the command line does; docs/api.md documents them with an
example. Each imports the stages it uses when called, so that a command
loads no more than it needs.

Errors are the package's own (``errors.USER_ERROR_CLASSES``; docs/api.md says which
comes when), each with a one-line message naming the file, layer and key, or
the option, by its command-line flag (``--steps`` for ``steps=``).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

if TYPE_CHECKING:
    from neurodeploy.compare.networks import Comparison
    from neurodeploy.compare.verification import Verification
    from neurodeploy.limits import Limits
    from neurodeploy.netx import Network
    from neurodeploy.recipe import Recipe
    from neurodeploy.report.inspect import Inspection
    from neurodeploy.report.stage import RunReport
    from neurodeploy.simulate.input_options import InputOptions

__all__ = ["Exported", "compare", "export", "inspect", "read", "run", "verify"]

Shape = Sequence[int]


def _input_options(given: dict) -> InputOptions:
    """The input options among the checked arguments ``given``."""
    from neurodeploy.simulate.input_options import InputOptions

    return InputOptions(**{item.name: given[item.name] for item in fields(InputOptions)})


def _warn(line: str) -> None:
    """A warning line (what netx does to a file, a note on the input) as a Python
    ``UserWarning``."""
    warnings.warn(line, UserWarning, stacklevel=4)  # a file's: at the line calling verify or compare


def read(path: str | Path, input_shape: Shape | None = None, num_layers: int | None = None,
         limits: Limits | None = None) -> Network:
    """The NetX network in ``path`` as records (``neurodeploy.netx.Network``).

    input_shape: (C, H, W) of the input of a network whose layer 0 is a conv
    (NetX files do not store it; inferred when that conv's stride is 1).
    num_layers: read only the first K layer groups (netx's ``num_layers``, for a
    file that ends in a layer netx cannot load). limits: the memory its datasets and
    layers may take (default ``Limits()``; ``LimitError`` beyond). ``NetxError`` naming
    the file, layer and key for a file that cannot be used.
    """
    from neurodeploy.arguments import check_arguments
    from neurodeploy.netx import read_netx
    from neurodeploy.netx.probe import probe_hdf5

    given = check_arguments("read", dict(path=path, input_shape=input_shape, num_layers=num_layers, limits=limits))
    probe_hdf5(given["path"], given["limits"])
    return read_netx(given["path"], given["num_layers"], given["input_shape"], limits=given["limits"])


def inspect(path: str | Path, input_shape: Shape | None = None, num_layers: int | None = None,
            limits: Limits | None = None) -> Inspection:
    """Layers, neuron parameters, weights, chip cores and warnings of the NetX file ``path``
    (``report.inspect.Inspection``; ``.to_dict()`` is ``neurodeploy inspect --json``).
    input_shape, num_layers, limits: as ``read``'s. Warnings do not raise: they are in the result."""
    from neurodeploy.arguments import check_arguments
    from neurodeploy.report.inspect import inspect_network

    given = check_arguments("inspect", dict(path=path, input_shape=input_shape, num_layers=num_layers,
                                            limits=limits))
    return inspect_network(given["path"], given["input_shape"], given["num_layers"], given["limits"])


def verify(path: str | Path, *, spikes: str | Path | None = None, events: str | Path | None = None,
           bias: str | Path | None = None, random_rate: float | None = None, steps: int | None = None,
           samples: int | None = None, seed: int | None = None, num_layers: int | None = None,
           input_shape: Shape | None = None, sparse: bool = False, layers: str = "all",
           batch_size: int | None = None, reset_interval: int | None = None, reference: str | Path | None = None,
           limits: Limits | None = None, warn: Callable[[str], None] = _warn) -> Verification:
    """The golden model against Lava ``fixed_pt`` on the NetX file ``path``
    (``compare.verify.Verification``; ``.to_dict()`` is ``neurodeploy verify --json``).

    The input, exactly one of: ``spikes`` (.npy, [neurons, T], [samples, neurons, T]
    or the first layer's Lava shape and T), ``events`` (.npy rows of x, channel, t in
    ms), ``bias`` (.npy image(s) for an input layer's bias) or ``random_rate``
    (Bernoulli spikes of that probability per step); steps: T (needed for bias and
    random_rate); samples: the first N (random_rate: make N; default 1); seed: of
    random_rate (default 0). sparse: Lava ``Sparse`` synapses for dense layers;
    layers: ``all`` compares every layer, ``out`` the last; batch_size: samples per
    stream (default all in one); reset_interval: netx's (default ``steps``, once per
    sample). reference: instead of running Lava, compare with a recording that
    ``neurodeploy deploy``'s script wrote (.npz) or a folder of per-layer arrays laid
    out as lava-dl's ground truth (``compare.recorded``); the result then names it
    (``against``) and holds the chip's figures beside the model's (``chip``). limits: memory and Lava processes allowed
    (default ``Limits()``). warn: called with a line for what netx does to the
    file and for notes on the input (default: a Python ``UserWarning``).
    """
    from neurodeploy.arguments import check_arguments
    from neurodeploy.compare.verify import verify_file

    given = check_arguments("verify", dict(
        path=path, spikes=spikes, events=events, bias=bias, random_rate=random_rate, steps=steps, samples=samples,
        seed=seed, num_layers=num_layers, input_shape=input_shape, sparse=sparse, layers=layers,
        batch_size=batch_size, reset_interval=reset_interval, reference=reference, limits=limits, warn=warn))
    return verify_file(given["path"], _input_options(given), given["num_layers"], given["input_shape"],
                       sparse=given["sparse"], layers=given["layers"], limits=given["limits"], warn=given["warn"],
                       batch_size=given["batch_size"], reset_interval=given["reset_interval"],
                       reference=given["reference"])


def compare(a: str | Path, b: str | Path, *, recipe: str | Path | None = None,
            spikes: str | Path | None = None, events: str | Path | None = None, bias: str | Path | None = None,
            random_rate: float | None = None, steps: int | None = None, samples: int | None = None,
            seed: int | None = None, num_layers: int | None = None, input_shape: Shape | None = None,
            batch_size: int | None = None, sparse: bool = False, limits: Limits | None = None,
            warn: Callable[[str], None] = _warn) -> Comparison:
    """Two NetX networks, A and B (say dense and pruned), in the golden model on one input
    set (``compare.networks.Comparison``; ``.to_dict()`` is ``neurodeploy compare A.net
    B.net --json``).

    The input set: ``recipe``, the test set of that recipe (YAML) with its labels, so
    that the accuracies are given; or one of ``spikes``, ``events``, ``bias``,
    ``random_rate`` with ``steps``, ``samples``, ``seed`` as ``verify`` takes them.
    batch_size: samples run at a time (the figures do not depend on it). sparse: the chip
    figures with dense layers on netx's ``Sparse`` synapses (no zero weight stored; pruning
    then saves cores), else on ``Dense`` (netx's default). The recipe's
    names are checked first (``RecipeError``); ``NetworkMismatchError`` when A and B
    differ in input or output shape.
    """
    from neurodeploy.arguments import check_arguments
    from neurodeploy.compare.networks import check_input_set, compare_files

    given = check_arguments("compare", dict(
        a=a, b=b, recipe=recipe, spikes=spikes, events=events, bias=bias, random_rate=random_rate, steps=steps,
        samples=samples, seed=seed, num_layers=num_layers, input_shape=input_shape, batch_size=batch_size,
        sparse=sparse, limits=limits, warn=warn))
    options = _input_options(given)
    check_input_set(options, given["recipe"])
    if given["recipe"] is not None:  # its names, before its test set is read
        from neurodeploy.preflight import check_names
        from neurodeploy.recipe import load_recipe

        check_names(load_recipe(given["recipe"]))
    return compare_files((given["a"], given["b"]), options, given["recipe"], given["num_layers"],
                         given["input_shape"], given["limits"], given["warn"], given["batch_size"], given["sparse"])


@dataclass(frozen=True)
class Exported:
    """What ``export`` wrote: networks, the NetX files (a run folder's ``dense.net`` and
    ``pruned.net``; none when converting a NetX file), and converted, the files in
    the other format (none for ``netx``)."""

    networks: tuple[Path, ...]
    converted: tuple[Path, ...]


def export(source: str | Path, format: str, out: str | Path | None = None,
           input_shape: Shape | None = None, limits: Limits | None = None) -> Exported:
    """Export a run folder, or convert a NetX file, to ``format`` (``export.formats.FORMATS``:
    netx, onnx, nir).

    source a run folder: its export stage (``DIR/dense.net`` and ``DIR/pruned.net``,
    which needs the earlier stages up to date: ``StageError``), then, for onnx or
    nir, both files converted beside them (``DIR/dense.onnx``, ...); ``out`` and
    ``input_shape`` do not apply. source a NetX file (any netx loads): converted
    to onnx or nir at ``out``; input_shape: (C, H, W) of a conv layer 0's input;
    limits: the memory its datasets and layers may take (default ``Limits()``). A
    layer the format cannot carry is an error naming the file and ``layer/i``, and
    nothing is written. ``InputOptionError`` for a format or argument that does not
    fit the source.
    """
    from neurodeploy.arguments import check_arguments
    from neurodeploy.export.formats import FORMATS
    from neurodeploy.fileio import check_distinct
    from neurodeploy.simulate.input_options import InputOptionError

    given = check_arguments("export", dict(source=source, format=format, out=out, input_shape=input_shape,
                                           limits=limits))
    source, out, input_shape = given["source"], given["out"], given["input_shape"]
    if format not in FORMATS:
        raise InputOptionError(f"--format {format!r} is not one of: {', '.join(FORMATS)}")
    if source.is_dir():
        if input_shape is not None:
            raise InputOptionError("--input-shape is for converting a NetX file (NET.net)")
        if out is not None:
            raise InputOptionError(f"{source} is a run folder: its export writes into it (out is for a NetX file)")
        return _export_folder(source, format, given["limits"])
    if format == "netx":
        raise InputOptionError(f"{source} is NetX already; give --format onnx or nir")
    if out is None:
        raise InputOptionError(f"converting {source} needs out, the file to write")
    from neurodeploy.export.formats import convert_file

    check_distinct([("NET.net", source)], [("--out", out)])
    return Exported(networks=(), converted=(convert_file(source, format, out, input_shape, given["limits"]),))


def _export_folder(out: Path, format: str, limits: Limits | None) -> Exported:
    """The export stage of the run folder ``out``, then its networks converted to ``format``
    under the folder's lock."""
    from neurodeploy import pipeline
    from neurodeploy.export.formats import convert_stage
    from neurodeploy.lock import folder_lock
    from neurodeploy.variants import NETWORKS

    pipeline.run_stage("export", out, limits=limits)
    converted: tuple[Path, ...] = ()
    if format != "netx":
        with folder_lock(out):
            converted = tuple(convert_stage(out, format))
    return Exported(networks=tuple(out / name for name in NETWORKS), converted=converted)


def run(recipe: str | Path | Recipe, out: str | Path, restart: bool = False, limits: Limits | None = None,
        progress: Callable[[str], None] = lambda line: None) -> RunReport:
    """Every stage of ``recipe`` (a YAML file, or a ``Recipe``) into the run folder ``out``
    (``pipeline.run``): train, prune, export, simulate, compare, report; returns the
    report's main figures (``report.stage.RunReport``).

    Resumes: a stage whose settings and files are unchanged is skipped (``restart``:
    run all). Before any work the recipe is validated as a YAML one is (``RecipeError``
    naming the key; a ``Recipe`` changed with ``dataclasses.replace`` is checked too)
    and checked against every stage and ``limits`` (memory, Lava processes;
    ``preflight.check_recipe``). progress: called with a line per stage (runs or skipped).
    """
    from neurodeploy import pipeline
    from neurodeploy.arguments import PATH, RECIPE, check_arguments
    from neurodeploy.fileio import check_distinct
    from neurodeploy.lock import LOCK_NAME
    from neurodeploy.recipe import Recipe, load_recipe, recipe_from_dict
    from neurodeploy.report.stage import read_report

    given = check_arguments("run", dict(recipe=recipe, out=out, restart=restart, limits=limits, progress=progress),
                            {"recipe": RECIPE, "out": PATH})
    recipe, out = given["recipe"], given["out"]
    if isinstance(recipe, Recipe):
        recipe = recipe_from_dict(recipe.to_dict())
    else:
        check_distinct([("RECIPE", recipe)], [(f"out's {name}", out / name)
                                              for name in (*pipeline.folder_files(pipeline.STAGES), LOCK_NAME)])
        recipe = load_recipe(recipe)
    return read_report(pipeline.run(recipe, out, restart=given["restart"], progress=given["progress"],
                                    limits=given["limits"]))
