"""The NetX HDF5 format, defined once: a module per layer kind and per neuron model,
registered by NetX type name (``registry``), a reader and a writer (``network``).
"""
from neurodeploy.netx.keys import NetxError
from neurodeploy.netx.layers.conv import ConvLayer
from neurodeploy.netx.layers.dense import DenseLayer
from neurodeploy.netx.layers.dense_rec import RecurrentDenseLayer
from neurodeploy.netx.layers.input import InputLayer
from neurodeploy.netx.network import Network, network_warnings, read_netx, write_netx, zero_row_warnings
from neurodeploy.netx.neurons.cuba import CubaNeuron
from neurodeploy.netx.neurons.rf import ResonateFireNeuron
from neurodeploy.netx.neurons.sdnn import SigmaDeltaNeuron

__all__ = [
    "ConvLayer", "CubaNeuron", "DenseLayer", "InputLayer", "NetxError", "Network", "RecurrentDenseLayer",
    "ResonateFireNeuron", "SigmaDeltaNeuron", "network_warnings", "read_netx", "write_netx", "zero_row_warnings",
]
