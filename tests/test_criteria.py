import numpy as np
import pytest
import torch

from neurodeploy.data.dataset import SpikeDataset
from neurodeploy.prune.criteria import CRITERIA, spiking_firing
from neurodeploy.prune.imp import iterative_prune
from neurodeploy.prune.statistics import LayerStatistics, layer_statistics
from neurodeploy.recipe import ConvSettings, ModelSettings, PruneSettings
from neurodeploy.train.model import build_model
from neurodeploy.train.trainer import fit

GEN = torch.Generator().manual_seed(0)


def test_sf_scores_a_hand_computed_dense_case():
    # out j = 0, 1; in i = 0, 1, 2; dense weights in SLAYER's [out, in, 1, 1, 1]
    weight = torch.tensor([[0.5, -1.0, 2.0], [-0.25, 0.75, 1.0]]).reshape(2, 3, 1, 1, 1)
    stats = LayerStatistics(
        input_rate=np.array([0.5, 0.0, 0.25]),
        potential_mean=np.array([1.0, 2.0]),
        potential_var=np.array([0.25, 1.0]),
        threshold=1.25,
    )
    # N(0 | mu - u_th, var) = exp(-(mu - u_th)^2 / 2 var) / sqrt(2 pi var)
    density = [0.704130653528599, 0.30113743215480443]  # (1 - 1.25, 0.25) and (2 - 1.25, 1)
    expected = [
        [0.5 * 0.5 * density[0], 0.0, 0.25 * 2.0 * density[0]],
        [0.5 * 0.25 * density[1], 0.0, 0.25 * 1.0 * density[1]],
    ]
    scores = spiking_firing(weight, stats, GEN).reshape(2, 3)
    np.testing.assert_allclose(scores.numpy(), expected, rtol=1e-7)
    assert CRITERIA["sf"].score is spiking_firing


def test_sf_on_conv_uses_input_channel_rates_and_output_channel_potentials():
    weight = torch.randn(2, 3, 2, 2, 1, generator=GEN)
    stats = LayerStatistics(np.array([0.1, 0.2, 0.3]), np.array([0.0, 1.25]), np.array([4.0, 0.01]), 1.25)
    scores = spiking_firing(weight, stats, GEN)
    density = [np.exp(-1.25**2 / 8) / np.sqrt(8 * np.pi), 1 / np.sqrt(0.02 * np.pi)]
    for j in range(2):
        for i in range(3):
            np.testing.assert_allclose(
                scores[j, i].numpy(), stats.input_rate[i] * weight[j, i].abs().double().numpy() * density[j], rtol=1e-6
            )
    with pytest.raises(ValueError, match="do not fit a weight of shape"):
        spiking_firing(torch.ones(3, 3, 1, 1, 1), stats, GEN)
    with pytest.raises(ValueError, match="needs layer statistics"):
        spiking_firing(weight, None, GEN)


def test_magnitude_and_random():
    weight = torch.tensor([[-3.0, 1.0], [0.5, -0.1]])
    assert torch.equal(CRITERIA["magnitude"].score(weight, None, GEN), weight.abs())
    a = CRITERIA["random"].score(weight, None, torch.Generator().manual_seed(5))
    b = CRITERIA["random"].score(weight, None, torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and a.shape == weight.shape and ((a >= 0) & (a < 1)).all()


def _spikes(shape, rate=0.4, seed=0):
    return (np.random.default_rng(seed).random(shape) < rate).astype(np.float32)


def test_statistics_measure_rates_and_potentials_of_every_layer():
    torch.manual_seed(0)
    settings = ModelSettings(conv=(ConvSettings(channels=4, kernel=3, stride=2, padding=1),), hidden=(12,))
    model = build_model((2, 6, 6), 5, settings)
    with torch.no_grad():
        for block in model.neuron_blocks:
            block.synapse.weight.mul_(4)
    x = _spikes((30, 72, 10))
    stats = layer_statistics(model, x, batch_size=7)
    conv, hidden, out = (stats[name] for name in model.weight_names())
    image = x.reshape(30, 2, 6, 6, 10)
    np.testing.assert_allclose(conv.input_rate, image.astype(np.float64).mean(axis=(0, 2, 3, 4)), rtol=1e-12)
    with torch.no_grad():
        block = model.neuron_blocks[0]
        voltage = block.neuron.dynamics(block.synapse(torch.from_numpy(image)))[1].double().numpy()
        spikes = model.layer_spikes(torch.from_numpy(x))
    np.testing.assert_allclose(conv.potential_mean, voltage.mean(axis=(0, 2, 3, 4)), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(conv.potential_var, voltage.var(axis=(0, 2, 3, 4)), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(hidden.input_rate, spikes[0].reshape(30, -1, 10).double().mean(axis=(0, 2)).numpy(), rtol=1e-12)
    np.testing.assert_allclose(out.input_rate, spikes[1].double().mean(axis=(0, 2)).numpy(), rtol=1e-12)
    assert conv.input_rate.shape == (2,) and conv.potential_mean.shape == (4,)
    assert hidden.input_rate.shape == (36,) and out.potential_var.shape == (5,)
    assert hidden.input_rate.max() > 0, "the test network should spike"
    assert conv.threshold == pytest.approx(1.25)


def _dataset(inputs=16, classes=4, samples=48, steps=8):
    x = _spikes((samples, inputs, steps), seed=3)
    y = np.random.default_rng(4).integers(0, classes, samples)
    return SpikeDataset(x, y, x, y, inputs, classes, (inputs, 1, 1))


@pytest.mark.parametrize("criterion", ["magnitude", "random", "sf"])
def test_rewinding_resets_survivors_to_the_rewind_weights(criterion):
    torch.manual_seed(0)
    model = build_model(16, 4, ModelSettings(hidden=(12,)))
    rewind = {k: v.clone() for k, v in model.state_dict().items()}
    data = _dataset()
    fit(model, data.x_train, data.y_train, 3, 8, 0.05, 0)
    settings = PruneSettings(criterion=criterion, sparsity=0.75, rounds=2, finetune_epochs=0, stats_samples=20)
    result = iterative_prune(model, data, settings, batch_size=8, seed=1, rewind_state=rewind)
    params = dict(model.named_parameters())
    total = sum(m.numel() for m in result.masks.values())
    assert sum(int((~m).sum()) for m in result.masks.values()) == int(np.ceil(0.75 * total))
    assert [r["target"] for r in result.rounds] == pytest.approx([0.5, 0.75])
    for name, mask in result.masks.items():
        assert torch.equal(params[name].detach(), rewind[name] * mask)


def test_sf_imp_2_dynamic_layers_end_exactly_zero_and_reach_the_sparsity():
    torch.manual_seed(0)
    model = build_model(16, 4, ModelSettings(hidden=(12,)))
    rewind = {k: v.clone() for k, v in model.state_dict().items()}
    data = _dataset()
    settings = PruneSettings(
        criterion="sf", sparsity=0.8, rounds=2, finetune_epochs=1, lr=0.05, stats_samples=20,
        magnitude_layers=(0, -1), dynamic_layers=(0, -1), scope="layerwise",
    )
    result = iterative_prune(model, data, settings, batch_size=8, seed=1, rewind_state=rewind)
    params = dict(model.named_parameters())
    for name, mask in result.masks.items():
        assert (~mask).float().mean() >= 0.8
        assert torch.all(params[name].detach()[~mask] == 0)
        assert model.get_submodule(name.rsplit(".", 1)[0]).pre_hook_fx.__name__ == "quantize_8bit"
