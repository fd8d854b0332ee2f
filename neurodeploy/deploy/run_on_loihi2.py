#!/usr/bin/env python3
"""Run a neurodeploy kit's network on Loihi 2, or in Lava's CPU simulator, and record what it did.

``neurodeploy deploy`` copies this script into every kit it writes, beside
``deploy.json`` (the settings), ``network.net`` (the NetX network) and the
input: ``input.npy`` (int32 [*input shape, L]: spikes, or values for an input
layer's a_in) and/or ``bias.npy`` (int64 [N, n_in]: an input layer's bias
image for each sample). It needs numpy, Lava (lava-nc) and lava-dl, and
nothing of neurodeploy, so the folder can be copied to a machine that has
only those (an INRC Loihi 2 system). Run it from any folder:

    python run_on_loihi2.py [--out FILE]

It checks that network.net and the input are the files deploy.json was
written with (sha256), then builds the network as neurodeploy's Lava harness
does: ``netx.hdf5.Network`` with deploy.json's num_layers, reset_interval,
reset_offset, sparse_fc_layer and input_shape. The input is one stream of L
columns: N samples of T steps, then silent columns until the last layer has
seen the last input (the drain). ``input.npy`` goes through a
``lava.proc.io.source.RingBuffer`` into ``net.inp``, or into an input
layer's ``neuron.a_in``; sample k's bias image is set before its window
(the bias Var's ``init`` before the first run, ``set`` between runs) and
zeroed for the drain. Each recorded layer's ``out`` goes into a
``lava.proc.io.sink.RingBuffer`` of L columns.

Two run configurations:

- Loihi 2, when ``lava.utils.system.Loihi2.is_loihi2_available`` (lava-loihi
  is installed, as on Intel's INRC systems; the partition comes from the
  environment, e.g. ``PARTITION=oheogulch``): ``Loihi2HwCfg`` with Intel's
  profilers from ``lava.utils.loihi2_profiler`` (power, execution time,
  memory, activity; each one that imports), and embedded-IO adapters:
  ``PyToNxAdapter`` between the source and the chip, ``NxToPyAdapter`` between
  each recorded layer and its sink (a graded layer's messages as 24-bit
  payloads, sign-extended, as lava-dl's test_pilotnet_sdnn reads them; a
  graded input with deploy.json's ``input.message_bits``). This
  follows lava-dl's tests/lava/lib/dl/netx/test_hdf5_nx.py and Intel's
  netx PilotNet benchmark notebooks. It has NOT been run: the script was
  written and tested where no Loihi 2 system exists, so its first run on a
  chip is its test.
- Otherwise Lava's CPU simulator, ``Loihi2SimCfg(select_tag='fixed_pt')``:
  Loihi's fixed-point arithmetic, bit-exact; no chip figures.

It writes one file, ``recording.npz`` in the kit folder (``--out``), via a
temporary name, readable with ``np.load(path, allow_pickle=False)``:

- ``meta``: a 0-d unicode array holding JSON: the kit's settings, the run
  configuration, the system, the package versions, the profilers that ran
  and their scalar figures (``chip``).
- ``input_spikes`` int32 [n_in, L] and/or ``input_bias`` int64 [N, n_in]:
  the input, neurons in Lava's flat (C-order) order.
- ``layer_<i>`` int32 [n_i, L] for each recorded layer i: its messages in
  Lava's flat order; spikes as 0/1, graded messages as their values.
- after a run on Loihi 2, what the profilers measured (each only when it
  could be read): ``chip_time_per_step_us``, ``chip_total_power_w``,
  ``chip_activity_*`` and ``chip_memory_*`` per core.

Exit codes: 0 written; 2 a kit that does not check out (one line naming the
file); 130 Ctrl-C, 143 SIGTERM, 129 SIGHUP (Lava's processes stopped, nothing
written); 1 anything else that failed (Lava's traceback).
"""
from __future__ import annotations

import argparse
import contextlib
import ctypes
import hashlib
import importlib.abc
import importlib.machinery
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import signal
import sys
import tempfile
import types
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
KIT_FORMAT, KIT_VERSION = "neurodeploy-kit", 1
RECORDING_FORMAT, RECORDING_VERSION = "neurodeploy-recording", 1
SIMULATOR = "Loihi2SimCfg(select_tag='fixed_pt')"
HARDWARE = "Loihi2HwCfg"
GRADED_OUT_BITS = 24  # a graded layer's messages leave the chip as 24-bit payloads (lava-dl's test_pilotnet_sdnn)
MULTI_CHIP_PARTITIONS = ("kp", "kp_stack", "kp_build")  # 8 chips, as Intel's benchmark notebooks count them


class KitError(Exception):
    """A kit that does not check out; the message names the file."""


# ---------------------------------------------------------------- Lava on Python 3.11

class _LavaOnNewPython(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """What lava-nc 0.10.0 and lava-dl 0.6.0 need on Python 3.11 (they declare <3.11),
    the same two fixes neurodeploy's lavacompat makes, for this script alone:
    ``lava.magma.compiler.var_model``'s ``x: ByteEncoder = ByteEncoder()`` fields get
    a default factory, and lava-dl's ``slayer.object_detection`` (which needs
    torchvision and OpenCV; netx does not) is an empty module when those are
    missing. Does nothing where Lava imports as it is (Python 3.10)."""

    VAR_MODEL = "lava.magma.compiler.var_model"
    OBJECT_DETECTION = "lava.lib.dl.slayer.object_detection"
    FIELD = re.compile(r"^(?P<indent>\s+)(?P<name>\w+): (?P<cls>ByteEncoder) = (?P=cls)\(\)$", re.MULTILINE)

    def find_spec(self, fullname, path, target=None):
        if fullname == self.VAR_MODEL and sys.version_info >= (3, 11):
            spec = importlib.machinery.PathFinder.find_spec(fullname, path)
            return None if spec is None else importlib.util.spec_from_file_location(fullname, spec.origin, loader=self)
        if fullname == self.OBJECT_DETECTION and not all(importlib.util.find_spec(m) for m in ("torchvision", "cv2")):
            return importlib.machinery.ModuleSpec(fullname, self)
        return None

    def create_module(self, spec):
        return types.ModuleType(spec.name) if spec.name == self.OBJECT_DETECTION else None

    def exec_module(self, module):
        if module.__name__ == self.OBJECT_DETECTION:
            return
        with open(module.__spec__.origin, encoding="utf-8") as handle:
            source = self.patch(handle.read())
        exec(compile(source, module.__spec__.origin, "exec"), module.__dict__)

    @classmethod
    def patch(cls, source: str) -> str:
        """``var_model``'s source with each ``ByteEncoder()`` default made a factory."""
        source = cls.FIELD.sub(r"\g<indent>\g<name>: \g<cls> = field(default_factory=\g<cls>)", source)
        return source.replace("from dataclasses import dataclass, InitVar",
                              "from dataclasses import dataclass, InitVar, field", 1)


def _install_lava_fixes() -> None:
    if not any(isinstance(finder, _LavaOnNewPython) for finder in sys.meta_path):
        sys.meta_path.insert(0, _LavaOnNewPython())


# ---------------------------------------------------------------- the kit

def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _checked(folder: Path, name: str, expected: str) -> Path:
    """``folder / name``, which must exist and have the sha256 deploy.json gives."""
    path = folder / name
    if not path.is_file():
        raise KitError(f"{path}: missing (deploy.json names it)")
    found = sha256(path)
    if found != expected:
        raise KitError(f"{path}: sha256 {found[:12]}... is not deploy.json's {expected[:12]}...: the file was "
                       "changed after the kit was written; write the kit again with neurodeploy deploy")
    return path


def load_kit(folder: Path) -> tuple[dict, np.ndarray | None, np.ndarray | None]:
    """deploy.json's settings, input.npy (or None) and bias.npy (or None), each checked."""
    settings_path = folder / "deploy.json"
    try:
        settings = json.loads(settings_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise KitError(f"{settings_path}: cannot be read as JSON ({err})") from err
    if not isinstance(settings, dict) or settings.get("format") != KIT_FORMAT or \
            settings.get("version") != KIT_VERSION:
        raise KitError(f"{settings_path}: not a {KIT_FORMAT} version {KIT_VERSION} file")
    _checked(folder, settings["network"], settings["network_sha256"])
    spikes = bias = None
    if settings["input"] is not None:
        spikes = np.load(_checked(folder, settings["input"]["file"], settings["input"]["sha256"]),
                         allow_pickle=False)
        if list(spikes.shape) != settings["input"]["shape"] or spikes.dtype != np.int32:
            raise KitError(f"{folder / settings['input']['file']}: {spikes.dtype} {list(spikes.shape)}, "
                           f"deploy.json says int32 {settings['input']['shape']}")
    if settings["bias"] is not None:
        bias = np.load(_checked(folder, settings["bias"]["file"], settings["bias"]["sha256"]), allow_pickle=False)
        if list(bias.shape) != settings["bias"]["shape"]:
            raise KitError(f"{folder / settings['bias']['file']}: shape {list(bias.shape)}, "
                           f"deploy.json says {settings['bias']['shape']}")
    return settings, spikes, bias


def segments(columns: int, steps: int, bias: np.ndarray | None) -> list[tuple[int, int, np.ndarray | None]]:
    """(first column, stop, bias image to set first or None) covering the stream: one run
    for spikes alone; with bias images, a run per sample window and one for the drain,
    each starting with its image (zeros for the drain)."""
    if bias is None:
        return [(0, columns, None)]
    starts = {k * steps: bias[k] for k in range(len(bias))}
    starts[len(bias) * steps] = np.zeros_like(bias[0])
    cuts = sorted({0, columns, *[c for c in starts if c < columns]})
    return [(a, b, starts.get(a)) for a, b in zip(cuts[:-1], cuts[1:])]


def signed(values: np.ndarray, bits: int) -> np.ndarray:
    """``values`` read as ``bits``-bit two's complement numbers (a graded message from the
    chip: lava-dl's test does ``(x << 8) >> 8`` for 24 bits)."""
    values = values.astype(np.int64) & ((1 << bits) - 1)
    return np.where(values >= 1 << (bits - 1), values - (1 << bits), values)


def _as_int32(data: np.ndarray) -> np.ndarray:
    """A sink's recording (floats on the CPU) as exact int32."""
    data = np.asarray(data)
    if data.dtype.kind == "f":
        data = np.rint(data)
    return data.astype(np.int64).astype(np.int32)


# ---------------------------------------------------------------- Loihi 2 or the simulator

def loihi2() -> tuple[bool, str | None]:
    """(whether a Loihi 2 system is there, its partition)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from lava.utils.system import Loihi2
            available = bool(Loihi2.is_loihi2_available)
            return available, (Loihi2.partition if available else None)
    except ImportError:
        return False, None


def make_profilers(columns: int) -> dict[str, object]:
    """Intel's Loihi 2 profilers that import and construct, by class name."""
    try:
        from lava.utils import loihi2_profiler
    except ImportError:
        return {}
    made = {}
    for name, arguments in (("Loihi2Power", {"num_steps": columns}), ("Loihi2ExecutionTime", {}),
                            ("Loihi2Memory", {}), ("Loihi2Activity", {})):
        try:
            made[name] = getattr(loihi2_profiler, name)(**arguments)
        except Exception as err:  # one missing profiler must not stop the run
            print(f"run_on_loihi2.py: warning: profiler {name} not used ({err!r})", file=sys.stderr)
    return made


def _figure(profiler: object, attribute: str) -> np.ndarray | None:
    """A profiler's attribute as an array, or None (with a warning) when it cannot be read."""
    try:
        return np.asarray(getattr(profiler, attribute))
    except Exception as err:
        print(f"run_on_loihi2.py: warning: {type(profiler).__name__}.{attribute} not read ({err!r})",
              file=sys.stderr)
        return None


def chip_figures(profilers: dict[str, object], partition: str | None) -> tuple[dict, dict[str, np.ndarray]]:
    """The profilers' scalar figures (meta's ``chip``) and arrays (``chip_*``), computed as
    Intel's PilotNet benchmark notebook does: static power per chip, the total less the
    static power of the other chips of a multi-chip board."""
    scalars: dict = {}
    arrays: dict[str, np.ndarray] = {}
    timer = profilers.get("Loihi2ExecutionTime")
    if timer is not None:
        per_step = _figure(timer, "execution_time_per_step")
        average = _figure(timer, "avg_time_per_step")
        if per_step is not None:
            arrays["chip_time_per_step_us"] = per_step.astype(np.float64)
            scalars["steps_profiled"] = int(per_step.size)
        if average is not None:
            scalars["time_per_step_us"] = float(average)
    power = profilers.get("Loihi2Power")
    if power is not None:
        chips = 8 if partition in MULTI_CHIP_PARTITIONS else 1
        total, static = _figure(power, "total_power"), _figure(power, "static_total_power")
        if total is not None and static is not None:
            static_per_chip = float(static) / chips
            total = total.astype(np.float64) - (chips - 1) * static_per_chip
            arrays["chip_total_power_w"] = total
            scalars.update(total_power_w=float(np.mean(total)), static_power_w=static_per_chip, num_chips=chips)
    for profiler, prefix, names in (
            (profilers.get("Loihi2Activity"), "chip_activity_",
             ("core_idx", "syn_ops", "dendrite_updates", "axon_out", "spikes_in")),
            (profilers.get("Loihi2Memory"), "chip_memory_", ("core_idx", "total_mpds"))):
        if profiler is None:
            continue
        for name in names:
            value = _figure(profiler, name)
            if value is not None:
                arrays[prefix + name] = value
    return scalars, arrays


# ---------------------------------------------------------------- stopping cleanly

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PR_SET_PDEATHSIG = 1


class Stopped(KeyboardInterrupt):
    """Ctrl-C, SIGTERM or SIGHUP arrived (``signum``): the run stops as on Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_stopped(signum: int, frame: object) -> None:
    raise Stopped(signum)


def stop_on_signals() -> None:
    """In this script: the stop signals raise ``Stopped`` (so the runtime is stopped in a
    ``finally``), and every process Lava forks is killed by Linux if the script dies."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, _raise_stopped)
    parent = os.getpid()

    def die_with_parent() -> None:
        if sys.platform.startswith("linux"):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() != parent:  # it died before prctl took effect
                os._exit(1)

    os.register_at_fork(after_in_child=die_with_parent)


@contextlib.contextmanager
def signals_held():
    """Hold the stop signals back for the block (the first one is raised after it).
    Lava's processes forked inside keep the holding handler, so a Ctrl-C sent to the
    whole process group does not kill them mid-step (Lava's ``stop`` would then wait
    forever for their answer): the script alone handles it and stops them."""
    received: list[int] = []
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda number, frame: received.append(number))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if received:
        signal.raise_signal(received[0])


def stop_lava(process: object) -> None:
    """Stop ``process``'s Lava runtime and end its child processes: gracefully while every
    child is alive, then kill any left (a child that died, of Ctrl-C say, would make
    Lava's ``stop`` wait forever for its answer)."""
    runtime = getattr(process, "runtime", None)
    if runtime is None:
        return
    actors = list(getattr(getattr(runtime, "_messaging_infrastructure", None), "actors", []))

    def alive(actor: object) -> bool:
        try:
            return actor.is_alive()
        except ValueError:  # already joined and closed
            return False

    try:
        if getattr(runtime, "_is_started", False) and all(alive(actor) for actor in actors):
            runtime.stop()
    finally:
        if actors:
            for actor in actors:
                if alive(actor):
                    actor.kill()
            runtime._is_started = False
            runtime._is_running = False
            runtime.stop()  # not started: joins the children, releases the shared memory


def build_network(settings: dict, folder: Path):
    """The network as ``harness.run_lava`` builds it, from deploy.json's settings."""
    from lava.lib.dl import netx

    with warnings.catch_warnings():  # netx warns that sigma-delta neurons ignore the reset interval
        warnings.filterwarnings("ignore", message="Reset is not supported with Sigma Delta")
        return netx.hdf5.Network(
            net_config=str(folder / settings["network"]),
            num_layers=settings["num_layers"],
            reset_interval=settings["reset_interval"],
            reset_offset=settings["reset_offset"],
            sparse_fc_layer=settings["sparse"],
            input_shape=None if settings["input_shape"] is None else tuple(settings["input_shape"]),
        )


def connect(net, settings: dict, spikes: np.ndarray | None, folder: Path, on_chip: bool) -> dict[int, tuple]:
    """Wire the source (if there are spikes) into the network and a sink to each recorded
    layer, through embedded-IO adapters on the chip; returns {layer: (sink, its entry)}."""
    from lava.proc import io

    eio = None
    if on_chip:
        from lava.proc import embedded_io as eio
    columns = settings["columns"]
    if spikes is not None:
        target = net.layers[0].neuron.a_in if settings["starts_with_input"] else net.inp
        if tuple(target.shape) != spikes.shape[:-1]:
            raise KitError(f"{folder / settings['input']['file']}: shape {list(spikes.shape)} does not fit "
                           f"the network's input {list(target.shape)} (plus columns)")
        source = io.source.RingBuffer(data=spikes)
        if on_chip:
            bits = settings["input"]["message_bits"]
            adapter = eio.spike.PyToNxAdapter(shape=target.shape, **({"num_message_bits": bits} if bits else {}))
            source.s_out.connect(adapter.inp)
            adapter.out.connect(target)
        else:
            source.s_out.connect(target)
    sinks = {}
    for entry in settings["layers"]:
        out = net.layers[entry["index"]].out
        sink = io.sink.RingBuffer(shape=out.shape, buffer=columns)
        if on_chip:
            bits = GRADED_OUT_BITS if entry["graded"] else 0
            adapter = eio.spike.NxToPyAdapter(shape=out.shape, **({"num_message_bits": bits} if bits else {}))
            out.connect(adapter.inp)
            adapter.out.connect(sink.a_in)
        else:
            out.connect(sink.a_in)
        sinks[entry["index"]] = (sink, entry)
    return sinks


def run(settings: dict, spikes: np.ndarray | None, bias: np.ndarray | None, folder: Path) -> tuple[dict, dict]:
    """Build, run and record; returns (meta, arrays of recording.npz).

    With bias images the stream runs in N + 1 parts (a bias Var is set between
    runs); Intel's benchmarks run once, so how the profilers add up several runs
    is not known here: ``steps_profiled`` says how many steps they reported."""
    _install_lava_fixes()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2HwCfg, Loihi2SimCfg

    on_chip, partition = loihi2()
    if not on_chip:  # as lava-dl's own tests do: torch in Lava's workers "sometimes causes multiprocessing error"
        import lava.proc.conv.utils as conv_utils
        conv_utils.TORCH_IS_AVAILABLE = False
    net = build_network(settings, folder)
    sinks = connect(net, settings, spikes, folder, on_chip)
    columns = settings["columns"]
    plan = segments(columns, settings["steps"], bias)
    if bias is not None:
        bias_var = getattr(net.layers[0].neuron, settings["bias"]["var"])
        bias_var.init = plan[0][2].reshape(bias_var.shape)
    profilers = make_profilers(columns) if on_chip else {}
    run_cfg = Loihi2HwCfg(callback_fxs=list(profilers.values())) if on_chip else Loihi2SimCfg(select_tag="fixed_pt")
    arrays: dict[str, np.ndarray] = {}
    try:
        with signals_held():  # compiles, and forks Lava's processes
            net.create_runtime(run_cfg=run_cfg)
        for first, stop, image in plan:
            if image is not None and first > 0:
                bias_var.set(image.reshape(bias_var.shape))
            net.run(condition=RunSteps(num_steps=stop - first), run_cfg=run_cfg)
        for index, (sink, entry) in sinks.items():  # read before the runtime stops
            data = _as_int32(sink.data.get()).reshape(-1, columns)
            if on_chip and entry["graded"]:
                data = signed(data, GRADED_OUT_BITS).astype(np.int32)
            arrays[f"layer_{index}"] = data
    finally:
        stop_lava(net)
    chip, chip_arrays = chip_figures(profilers, partition) if on_chip else ({}, {})
    arrays.update(chip_arrays)
    if spikes is not None:
        arrays["input_spikes"] = spikes.reshape(-1, columns)
    if bias is not None:
        arrays["input_bias"] = bias.astype(np.int64)
    meta = {
        "format": RECORDING_FORMAT, "version": RECORDING_VERSION,
        **{key: settings[key] for key in ("network", "network_sha256", "num_layers", "samples", "steps", "columns",
                                          "reset_interval", "reset_offset", "sparse", "recorded")},
        "run_config": HARDWARE if on_chip else SIMULATOR,
        "system": {"loihi2": on_chip, "partition": partition, "host": platform.node()},
        "versions": versions(),
        "profilers": list(profilers),
        "chip": chip,
    }
    return meta, arrays


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in ("lava-nc", "lava-dl", "numpy"):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    found["python"] = platform.python_version()
    return found


def write_recording(path: Path, meta: dict, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez`` to a temporary file beside ``path``, then renamed onto it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, meta=np.array(json.dumps(meta)), **arrays)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run this kit's network on Loihi 2 (or Lava's CPU simulator) "
                                     "and record every recorded layer's messages.")
    parser.add_argument("--out", type=Path, default=HERE / "recording.npz", metavar="FILE",
                        help="where to write the recording (default: recording.npz beside this script)")
    args = parser.parse_args(argv)
    stop_on_signals()
    try:
        settings, spikes, bias = load_kit(HERE)
        meta, arrays = run(settings, spikes, bias, HERE)
        write_recording(args.out, meta, arrays)
    except KitError as err:
        print(f"run_on_loihi2.py: error: {err}", file=sys.stderr)
        return 2
    except Stopped as stop:
        print(f"run_on_loihi2.py: stopped by {signal.Signals(stop.signum).name}; nothing written", file=sys.stderr)
        return 128 + stop.signum
    where = f"Loihi 2 ({meta['system']['partition']})" if meta["system"]["loihi2"] else "Lava's CPU simulator"
    print(f"ran {settings['samples']} sample(s) x {settings['steps']} steps ({settings['columns']} columns) on "
          f"{where}, {meta['run_config']}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
