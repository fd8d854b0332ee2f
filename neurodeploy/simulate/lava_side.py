"""Many samples through one compiled Lava network (``Loihi2SimCfg('fixed_pt')``)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from neurodeploy.lavacompat import (
    Loihi2SimCfg,
    RunSteps,
    SinkRingBuffer,
    SourceRingBuffer,
    netx,
)
from neurodeploy.simulate.alignment import RESET_OFFSET, stream_length


def lava_layer_streams(net_path: Path, x: np.ndarray, sparse: bool) -> list[np.ndarray]:
    """Run N samples back to back in Lava and record every layer.

    net_path: a NetX file of dense layers. x: [N, inputs, T] input spikes.
    sparse: build Lava ``Sparse`` synapses (``sparse_fc_layer=True``) instead
    of ``Dense``. The network is compiled once; netx resets neuron state
    (u, v) of layer l every T steps at offset ``RESET_OFFSET + l`` (see
    ``alignment``). Returns one uint8 array [n_l, N*T + L] per layer.
    """
    num_samples, num_inputs, steps = x.shape
    net = netx.hdf5.Network(
        net_config=str(net_path),
        reset_interval=steps,
        reset_offset=RESET_OFFSET,
        sparse_fc_layer=sparse,
    )
    total = stream_length(num_samples, steps, len(net.layers))
    stream = np.zeros((num_inputs, total), dtype=np.int32)
    stream[:, : num_samples * steps] = x.transpose(1, 0, 2).reshape(num_inputs, -1)
    source = SourceRingBuffer(data=stream)
    source.s_out.connect(net.inp)
    sinks = []
    for layer in net.layers:
        sink = SinkRingBuffer(shape=layer.out.shape, buffer=total)
        layer.out.connect(sink.a_in)
        sinks.append(sink)
    try:
        net.run(condition=RunSteps(num_steps=total), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        return [sink.data.get().astype(np.uint8) for sink in sinks]
    finally:
        net.stop()
