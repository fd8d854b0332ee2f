import os
import signal

import pytest

import neurodeploy.netx.probe as probe
from neurodeploy.cli import main
from netx_builders import dense_network


def test_a_readable_file_passes_the_probe(tmp_path):
    dense_network(tmp_path / "ok.net")
    probe.probe_hdf5(tmp_path / "ok.net")


def test_a_reader_killed_by_a_signal_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    dense_network(tmp_path / "a.net")
    # Stand in for libhdf5 crashing on a damaged global heap: the child dies of SIGSEGV.
    monkeypatch.setattr(probe, "read_every_dataset", lambda *args: os.kill(os.getpid(), signal.SIGSEGV))
    with pytest.raises(probe.NetxError, match=r"a.net: damaged HDF5 file: reading it crashed the HDF5 library \(SIGSEGV\)"):
        probe.probe_hdf5(tmp_path / "a.net")
    for args in (["inspect", str(tmp_path / "a.net")],
                 ["compare", str(tmp_path / "a.net"), str(tmp_path / "a.net"), "--random-rate", "0.1", "--steps", "4"]):
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert err.endswith("crashed the HDF5 library (SIGSEGV)") and "\n" not in err
