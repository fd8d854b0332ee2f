"""Hostile HDF5 files every command that reads a user's file refuses in one line, before
reading them in the main process (issue 29, items 6 to 8): a file whose damaged global heap
makes libhdf5 spin, links and datasets that take data from other files (a FIFO among them),
and datasets that declare more memory than the limit."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import h5py
import nir
import numpy as np
import pytest
from netx_builders import FIXTURES, conv_network, dense_network

import neurodeploy.netx.probe as probe
from neurodeploy.cli import main
from neurodeploy.limits import LimitError, Limits
from neurodeploy.netx import ConvLayer, CubaNeuron, NetxError, read_netx, write_netx
from neurodeploy.processes import descendants

OXFORD = FIXTURES / "oxford" / "network.net"
STOP_WITHIN = 30  # seconds a command may take to answer a file that hangs libhdf5 (not the default probe limit)


def spinning_heap(path: Path) -> Path:
    """The oxford fixture with the size of the first object of its global heap (the string
    'CUBA' of layer/0/neuron/type) set to 0: libhdf5 then loops at 100 % CPU inside one C
    call reading that dataset (found by a byte-by-byte search of the heap: 1 of 88 bytes
    x 7 values spins)."""
    data = bytearray(OXFORD.read_bytes())
    heap = data.index(b"GCOL")
    size = heap + 16 + 8  # collection header (16 bytes), then object 1: index, refcount, reserved, size
    assert int.from_bytes(data[size:size + 8], "little") == 4  # len("CUBA")
    data[size:size + 8] = bytes(8)
    path.write_bytes(bytes(data))
    return path


def neurodeploy(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """The command line in a process of its own (a hang fails the test instead of the suite)."""
    return subprocess.run([sys.executable, "-m", "neurodeploy.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def assert_one_line(result: subprocess.CompletedProcess, *parts: str) -> None:
    err = result.stderr.strip()
    assert result.returncode == 2, result.stderr
    assert "\n" not in err and "Traceback" not in err, err
    for part in parts:
        assert part in err, err


def test_the_probe_reads_past_the_first_dataset_and_kills_a_reader_that_hangs(tmp_path):
    spinning = spinning_heap(tmp_path / "spin.net")
    before = set(descendants(os.getpid()))
    start = time.monotonic()
    with pytest.raises(NetxError, match=r"spin.net: reading it did not finish within 2 s \(a damaged HDF5 file\?\)"):
        probe.probe_hdf5(spinning, seconds=2)
    assert time.monotonic() - start < 10
    assert set(descendants(os.getpid())) == before  # the child killed and reaped


def test_a_spinning_attribute_is_read_too(tmp_path):
    path = tmp_path / "a.h5"  # its global heap holds only the attribute's two strings, as oxford's does its types
    with h5py.File(path, "w") as handle:
        handle["x"] = np.arange(3)
        handle["x"].attrs.create("note", data=np.array(["CUBA", "CUBA"], dtype=object), dtype=h5py.string_dtype())
    data = bytearray(path.read_bytes())
    size = data.index(b"GCOL") + 16 + 8
    data[size:size + 8] = bytes(8)
    path.write_bytes(bytes(data))
    with pytest.raises(NetxError, match="did not finish within 2 s"):
        probe.probe_hdf5(path, seconds=2)


def test_a_command_on_a_spinning_file_ends_in_one_line(tmp_path, monkeypatch, capsys):
    spinning = spinning_heap(tmp_path / "spin.net")
    monkeypatch.setattr(probe, "PROBE_SECONDS", 1.0)
    for args in (["inspect", str(spinning)], ["export", str(spinning), "--format", "nir", "--out", str(tmp_path / "o.nir")],
                 ["verify", str(spinning), "--random-rate", "0.1", "--steps", "4"]):
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert err.endswith("spin.net: reading it did not finish within 1 s (a damaged HDF5 file?)") and "\n" not in err
    assert not (tmp_path / "o.nir").exists()


def test_sigterm_stops_a_command_waiting_for_the_probe_and_its_child(tmp_path):
    spinning = spinning_heap(tmp_path / "spin.net")
    command = subprocess.Popen([sys.executable, "-m", "neurodeploy.cli", "inspect", str(spinning)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60  # imports (seconds on a loaded machine), then the probe's child spinning
        while not (children := descendants(command.pid)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert children  # the probe's child
        time.sleep(1)
        command.terminate()
        _, err = command.communicate(timeout=STOP_WITHIN)
    finally:
        command.kill()  # a command that ignored SIGTERM
        command.wait()
    assert command.returncode == 143 and err.strip() == "neurodeploy: stopped by SIGTERM"
    assert not any(Path(f"/proc/{pid}").exists() for pid in children)


@pytest.fixture
def fifo_linked(tmp_path):
    """A NetX file whose layer/0/weight is an external link to a dataset in a FIFO."""
    path = tmp_path / "linked.net"
    dense_network(path)
    os.mkfifo(tmp_path / "a.fifo")
    with h5py.File(path, "a") as handle:
        del handle["layer/0/weight"]
        handle["layer/0/weight"] = h5py.ExternalLink("a.fifo", "/w")
    return path


def test_an_external_link_is_refused_by_every_command_without_opening_it(fifo_linked, tmp_path):
    expected = (str(fifo_linked), "'layer/0/weight' is an HDF5 external link to a.fifo:/w")
    for args in (["inspect", str(fifo_linked)],
                 ["verify", str(fifo_linked), "--random-rate", "0.1", "--steps", "4"],
                 ["compare", str(OXFORD), str(fifo_linked), "--random-rate", "0.1", "--steps", "4"],
                 ["export", str(fifo_linked), "--format", "onnx", "--out", str(tmp_path / "o.onnx")]):
        assert_one_line(neurodeploy(*args, timeout=STOP_WITHIN), *expected)
    assert not (tmp_path / "o.onnx").exists()


def external_storage(path: Path) -> None:
    dense_network(path)
    (path.parent / "raw.bin").write_bytes(bytes(20 * 30 * 8))
    with h5py.File(path, "a") as handle:
        weight = handle["layer/0/weight"][()]
        del handle["layer/0/weight"]
        handle.create_dataset("layer/0/weight", shape=weight.shape, dtype=weight.dtype,
                              external=[("raw.bin", 0, weight.nbytes)])


def virtual_dataset(path: Path) -> None:
    dense_network(path)
    source = path.parent / "source.h5"
    with h5py.File(source, "w") as handle:
        handle["w"] = np.ones((20, 30), dtype=np.float32)
    with h5py.File(path, "a") as handle:
        del handle["layer/0/weight"]
        layout = h5py.VirtualLayout(shape=(20, 30), dtype=np.float32)
        layout[:] = h5py.VirtualSource(str(source), "w", shape=(20, 30))
        handle.create_virtual_dataset("layer/0/weight", layout)


@pytest.mark.parametrize("make, message", [
    (external_storage, "dataset 'layer/0/weight' stores its data outside the file (external storage in 'raw.bin')"),
    (virtual_dataset, "dataset 'layer/0/weight' is an HDF5 virtual dataset"),
])
def test_data_from_other_files_is_refused(tmp_path, make, message):
    make(tmp_path / "a.net")
    with pytest.raises(NetxError, match=re.escape(message)):
        probe.probe_hdf5(tmp_path / "a.net")


def nir_graph(path: Path) -> Path:
    graph = nir.NIRGraph.from_list(nir.Affine(weight=np.ones((3, 2)), bias=np.zeros(3)),
                                   nir.LIF(tau=np.full(3, 0.01), r=np.ones(3), v_leak=np.zeros(3),
                                           v_threshold=np.ones(3)))
    nir.write(path, graph)
    return path


def test_import_refuses_an_external_link_in_a_nir_file(tmp_path):
    path = nir_graph(tmp_path / "g.nir")
    os.mkfifo(tmp_path / "a.fifo")
    with h5py.File(path, "a") as handle:
        name = next(key for key in handle["node/nodes"] if "weight" in handle[f"node/nodes/{key}"])
        del handle[f"node/nodes/{name}/weight"]
        handle[f"node/nodes/{name}/weight"] = h5py.ExternalLink("a.fifo", "/w")
    assert_one_line(neurodeploy("import", str(path), "--out", str(tmp_path / "o.net"), "--dt", "1e-3",
                                timeout=STOP_WITHIN), f"'node/nodes/{name}/weight' is an HDF5 external link")
    assert not (tmp_path / "o.net").exists()


def declared_only(path: Path, name: str, shape: tuple[int, ...]) -> None:
    """Add dataset ``name`` of ``shape`` float64 that is declared but never written (read as
    its fill value), chunked and gzipped as a bomb would be."""
    with h5py.File(path, "a") as handle:
        handle.create_dataset(name, shape=shape, dtype=np.float64, chunks=(1024, 1024), compression="gzip")


def test_a_dataset_declared_beyond_the_limit_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "a.net"
    dense_network(path)
    declared_only(path, "junk", (1 << 24, 1 << 24))  # 2 PiB
    assert path.stat().st_size < 100_000
    with pytest.raises(LimitError, match=r"a.net: dataset 'junk' \(shape \(16777216, 16777216\), float64\) needs "
                       r"about 2097152.0 GiB of memory, more than the limit"):
        probe.probe_hdf5(path)


def test_a_gzip_bomb_is_refused_by_its_declared_size_and_the_sum_counts(tmp_path):
    path = tmp_path / "a.net"
    dense_network(path)
    with h5py.File(path, "a") as handle:
        for name in ("bomb1", "bomb2"):
            handle.create_dataset(name, data=np.zeros((3000, 3000)), chunks=(1000, 1000), compression="gzip")
    assert path.stat().st_size < 500_000  # 2 x 72 MB declared
    limits = Limits(memory=100 << 20)
    with pytest.raises(LimitError, match=r"a.net: its \d+ datasets and attributes together needs about 0.1 GiB"):
        probe.probe_hdf5(path, limits)
    with pytest.raises(LimitError, match=r"dataset 'bomb1' \(shape \(3000, 3000\), float64\) needs"):
        probe.probe_hdf5(path, Limits(memory=50 << 20))
    probe.probe_hdf5(path, Limits(memory=200 << 20))


def test_inspect_and_export_take_max_memory_and_name_it(tmp_path, capsys):
    path = tmp_path / "a.net"
    dense_network(path)
    declared_only(path, "junk", (4096, 4096))  # 128 MiB
    for args in (["inspect", str(path)], ["export", str(path), "--format", "onnx", "--out", str(tmp_path / "o.onnx")]):
        assert main([*args, "--max-memory", "0.1"]) == 2
        err = capsys.readouterr().err.strip()
        assert "dataset 'junk'" in err and "more than the limit of 0.1 GiB (--max-memory GIB raises it" in err
        assert main([*args, "--max-memory", "1"]) == 0
    assert (tmp_path / "o.onnx").exists()


def test_import_refuses_a_nir_parameter_declared_beyond_the_limit(tmp_path):
    path = nir_graph(tmp_path / "g.nir")
    with h5py.File(path, "a") as handle:
        name = next(key for key in handle["node/nodes"] if "tau" in handle[f"node/nodes/{key}"])
        del handle[f"node/nodes/{name}/tau"]
        handle.create_dataset(f"node/nodes/{name}/tau", shape=(1 << 24, 1 << 24), dtype=np.float64,
                              chunks=(1024, 1024), compression="gzip")
    assert_one_line(neurodeploy("import", str(path), "--out", str(tmp_path / "o.net"), "--dt", "1e-3"),
                    f"dataset 'node/nodes/{name}/tau'", "needs about 2097152.0 GiB of memory")
    assert not (tmp_path / "o.net").exists()


def test_oxford_and_its_copy_pass_the_probe(tmp_path):
    shutil.copy(OXFORD, tmp_path / "o.net")
    probe.probe_hdf5(tmp_path / "o.net")


def test_a_conv_shape_is_checked_against_the_convolution_before_its_bias_is_tiled(tmp_path):
    path = tmp_path / "c.net"
    conv_network(path)
    with h5py.File(path, "a") as handle:  # layer/2 is the conv with a bias per channel: 6 x 4 x 4
        del handle["layer/2/shape"]
        handle["layer/2/shape"] = np.array([6, 2000, 2000])  # 24 M neurons: 192 MB tiled
    tracemalloc.start()
    try:
        with pytest.raises(NetxError, match=r"c.net: layer/2: key 'shape' \[6, 2000, 2000\] differs from the "
                           r"convolution's output \[4, 4\]"):
            read_netx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 << 20


def test_a_conv_whose_neurons_exceed_the_limit_is_refused_before_they_are_allocated(tmp_path, capsys):
    path = tmp_path / "c.net"
    weight = np.ones((8, 1, 3, 3), dtype=np.int64)
    write_netx(path, [ConvLayer(weight, CubaNeuron(v_th_mant=30, i_decay=1024, v_decay=512), shape=(8, 30, 30),
                                bias=np.arange(8))])
    with h5py.File(path, "a") as handle:  # layer 0, stride 1: any shape has an input, here 8 x 20000 x 20000
        del handle["layer/0/shape"]
        handle["layer/0/shape"] = np.array([8, 20000, 20000])
    with pytest.raises(LimitError, match=r"c.net: layer/0: conv of shape \[8, 20000, 20000\] \(3200000000 neurons, "
                       r"8 bytes each\) needs about 23.8 GiB of memory, more than the limit of 1.0 GiB"):
        read_netx(path, limits=Limits(memory=1 << 30))
    assert main(["inspect", str(path), "--max-memory", "1"]) == 2
    assert "conv of shape [8, 20000, 20000]" in capsys.readouterr().err


def test_an_input_layer_declaring_billions_of_neurons_is_refused_before_work(tmp_path, capsys):
    """An input layer's neurons come from its ``shape`` key alone (no stored data to match)."""
    path = tmp_path / "i.net"
    dense_network(path)
    with h5py.File(path, "a") as handle:
        handle.copy("layer", "old")
        del handle["layer"]
        group = handle.create_group("layer/0")
        group["type"] = np.array([b"input"])
        group["shape"] = np.array([3, 50000, 50000])
        handle.copy("old/0/neuron", "layer/0/neuron")
        del handle["old"]
    for args in (["inspect", str(path)], ["export", str(path), "--format", "onnx", "--out", str(tmp_path / "o.onnx")],
                 ["verify", str(path), "--random-rate", "0.1", "--steps", "4"]):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "GiB of memory" in err and "--max-memory GIB raises it" in err, err
