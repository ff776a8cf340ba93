"""Second order from Python: Model.hessian / Model.hvp and Tape.hvp against numpy's closed form of
the logistic-regression Hessian, X diag(s (1 - s)) X^T / n + 0.02 I, and central differences of
gradients."""
import pathlib

import numpy as np
import pytest

import matgrad as mg
from conftest import max_abs_diff, sigmoid

MODELS = pathlib.Path(__file__).resolve().parents[2] / "examples" / "models"


@pytest.fixture
def logistic(rng):
    model = mg.Model.from_file(MODELS / "l2_logistic.mg")
    X = rng.standard_normal((3, 9))
    y = np.where(rng.standard_normal((1, 9)) > 0, 1.0, -1.0)
    w = rng.standard_normal((3, 1))
    s = sigmoid(y * (w.T @ X))
    H = (X * (s * (1 - s) / 9)) @ X.T + 0.02 * np.eye(3)
    return model, {"X": X, "y": y, "w": w}, H


def test_model_hessian_is_the_closed_form(logistic):
    model, values, H = logistic
    got = model.hessian(values)
    assert got.shape == (3, 3)
    assert max_abs_diff(got, H) <= 1e-12 * np.abs(H).max()
    assert max_abs_diff(model.hessian(values, wrt=["w"]), got) == 0.0


def test_model_hvp_is_hessian_times_v(logistic, rng):
    model, values, H = logistic
    v = rng.standard_normal((3, 1))
    hv = model.hvp(values, {"w": v})
    assert list(hv) == ["w"]
    assert max_abs_diff(hv["w"], H @ v) <= 1e-12


def test_model_hessian_orders_params_as_wrt_says():
    model = mg.Model.from_file(MODELS / "slides.mg")
    values = {"X": np.load(MODELS / "slides" / "X.npy"), "Y": np.load(MODELS / "slides" / "Y.npy")}
    H = model.hessian(values, wrt=["b2", "W2"], seed=1)
    assert H.shape == (65, 65)
    assert max_abs_diff(H, H.T) <= 1e-12 * np.abs(H).max()
    full = model.hessian(values, seed=1)  # W1 (640), b1 (64), W2 (64), b2 (1)
    assert full.shape == (769, 769)
    assert max_abs_diff(H[0, 0], full[768, 768]) == 0.0
    assert max_abs_diff(H[1:, 1:], full[704:768, 704:768]) == 0.0


def test_tape_hvp_against_differences_of_gradients(rng):
    x = rng.standard_normal((4, 3))
    w0, v = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))

    def grad_at(w):
        t = mg.Tape()
        W = t.variable(w)
        t.backward(mg.sum(mg.tanh(W @ t.constant(x)) ** 2))
        return W.grad

    t = mg.Tape()
    W = t.variable(w0, "W")
    out = mg.sum(mg.tanh(W @ t.constant(x)) ** 2)
    (hv,) = t.hvp(out, [W], [v])
    eps = 1e-5
    fd = (grad_at(w0 + eps * v) - grad_at(w0 - eps * v)) / (2 * eps)
    assert max_abs_diff(hv, fd) <= 1e-8
    assert max_abs_diff(W.grad, grad_at(w0)) <= 1e-14  # the gradient comes along


def test_errors_name_what_was_wrong(logistic, rng):
    model, values, _ = logistic
    with pytest.raises(mg.ParseError, match="hessian: 'X' is not a param"):
        model.hessian(values, wrt=["X"])
    with pytest.raises(mg.ParseError, match="hvp: 'q' is not a param"):
        model.hvp(values, {"q": np.ones((3, 1))})
    t = mg.Tape()
    W = t.variable(rng.standard_normal((2, 3)), "W")
    with pytest.raises(mg.ShapeError, match="hvp: the direction of W is 3x2 but W is 2x3"):
        t.hvp(mg.sum(W * W), [W], [np.ones((3, 2))])
