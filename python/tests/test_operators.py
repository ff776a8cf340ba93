"""Var's operators with numpy's meaning: + - * / element-wise with broadcasting, numbers and arrays
on either side; @ matrix product; .T; unary -; ** a number. Values against numpy, gradients
against finite differences."""
import numpy as np
import pytest

import matgrad as mg
from conftest import max_abs_diff

OPS = {
    "+": (lambda a, b: a + b),
    "-": (lambda a, b: a - b),
    "*": (lambda a, b: a * b),
    "/": (lambda a, b: a / b),
}
# Every broadcast pair of 2-D shapes numpy allows, in both directions.
SHAPES = [((3, 4), (3, 4)), ((3, 4), (3, 1)), ((3, 4), (1, 4)), ((3, 4), (1, 1)),
          ((3, 1), (1, 4)), ((1, 1), (3, 4)), ((1, 4), (3, 4)), ((3, 1), (3, 4))]


def operands(rng, sa, sb):
    a = rng.uniform(0.5, 2.0, sa) * rng.choice([-1, 1], sa)
    b = rng.uniform(0.5, 2.0, sb) * rng.choice([-1, 1], sb)  # away from 0: b divides
    return a, b


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("sa,sb", SHAPES)
def test_var_op_var_broadcasts_like_numpy(rng, op, sa, sb):
    a, b = operands(rng, sa, sb)
    f = OPS[op]
    tape = mg.Tape()
    A, B = tape.variable(a), tape.variable(b)
    C = f(A, B)
    expected = f(a, b)
    assert C.shape == expected.shape
    assert max_abs_diff(C.value, expected) <= 1e-15 * np.max(np.abs(expected))
    w = rng.standard_normal(expected.shape)  # a random weighting: every gradient entry differs
    result = mg.gradcheck(lambda x, y: mg.sum(f(x, y) * w), [a, b])
    assert result.ok, result.message


@pytest.mark.parametrize("op", OPS)
def test_numbers_and_arrays_on_either_side(rng, op):
    a, b = operands(rng, (3, 4), (1, 4))
    f = OPS[op]
    tape = mg.Tape()
    A = tape.variable(a)
    for other in [2.5, -3, np.float32(0.75), np.int64(4), np.array(1.5), b, b.tolist()]:
        for left, right, expected in [(A, other, f(a, np.asarray(other, dtype=float))),
                                      (other, A, f(np.asarray(other, dtype=float), a))]:
            C = f(left, right)
            assert isinstance(C, mg.Var), (op, other)
            assert max_abs_diff(C.value, expected) <= 1e-15 * np.max(np.abs(expected))
    result = mg.gradcheck(lambda x: mg.sum(f(2.5, x) * f(x, b)), [a])
    assert result.ok, result.message


def test_matmul_transpose_and_negation(rng):
    a, b = rng.standard_normal((3, 5)), rng.standard_normal((5, 2))
    tape = mg.Tape()
    A, B = tape.variable(a), tape.variable(b)
    assert max_abs_diff((A @ B).value, a @ b) <= 1e-14
    assert max_abs_diff((A @ b).value, a @ b) <= 1e-14      # an array operand on either side
    assert max_abs_diff((a @ B).value, a @ b) <= 1e-14
    assert max_abs_diff(mg.matmul(A, b).value, a @ b) <= 1e-14
    assert max_abs_diff(A.T.value, a.T) == 0 and A.T.shape == (5, 3)
    assert max_abs_diff(mg.transpose(A).value, a.T) == 0
    assert max_abs_diff((-A).value, -a) == 0
    # d sum(W ⊙ (A B)ᵀ) / dA = (W Bᵀ)ᵀ ... by hand: with C = A B, dC = Wᵀ, dA = dC Bᵀ, dB = Aᵀ dC
    w = rng.standard_normal((2, 3))
    J = mg.sum((A @ B).T * w)
    tape.backward(J)
    assert max_abs_diff(A.grad, w.T @ b.T) <= 1e-14
    assert max_abs_diff(B.grad, a.T @ w.T) <= 1e-14
    result = mg.gradcheck(lambda x, y: mg.sum(-(x @ y).T * w), [a, b])
    assert result.ok, result.message


def test_numpy_array_on_the_left_gives_a_var(rng):
    # Var.__array_ufunc__ hands `array + var` to Var.__radd__ rather than numpy building an object
    # array of Vars.
    a, b = rng.standard_normal((2, 2)), rng.standard_normal((2, 2))
    tape = mg.Tape()
    A = tape.variable(a)
    for result, expected in [(b + A, b + a), (b - A, b - a), (b * A, b * a), (b / A, b / a),
                             (b @ A, b @ a)]:
        assert isinstance(result, mg.Var)
        assert max_abs_diff(result.value, expected) <= 1e-14 * np.max(np.abs(expected))


def test_pow_with_a_number(rng):
    if not hasattr(mg.Var, "__pow__"):
        pytest.skip("Var ** number needs pow (branch ops)")
    a = rng.uniform(0.5, 2.0, (3, 2))
    tape = mg.Tape()
    A = tape.variable(a)
    for p in [2, 3.0, 0.5, -1.5]:
        assert max_abs_diff((A ** p).value, a ** p) <= 1e-14 * np.max(a ** p)
        result = mg.gradcheck(lambda x: mg.sum(x ** p), [a])
        assert result.ok, result.message


def test_mixing_tapes_is_a_shape_error():
    t1, t2 = mg.Tape(), mg.Tape()
    A, B = t1.variable(np.ones((2, 2)), "A"), t2.variable(np.ones((2, 2)), "B")
    with pytest.raises(mg.ShapeError, match="belongs to a different tape"):
        A + B
    with pytest.raises(mg.ShapeError, match="belongs to a different tape"):
        A @ B


def test_what_a_numpy_user_types_records_matgrads_ops(rng):
    """W.sum(), W.mean(axis=0), abs(W), float(J), 2 ** W, W.T, W.shape, numpy's ufuncs on a Var, a 1-D
    operand as a row: each as numpy computes it, and on the tape (the gradient flows)."""
    w = rng.uniform(0.5, 2.0, (2, 3)) * rng.choice([-1, 1], (2, 3))
    tape = mg.Tape()
    W = tape.variable(w, "W")
    assert W.shape == (2, 3) and max_abs_diff(W.T.value, w.T) == 0
    assert W.sum().value[0, 0] == pytest.approx(w.sum(), rel=1e-15)
    assert max_abs_diff(W.mean(axis=0).value, w.mean(axis=0, keepdims=True)) <= 1e-15
    assert max_abs_diff(abs(W).value, np.abs(w)) == 0
    assert max_abs_diff((2 ** W).value, 2.0 ** w) <= 1e-12
    assert max_abs_diff(np.tanh(W).value, np.tanh(w)) <= 1e-15  # matgrad.tanh, not an object array
    assert max_abs_diff(np.exp(W).value, np.exp(w)) <= 1e-12
    assert max_abs_diff((np.ones((2, 3)) + W).value, 1.0 + w) == 0  # array + Var is Var.__radd__
    row = np.array([1.0, 2.0, 3.0])  # 1-D: a row, as numpy broadcasts it
    assert max_abs_diff((W * row).value, w * row) == 0
    J = (np.tanh(W) * row).sum() + (2 ** W).mean()
    assert isinstance(float(J), float) and float(J) == J.value[0, 0]
    tape.backward(J)
    expected = (1 - np.tanh(w) ** 2) * row + np.log(2.0) * 2.0 ** w / 6
    assert max_abs_diff(W.grad, expected) <= 1e-12
    with pytest.raises(TypeError, match=r"^float\(\): only a 1x1 Var is a number; W is 2x3$"):
        float(W)
    with pytest.raises(TypeError, match=r"numpy's arctan \(__call__\) does not record on a matgrad tape; .*matgrad\.tanh"):
        np.arctan(W)


def test_value_is_read_only_so_an_update_in_place_cannot_silently_do_nothing(rng):
    tape = mg.Tape()
    W = tape.variable(rng.standard_normal((2, 3)), "W")
    with pytest.raises(ValueError, match="read-only"):
        W.value[...] -= 0.1
    W.value.copy()[...] -= 0.1  # a copy is the user's own


def test_version_is_the_projects():
    assert isinstance(mg.__version__, str) and mg.__version__.count(".") == 2
