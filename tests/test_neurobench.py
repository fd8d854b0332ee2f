"""NeuroBench 2.3's own harness and ours on the same network and data: the same figures.

The network: dense CUBA layers with integer weights, a current that lasts one
step (i_decay 4096) and a voltage that does not leak (v_decay 0), reset to
zero. In float32 snnTorch ``Leaky(beta=1, reset_mechanism="zero",
reset_delay=False)`` computes exactly that (integers far below 2^24); the
twin delays every synapse by one step, as Lava does, and is fed the same
T + drain columns, so that the harness makes the calls the golden model's
steps are. Its spikes are checked against the golden model's first, then
every metric against NeuroBench's.
"""
import numpy as np
import pytest
import torch
from torch import nn

snn = pytest.importorskip("snntorch")
pytest.importorskip("neurobench")
from neurobench.benchmarks import Benchmark  # noqa: E402
from neurobench.metrics.static import ConnectionSparsity, Footprint, ParameterCount  # noqa: E402
from neurobench.metrics.utils.layers import single_layer_MACs  # noqa: E402
from neurobench.metrics.workload import ActivationSparsity, MembraneUpdates, SynapticOperations  # noqa: E402
from neurobench.models import SNNTorchModel, TorchModel  # noqa: E402

from neurodeploy.compare.neurobench import NeuroBenchTally, static_metrics, step_synops
from neurodeploy.netx import CubaNeuron, DenseLayer, read_netx, write_netx
from neurodeploy.simulate.golden import GoldenModel
from neurodeploy.simulate.stimulus import Stimulus
from netx_builders import weights

THRESHOLDS = (60, 45, 30)


class DelayedTwin(nn.Module):
    """The network in snnTorch, one call per Loihi step: each Linear gets what its
    presynaptic layer (or the input) sent at the step before."""

    def __init__(self, matrices: list[np.ndarray]) -> None:
        super().__init__()
        self.fc = nn.ModuleList()
        for w in matrices:
            linear = nn.Linear(w.shape[1], w.shape[0], bias=False)
            linear.weight.data = torch.tensor(w, dtype=torch.float32)
            self.fc.append(linear)
        self.lif = nn.ModuleList(snn.Leaky(beta=1.0, threshold=float(th), reset_mechanism="zero", reset_delay=False)
                                 for th in THRESHOLDS)
        self.held: list[torch.Tensor] | None = None
        self.sent: list[list[torch.Tensor]] = []

    def reset(self) -> None:
        self.held = None
        for lif in self.lif:
            lif.reset_mem()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        held = self.held or [torch.zeros(x.shape[0], fc.in_features) for fc in self.fc]
        out = []
        for fc, lif, pre in zip(self.fc, self.lif, held):
            spk, mem = lif(fc(pre))
            out.append(spk)
        self.held = [x, *out[:-1]]
        self.sent.append(out)
        return out[-1], mem


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    rng = np.random.default_rng(3)
    shapes = [(24, 16), (20, 24), (6, 20)]
    layers = [DenseLayer(weights(rng, shape, density=0.6, scale=20), CubaNeuron(th, 4096, 0))
              for shape, th in zip(shapes, THRESHOLDS)]
    path = tmp_path_factory.mktemp("nb") / "net.net"
    write_netx(path, layers)
    network = read_netx(path)
    samples, steps = 8, 20
    stimulus = Stimulus((rng.random((samples, 16, steps)) < 0.3).astype(np.uint8), None, steps)
    golden = GoldenModel(network)
    run = golden.run_samples(stimulus, record_state=True)
    inputs = stimulus.batch_spikes(golden.drain_steps)  # [N, 16, T + drain]
    tally = NeuroBenchTally(network)
    for start in (0, 5):  # two batches, as compare runs them
        stop = 5 if start == 0 else samples
        tally.add(inputs[start:stop], [s[start:stop] for s in run.spikes],
                  [{k: v[start:stop] for k, v in layer.items()} for layer in run.state])
    matrices = [layer.weight for layer in network.layers]
    return network, inputs, run, tally.figures(), matrices


@pytest.mark.slow
def test_neurobench_harness_gives_our_figures(case):
    network, inputs, run, ours, matrices = case
    twin = DelayedTwin(matrices)
    data = torch.tensor(inputs, dtype=torch.float32).transpose(1, 2)  # [N, S, n_in], as NeuroBench takes it
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data, torch.zeros(len(data))),
                                         batch_size=3)
    model = SNNTorchModel(twin)
    benchmark = Benchmark(model, loader, [], [], [[ParameterCount, Footprint, ConnectionSparsity],
                                                  [ActivationSparsity, MembraneUpdates, SynapticOperations]])
    theirs = benchmark.run(quiet=True)

    # the twin is the deployed network: its spikes are the golden model's, every layer and step
    steps = data.shape[1]
    calls = [twin.sent[start:start + steps] for start in range(0, len(twin.sent), steps)]  # one list per batch
    for layer, golden in enumerate(run.spikes):
        sent = torch.cat([torch.stack([out[layer] for out in batch], dim=-1) for batch in calls])
        np.testing.assert_array_equal(sent.detach().numpy(), golden)
    assert sum(int(s.sum()) for s in run.spikes[1:]) > 0  # the deeper layers spike

    assert ours.parameter_count == theirs["ParameterCount"] == sum(w.size for w in matrices)
    assert ours.connection_sparsity == pytest.approx(theirs["ConnectionSparsity"], abs=5e-5)  # theirs: 4 decimals
    assert ours.activation_sparsity == pytest.approx(theirs["ActivationSparsity"], rel=1e-12)
    assert ours.membrane_updates == theirs["MembraneUpdates"]
    assert ours.synaptic_operations == theirs["SynapticOperations"]
    assert ours.synaptic_operations["Effective_ACs"] > 0 and ours.synaptic_operations["Effective_MACs"] == 0
    # the footprint: NeuroBench's own count of the weights held as the deployed integers
    deployed = nn.Module()
    deployed.w = nn.ParameterList(nn.Parameter(torch.tensor(w, dtype=torch.int8), requires_grad=False)
                                  for w in matrices)
    assert ours.footprint == Footprint()(TorchModel(deployed)) == sum(w.size for w in matrices)


def test_graded_messages_are_multiply_accumulates_as_neurobench_counts_them():
    rng = np.random.default_rng(5)
    w = weights(rng, (7, 9), density=0.5)
    layer = nn.Linear(9, 7, bias=False)
    layer.weight.data = torch.tensor(w, dtype=torch.float32)
    messages = rng.integers(-3, 4, size=(4, 9, 6)) * (rng.random((4, 9, 6)) < 0.5)
    messages[1] = np.clip(messages[1], -1, 1)  # one sample of spikes only
    fan = np.count_nonzero(w, axis=0)
    ops, binary = step_synops(messages, fan)
    for b in range(4):
        for s in range(6):
            theirs, spiking = single_layer_MACs(torch.tensor(messages[b:b + 1, :, s], dtype=torch.float32), layer)
            assert (ops[b, s], binary[b, s]) == (theirs, spiking)
    assert binary[1].all() and not binary[0].all()


def test_static_metrics_count_weights_and_biases_at_their_integer_width(tmp_path):
    w = np.array([[0, 2, -200], [4, 0, 0]])
    net = DenseLayer(w, CubaNeuron(10, 4096, 0), bias=np.array([3, -1]))
    write_netx(tmp_path / "b.net", [net])
    figures = static_metrics(read_netx(tmp_path / "b.net"))
    assert figures == {"parameter_count": 8, "footprint": 6 * 2 + 2 * 1, "connection_sparsity": 3 / 6}


def test_compare_gives_each_network_its_neurobench_figures(case):
    network, inputs, run, ours, matrices = case
    from neurodeploy.compare.networks import compare_networks

    steps = inputs.shape[-1] - GoldenModel(network).drain_steps
    result = compare_networks(network, network, Stimulus(inputs[..., :steps], None, steps), batch_size=3)
    assert result.a.neurobench == result.b.neurobench == ours
    effective = ours.synaptic_operations["Effective_ACs"] + ours.synaptic_operations["Effective_MACs"]
    assert effective == pytest.approx(result.a.synops_per_sample)
    assert result.to_dict()["a"]["neurobench"]["synaptic_operations"]["Dense"] == ours.synaptic_operations["Dense"]
