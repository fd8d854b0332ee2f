"""``neurodeploy export NET.net --format onnx|nir --out FILE``: any NetX file, not only a run folder's."""
import nir
import onnx
import pytest

from neurodeploy.cli import main
from neurodeploy.export.nir_graph import network_to_nir
from neurodeploy.export.onnx_graph import build_onnx
from neurodeploy.netx import read_netx
from netx_builders import FIXTURES, conv_network


@pytest.mark.parametrize("fmt", ["onnx", "nir"])
def test_a_fixture_network_converts_as_the_run_folder_form_would(fmt, tmp_path, capsys):
    net = FIXTURES / "oxford" / "network.net"
    out = tmp_path / f"oxford.{fmt}"
    assert main(["export", str(net), "--format", fmt, "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out}"
    network = read_netx(net)
    if fmt == "onnx":
        model = onnx.load(str(out))
        onnx.checker.check_model(model)
        assert model.graph == build_onnx(network).graph
    else:
        graph, expected = nir.read(str(out)), network_to_nir(network)
        assert sorted(graph.nodes) == sorted(expected.nodes) and sorted(graph.edges) == sorted(expected.edges)


def test_a_layer_the_format_cannot_carry_is_one_line_naming_it_and_nothing_is_written(tmp_path, capsys):
    net = tmp_path / "c.net"
    conv_network(net)  # layer/4 has axonal delays, which neither format carries
    for fmt in ("onnx", "nir"):
        out = tmp_path / f"c.{fmt}"
        assert main(["export", str(net), "--format", fmt, "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and f"{net}: layer/4: axonal delays" in err, err
        assert not out.exists()


def test_export_options_that_do_not_fit_are_refused(tmp_path, capsys):
    net = FIXTURES / "oxford" / "network.net"
    assert main(["export", str(net), "--out", str(tmp_path / "x")]) == 2
    assert "is NetX already; give --format onnx or nir" in capsys.readouterr().err
    assert main(["export", "--out", str(tmp_path), "--input-shape", "1,8,8"]) == 2
    assert "--input-shape is for converting a NetX file" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "missing.net"), "--format", "nir", "--out", str(tmp_path / "m.nir")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "missing.net" in err, err
