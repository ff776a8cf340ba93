"""Derivations as text from Python: Model.verify with a derivation string (judged line by line, value
and step), and Model.derive in both formats -- the numpy module run here and compared with the
numpy formulas of the slides written out below (never with values matgrad computed)."""
import pathlib

import numpy as np
import pytest

import matgrad as mg
from conftest import assert_katex_typesets, max_abs_diff, sigmoid

REPO = pathlib.Path(__file__).resolve().parents[2]
MODELS = REPO / "examples" / "models"
SLIDES_AS_TYPED = (REPO / "examples" / "derivations" / "slides.mg").read_text()


@pytest.fixture
def slides():
    rng = np.random.default_rng(3)
    v = {"X": np.load(MODELS / "slides" / "X.npy"), "Y": np.load(MODELS / "slides" / "Y.npy"),
         "W1": rng.standard_normal((64, 10)) * 0.3, "b1": rng.standard_normal((64, 1)) * 0.3,
         "W2": rng.standard_normal((1, 64)) * 0.3, "b2": rng.standard_normal((1, 1)) * 0.3}
    return mg.Model.from_file(MODELS / "slides.mg"), v


def test_verify_takes_a_derivation_string(slides):
    model, values = slides
    r = model.verify(values, SLIDES_AS_TYPED)
    assert r["first_wrong_step"] == "dA2"
    rows = [(g["name"], g["line"], g["diagnosis"], g["step"], g["consequence_of"]) for g in r["gradients"]]
    assert rows[0] == ("dA2", 4, "missing_mean_factor", "wrong", None)
    assert rows[1] == ("dZ2", 5, "missing_mean_factor", "ok", "dA2")
    assert rows[-1] == ("db1", 11, "missing_mean_factor", "ok", "dZ1")
    assert r["gradients"][2]["formula"] == "dZ2 A1ᵀ"
    assert "first wrong step: dA2 (line 4)" in str(r)
    # With the mean's 1/n every line is right.
    right = model.verify(values, SLIDES_AS_TYPED.replace("dA2 = −Y ⊘ A2 + (1 − Y) ⊘ (1 − A2)",
                                                         "dA2 = (−Y ⊘ A2 + (1 − Y) ⊘ (1 − A2)) / 7"))
    assert right["first_wrong_step"] is None
    assert all(g["diagnosis"] == "ok" and g["step"] == "ok" for g in right["gradients"])
    # A bad line is a ParseError at its place.
    with pytest.raises(mg.ParseError, match=r"^<hand>:1:7: error: unknown name 'A3'"):
        model.verify(values, "dZ2 = A3 - Y\n")


def test_derive_mg_is_all_right_and_numpy_matches_the_slides_formulas(slides, tmp_path):
    model, values = slides
    key = model.derive("mg", values)
    r = model.verify(values, key)
    assert r["first_wrong_step"] is None and all(g["diagnosis"] == "ok" for g in r["gradients"])
    source = model.derive("numpy", values)
    namespace = {}
    exec(compile(source, "slides_grad.py", "exec"), namespace)
    out = namespace["gradients"](values)
    X, Y, n = values["X"], values["Y"], values["X"].shape[1]
    A1 = sigmoid(values["W1"] @ X + values["b1"])
    A2 = sigmoid(values["W2"] @ A1 + values["b2"])
    dZ2 = (A2 - Y) / n
    dZ1 = (values["W2"].T @ dZ2) * A1 * (1 - A1)
    expected = {"J": -np.mean(Y * np.log(A2) + (1 - Y) * np.log(1 - A2), keepdims=True), "dW2": dZ2 @ A1.T,
                "db2": dZ2.sum(axis=1, keepdims=True), "dW1": dZ1 @ X.T, "db1": dZ1.sum(axis=1, keepdims=True)}
    assert sorted(out) == sorted(expected)
    for name, value in expected.items():
        assert max_abs_diff(out[name], value) <= 1e-12, name
    # Without values the shapes come from values drawn with seed 1: the same text.
    assert model.derive() == key
    with pytest.raises(ValueError, match="format must be 'mg' or 'numpy'"):
        model.derive("latex")


def test_the_latex_typesets_your_formula_beside_the_right_one(slides, tmp_path):
    model, values = slides
    latex = model.verify(values, SLIDES_AS_TYPED)._repr_latex_()
    rows = [line for line in latex.splitlines() if "\\text{yours (line" in line]
    assert len(rows) == 8
    assert rows[0].startswith("dA_{2} &= -\\frac{1}{7} Y \\oslash A_{2}")
    assert ("\\text{yours (line 4): }dA_{2} = -Y \\oslash A_{2} + (1 - Y) \\oslash (1 - A_{2}) \\quad "
            "\\text{missing\\_mean\\_factor, step wrong (first wrong step)}") in rows[0]
    assert rows[1].endswith("\\text{missing\\_mean\\_factor, step ok} \\\\")
    assert_katex_typesets(latex, tmp_path)
