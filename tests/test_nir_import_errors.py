"""``neurodeploy import`` of hostile NIR graphs (written with nir.write, edited with h5py
where nir.write would refuse): every refusal is one line naming the file, the node and
the parameter, no Python warning reaches the terminal, and an existing ``--out`` keeps
its bytes."""
import warnings
from pathlib import Path

import h5py
import nir
import numpy as np
import pytest

from neurodeploy.cli import main
from neurodeploy.export.nir_import import ImportedLayer, NirImport, NirImportError
from neurodeploy.export.nir_walk import LayerNodes
from neurodeploy.netx import CubaNeuron, DenseLayer

KEPT = b"an existing network the user keeps\n"


def cuba(shape: tuple[int, ...], **changes) -> nir.CubaLIF:
    """A CubaLIF of ``shape`` that spikes (dt 1e-3: dt / tau_syn = 0.25, dt / tau_mem = 0.125)."""
    values = dict(tau_syn=4e-3, tau_mem=8e-3, r=8.0, v_leak=0.0, v_threshold=1.0, v_reset=0.0, w_in=4.0)
    values.update(changes)
    return nir.CubaLIF(**{key: np.broadcast_to(np.asarray(value), shape).copy() for key, value in values.items()})


def dense(weight=None, bias=None, neuron=None, linear: bool = False, dt=1e-3, inputs: int = 5) -> nir.NIRGraph:
    """Input(inputs) -> Affine (or Linear) -> CubaLIF -> Output; ``weight`` default 6 x inputs."""
    weight = np.random.default_rng(0).normal(0, 0.5, (6, inputs)) if weight is None else weight
    rows = np.shape(weight)[0]
    synapse = nir.Linear(weight=weight) if linear else nir.Affine(
        weight=weight, bias=np.full(rows, 0.1) if bias is None else bias)
    nodes = {"input": nir.Input(input_type=np.array([inputs])), "fc": synapse,
             "lif": neuron if neuron is not None else cuba((rows,)), "output": nir.Output(output_type=np.array([rows]))}
    return nir.NIRGraph(nodes=nodes, edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")],
                        metadata={} if dt is None else {"dt": dt}, type_check=False)


def conv(weight_shape=(3, 2, 3, 3), out_shape=(3, 5, 5), **geometry) -> nir.NIRGraph:
    """Input(2, 5, 5) -> Conv2d (padding 1 unless given) -> CubaLIF of ``out_shape`` -> Output."""
    settings = dict(stride=1, padding=1, dilation=1, groups=1)
    settings.update(geometry)
    node = nir.Conv2d(input_shape=(5, 5), weight=np.ones(weight_shape) * 0.3, bias=np.zeros(weight_shape[0]),
                      **settings)
    nodes = {"input": nir.Input(input_type=np.array([2, 5, 5])), "conv": node, "lif": cuba(out_shape),
             "output": nir.Output(output_type=np.array(out_shape))}
    return nir.NIRGraph(nodes=nodes, edges=[("input", "conv"), ("conv", "lif"), ("lif", "output")],
                        metadata={"dt": 1e-3}, type_check=False)


def replace(key: str, value) -> callable:
    """An h5py edit: dataset ``node/KEY`` replaced by ``value`` (text as an HDF5 string)."""
    def edit(handle: h5py.File) -> None:
        del handle[f"node/{key}"]
        if isinstance(value, str):
            handle.create_dataset(f"node/{key}", data=value, dtype=h5py.string_dtype())
        else:
            handle[f"node/{key}"] = value
    return edit


def save(path: Path, graph: nir.NIRGraph, edit=None) -> Path:
    """``nir.write`` of ``graph`` (its own warnings, e.g. for complex arrays, silenced), then ``edit``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nir.write(path, graph)
    if edit is not None:
        with h5py.File(path, "r+") as handle:
            edit(handle)
    return path


def import_cli(graph: Path, out: Path, *options: str, capsys) -> tuple[int, str, str, list[str]]:
    """``neurodeploy import GRAPH --out OUT OPTIONS``: (exit code, stdout, stderr, the Python warnings a
    terminal would show: Python's default filters, which hide deprecations, without their once-only memory)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=PendingDeprecationWarning)
        code = main(["import", str(graph), "--out", str(out), "--samples", "2", "--steps", "8", *options])
    captured = capsys.readouterr()
    return code, captured.out, captured.err, [str(item.message) for item in caught]


NAN = float("nan")
CASES = {
    # finite, real, numeric, in range: weights and biases (issue 29, items 4 and 9)
    "nan weight": (dense(weight=np.full((6, 5), NAN)), None, (), ["node 'fc'", "weight", "not finite"]),
    "inf weight": (dense(weight=np.full((6, 5), np.inf)), None, (), ["node 'fc'", "weight", "not finite"]),
    "huge weight": (dense(weight=np.full((6, 5), 1e300)), None, (), ["node 'fc'", "weight"]),
    "nan bias": (dense(bias=np.full(6, NAN)), None, (), ["node 'fc'", "bias", "not finite"]),
    "inf bias": (dense(bias=np.full(6, -np.inf)), None, (), ["node 'fc'", "bias", "not finite"]),
    "huge bias": (dense(bias=np.full(6, 1e300)), None, (), ["node 'fc'", "bias", "16 bits"]),
    "large bias": (dense(bias=np.full(6, 1e6)), None, (), ["node 'fc'", "bias", "16 bits"]),
    "complex weight": (dense(weight=np.ones((6, 5)) * (0.1 + 0.1j)), None, (), ["node 'fc'", "weight", "complex"]),
    "complex bias": (dense(bias=np.ones(6) * 1j), None, (), ["node 'fc'", "bias", "complex"]),
    "text weight": (dense(), replace("nodes/fc/weight", np.array([[b"a"] * 5] * 6)), (),
                    ["node 'fc'", "weight", "not numbers"]),
    "text bias": (dense(), replace("nodes/fc/bias", "0.5"), (), ["node 'fc'", "bias", "not numbers"]),
    "bool weight": (dense(weight=np.ones((6, 5), bool)), None, (), ["node 'fc'", "weight", "not numbers"]),
    # neuron parameters
    **{f"nan {key}": (dense(neuron=cuba((6,), **{key: NAN})), None, (), ["node 'lif'", key, "not finite"])
       for key in ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in")},
    "complex v_leak": (dense(neuron=cuba((6,), v_leak=1j)), None, (), ["node 'lif'", "v_leak", "complex"]),
    "text threshold": (dense(), replace("nodes/lif/v_threshold", "one"), (),
                       ["node 'lif'", "v_threshold", "not numbers"]),
    "huge v_leak": (dense(neuron=cuba((6,), v_leak=1e300)), None, (), ["'lif'", "v_leak", "16 bits"]),
    "tau_syn 0": (dense(neuron=cuba((6,), tau_syn=0.0)), None, (), ["node 'lif'", "tau_syn", "positive"]),
    "tau_mem 0": (dense(neuron=cuba((6,), tau_mem=0.0)), None, (), ["node 'lif'", "tau_mem", "positive"]),
    "tau_mem < 0": (dense(neuron=cuba((6,), tau_mem=-8e-3)), None, (), ["node 'lif'", "tau_mem", "positive"]),
    "threshold 0": (dense(neuron=cuba((6,), v_threshold=0.0)), None, (), ["node 'lif'", "v_threshold", "positive"]),
    "lif tau 0": (dense(neuron=nir.LIF(tau=np.zeros(6), r=np.ones(6), v_leak=np.zeros(6), v_threshold=np.ones(6),
                                       v_reset=np.zeros(6))), None, (), ["node 'lif'", "tau", "positive"]),
    "dt 1e308": (dense(), None, ("--dt", "1e308"), ["node 'lif'", "dt / tau_syn", "forward Euler"]),
    "dt 1e-320": (dense(), None, ("--dt", "1e-320"), ["node 'fc'", "weight"]),
    # dt from the metadata
    "dt array": (dense(), replace("metadata/dt", np.array([1e-3, 2e-3])), (), ["metadata 'dt'", "2 values"]),
    "dt text": (dense(), replace("metadata/dt", "0.001"), (), ["metadata 'dt'", "not a number"]),
    "dt nan": (dense(dt=NAN), None, (), ["metadata 'dt'", "positive"]),
    "dt complex": (dense(), replace("metadata/dt", np.complex128(1e-3)), (), ["metadata 'dt'", "complex"]),
    "dt empty": (dense(), replace("metadata/dt", np.zeros(0)), (), ["metadata 'dt'", "0 values"]),
    # shapes: empty arrays, wrong ranks, mismatches between consecutive nodes
    "linear 0 x 4": (dense(weight=np.zeros((0, 4)), linear=True, inputs=4), None, (), ["node 'fc'", "weight", "empty"]),
    "linear 6 x 0": (dense(weight=np.zeros((6, 0)), linear=True, inputs=0), None, (), ["node 'fc'", "empty"]),
    "weight rank 3": (dense(weight=np.ones((6, 5, 1))), None, (), ["fc.input", "do not fit"]),
    "affine bias length": (dense(bias=np.ones(4)), None, (), ["node 'fc'", "bias", "4 values", "6"]),
    "affine bias 2-D": (dense(bias=np.ones((6, 2))), None, (), ["node 'fc'", "bias", "12 values"]),
    "neuron size": (dense(neuron=cuba((4,))), None, (), ["fc.output", "lif.input", "do not fit"]),
    "empty threshold": (dense(), replace("nodes/lif/v_threshold", np.zeros(0)), (), ["node 'lif'", "v_threshold"]),
    "input shape 0": (dense(), replace("nodes/input/shape", np.array([0])), (), ["node 'input'", "shape", "at least 1"]),
    "input shape text": (dense(), replace("nodes/input/shape", "five"), (), ["node 'input'", "shape", "text"]),
    "conv 0 channels": (conv(weight_shape=(0, 2, 3, 3), out_shape=(0, 5, 5)), None, (), ["node 'conv'", "empty"]),
    "conv padding -1": (conv(padding=-1, out_shape=(3, 1, 1)), None, (), ["node 'conv'", "padding"]),
    "conv stride 0": (conv(out_shape=(3, 5, 5)), replace("nodes/conv/stride", np.array([0, 0])), (),
                      ["node 'conv'", "stride"]),
    "conv dilation 0": (conv(out_shape=(3, 5, 5)), replace("nodes/conv/dilation", np.array([0, 1])), (),
                        ["node 'conv'", "dilation"]),
    "conv groups 0": (conv(out_shape=(3, 5, 5)), replace("nodes/conv/groups", np.array(0)), (),
                      ["node 'conv'", "groups"]),
    "conv padding 1.5": (conv(out_shape=(3, 5, 5)), replace("nodes/conv/padding", np.array([1.5, 1.5])), (),
                         ["node 'conv'", "padding"]),
    "conv nan weight": (conv(out_shape=(3, 5, 5)), replace("nodes/conv/weight", np.full((3, 2, 3, 3), NAN)), (),
                        ["node 'conv'", "weight", "not finite"]),
    # node types nir does not know, or cannot build
    "unknown node type": (dense(), replace("nodes/lif/type", "Bogus"), (), ["node 'lif'", "Bogus"]),
    "numeric node type": (dense(), replace("nodes/lif/type", np.array(3)), (), ["node 'lif'", "type"]),
    "1-D linear": (dense(), replace("nodes/fc/weight", np.ones(30)), (), ["node 'fc'", "2D"]),
    "nodes a dataset": (dense(), replace("nodes", np.ones(3)), (), ["not a NIR graph", "'nodes'"]),
    "metadata a dataset": (dense(), replace("metadata", np.ones(3)), (), ["not a NIR graph", "'metadata'"]),
    "a node, not a graph": (dense(), replace("type", "Affine"), (), ["not a NIR graph", "NIRGraph"]),
    "a node not a group": (dense(), replace("nodes/lif", np.ones(3)), (), ["node 'lif'", "None"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_bad_graph_is_one_line_naming_file_node_and_parameter_and_out_is_kept(tmp_path, capsys, name):
    graph, edit, options, expected = CASES[name]
    path = save(tmp_path / "bad.nir", graph, edit)
    out = tmp_path / "kept.net"
    out.write_bytes(KEPT)
    code, printed, err, caught = import_cli(path, out, *options, capsys=capsys)
    assert code == 2, (name, printed, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, (name, err)
    for fragment in [str(path), *expected]:
        assert fragment in err, (name, fragment, err)
    assert caught == [], (name, caught)  # no RuntimeWarning, ComplexWarning... on the terminal
    assert out.read_bytes() == KEPT, name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.nir", "kept.net"], name  # no temporary file left


def test_the_good_graphs_the_cases_start_from_import(tmp_path, capsys):
    """The cases differ from these in the one thing they name."""
    for index, graph in enumerate([dense(), dense(linear=True), conv()]):
        path = save(tmp_path / f"good{index}.nir", graph)
        out = tmp_path / f"good{index}.net"
        out.write_bytes(KEPT)
        code, printed, err, caught = import_cli(path, out, capsys=capsys)
        assert code == 0 and err == "" and caught == [], (index, err, caught)
        assert out.read_bytes() != KEPT and f"wrote {out}" in printed


def test_a_network_that_does_not_read_back_is_not_written(tmp_path):
    """NirImport writes beside --out, reads that back with read_netx's checks and only
    then renames: a layer read_netx refuses (an all-zero dense matrix) leaves --out as it
    was, and the message names --out, not the temporary file."""
    out = tmp_path / "kept.net"
    out.write_bytes(KEPT)
    layer = DenseLayer(np.zeros((3, 4), dtype=np.int64), CubaNeuron(v_th_mant=10, i_decay=1024, v_decay=512))
    imported = NirImport(graph=dense(), dt=1e-3, layers=(ImportedLayer(layer, LayerNodes(("fc",), "lif"), 10),), input_shape=(4,),
                         source="g.nir")
    with pytest.raises(NirImportError) as err:
        with imported.written(out):
            pass
    assert str(out) in str(err.value) and "g.nir" in str(err.value) and ".tmp" not in str(err.value)
    assert out.read_bytes() == KEPT and sorted(p.name for p in tmp_path.iterdir()) == ["kept.net"]


def test_an_unwritable_out_names_the_users_path(tmp_path, capsys):
    path = save(tmp_path / "g.nir", dense())
    code, _, err, _ = import_cli(path, Path("/proc/neurodeploy-x.net"), capsys=capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "/proc/neurodeploy-x.net:" in err and ".tmp" not in err, err


@pytest.mark.parametrize("inputs", ["random", "spikes"])
def test_the_comparison_is_checked_against_max_memory_before_any_work(tmp_path, capsys, inputs):
    """Inputs of 10 x 5 x 200,000 (10 MB) fit 0.05 GiB; the float run in Norse and the
    golden run on them do not: refused before anything is written, naming --max-memory."""
    path = save(tmp_path / "g.nir", dense())
    out = tmp_path / "kept.net"
    out.write_bytes(KEPT)
    if inputs == "random":
        options = ["--samples", "10", "--steps", "200000"]
    else:
        np.save(tmp_path / "s.npy", np.zeros((10, 5, 200000), np.uint8))
        options = ["--spikes", str(tmp_path / "s.npy"), "--samples", "10", "--steps", "200000"]
    code, _, err, _ = import_cli(path, out, *options, "--max-memory", "0.05", capsys=capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "needs about" in err and "--max-memory" in err and "Norse" in err, err
    assert out.read_bytes() == KEPT
