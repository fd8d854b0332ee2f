"""The chip's arithmetic and conventions, written once; imports no stage.

- ``arithmetic``: Loihi's fixed-point rules and constants (decays, 24-bit
  wrap and saturation, the shifts that align mantissas);
- ``weights``: netx's weight-bit optimisation and Lava's clipping and
  truncation of synaptic weights;
- ``timing``: when each layer sees its input, when netx resets it, which
  stream column belongs to which sample;
- ``order``: Lava's neuron order and the flatten permutation;
- ``geometry``: convolution geometry.
"""
