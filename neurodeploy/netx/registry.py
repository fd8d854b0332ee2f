"""Every layer kind and neuron model, by the NetX type name it is stored under.

This is the one place where a NetX type name picks code: adding a kind is a
module and a line here (docs/architecture.md).
"""
from __future__ import annotations

from neurodeploy.netx.base import NeuronModel
from neurodeploy.netx.keys import Keys, NetxError
from neurodeploy.netx.layers.conv import ConvLayer
from neurodeploy.netx.layers.dense import DenseLayer
from neurodeploy.netx.layers.dense_rec import RecurrentDenseLayer
from neurodeploy.netx.layers.flatten import Flatten
from neurodeploy.netx.layers.input import InputLayer
from neurodeploy.netx.neurons.cuba import CubaNeuron
from neurodeploy.netx.neurons.rf import ResonateFireNeuron
from neurodeploy.netx.neurons.sdnn import SigmaDeltaNeuron

LAYER_KINDS = {kind.netx_type: kind for kind in (InputLayer, DenseLayer, RecurrentDenseLayer, ConvLayer, Flatten)}

NEURON_MODELS: dict[str, type[NeuronModel]] = {
    name: model for model in (CubaNeuron, SigmaDeltaNeuron, ResonateFireNeuron) for name in model.type_names
}

# Layer types netx knows but cannot build: it raises NotImplementedError
# (``dense_comp`` calls a method that does not exist).
NOT_LOADABLE = ("pool", "average", "concat", "convT", "unpool", "dense_comp")


def layer_kind(type_name: str) -> type:
    """The kind stored as ``type_name``; ``NetxError`` naming it for anything else."""
    if type_name in LAYER_KINDS:
        return LAYER_KINDS[type_name]
    if type_name in NOT_LOADABLE:
        raise NetxError(f"layer type '{type_name}': netx cannot load it (supported: {', '.join(LAYER_KINDS)}); "
                        "--num-layers can stop before it")
    raise NetxError(f"layer type '{type_name}' is not supported (supported: {', '.join(LAYER_KINDS)}); "
                    "--num-layers can stop before it")


def read_neuron(keys: Keys, input_layer: bool) -> NeuronModel:
    """The neuron model of a layer's ``neuron`` group. netx takes any type containing
    ``RF`` for resonate-and-fire (``PHASE`` picks RF over RF_IZ), so that does too."""
    group = keys.group("neuron")
    type_name = group.text("type")
    model = NEURON_MODELS.get(type_name) or (ResonateFireNeuron if "RF" in type_name else None)
    if model is None:
        raise NetxError(f"key 'neuron/type' is '{type_name}': netx cannot build it (supported: "
                        f"{', '.join(NEURON_MODELS)})")
    return model.read(group, type_name, input_layer)
