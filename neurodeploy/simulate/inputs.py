"""Inputs for ``neurodeploy verify``: spike arrays, event files, bias images, random spikes.

Every loader returns one batch of N samples and raises ``InputError`` with a
one-line message naming the file (or option) when the input cannot be used.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from neurodeploy.fileio import PathError, check_input
from neurodeploy.limits import Limits

NPY_MAGIC = b"\x93NUMPY"
INT32_LIMIT = 2**31


class InputError(ValueError):
    """An input file or option that cannot be used; the message names the file (or option) and what is wrong, on one line."""


def _npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from a .npy file's header, checked against the file's size
    before anything is loaded (a header can claim terabytes)."""
    path = Path(path)
    try:
        check_input(path, ".npy file")
        with open(path, "rb") as file:
            if file.read(len(NPY_MAGIC)) != NPY_MAGIC:
                raise InputError(f"{path}: not a .npy file")
            file.seek(0)
            version = np.lib.format.read_magic(file)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(file)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(file)
            else:
                raise InputError(f"{path}: .npy format version {version} is not supported (1.0 and 2.0 are)")
            offset = file.tell()
    except PathError as err:
        raise InputError(str(err)) from err
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err.strerror})") from err
    except ValueError as err:
        if isinstance(err, InputError):
            raise
        raise InputError(f"{path}: corrupt .npy header ({' '.join(str(err).split())})") from err
    if dtype.hasobject or dtype.kind not in "biuf":
        raise InputError(f"{path}: dtype {dtype} is not numeric")
    needed = math.prod(shape) * dtype.itemsize
    held = path.stat().st_size - offset
    if held < needed:
        raise InputError(f"{path}: truncated: its header says shape {shape} of {dtype} ({needed} bytes), "
                         f"the file holds {held} bytes of data")
    return shape, dtype


def _load_npy(path: Path, limits: Limits) -> np.ndarray:
    """The numeric array stored in the .npy file ``path`` (integer, float or bool dtype),
    never unpickled; its size (three times, for the copies made of it) is checked
    against ``limits`` before it is read."""
    shape, dtype = _npy_header(path)
    limits.check_memory(3 * math.prod(shape) * dtype.itemsize, f"{path} (shape {shape}, {dtype})")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        reason = " ".join(str(exc).split())
        raise InputError(f"{path}: corrupt .npy file ({reason})") from exc


def load_spikes(path: Path, input_shape: int | tuple[int, ...], graded: bool = False,
                limits: Limits | None = None) -> np.ndarray:
    """Input from a .npy file: spikes, or graded values for a first layer that takes them.

    Shapes: [neurons, T] or [samples, neurons, T] with neurons in Lava's flat
    order, or the first layer's Lava shape followed by T (e.g. (W, H, C, T),
    as Lava's ``io.source.RingBuffer`` takes it), with or without a leading
    samples axis. ``input_shape`` is that Lava shape (its product the number
    of inputs). Values: 0 or 1 when not ``graded`` (any bool, integer or
    float dtype holding them); integers within int32 when ``graded`` (the
    values Lava's source sends as int32). Returns [N, neurons, T]: uint8
    spikes, or int32 values.
    """
    array = _load_npy(path, limits or Limits())
    input_shape = (input_shape,) if isinstance(input_shape, int) else tuple(int(s) for s in input_shape)
    size = math.prod(input_shape)
    shape = array.shape
    if len(input_shape) > 1 and shape[-len(input_shape) - 1:-1] == input_shape:
        array = array.reshape(*shape[:-len(input_shape) - 1], size, shape[-1])
    if array.ndim == 2:
        array = array[np.newaxis]
    if array.ndim != 3:
        expected = "[neurons, T], [samples, neurons, T]" + (f" or {input_shape} + (T,)" if len(input_shape) > 1 else "")
        raise InputError(f"{path}: input array of shape {shape} has {len(shape)} dimensions; expected {expected}")
    samples, neurons, steps = array.shape
    if neurons != size:
        raise InputError(f"{path}: input array of shape {shape} has {neurons} neurons, the network has "
                         f"{size} inputs (Lava shape {input_shape})")
    if samples == 0 or steps == 0:
        raise InputError(f"{path}: input array of shape {shape} is empty (no samples or no steps)")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise InputError(f"{path}: input array contains NaN or infinite values")
    if not graded:
        invalid = ~np.isin(array, (0, 1))
        if invalid.any():
            raise InputError(f"{path}: input array contains {array[invalid][0]}; values must be 0 or 1 (the "
                             "network's first synapse takes spikes: netx's input_message_bits is 0)")
        return array.astype(np.uint8)
    if array.dtype.kind == "f" and (array != np.round(array)).any():
        raise InputError(f"{path}: input array contains non-integer values; messages are integers")
    if (array.astype(np.float64) < -INT32_LIMIT).any() or (array.astype(np.float64) >= INT32_LIMIT).any():
        raise InputError(f"{path}: input array has values beyond int32, which Lava's source sends")
    return array.astype(np.int32)


def load_events(path: Path, num_inputs: int, steps: int | None, limits: Limits | None = None,
                notes: list[str] | None = None) -> np.ndarray:
    """Events file binned into 1 ms steps as lava-dl bins it.

    The .npy file is a float or integer array [events, 3] whose rows are
    (x, channel, t) with t in milliseconds. The result equals
    ``slayer.io.read_np_spikes(path).to_tensor(sampling_time=1, dim=(C, X, T))``
    reshaped to [1, C * X, T], neuron index ``c * X + x``:

    * x and channel are truncated to integers (lava-dl's ``astype('int')``)
      and the channels are shifted so that the smallest one is 0, as
      lava-dl's ``Event`` does; C = (largest shifted channel) + 1 and
      X = num_inputs // C, which must divide exactly;
    * the step of an event is ``np.round(t * 1e-3 * 1e3)``: numpy rounds half
      to even, but lava-dl's unit round trip can nudge a half up (4.5 lands in
      step 5, 2.5 in step 2); at most one spike is kept per bin (OR binning);
    * T = ``steps`` when given, else ``round(max(t) + 1)``; events at steps
      >= T are dropped (with T inferred this can drop the last event: max
      t = 3.5 gives T = 4 and step 4).

    Negative, NaN or infinite values, x >= X, x or channel beyond 2^31, and
    a T whose [num_inputs, T] array exceeds ``limits`` are rejected, and so is
    a ``steps`` that drops every event; one that drops some appends a line
    saying how many to ``notes``. Returns uint8 [1, num_inputs, T].
    """
    limits = limits or Limits()
    if steps is not None and steps <= 0:
        raise InputError(f"--steps: must be positive, got {steps} (for {path})")
    events = _load_npy(path, limits)
    if events.ndim != 2 or events.shape[1] != 3:
        raise InputError(f"{path}: events array has shape {events.shape}; expected [events, 3] rows of (x, channel, t)")
    if events.shape[0] == 0:
        raise InputError(f"{path}: events array has no events")
    if not np.isfinite(events).all():
        raise InputError(f"{path}: events array contains NaN or infinite values")
    if (events < 0).any():
        raise InputError(f"{path}: events array contains negative values")
    if events[:, :2].max() >= INT32_LIMIT:
        raise InputError(f"{path}: an event's x or channel is {events[:, :2].max()}, beyond 2^31")
    last_step = float(np.round(float(events[:, 2].max())))
    num_steps = int(last_step + 1) if steps is None else steps
    limits.check_memory(2 * float(num_inputs) * (last_step + 1 if steps is None else steps),
                        f"{path}: events up to t = {events[:, 2].max()} ms ({num_inputs} inputs x {num_steps} steps)")
    x = events[:, 0].astype(int)
    channel = events[:, 1].astype(int)
    channel -= channel.min()
    t = events[:, 2] * 1e-3 * 1e3  # lava-dl's ms -> s -> ms round trip, not always exact
    num_channels = int(channel.max()) + 1
    if num_inputs % num_channels != 0:
        raise InputError(
            f"{path}: {num_channels} channels do not divide the network's {num_inputs} inputs"
        )
    width = num_inputs // num_channels
    if x.max() >= width:
        raise InputError(
            f"{path}: x = {x.max()} out of range; {num_inputs} inputs over {num_channels} channel(s) "
            f"allow x < {width}"
        )
    num_steps = int(np.round(t.max() + 1)) if steps is None else steps
    step = np.round(t).astype(np.int64)
    keep = step < num_steps
    if not keep.any():
        raise InputError(f"{path}: --steps {num_steps} drops every one of its {len(step)} events "
                         f"(the first is at step {step.min()})")
    if not keep.all() and notes is not None:
        notes.append(f"--steps {num_steps} keeps {int(keep.sum())} of the {len(step)} events of {path} "
                     f"(the others fall at step {num_steps} or later)")
    spikes = np.zeros((num_channels, width, num_steps), dtype=np.uint8)
    spikes[channel[keep], x[keep], step[keep]] = 1
    return spikes.reshape(1, num_inputs, num_steps)


def load_bias(path: Path, shape: tuple[int, ...], limits: Limits | None = None) -> np.ndarray:
    """Input-layer bias image(s) from a .npy file, flattened in C order.

    ``shape`` is the input layer's Lava shape, e.g. (W, H, C) = (16, 16, 3);
    the file holds either exactly ``shape`` (one image) or [N, *shape]. Values
    are bias units (integers on Loihi): any integer dtype, or float holding
    finite whole numbers. Returns int64 [N, prod(shape)].
    """
    shape = tuple(shape)
    array = _load_npy(path, limits or Limits())
    if array.shape == shape:
        array = array[np.newaxis]
    if array.shape[1:] != shape or array.shape[0] == 0:
        raise InputError(f"{path}: bias array has shape {array.shape}; expected {shape} or [N, *{shape}] with N > 0")
    if array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise InputError(f"{path}: bias array contains NaN or infinite values")
        if (array != np.round(array)).any():
            raise InputError(f"{path}: bias array contains non-integer values")
        too_large = (np.abs(array) >= 2.0**63).any()
    else:
        too_large = array.dtype == np.uint64 and (array > np.uint64(np.iinfo(np.int64).max)).any()
    if too_large:
        raise InputError(f"{path}: bias array has values beyond the int64 range")
    return array.astype(np.int64).reshape(array.shape[0], -1)


def random_spikes(num_samples: int, num_inputs: int, steps: int, rate: float, seed: int,
                  limits: Limits | None = None) -> np.ndarray:
    """Bernoulli spikes, probability ``rate`` per neuron and 1 ms step, from ``np.random.default_rng(seed)``.

    Drawn one sample at a time (the same numbers as one draw of the whole
    array), so the only large array is the result, checked against ``limits``
    first. Returns uint8 [num_samples, num_inputs, steps].
    """
    if not 0 <= rate <= 1:
        raise InputError(f"--random-rate: must be in [0, 1], got {rate}")
    if num_samples <= 0:
        raise InputError(f"--samples: must be positive, got {num_samples}")
    if steps <= 0:
        raise InputError(f"--steps: must be positive, got {steps}")
    if num_inputs <= 0:
        raise InputError(f"network input count must be positive, got {num_inputs}")
    if seed < 0:
        raise InputError(f"--seed: must be at least 0, got {seed}")
    (limits or Limits()).check_memory(float(num_samples) * num_inputs * steps,
                                      f"--random-rate ({num_samples} samples x {num_inputs} inputs x {steps} steps)")
    rng = np.random.default_rng(seed)
    out = np.empty((num_samples, num_inputs, steps), dtype=np.uint8)
    for sample in range(num_samples):
        out[sample] = rng.random((num_inputs, steps)) < rate
    return out
