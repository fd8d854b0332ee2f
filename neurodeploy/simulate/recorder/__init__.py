"""Lava processes that record a layer's messages: spikes bit-packed, so that reading them
is cheap, and graded values one per element.

Lava's ``Var.get`` sends a Var one element at a time; a ring-buffer sink of
[n, S] spikes costs n*S sends. ``SpikeRecorder`` packs 48 steps into each
element (a float64 carries integers below 2^53 exactly), 48 times fewer.
Process and model live in this package alone because Lava's compiler
imports every module beside a process when it looks for its models.
"""
