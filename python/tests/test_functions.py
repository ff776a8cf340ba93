"""Every function: its value against a numpy formula, its gradient against finite differences.
Functions not in this build yet (they come with the branches ops/tasks) are skipped by name."""
import numpy as np
import pytest

import matgrad as mg
from conftest import max_abs_diff, needs, sigmoid


def softmax(z):  # over each column (samples are columns)
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def log_softmax(z):
    s = z - z.max(axis=0, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=0, keepdims=True))


ANY, POSITIVE, AWAY_FROM_0 = "any", "positive", "away from 0"
# name, numpy formula, where the function is smooth
ELEMENTWISE = [
    ("sigmoid", sigmoid, ANY),
    ("tanh", np.tanh, ANY),
    ("relu", lambda x: np.maximum(x, 0.0), AWAY_FROM_0),
    ("softplus", lambda x: np.log1p(np.exp(x)), ANY),
    ("exp", np.exp, ANY),
    ("log", np.log, POSITIVE),
    ("sqrt", np.sqrt, POSITIVE),
    ("abs", np.abs, AWAY_FROM_0),
    ("sin", np.sin, ANY),
    ("cos", np.cos, ANY),
    ("softmax", softmax, ANY),
    ("log_softmax", log_softmax, ANY),
]


def sample(rng, domain, shape=(4, 3)):
    if domain == POSITIVE:
        return rng.uniform(0.5, 2.0, shape)
    if domain == AWAY_FROM_0:
        return rng.uniform(0.2, 2.0, shape) * rng.choice([-1, 1], shape)
    return rng.standard_normal(shape)


@pytest.mark.parametrize("name,formula,domain", ELEMENTWISE, ids=[e[0] for e in ELEMENTWISE])
def test_elementwise_function(rng, name, formula, domain):
    if not hasattr(mg, name):
        pytest.skip(f"matgrad.{name} is not in this build yet")
    f = getattr(mg, name)
    x = sample(rng, domain)
    tape = mg.Tape()
    y = f(tape.variable(x))
    expected = formula(x)
    assert y.shape == expected.shape
    assert max_abs_diff(y.value, expected) <= 1e-14 * max(1.0, np.max(np.abs(expected)))
    w = rng.standard_normal(x.shape)  # weighting: softmax's plain sum would have zero gradient
    result = mg.gradcheck(lambda v: mg.sum(f(v) * w), [x])
    assert result.ok, result.message


def spd(rng, n=3):
    m = rng.standard_normal((n, n))
    return m @ m.T + n * np.eye(n)


# name, numpy formula (as a 1x1 or matrix), input
MATRIX = [
    ("sum", lambda x: np.array([[x.sum()]]), lambda rng: rng.standard_normal((4, 3))),
    ("mean", lambda x: np.array([[x.mean()]]), lambda rng: rng.standard_normal((4, 3))),
    ("tr", lambda x: np.array([[np.trace(x)]]), lambda rng: rng.standard_normal((3, 3))),
    ("inv", np.linalg.inv, spd),
    ("det", lambda x: np.array([[np.linalg.det(x)]]), lambda rng: rng.standard_normal((3, 3))),
    ("logdet", lambda x: np.array([[np.linalg.slogdet(x)[1]]]), spd),
    ("norm2", lambda x: np.array([[np.linalg.norm(x)]]), lambda rng: rng.standard_normal((4, 3))),
]


@pytest.mark.parametrize("name,formula,make", MATRIX, ids=[m[0] for m in MATRIX])
def test_matrix_function(rng, name, formula, make):
    if not hasattr(mg, name):
        pytest.skip(f"matgrad.{name} is not in this build yet")
    f = getattr(mg, name)
    x = make(rng)
    tape = mg.Tape()
    y = f(tape.variable(x))
    expected = formula(x)
    assert y.shape == expected.shape
    assert max_abs_diff(y.value, expected) <= 1e-12 * max(1.0, np.max(np.abs(expected)))
    w = rng.standard_normal(expected.shape)
    result = mg.gradcheck(lambda v: mg.sum(f(v) * w), [x])
    assert result.ok, result.message


@pytest.mark.parametrize("name", ["sum", "mean"])
@pytest.mark.parametrize("axis", [0, 1])
def test_reduction_along_an_axis_keeps_dims(rng, name, axis):
    f = getattr(mg, name)
    if "axis" not in (f.__doc__ or ""):
        pytest.skip(f"matgrad.{name} has no axis yet (branch ops)")
    x = rng.standard_normal((4, 3))
    tape = mg.Tape()
    y = f(tape.variable(x), axis=axis)
    expected = getattr(np, name)(x, axis=axis, keepdims=True)
    assert y.shape == expected.shape
    assert max_abs_diff(y.value, expected) <= 1e-14
    assert max_abs_diff(f(tape.variable(x), axis=None).value, getattr(np, name)(x, keepdims=True)) <= 1e-14
    w = rng.standard_normal(expected.shape)
    result = mg.gradcheck(lambda v: mg.sum(f(v, axis=axis) * w), [x])
    assert result.ok, result.message


def test_binary_cross_entropy(rng):
    a, y = rng.uniform(0.1, 0.9, (1, 6)), rng.uniform(0.0, 1.0, (1, 6))
    tape = mg.Tape()
    J = mg.binary_cross_entropy(tape.variable(a), y)  # labels as an array: a constant
    assert abs(J.value[0, 0] + np.mean(y * np.log(a) + (1 - y) * np.log(1 - a))) <= 1e-15
    result = mg.gradcheck(mg.binary_cross_entropy, [a, y])  # both arguments as variables
    assert result.ok, result.message


def test_binary_cross_entropy_with_logits(rng):
    z, y = rng.standard_normal((2, 5)), rng.uniform(0.0, 1.0, (2, 5))
    tape = mg.Tape()
    J = mg.binary_cross_entropy_with_logits(tape.variable(z), y)
    a = sigmoid(z)
    assert abs(J.value[0, 0] + np.mean(y * np.log(a) + (1 - y) * np.log(1 - a))) <= 1e-14
    result = mg.gradcheck(mg.binary_cross_entropy_with_logits, [z, y])
    assert result.ok, result.message


@needs("softmax_cross_entropy")
def test_softmax_cross_entropy(rng):
    z = rng.standard_normal((4, 5))  # 4 classes x 5 samples
    y = np.eye(4)[:, rng.integers(0, 4, 5)]
    tape = mg.Tape()
    J = mg.softmax_cross_entropy(tape.variable(z), y)
    assert abs(J.value[0, 0] + np.sum(y * log_softmax(z)) / 5) <= 1e-14
    result = mg.gradcheck(lambda v: mg.softmax_cross_entropy(v, y), [z])
    assert result.ok, result.message


@needs("mse")
def test_mse(rng):
    a, t = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    tape = mg.Tape()
    J = mg.mse(tape.variable(a), t)
    assert abs(J.value[0, 0] - np.mean((a - t) ** 2)) <= 1e-14
    result = mg.gradcheck(mg.mse, [a, t])
    assert result.ok, result.message


def test_gradcheck_reports_a_wrong_gradient_as_failed(rng):
    # relu at a kink: finite differences see half the slope, so gradcheck must say so.
    x = np.array([[0.0, 1.0]])
    result = mg.gradcheck(lambda v: mg.sum(mg.relu(v)), [x])
    assert not result.ok and not bool(result)
    assert (result.worst_input, result.worst_row, result.worst_col) == (0, 0, 0)
    assert abs(result.numeric - 0.5) <= 1e-9 and result.autodiff in (0.0, 1.0)
    assert result.message.startswith("gradcheck FAILED: max error 0.5")
    assert repr(result) == "<" + result.message + ">"


def test_gradcheck_says_what_f_must_return_and_refuses_a_step_that_is_not_positive():
    x = np.array([[1.0, 2.0]])
    for wrong, shown in ((lambda v: None, "NoneType None"), (lambda v: 0.5, "float 0.5")):
        with pytest.raises(TypeError, match=r"^gradcheck: f must return a 1x1 matgrad.Var computed from the Vars it is "
                                            r"given \(e.g. mg.sum\(x \* x\)\), not " + shown + "$"):
            mg.gradcheck(wrong, [x])
    for eps in (-1.0, 0.0, float("nan")):
        with pytest.raises(ValueError, match=r"^gradcheck: eps must be a positive, finite step"):
            mg.gradcheck(lambda v: mg.sum(v * v), [x], eps=eps)
