import numpy as np

from neurodeploy.compare.synops import dense_synops, fan_out, network_synops


def test_fan_out_counts_nonzeros_per_input_column():
    w = np.array([[1, 0, 2], [0, 0, -4]])
    np.testing.assert_array_equal(fan_out(w), [1, 0, 2])


def test_hand_computed_dense_layer():
    w = np.array([[1, 0, 2], [0, 0, -4]])
    # sample 0: input 0 spikes twice, input 1 three times, input 2 once
    s = np.zeros((2, 3, 4))
    s[0, 0, [0, 2]] = 1
    s[0, 1, [0, 1, 3]] = 1
    s[0, 2, 3] = 1
    s[1, 2, :] = 1
    # sample 0: 2*1 + 3*0 + 1*2 = 4; sample 1: 4*2 = 8
    np.testing.assert_array_equal(dense_synops(s, w), [4, 8])


def test_against_brute_force():
    rng = np.random.default_rng(0)
    w = rng.integers(-3, 4, (6, 9)) * (rng.random((6, 9)) < 0.5)
    s = (rng.random((5, 9, 7)) < 0.3).astype(np.uint8)
    brute = np.zeros(5, dtype=np.int64)
    for n in range(5):
        for t in range(7):
            for i in range(9):
                if s[n, i, t]:
                    for j in range(6):
                        brute[n] += w[j, i] != 0
    np.testing.assert_array_equal(dense_synops(s, w), brute)


def test_network_uses_previous_layer_spikes_and_ignores_the_last():
    inputs = np.ones((1, 2, 3))
    hidden = np.zeros((1, 4, 3))
    hidden[0, 1, :2] = 1
    out = np.ones((1, 2, 3))
    w0 = np.ones((4, 2))
    w1 = np.array([[0, 5, 0, 0], [0, 5, 1, 0]])
    # layer 0: 2 inputs x 3 spikes x 4 fan-out = 24; layer 1: 2 spikes x 2 = 4
    np.testing.assert_array_equal(network_synops(inputs, [hidden, out], [w0, w1]), [[24, 4]])
