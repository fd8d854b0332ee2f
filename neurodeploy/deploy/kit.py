"""A deployment kit: a folder that runs a NetX network on Loihi 2 (or Lava's CPU simulator) without neurodeploy.

``write_kit`` writes, into a new folder, everything ``run_on_loihi2.py``
needs: ``network.net`` (a byte copy of the network file), the input as
Lava's source takes it, ``deploy.json`` (how to build and run the network,
with the sha256 of each file), the script itself and a ``README.md``. The
input is the stream ``harness.run_lava`` runs (``loihi.timing``): N samples
of T steps, then ``drain`` silent columns, L = N*T + drain columns in all.

- ``input.npy``: int32 [*input shape, L], the network's input in its Lava
  shape (``Network.input_shape``: (W, H, C) for an image, flat C order),
  when the stimulus has spikes (or values for an input layer's ``a_in``);
- ``bias.npy``: int64 [N, n_in], an input layer's bias image per sample
  (Lava flat order), set for sample k's window and zeroed for the drain.

The folder appears whole or not at all: it is built in a temporary sibling
and renamed into place.
"""
from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from neurodeploy.fileio import PathError, file_digest
from neurodeploy.limits import Limits
from neurodeploy.loihi.timing import drain, reset_offset
from neurodeploy.netx import Network
from neurodeploy.simulate.input_options import (InputOptionError, InputOptions, check_at_least_one,
                                                network_and_stimulus)
from neurodeploy.simulate.stimulus import Stimulus

KIT_FORMAT, KIT_VERSION = "neurodeploy-kit", 1
SCRIPT = Path(__file__).with_name("run_on_loihi2.py")
NETWORK_FILE, SPIKES_FILE, BIAS_FILE, SETTINGS_FILE, README_FILE = \
    "network.net", "input.npy", "bias.npy", "deploy.json", "README.md"
GRADED_BITS = (16, 24)  # message bits a graded input is sent with, the fewest that hold its values (Intel: 16)


def kit_for_file(path: str | Path, options: InputOptions, num_layers: int | None = None,
                 input_shape: tuple[int, int, int] | None = None, limits: Limits | None = None,
                 warn: Callable[[str], None] = lambda line: None) -> tuple[Network, Stimulus]:
    """The network in the NetX file ``path`` (its first ``num_layers`` groups) and the input
    ``options`` name, read and checked as ``verify`` reads them. ``warn`` gets a line for
    what netx does to the file and for notes on the input. ``InputOptionError`` for no
    input or a bad option; ``NetxError``, ``InputError``, ``LimitError`` as ``verify``."""
    limits = limits or Limits()
    return network_and_stimulus(path, options, num_layers, input_shape, limits,
                                lambda network, n, t: check_kit_memory(network, n, t, limits), warn)


def check_kit_memory(network: Network, samples: int, steps: int, limits: Limits) -> None:
    """``LimitError`` unless the input of ``samples`` x ``steps`` fits ``limits``: the
    stimulus, its stream and the int32 copy written (at most 16 bytes per entry)."""
    length = samples * steps + drain(len(network.layers), network.starts_with_input)
    limits.check_memory(16 * length * int(np.prod(network.input_shape)),
                        f"deploy ({samples} samples x {steps} steps = {length} columns)")


def input_message_bits(stream: np.ndarray) -> int:
    """The message bits of an input ``stream`` (any shape): 0 for spikes (every value 0
    or 1), else the fewest of ``GRADED_BITS`` that hold every value as a signed number.
    ``InputOptionError`` beyond 24 bits."""
    low, high = (int(stream.min()), int(stream.max())) if stream.size else (0, 0)
    if low >= 0 and high <= 1:
        return 0
    for bits in GRADED_BITS:
        if -(1 << (bits - 1)) <= low and high < 1 << (bits - 1):
            return bits
    raise InputOptionError(f"input values from {low} to {high} do not fit a 24-bit graded message")


def kit_settings(network: Network, stimulus: Stimulus, sparse: bool, layers: Sequence[int] | None,
                 reset_interval: int | None) -> dict[str, Any]:
    """deploy.json without the input files' digests (``write_kit`` adds them)."""
    count = len(network.layers)
    recorded = list(range(count)) if layers is None else sorted({int(i) for i in layers})
    bad = [i for i in recorded if not 0 <= i < count]
    if bad:
        raise InputOptionError(f"layer(s) {bad} out of range: the network has {count} layers", network.path)
    check_at_least_one("--reset-interval", reset_interval)
    drain_steps = drain(count, network.starts_with_input)
    columns = stimulus.stream_length(drain_steps)
    bias_var = network.layers[0].neuron.input_bias_var
    if stimulus.bias is not None and (not network.starts_with_input or bias_var is None):
        raise InputOptionError("a bias image needs a network whose layer 0 is an input layer with a bias",
                               network.path)
    try:
        writer = importlib.metadata.version("neurodeploy")
    except importlib.metadata.PackageNotFoundError:
        writer = None
    return {
        "format": KIT_FORMAT,
        "version": KIT_VERSION,
        "network": NETWORK_FILE,
        "network_sha256": None,
        "source": str(network.path),
        "written_by": {"neurodeploy": writer},
        "num_layers": network.group_count,
        "reset_interval": reset_interval or stimulus.steps,
        "reset_offset": reset_offset(network.starts_with_input),
        "sparse": bool(sparse),
        "input_shape": None if network.starts_with_input else list(network.input_shape),
        "starts_with_input": network.starts_with_input,
        "samples": stimulus.num_samples,
        "steps": stimulus.steps,
        "drain": drain_steps,
        "columns": columns,
        "input": None if stimulus.spikes is None else {
            "file": SPIKES_FILE, "sha256": None, "shape": [*network.input_shape, columns], "dtype": "int32",
            "into": "layers[0].neuron.a_in" if network.starts_with_input else "inp",
            "message_bits": input_message_bits(stimulus.spikes)},
        "bias": None if stimulus.bias is None else {
            "file": BIAS_FILE, "sha256": None, "shape": list(stimulus.bias.shape), "dtype": "int64",
            "var": bias_var},
        "recorded": recorded,
        "layers": [{"index": i, "group": network.group_of(i), "type": network.kinds[i],
                    "size": network.layers[i].size, "lava_shape": list(network.layers[i].lava_shape),
                    "graded": network.layers[i].neuron.message_bits > 0,
                    "message_bits": network.layers[i].neuron.message_bits} for i in recorded],
    }


def check_kit_folder(out: Path) -> None:
    """``PathError`` (one line naming ``out``) unless ``out`` is a new or an empty folder."""
    if out.is_symlink():
        raise PathError(f"{out}: is a symlink; give a new or empty folder for the kit")
    if out.exists():
        if not out.is_dir():
            raise PathError(f"{out}: exists and is not a folder; give a new or empty folder for the kit")
        if any(out.iterdir()):
            raise PathError(f"{out}: is not empty; give a new or empty folder for the kit (nothing was written)")


def write_kit(network: Network, stimulus: Stimulus, out: Path, sparse: bool, layers: list[int] | None,
              reset_interval: int | None = None) -> Path:
    """Write the kit of ``network`` (read from a file: ``network.path``) on ``stimulus`` into
    the new or empty folder ``out``; returns ``out``. sparse: netx's ``sparse_fc_layer``;
    layers: indices to record (None: every layer); reset_interval: netx's (default T)."""
    out = Path(out)
    if network.path is None:
        raise PathError("a kit needs a network read from a file (network.path is None)")
    check_kit_folder(out)
    settings = kit_settings(network, stimulus, sparse, layers, reset_interval)
    parent = out.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=parent))
    except OSError as err:
        raise PathError(f"{out}: cannot write here ({err.strerror or err})") from err
    try:
        _fill(building, network, stimulus, settings)
        mask = os.umask(0o022)
        os.umask(mask)
        os.chmod(building, 0o777 & ~mask)  # mkdtemp made it private
        try:
            os.rename(building, out)  # onto an empty folder too
        except OSError as err:
            raise PathError(f"{out}: cannot put the kit here ({err.strerror or err}); nothing was written") from err
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return out


def _fill(folder: Path, network: Network, stimulus: Stimulus, settings: dict[str, Any]) -> None:
    """Write the kit's files into ``folder`` and complete ``settings`` with their digests."""
    shutil.copyfile(network.path, folder / NETWORK_FILE)
    settings["network_sha256"] = file_digest(folder / NETWORK_FILE)
    columns = settings["columns"]
    if stimulus.spikes is not None:
        stream = stimulus.stream_spikes(settings["drain"])
        np.save(folder / SPIKES_FILE, stream.reshape(*network.input_shape, columns).astype(np.int32))
        settings["input"]["sha256"] = file_digest(folder / SPIKES_FILE)
    if stimulus.bias is not None:
        np.save(folder / BIAS_FILE, np.asarray(stimulus.bias, dtype=np.int64))
        settings["bias"]["sha256"] = file_digest(folder / BIAS_FILE)
    (folder / SETTINGS_FILE).write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    shutil.copyfile(SCRIPT, folder / SCRIPT.name)
    os.chmod(folder / SCRIPT.name, 0o755)
    (folder / README_FILE).write_text(readme(settings), encoding="utf-8")


def readme(settings: dict[str, Any]) -> str:
    """The kit's README.md: what it holds, how to run it, what it writes and needs."""
    inputs = []
    if settings["input"] is not None:
        kind = "spikes" if settings["input"]["message_bits"] == 0 else \
            f"graded values ({settings['input']['message_bits']}-bit messages)"
        inputs.append(f"- `{SPIKES_FILE}`: the input {kind}, int32 {settings['input']['shape']} "
                      f"(the network's input in Lava's shape, then columns), into `{settings['input']['into']}`")
    if settings["bias"] is not None:
        inputs.append(f"- `{BIAS_FILE}`: the input layer's bias image per sample, int64 {settings['bias']['shape']} "
                      f"(Lava's flat order), set as `{settings['bias']['var']}` for each sample's {settings['steps']} "
                      "steps and zeroed after the last")
    recorded = ", ".join(str(i) for i in settings["recorded"])
    return f"""# neurodeploy kit: {Path(settings['source']).name} on Loihi 2

Written by `neurodeploy deploy` from `{settings['source']}`: {settings['samples']} sample(s) of
{settings['steps']} steps, then {settings['drain']} silent steps until the last layer has seen
the input, {settings['columns']} columns in all, run as one stream (each layer reset every
{settings['reset_interval']} steps). Layers recorded: {recorded}.

## What is here

- `{NETWORK_FILE}`: the NetX network (a byte copy of the file above)
{chr(10).join(inputs)}
- `{SETTINGS_FILE}`: how the network is built and run, and the sha256 of each file above
- `run_on_loihi2.py`: the script that runs it; its docstring says exactly what it does

## Run it

    python run_on_loihi2.py            # from any folder; --out FILE to write elsewhere

On an Intel INRC Loihi 2 system (lava-loihi installed; choose the partition with
the environment, e.g. `PARTITION=oheogulch python run_on_loihi2.py`) it runs on the
chip under `Loihi2HwCfg` with Intel's power, time, memory and activity profilers.
Anywhere else it runs in Lava's CPU simulator, `Loihi2SimCfg(select_tag='fixed_pt')`.
The chip branch follows Intel's own netx tests and benchmark notebooks but has not
been run by neurodeploy's authors (no Loihi 2 system where it was written): its
first run on a chip is its test.

It refuses to run (one line naming the file) when `{NETWORK_FILE}` or the input
differs from the file `{SETTINGS_FILE}` was written with.

## What it writes

`recording.npz` (read with `numpy.load(path, allow_pickle=False)`): `meta` (JSON: the
settings, the run configuration, the system, package versions, the chip's figures),
the input (`input_spikes` [n_in, L], `input_bias` [N, n_in]), `layer_<i>` int32 [n_i, L]
for each recorded layer (spikes as 0/1, graded messages as values, Lava's flat
neuron order) and, on Loihi 2, what the profilers measured (`chip_*`).

Compare it with neurodeploy's golden model:

    neurodeploy verify NET.net <the same input options> --reference recording.npz

## What it needs

Python with numpy, lava-nc and lava-dl (tested with lava-nc 0.10.0, lava-dl 0.6.0);
for the chip, Intel's lava-loihi. Nothing of neurodeploy.
"""
