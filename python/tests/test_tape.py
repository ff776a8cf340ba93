"""The Tape API on the slides' network, against the hand-derived formulas in numpy."""
import gc

import numpy as np
import pytest

import matgrad as mg
from conftest import max_abs_diff, sigmoid


def slides_problem(rng, n=7):
    x = rng.standard_normal((10, n))
    y = np.array([[1, 0, 1, 1, 0, 0, 1]], dtype=float)[:, :n]
    w1, b1 = 0.5 * rng.standard_normal((64, 10)), 0.1 * rng.standard_normal((64, 1))
    w2, b2 = 0.5 * rng.standard_normal((1, 64)), 0.1 * rng.standard_normal((1, 1))
    return x, y, w1, b1, w2, b2


def test_slides_network_matches_the_hand_formulas(rng):
    x, y, w1, b1, w2, b2 = slides_problem(rng)
    n = x.shape[1]
    tape = mg.Tape()
    X, Y = tape.constant(x, "X"), tape.constant(y, "Y")
    W1, B1 = tape.variable(w1, "W1"), tape.variable(b1, "b1")
    W2, B2 = tape.variable(w2, "W2"), tape.variable(b2, "b2")
    Z1 = W1 @ X + B1
    A1 = mg.sigmoid(Z1)
    Z2 = W2 @ A1 + B2
    A2 = mg.sigmoid(Z2)
    J = -mg.mean(Y * mg.log(A2) + (1.0 - Y) * mg.log(1.0 - A2))
    tape.backward(J)

    # Forward by hand.
    z1 = w1 @ x + b1
    a1 = sigmoid(z1)
    z2 = w2 @ a1 + b2
    a2 = sigmoid(z2)
    j = -np.mean(y * np.log(a2) + (1 - y) * np.log(1 - a2))
    assert max_abs_diff(A2.value, a2) <= 1e-15
    assert abs(J.value[0, 0] - j) <= 1e-14 * abs(j)

    # Backward: the slides' formulas with the 1/n of the mean.
    dA2 = (-y / a2 + (1 - y) / (1 - a2)) / n
    dZ2 = (a2 - y) / n
    dW2 = dZ2 @ a1.T
    db2 = dZ2.sum(axis=1, keepdims=True)
    dA1 = w2.T @ dZ2
    dZ1 = dA1 * a1 * (1 - a1)
    dW1 = dZ1 @ x.T
    db1 = dZ1.sum(axis=1, keepdims=True)
    for var, hand in [(A2, dA2), (Z2, dZ2), (W2, dW2), (B2, db2), (A1, dA1), (Z1, dZ1),
                      (W1, dW1), (B1, db1)]:
        assert var.grad.shape == hand.shape
        assert max_abs_diff(var.grad, hand) <= 1e-12
    assert (W1.shape, B1.shape, W2.shape, B2.shape) == ((64, 10), (64, 1), (1, 64), (1, 1))

    # And the whole network against finite differences.
    def loss(w1, b1, w2, b2):
        a = mg.sigmoid(w1 @ x + b1)
        out = mg.sigmoid(w2 @ a + b2)
        return mg.binary_cross_entropy(out, y)

    result = mg.gradcheck(loss, [w1, b1, w2, b2])
    assert result.ok, result.message
    assert bool(result) and result.max_error <= 1e-6


def test_binary_cross_entropy_is_the_slides_loss(rng):
    x, y, w1, b1, w2, b2 = slides_problem(rng)
    tape = mg.Tape()
    A2 = mg.sigmoid(tape.variable(w2) @ mg.sigmoid(tape.variable(w1) @ x + b1) + b2)
    J = mg.binary_cross_entropy(A2, y)
    a2 = sigmoid(w2 @ sigmoid(w1 @ x + b1) + b2)
    assert abs(J.value[0, 0] + np.mean(y * np.log(a2) + (1 - y) * np.log(1 - a2))) <= 1e-14


def test_values_and_gradients_are_float64_copies(rng):
    w = rng.standard_normal((3, 2))
    tape = mg.Tape()
    W = tape.variable(w, "W")
    J = mg.sum(W * W)
    tape.backward(J)
    v, g = W.value, W.grad
    assert v.dtype == np.float64 and g.dtype == np.float64 and v.flags.c_contiguous
    assert max_abs_diff(g, 2 * w) <= 1e-15
    assert not v.flags.writeable  # read-only: writing into a copy would silently do nothing
    g[0, 0] = 1e9  # a copy: the tape does not change
    assert W.value[0, 0] == w[0, 0] and W.grad[0, 0] == 2 * w[0, 0]
    w[0, 0] = 5.0  # and the tape copied its input
    assert W.value[0, 0] != 5.0


def test_backward_twice_recomputes_and_clear_allows_a_new_graph(rng):
    a = rng.standard_normal((2, 2))
    tape = mg.Tape()
    A = tape.variable(a)
    J = mg.sum(mg.exp(A))
    tape.backward(J)
    tape.backward(J)  # recomputed, never summed
    assert max_abs_diff(A.grad, np.exp(a)) <= 1e-15
    tape.clear()
    assert len(tape) == 0
    B = tape.variable(a)
    tape.backward(mg.mean(B))
    assert max_abs_diff(B.grad, np.full((2, 2), 0.25)) <= 1e-15


def test_names_shapes_and_inspection(rng):
    tape = mg.Tape()
    W = tape.variable(rng.standard_normal((4, 3)), "W")
    X = tape.constant(rng.standard_normal((3, 5)), "X")
    Z = W @ X
    Z.name = "Z"
    J = mg.mean(mg.sigmoid(Z)).named("J")
    assert (W.name, X.name, Z.name, W.shape, Z.shape, J.shape) == ("W", "X", "Z", (4, 3), (4, 5), (1, 1))
    assert repr(Z) == "<matgrad.Var 'Z': matmul, 4x5>"
    assert len(tape) == 5 and repr(tape) == "<matgrad.Tape: 5 nodes>"
    tape.backward(J)
    text = tape.explain(J)
    assert "Z = W X" in text and "dW = dZ Xᵀ" in text and "(4×3)(3×5) = 4×5" in text
    dot = tape.to_dot()
    assert dot.startswith('digraph "matgrad"') and 'label="W\\nvariable\\n4×3' in dot
    assert "‖grad‖" in tape.to_dot(gradient_norms=True) and "‖grad‖" not in dot
    assert "matmul" in tape.trace() and "Z" in tape.trace()
    tape.timing = True
    assert tape.timing and not tape.anomaly_detection


def test_a_var_keeps_its_tape_alive(rng):
    def make():
        tape = mg.Tape()
        return tape.variable(np.eye(2), "W")

    W = make()
    gc.collect()
    J = mg.sum(W * 3.0)  # records on the tape only the Var refers to
    assert J.value[0, 0] == 6.0 and W.name == "W" and W.shape == (2, 2)


def test_stale_vars_raise_usage_error(rng):
    tape = mg.Tape()
    W = tape.variable(np.ones((2, 2)), "W")
    tape.clear()
    with pytest.raises(mg.UsageError, match="value\\(\\): the Var is stale"):
        W.value
    with pytest.raises(mg.UsageError, match="stale"):
        W.grad
    with pytest.raises(mg.UsageError, match="stale"):
        mg.sigmoid(W)
    with pytest.raises(mg.UsageError, match="stale"):
        W + 1.0
    assert repr(W) == "<matgrad.Var: stale>"
