"""A long training loop on one tape does not grow the process: no leaked Var, tape node or array."""
import numpy as np

import matgrad as mg


def resident_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def test_twenty_thousand_training_steps_keep_memory_flat():
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((10, 7)), (rng.standard_normal((1, 7)) > 0).astype(float)
    w1, b1 = rng.standard_normal((64, 10)) / 3, np.zeros((64, 1))
    w2, b2 = rng.standard_normal((1, 64)) / 8, np.zeros((1, 1))
    tape = mg.Tape()

    def step():
        nonlocal w1, b1, w2, b2
        tape.clear()
        X, Y = tape.constant(x, "X"), tape.constant(y, "Y")
        W1, B1, W2, B2 = (tape.variable(p, n) for p, n in [(w1, "W1"), (b1, "b1"), (w2, "W2"), (b2, "b2")])
        A2 = mg.sigmoid(W2 @ mg.sigmoid(W1 @ X + B1) + B2)
        J = -mg.mean(Y * mg.log(A2) + (1.0 - Y) * mg.log(1.0 - A2))
        tape.backward(J)
        w1, b1, w2, b2 = w1 - 0.1 * W1.grad, b1 - 0.1 * B1.grad, w2 - 0.1 * W2.grad, b2 - 0.1 * B2.grad
        return J.value[0, 0]

    first = step()
    for _ in range(2000):  # warm up: tape buffers, numpy's and Python's allocators
        step()
    before = resident_bytes()
    for _ in range(20000):
        last = step()
    growth = resident_bytes() - before
    print(f"resident memory growth over 20000 steps: {growth} bytes")
    # One leaked Var object per op would be ~20 MB over these 20k steps; one leaked 64x7 array per
    # step, 70 MB. Allow 1 MB of allocator noise.
    assert growth <= 1 << 20, f"resident memory grew by {growth} bytes over 20000 steps"
    assert last < first  # and it trained
