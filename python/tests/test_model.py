"""Model: the [lang] text language from Python, against numpy's hand formulas (never against values
matgrad computed), the engine's verify on hand gradients with known mistakes, and its errors."""
import pathlib
import threading
import time
import warnings

import numpy as np
import pytest

import matgrad as mg
from conftest import assert_katex_typesets, max_abs_diff, sigmoid

REPO = pathlib.Path(__file__).resolve().parents[2]
MODELS = REPO / "examples" / "models"


@pytest.fixture
def slides():
    """The slides' model with its X.npy, Y.npy and params drawn here, and the deeplearning.ai numpy
    formulas of its forward and backward pass."""
    rng = np.random.default_rng(7)
    v = {"X": np.load(MODELS / "slides" / "X.npy"), "Y": np.load(MODELS / "slides" / "Y.npy"),
         "W1": rng.standard_normal((64, 10)) * 0.3, "b1": rng.standard_normal((64, 1)) * 0.3,
         "W2": rng.standard_normal((1, 64)) * 0.3, "b2": rng.standard_normal((1, 1)) * 0.3}
    X, Y, n = v["X"], v["Y"], v["X"].shape[1]
    A1 = sigmoid(v["W1"] @ X + v["b1"])
    A2 = sigmoid(v["W2"] @ A1 + v["b2"])
    J = -np.mean(Y * np.log(A2) + (1 - Y) * np.log(1 - A2))
    dZ2 = (A2 - Y) / n
    dA1 = v["W2"].T @ dZ2
    dZ1 = dA1 * A1 * (1 - A1)
    hand = {"J": J, "dW1": dZ1 @ X.T, "db1": dZ1.sum(axis=1, keepdims=True),
            "dW2": dZ2 @ A1.T, "db2": dZ2.sum(axis=1, keepdims=True), "dZ2": dZ2, "dA1": dA1, "dZ1": dZ1}
    return mg.Model.from_file(MODELS / "slides.mg"), v, hand


def test_declarations_as_written(slides):
    model, _, _ = slides
    assert model.inputs == {"X": (10, 7), "Y": (1, 7)}
    assert list(model.params.items()) == [("W1", (64, 10)), ("b1", (64, 1)), ("W2", (1, 64)), ("b2", (1, 1))]
    assert model.output == "J"
    assert model.nodes == ["Z1", "A1", "Z2", "A2", "J"]
    symbolic = mg.Model("input X : d x n\nparam w : 1 x d\nJ = sum(w*X)\n")
    assert symbolic.inputs == {"X": ("d", "n")} and symbolic.params == {"w": (1, "d")}


def test_slides_grad_matches_the_numpy_formulas(slides):
    model, values, hand = slides
    g = model.grad(values)
    assert list(g) == ["J", "dW1", "db1", "dW2", "db2"]
    assert g["J"].shape == (1, 1) and g["J"].dtype == np.float64
    assert abs(g["J"][0, 0] - hand["J"]) < 1e-12
    for name in ["dW1", "db1", "dW2", "db2"]:
        assert max_abs_diff(g[name], hand[name]) < 1e-12, name


def test_float32_and_int_values_are_converted_exactly(slides):
    model, values, _ = slides
    converted = dict(values, X=values["X"].astype(np.float32), Y=values["Y"].astype(np.int64))
    exact = dict(values, X=values["X"].astype(np.float32).astype(np.float64))
    assert np.array_equal(model.grad(converted)["dW1"], model.grad(exact)["dW1"])
    with pytest.raises(mg.ShapeError, match=r"values\['X'\]: expected a 2-D array, got shape \(70,\)"):
        model.grad(dict(values, X=values["X"].ravel()))


def test_forward_gives_every_named_nodes_value_for_a_hand_formula(slides):
    model, values, hand = slides
    f = model.forward(values)
    assert list(f) == ["X", "Y", "W1", "b1", "W2", "b2", "Z1", "A1", "Z2", "A2", "J"]
    A1 = sigmoid(values["W1"] @ values["X"] + values["b1"])
    assert max_abs_diff(f["A1"], A1) <= 1e-15
    # dW2 from A1 and A2 without a forward pass of one's own
    n = values["X"].shape[1]
    assert max_abs_diff((f["A2"] - values["Y"]) @ f["A1"].T / n, hand["dW2"]) <= 1e-14


def test_softmax_regression_grad_matches_the_numpy_formula():
    rng = np.random.default_rng(3)
    k, d, n = 4, 5, 9
    X, W, b = rng.standard_normal((d, n)), rng.standard_normal((k, d)), rng.standard_normal((k, 1))
    Y = np.eye(k)[:, rng.integers(0, k, n)]
    Z = W @ X + b
    P = np.exp(Z - Z.max(axis=0)) / np.exp(Z - Z.max(axis=0)).sum(axis=0)
    J = -np.mean(np.sum(Y * np.log(P), axis=0))
    dZ = (P - Y) / n
    g = mg.Model.from_file(MODELS / "softmax_regression.mg").grad({"X": X, "Y": Y, "W": W, "b": b})
    assert abs(g["J"][0, 0] - J) < 1e-12
    assert max_abs_diff(g["dW"], dZ @ X.T) < 1e-12
    assert max_abs_diff(g["db"], dZ.sum(axis=1, keepdims=True)) < 1e-12


def test_nn_losses_are_callable_by_name():
    rng = np.random.default_rng(5)
    Z, T = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    g = mg.Model("input T : 3 x 4\nparam Z : 3 x 4\nJ = mse(Z, T)\n").grad({"Z": Z, "T": T})
    # nn::mse: J = (1/N) Σ (z − t)² over all N entries.
    assert abs(g["J"][0, 0] - np.mean((Z - T) ** 2)) < 1e-12
    assert max_abs_diff(g["dZ"], 2 * (Z - T) / Z.size) < 1e-12


def test_verify_diagnoses_a_missing_mean_factor_and_the_first_wrong_step(slides):
    model, values, hand = slides
    n = values["X"].shape[1]
    right = {k: hand[k] for k in ["dW1", "db1", "dW2", "db2"]}
    r = model.verify(values, right)
    assert r["first_wrong_step"] is None
    assert [(g["name"], g["diagnosis"]) for g in r["gradients"]] == [
        ("dW2", "ok"), ("db2", "ok"), ("dW1", "ok"), ("db1", "ok")]
    assert set(r["gradients"][0]) >= {"name", "diagnosis", "also", "node", "op", "factor", "max_abs_error",
                                      "expected_shape", "given_shape", "hint", "consequence_of"}
    # The 1/n left out at dZ2: every gradient below it is n times too large.
    wrong = {"dZ2": hand["dZ2"] * n, "dZ1": hand["dZ1"] * n, "dW1": hand["dW1"] * n, "dW2": hand["dW2"] * n}
    r = model.verify(values, wrong)
    by_name = {g["name"]: g for g in r["gradients"]}
    assert by_name["dZ2"]["diagnosis"] == "missing_mean_factor"
    assert by_name["dZ2"]["factor"] == pytest.approx(n, rel=1e-12)
    assert by_name["dZ2"]["expected_shape"] == [1, 7] and by_name["dZ2"]["given_shape"] == [1, 7]
    assert r["first_wrong_step"] == "dZ2"
    assert by_name["dW1"]["consequence_of"] is not None
    with pytest.raises(mg.UsageError, match=r"^verify: no node named Foo for the hand gradient dFoo "):
        model.verify(values, {"dFoo": np.ones((1, 1))})
    # One rule with the CLI's d<name>.npy files: "W1" is not a gradient's name (it was accepted).
    with pytest.raises(mg.UsageError, match=r"^the hand gradient 'W1' is not named d<node>: the gradient of W1 is dW1$"):
        model.verify(values, {"W1": hand["dW1"]})


def test_verify_judges_float32_hand_arrays_at_float32_precision_with_a_note(slides):
    model, values, hand = slides
    n = values["X"].shape[1]
    # As the CLI does for float32 .npy files: a right float32 gradient is ok (it was unexplained at
    # 3e-8), a mistake still shows, and a note says the tolerance was raised.
    h = {"dW1": hand["dW1"].astype(np.float32), "db1": hand["db1"], "dW2": (hand["dW2"] * n).astype(np.float32)}
    note = r"^hand\['dW1'\], hand\['dW2'\] hold float32 values: judged at float32's precision \(tolerance 1e-06, not 1e-08\)$"
    with pytest.warns(UserWarning, match=note):
        r = model.verify(values, h)
    by_name = {g["name"]: g["diagnosis"] for g in r["gradients"]}
    assert by_name == {"dW1": "ok", "db1": "ok", "dW2": "missing_mean_factor"}
    assert "(tolerance 1e-06 of each gradient's scale)" in str(r)
    with warnings.catch_warnings():  # float64 arrays, or a tolerance already that loose: no note
        warnings.simplefilter("error")
        assert model.verify(values, {"dW1": hand["dW1"]})["first_wrong_step"] is None
        assert model.verify(values, {"dW1": hand["dW1"].astype(np.float32)}, tol=1e-5)["first_wrong_step"] is None


def test_verify_takes_a_1d_array_as_the_row_or_column_of_its_length(slides):
    model, values, hand = slides
    n = values["X"].shape[1]
    # As a 1-D .npy file for the CLI: dW2 (1 x 64) and db1 (64 x 1) given flat are both ok, and a
    # flat dW2 missing its 1/n is still diagnosed; a flat array of the wrong length is wrong_shape.
    r = model.verify(values, {"dW2": hand["dW2"].ravel(), "db1": hand["db1"].ravel()})
    assert {g["name"]: g["diagnosis"] for g in r["gradients"]} == {"dW2": "ok", "db1": "ok"}
    r = model.verify(values, {"dW2": hand["dW2"].ravel() * n})
    assert r["gradients"][0]["diagnosis"] == "missing_mean_factor"
    r = model.verify(values, {"dW2": hand["dW2"].ravel()[:10]})
    assert r["gradients"][0]["diagnosis"] == "wrong_shape"
    assert "a 1-D file of 10 values" in r["gradients"][0]["hint"]


def test_verify_report_reads_as_the_cli_text_and_typesets_its_verdicts(slides, tmp_path):
    model, values, hand = slides
    n = values["X"].shape[1]
    r = model.verify(values, {"dZ2": hand["dZ2"] * n, "dW2": hand["dW2"] * n, "db1": hand["db1"]})
    assert isinstance(r, mg.VerifyReport) and isinstance(r, dict)
    assert r["first_wrong_step"] == "dZ2"  # still the JSON's dict
    lines = str(r).splitlines()
    assert lines[0] == f"checking against the model {MODELS / 'slides.mg'}: output J, on the values given"
    row = {line.split()[1 if line.startswith("✓") or line.startswith("✗") else 2]: line
           for line in lines if line.startswith(("✓", "✗", "→"))}
    assert row["dZ2"].startswith("→ ✗") and "missing_mean_factor" in row["dZ2"]
    assert row["dW2"].startswith("✗") and "missing_mean_factor" in row["dW2"]
    assert row["db1"].startswith("✓") and " ok " in row["db1"]
    assert "first wrong step: dZ2" in str(r)
    # The LaTeX: the equations with the verdict on each checked line, the first wrong step marked.
    latex = r._repr_latex_()
    assert latex == r.latex
    verdicts = [line for line in latex.splitlines() if "\\text{yours:" in line]
    assert [line.split("&")[0].strip() for line in verdicts] == ["dZ_{2}", "dW_{2}", "db_{1}"]
    assert verdicts[0].endswith("\\text{yours: missing\\_mean\\_factor (first wrong step)} \\\\")
    assert "\\text{yours: ok}" in verdicts[2]
    # As Jupyter shows it: every $$ block typesets (KaTeX in strict mode, as the explain test does).
    assert_katex_typesets(latex, tmp_path)


def test_verify_hints_name_the_models_own_matrices():
    rng = np.random.default_rng(6)
    Z, T = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    model = mg.Model("input T : 3 x 4\nparam Z : 3 x 4\nH = tanh(Z)\nJ = mse(H, T)\n")
    # By hand, tanh' left out: dZ = dH = 2 (H − T) / N instead of dH ⊙ (1 − H²).
    r = model.verify({"Z": Z, "T": T}, {"dZ": 2 * (np.tanh(Z) - T) / Z.size})
    (g,) = r["gradients"]
    assert g["diagnosis"] == "missing_activation_derivative"
    assert g["hint"] == ("dZ should be dH ⊙ (1 − H²) (3×4); yours equals the derivation with a mistake at "
                         "H = tanh(Z) — tanh' = 1 − H² left out: dZ = dH")


def test_explain_is_the_text_of_explain_model(slides):
    model, values, _ = slides
    text = model.explain(values)
    assert text.startswith(str(MODELS / "slides.mg") + ": output J, on the values given.")
    assert "dW1" in text and "Z1" in text
    e = model.explanation(values)
    assert str(e) == text
    assert "\\begin{aligned}" in e._repr_latex_() and e.latex == e._repr_latex_()


def test_parse_errors_are_syntax_errors_with_line_column_and_caret():
    with pytest.raises(mg.ParseError) as info:
        mg.Model("input X : 2 x 3\nparam W : 1 x 2\nJ = sum(W*X +)\n", "bad.mg")
    e = info.value
    assert isinstance(e, SyntaxError)
    assert (e.file, e.line, e.column) == ("bad.mg", 3, 14)
    lines = str(e).split("\n")
    assert lines[0].startswith("bad.mg:3:14: error: ")
    assert lines[1].strip() == "J = sum(W*X +)"
    assert lines[2].index("^") == lines[1].index(")")


def test_shape_errors_in_a_model_name_both_operands():
    model = mg.Model("input X : 3 x 4\nparam W : 2 x 5\nJ = sum(W*X)\n")
    with pytest.raises(mg.ParseError, match=r"<model>:3:\d+: error: .*W is 2x5 but X is 3x4"):
        model.grad({"X": np.ones((3, 4)), "W": np.ones((2, 5))})


def test_a_missing_value_is_the_cli_error_at_the_declaration(slides):
    model, values, _ = slides
    del values["W2"]
    with pytest.raises(mg.ParseError) as info:
        model.grad(values)
    assert info.value.line == 6
    assert "values['W2']" in str(info.value) and "seed=S draws missing values at random" in str(info.value)
    g = model.grad(values, seed=1)  # drawn: the other gradients still exist
    assert g["dW2"].shape == (1, 64)


def test_from_file_reads_at_most_16_mib_as_the_cli_does(tmp_path):
    big = tmp_path / "big.mg"
    big.write_bytes(b"# " + b"x" * (16 << 20) + b"\nparam w : 1 x 1\nJ = sum(w)\n")
    with pytest.raises(ValueError, match=r"big\.mg: larger than 16 MiB, the most a model file may hold$"):
        mg.Model.from_file(big)
    with pytest.raises(ValueError, match=r"^/dev/zero: larger than 16 MiB"):
        mg.Model.from_file("/dev/zero")
    small = tmp_path / "small.mg"
    small.write_text("param w : 1 x 1\nJ = sum(w)\n")
    assert mg.Model.from_file(small).params == {"w": (1, 1)}


def test_from_file_of_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        mg.Model.from_file(tmp_path / "nope.mg")


def test_grad_releases_the_gil():
    # A model whose grad takes a while: the main thread keeps running meanwhile (with the GIL
    # held, its longest pause would be the whole call).
    lines = ["input X : 200 x 200", "param W : 200 x 200", "H0 = X"]
    lines += [f"H{i} = sigmoid(W*H{i - 1})" for i in range(1, 61)] + ["J = mean(H60)"]
    model = mg.Model("\n".join(lines))
    rng = np.random.default_rng(0)
    values = {"X": rng.standard_normal((200, 200)), "W": rng.standard_normal((200, 200)) / 15}
    took = []

    def run():
        start = time.perf_counter()
        model.grad(values)
        took.append(time.perf_counter() - start)

    thread = threading.Thread(target=run)
    last, longest = time.perf_counter(), 0.0
    thread.start()
    while thread.is_alive():
        now = time.perf_counter()
        longest, last = max(longest, now - last), now
    thread.join()
    assert longest < 0.5 * took[0], (longest, took[0])


def test_dims_too_large_for_memory_are_refused_naming_the_declaration_and_the_dim():
    model = mg.Model("param W : n x n\nJ = sum(W .* W)\n", "ov.mg")
    with pytest.raises(mg.ParseError, match=r"^ov.mg:1:7: error: param W : n x n \(dims\['n'\] = 9223372036854775807\): "
                                            r"9223372036854775807x9223372036854775807 would need 6.81e\+38 bytes, "
                                            r"over the cap of 134217728 elements \(1 GiB\) per matrix"):
        model.grad({}, dims={"n": 2**63 - 1}, seed=1)
    with pytest.raises(mg.ParseError, match=r"dims\['n'\] = 0: a dimension's size must be at least 1"):
        model.grad({}, dims={"n": 0}, seed=1)


def test_parse_errors_fill_syntax_errors_standard_fields():
    with pytest.raises(mg.ParseError) as info:
        mg.Model("input X : 2 x 3\nparam W : 1 x 2\nJ = sum(W*X +)\n", "bad.mg")
    e = info.value
    assert (e.filename, e.lineno, e.offset, e.text) == ("bad.mg", 3, 14, "J = sum(W*X +)")
