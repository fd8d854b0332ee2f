"""Neuron models, one module each, registered by NetX ``neuron/type`` in ``netx.registry``."""
