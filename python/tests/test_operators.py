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
    # Var sets __array_ufunc__ = None: numpy hands `array + var` to Var.__radd__ rather than
    # building an object array of Vars.
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
