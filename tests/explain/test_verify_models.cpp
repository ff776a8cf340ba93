// matgrad::verify on models that are not the slides' MLP -- softmax regression, tanh + MSE, an
// L2-regularized logistic regression, a Gaussian likelihood through logdet and inv -- and on a user
// op with its own declared mistake. Every hand gradient, right or wrong, is written out here with
// plain xtensor formulas, independently of the engine's VJPs.
#include "test_util.hpp"

#include <autodiff/elementwise.hpp>
#include <autodiff/inspect.hpp>
#include <autodiff/verify.hpp>

#include <doctest/doctest.h>

#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xmanipulation.hpp>

#include <cmath>

using namespace matgrad;
using matgrad::test::random_matrix;

namespace {

using xt::linalg::dot;
Matrix T(const Matrix& m) { return xt::transpose(m); }
Matrix row_sums(const Matrix& m) { return xt::sum(m, {1}, xt::keep_dims); }

// The report of `name` in a verify() run.
const GradientReport& report_of(const VerifyReport& r, const std::string& name) {
    for (const GradientReport& g : r.gradients)
        if (g.name == name) return g;
    throw std::out_of_range("no report for " + name);
}

// One hand gradient alone.
GradientReport one(Tape& tape, const Var& J, const std::string& name, const Matrix& m) {
    const VerifyReport r = verify(tape, J, {{name, m}});
    REQUIRE(r.gradients.size() == 1);
    return r.gradients[0];
}

// ---- softmax regression: Z = W X + b, S = softmax(Z) per column, J = −mean_j Σ_i Y log S --------

struct Softmax {
    Matrix X = random_matrix(5, 9, 21), W = 0.5 * random_matrix(4, 5, 22), b = random_matrix(4, 1, 23);
    Matrix Y = xt::zeros<double>({4, 9});
    Matrix S, dS, dZ, dW, db;  // by hand
    double n = 9;
    Tape tape;
    Var J;
    Softmax() {
        for (std::size_t j = 0; j < 9; ++j) Y((j * 7) % 4, j) = 1.0;
        const Matrix Z = dot(W, X) + b;
        S = Matrix(Z.shape());
        for (std::size_t j = 0; j < 9; ++j) {
            double total = 0.0;
            for (std::size_t i = 0; i < 4; ++i) total += std::exp(Z(i, j));
            for (std::size_t i = 0; i < 4; ++i) S(i, j) = std::exp(Z(i, j)) / total;
        }
        dS = -Y / S / n;
        dZ = (S - Y) / n;
        dW = dot(dZ, T(X));
        db = row_sums(dZ);
        const Var Xv = tape.constant(X, "X"), Yv = tape.constant(Y, "Y");
        const Var Wv = tape.variable(W, "W"), bv = tape.variable(b, "b");
        const Var Zv = (matmul(Wv, Xv) + bv).named("Z");
        const Var Sv = softmax(Zv).named("S");
        J = (-mean(sum(Yv * log(Sv), 0))).named("J");
    }
    // The diagonal-Jacobian mistake: dZ = dS ⊙ S(1 − S).
    Matrix dZ_diagonal() const { return dS * S * (1.0 - S); }
};

TEST_CASE("verify on softmax regression: every gradient-level code, and the softmax's own mistake") {
    Softmax m;
    const VerifyReport right = verify(m.tape, m.J, {{"dW", m.dW}, {"db", m.db}, {"dZ", m.dZ}, {"dS", m.dS}});
    for (const GradientReport& g : right.gradients) {
        CAPTURE(g.hint);
        CHECK(g.diagnosis == "ok");
    }
    CHECK(right.first_wrong_step.empty());
    CHECK(right.gradients[0].name == "dS");  // reverse-pass order: dS, dZ, dW, db
    CHECK(right.gradients[1].name == "dZ");

    const GradientReport diag = one(m.tape, m.J, "dZ", m.dZ_diagonal());
    CHECK(diag.diagnosis == "diagonal_jacobian");
    CHECK(diag.node == "S");
    CHECK(diag.op == "softmax");
    // The mistake's description in this graph's names (S, Z, dS), not softmax's generic letters.
    CHECK(diag.hint == "dZ should be S ⊙ (dS − colsum(S ⊙ dS)) (4×9); yours equals the derivation with a mistake at "
                       "S = softmax(Z) — only the Jacobian's diagonal kept, as if softmax were element-wise: "
                       "dZ = dS ⊙ S ⊙ (1 − S)");
    CHECK(one(m.tape, m.J, "dW", dot(m.dZ_diagonal(), T(m.X))).diagnosis == "diagonal_jacobian");

    const GradientReport per_sample = one(m.tape, m.J, "db", m.dZ);
    CHECK(per_sample.diagnosis == "not_summed");
    CHECK(per_sample.node == "Z");
    CHECK(per_sample.op == "add");
    const GradientReport tr = one(m.tape, m.J, "dW", dot(m.X, T(m.dZ)));
    CHECK(tr.diagnosis == "transposed");
    CHECK(tr.also.empty());
    const GradientReport missing = one(m.tape, m.J, "dW", m.n * m.dW);
    CHECK(missing.diagnosis == "missing_mean_factor");
    CHECK(missing.factor == 9);
    CHECK(one(m.tape, m.J, "dW", m.dW / m.n).diagnosis == "extra_mean_factor");
    CHECK(one(m.tape, m.J, "dW", -m.dW).diagnosis == "sign_flipped");
    const GradientReport scaled = one(m.tape, m.J, "dW", 2.5 * m.dW);
    CHECK(scaled.diagnosis == "scaled");
    CHECK(scaled.factor == doctest::Approx(2.5).epsilon(1e-12));
    const GradientReport both = one(m.tape, m.J, "dW", m.n * dot(m.X, T(m.dZ)));
    CHECK(both.diagnosis_text() == "missing_mean_factor + transposed");
    const GradientReport shape = one(m.tape, m.J, "dW", random_matrix(4, 4, 24));
    CHECK(shape.diagnosis == "wrong_shape");
    CHECK(shape.expected_shape == std::array<std::size_t, 2>{4, 5});
    const GradientReport noise = one(m.tape, m.J, "dW", m.dW + 1e-3 * random_matrix(4, 5, 25));
    CHECK(noise.diagnosis == "unexplained");
    CHECK(noise.max_abs_error > 1e-4);

    // The tape keeps the true gradients afterwards.
    CHECK(test::max_abs_diff(m.tape.node(2).grad(), m.dW) < 1e-12);
}

TEST_CASE("verify: the first wrong step on softmax regression, later lines its consequences") {
    Softmax m;
    const Matrix dZ = m.dZ_diagonal();
    const VerifyReport r = verify(m.tape, m.J, {{"dS", m.dS}, {"dZ", dZ}, {"dW", dot(dZ, T(m.X))}, {"db", row_sums(dZ)}});
    CHECK(r.first_wrong_step == "dZ");
    CHECK(report_of(r, "dS").ok());
    CHECK(report_of(r, "dZ").consequence_of.empty());
    CHECK(report_of(r, "dW").consequence_of == "dZ");
    CHECK(report_of(r, "db").consequence_of == "dZ");
}

// ---- tanh + MSE: H = tanh(W1 X + b1), P = W2 H + b2, J = mean((P − T)²) ---------------------------

struct TanhMse {
    Matrix X = random_matrix(3, 8, 31), Tg = random_matrix(2, 8, 32);
    Matrix W1 = random_matrix(6, 3, 33), b1 = random_matrix(6, 1, 34);
    Matrix W2 = random_matrix(2, 6, 35), b2 = random_matrix(2, 1, 36);
    Matrix H, P, dP, dW2, db2, dH, dZ1, dW1, db1;
    double N = 16;  // the mean runs over all 2 × 8 entries
    Tape tape;
    Var J;
    TanhMse() {
        H = xt::tanh(dot(W1, X) + b1);
        P = dot(W2, H) + b2;
        dP = 2.0 * (P - Tg) / N;
        dW2 = dot(dP, T(H));
        db2 = row_sums(dP);
        dH = dot(T(W2), dP);
        dZ1 = dH * (1.0 - H * H);
        dW1 = dot(dZ1, T(X));
        db1 = row_sums(dZ1);
        const Var Xv = tape.constant(X, "X"), Tv = tape.constant(Tg, "T");
        const Var W1v = tape.variable(W1, "W1"), b1v = tape.variable(b1, "b1");
        const Var W2v = tape.variable(W2, "W2"), b2v = tape.variable(b2, "b2");
        const Var Z1 = (matmul(W1v, Xv) + b1v).named("Z1");
        const Var Hv = tanh(Z1).named("H");
        const Var Pv = (matmul(W2v, Hv) + b2v).named("P");
        J = mean(pow(Pv - Tv, 2.0)).named("J");
    }
};

TEST_CASE("verify on tanh + MSE: tanh' left out or taken at the output, the 2 of the square, the 1/N") {
    TanhMse m;
    const VerifyReport right = verify(m.tape, m.J, {{"dP", m.dP}, {"dW2", m.dW2}, {"db2", m.db2}, {"dH", m.dH},
                                                    {"dZ1", m.dZ1}, {"dW1", m.dW1}, {"db1", m.db1}});
    CHECK(right.ok());
    const char* order[] = {"dP", "dW2", "db2", "dH", "dZ1", "dW1", "db1"};
    for (std::size_t i = 0; i < 7; ++i) CHECK(right.gradients[i].name == order[i]);

    // 1 − tanh(H)² where 1 − H² is meant.
    const Matrix dZ1_at_output = m.dH * (1.0 - xt::tanh(m.H) * xt::tanh(m.H));
    const GradientReport at_output = one(m.tape, m.J, "dZ1", dZ1_at_output);
    CHECK(at_output.diagnosis == "derivative_at_output");
    CHECK(at_output.node == "H");
    CHECK(at_output.op == "tanh");
    CHECK(at_output.hint.find("at H = tanh(Z1)") != std::string::npos);
    CHECK(at_output.hint.substr(at_output.hint.find(" — ")) ==
          " — tanh' evaluated at the output H instead of at Z1: dZ1 = dH ⊙ (1 − tanh(H)²)");
    CHECK(one(m.tape, m.J, "dW1", dot(dZ1_at_output, T(m.X))).diagnosis == "derivative_at_output");

    const GradientReport no_tanh = one(m.tape, m.J, "dW1", dot(m.dH, T(m.X)));  // dZ1 = dH
    CHECK(no_tanh.diagnosis == "missing_activation_derivative");
    CHECK(no_tanh.node == "H");
    // tanh's description in this graph's names: H, Z1, dH -- not the generic A, Z.
    CHECK(no_tanh.hint.substr(no_tanh.hint.find(" — ")) == " — tanh' = 1 − H² left out: dZ1 = dH");

    // d(e²) = e instead of 2e: half the gradient, with N = 16 not 2.
    const Matrix dP_no_two = (m.P - m.Tg) / m.N;
    const GradientReport power = one(m.tape, m.J, "dW2", dot(dP_no_two, T(m.H)));
    CHECK(power.diagnosis == "missing_power_factor");
    CHECK(power.op == "pow");
    CHECK(one(m.tape, m.J, "db1", row_sums(dot(T(m.W2), dP_no_two) * (1.0 - m.H * m.H))).diagnosis ==
          "missing_power_factor");
    const GradientReport no_mean = one(m.tape, m.J, "dP", 2.0 * (m.P - m.Tg));
    CHECK(no_mean.diagnosis == "missing_mean_factor");
    CHECK(no_mean.factor == 16);
    CHECK(no_mean.op == "mean");  // the mean's own mistake names the place
    CHECK(one(m.tape, m.J, "db2", 2.0 * (m.P - m.Tg) / m.N).diagnosis == "not_summed");
}

TEST_CASE("verify: a matmul gradient transposed inside the chain, in the graph's names") {
    // J = mean(Y ⊙ Y), Y = H X, H = tanh(W) square: dH transposed at Y gives dW = dHᵀ ⊙ (1 − H²),
    // not the truth transposed (1 − H² is not symmetric), so only matmul's own mistake explains it.
    Tape tape;
    const Matrix W = random_matrix(3, 3, 75), X = random_matrix(3, 4, 76);
    const Var Wv = tape.variable(W, "W");
    const Var H = tanh(Wv).named("H");
    const Var Y = matmul(H, tape.constant(X, "X")).named("Y");
    const Var J = mean(Y * Y).named("J");
    const Matrix h = xt::tanh(W);
    const Matrix dH = dot(2.0 * dot(h, X) / 12.0, T(X));
    CHECK(one(tape, J, "dW", dH * (1.0 - h * h)).diagnosis == "ok");
    const GradientReport r = one(tape, J, "dW", T(dH) * (1.0 - h * h));
    CHECK(r.diagnosis == "transposed");
    CHECK(r.node == "Y");
    CHECK(r.op == "matmul");
    CHECK(r.hint == "dW should be dH ⊙ (1 − H²) (3×3); yours equals the derivation with a mistake at Y = H X — "
                    "dH transposed: (dY Xᵀ)ᵀ = X dYᵀ instead of dY Xᵀ");
}

TEST_CASE("explain and verify through the one-op affine W X + b (nn's layers): Z stays a node") {
    const Matrix X = random_matrix(5, 9, 21), W = 0.5 * random_matrix(4, 5, 22), b = random_matrix(4, 1, 23);
    Tape tape;
    const Var Wv = tape.variable(W, "W"), bv = tape.variable(b, "b");
    const Var Z = affine(Wv, tape.constant(X, "X"), bv).named("Z");
    const Var J = mean(Z * Z).named("J");
    tape.backward(J);
    bool z_line = false, dw_line = false;
    for (const ExplainLine& line : explain(tape, J)) {
        z_line = z_line || (line.lhs == "Z" && line.formula == "W X + b");
        dw_line = dw_line || (line.lhs == "dW" && line.formula == "dZ Xᵀ");
    }
    CHECK(z_line);
    CHECK(dw_line);
    const Matrix dZ = 2.0 * (dot(W, X) + b) / 36.0;
    CHECK(one(tape, J, "dW", dot(dZ, T(X))).diagnosis == "ok");
    CHECK(one(tape, J, "db", row_sums(dZ)).diagnosis == "ok");
    const GradientReport per_sample = one(tape, J, "db", dZ);
    CHECK(per_sample.diagnosis == "not_summed");
    CHECK(per_sample.node == "Z");
    CHECK(per_sample.op == "affine");
    const GradientReport transposed = one(tape, J, "dW", dot(X, T(dZ)));
    CHECK(transposed.diagnosis == "transposed");
    CHECK(transposed.op == "affine");
}

TEST_CASE("verify: first wrong step on a chain with the mistake in the middle (tanh + MSE)") {
    TanhMse m;
    const Matrix dZ1 = m.dH * (1.0 - xt::tanh(m.H) * xt::tanh(m.H));  // the slip, at dZ1
    const VerifyReport r = verify(m.tape, m.J, {{"dP", m.dP}, {"dW2", m.dW2}, {"dH", m.dH}, {"dZ1", dZ1},
                                                {"dW1", dot(dZ1, T(m.X))}, {"db1", row_sums(dZ1)}});
    CHECK(!r.ok());
    CHECK(r.first_wrong_step == "dZ1");
    for (const char* right : {"dP", "dW2", "dH"}) CHECK(report_of(r, right).ok());
    CHECK(report_of(r, "dZ1").diagnosis == "derivative_at_output");
    CHECK(report_of(r, "dZ1").consequence_of.empty());
    CHECK(report_of(r, "dW1").consequence_of == "dZ1");
    CHECK(report_of(r, "db1").consequence_of == "dZ1");

    // Two wrong lines where the later one is right given the earlier: dH wrong (sign), everything
    // below follows. First wrong step: dH.
    const Matrix dH = -m.dH, dZ = dH * (1.0 - m.H * m.H);
    const VerifyReport chain = verify(m.tape, m.J, {{"dP", m.dP}, {"dH", dH}, {"dZ1", dZ}, {"dW1", dot(dZ, T(m.X))}});
    CHECK(chain.first_wrong_step == "dH");
    CHECK(report_of(chain, "dH").diagnosis == "sign_flipped");
    CHECK(report_of(chain, "dW1").consequence_of == "dZ1");
}

TEST_CASE("verify: the mean factor of a mean along one axis (N = the columns averaged)") {
    // J = Σ_i mean_j (W X − T)²_ij: a per-row mean over n = 6 columns, then a sum over the rows.
    Tape tape;
    const Matrix X = random_matrix(3, 6, 81), Tg = random_matrix(2, 6, 82), W = random_matrix(2, 3, 83);
    const Var Wv = tape.variable(W, "W");
    const Var E = (matmul(Wv, tape.constant(X, "X")) - tape.constant(Tg, "T")).named("E");
    const Var J = sum(mean(pow(E, 2.0), 1)).named("J");
    const Matrix e = dot(W, X) - Tg;
    const Matrix dW = dot(2.0 * e / 6.0, T(X));
    CHECK(one(tape, J, "dW", dW).diagnosis == "ok");
    const GradientReport missing = one(tape, J, "dW", 6.0 * dW);
    CHECK(missing.diagnosis == "missing_mean_factor");
    CHECK(missing.factor == 6);
    CHECK(missing.op == "mean");
    const GradientReport extra = one(tape, J, "dE", 2.0 * e / 36.0);
    CHECK(extra.diagnosis == "extra_mean_factor");
    CHECK(extra.op == "mean");
}

// ---- L2-regularized logistic regression: J = BCE(σ(w X + b), y) + (λ/2) Σ w² ---------------------

struct Logistic {
    Matrix X = random_matrix(4, 10, 41), w = random_matrix(1, 4, 42), b{{0.3}};
    Matrix y = xt::zeros<double>({1, 10});
    double lambda = 0.3, n = 10;
    Matrix A, dA, dZ, dw, db;
    Tape tape;
    Var J;
    // square_as_product: the penalty's w² written w ⊙ w (as examples/models/l2_logistic.mg does).
    explicit Logistic(bool square_as_product = false) {
        for (std::size_t j = 0; j < 10; ++j) y(0, j) = j % 3 == 0 ? 1.0 : 0.0;
        const Matrix Z = dot(w, X) + b;
        A = 1.0 / (1.0 + xt::exp(-Z));
        dA = (-y / A + (1.0 - y) / (1.0 - A)) / n;
        dZ = (A - y) / n;
        dw = dot(dZ, T(X)) + lambda * w;
        db = row_sums(dZ);
        const Var Xv = tape.constant(X, "X"), yv = tape.constant(y, "y");
        const Var wv = tape.variable(w, "w"), bv = tape.variable(b, "b");
        const Var Zv = (matmul(wv, Xv) + bv).named("Z");
        const Var Av = sigmoid(Zv).named("A");
        const Var bce = -mean(yv * log(Av) + (1.0 - yv) * log(1.0 - Av));
        J = (bce + (lambda / 2) * sum(square_as_product ? wv * wv : pow(wv, 2.0))).named("J");
    }
};

TEST_CASE("verify on L2-regularized logistic regression: the penalty's path, σ' at A, a 1x1 bias") {
    Logistic m;
    CHECK(verify(m.tape, m.J, {{"dw", m.dw}, {"db", m.db}, {"dZ", m.dZ}, {"dA", m.dA}}).ok());

    const GradientReport no_penalty = one(m.tape, m.J, "dw", dot(m.dZ, T(m.X)));
    CHECK(no_penalty.diagnosis == "missing_path");
    CHECK(no_penalty.op == "pow");  // the use of w in the penalty was left out
    CHECK(no_penalty.hint.find("left out") != std::string::npos);
    CHECK(one(m.tape, m.J, "dw", dot(m.dZ, T(m.X)) + m.lambda / 2 * m.w).diagnosis == "missing_power_factor");


    // The same mistake, the same verdict, whichever way the square is written: w ⊙ w uses w twice
    // in one node, and leaving that use out is one path (it was unexplained).
    Logistic product(true);
    const GradientReport no_penalty_product = one(product.tape, product.J, "dw", dot(product.dZ, T(product.X)));
    CHECK(no_penalty_product.diagnosis == "missing_path");
    CHECK(no_penalty_product.op == "mul");
    CHECK(no_penalty_product.hint.find("left out") != std::string::npos);

    const Matrix sA = 1.0 / (1.0 + xt::exp(-m.A));  // σ(A) where σ(Z) = A is meant
    const GradientReport at_output = one(m.tape, m.J, "dZ", m.dA * sA * (1.0 - sA));
    CHECK(at_output.diagnosis == "derivative_at_output");
    CHECK(at_output.node == "A");
    CHECK(at_output.op == "sigmoid");
    CHECK(at_output.hint.substr(at_output.hint.find(" — ")) ==
          " — σ' evaluated at the activation A instead of at Z: dZ = dA ⊙ σ(A) ⊙ (1 − σ(A))");
    CHECK(one(m.tape, m.J, "dZ", m.dA).diagnosis == "missing_activation_derivative");

    // The data term's mean without its 1/n, the penalty's term right: not a multiple of the truth,
    // so the mean's own mistake explains it, written with the mean's operand and n = 10.
    const GradientReport no_mean = one(m.tape, m.J, "dw", dot(m.n * m.dZ, T(m.X)) + m.lambda * m.w);
    CHECK(no_mean.diagnosis == "missing_mean_factor");
    CHECK(no_mean.op == "mean");
    CHECK(no_mean.hint.substr(no_mean.hint.find(" — ")) ==
          " — the 1/10 of mean(y ⊙ log(A) + (1 − y) ⊙ log(1 − A)) left out (the gradient of a sum)");

    CHECK(one(m.tape, m.J, "db", m.dZ).diagnosis == "not_summed");   // 1×10 for a 1×1 bias
    CHECK(one(m.tape, m.J, "db", -m.db).diagnosis == "sign_flipped"); // 1×1: never "scaled −1"
    CHECK(one(m.tape, m.J, "db", 3.0 * m.db).diagnosis == "scaled");
    CHECK(one(m.tape, m.J, "dw", T(m.dw)).diagnosis == "transposed");
}

// ---- Gaussian likelihood: J = ½ log|det Σ| + ½ tr(Σ⁻¹ S) ----------------------------------------

struct Gaussian {
    Matrix Sigma, S, Si, d;  // Si = Σ⁻¹
    Tape tape;
    Var J;
    explicit Gaussian(bool symmetric) {
        const Matrix D = random_matrix(3, 6, 51);
        S = dot(D, T(D)) / 6.0;  // a sample scatter: symmetric
        const Matrix R = 0.3 * random_matrix(3, 3, 52);
        Sigma = xt::eye<double>(3) * 2.0 + (symmetric ? Matrix(R + T(R)) : R);
        Si = xt::linalg::inv(Sigma);
        const Matrix inv_T = T(Si);
        d = 0.5 * inv_T - 0.5 * dot(dot(inv_T, T(S)), inv_T);  // d log|det| = Σ⁻ᵀ, d tr(Σ⁻¹S) = −Σ⁻ᵀSᵀΣ⁻ᵀ
        const Var Sig = tape.variable(Sigma, "Sigma"), Sv = tape.constant(S, "S");
        J = (0.5 * logdet(Sig) + 0.5 * tr(matmul(inv(Sig), Sv))).named("J");
    }
};

TEST_CASE("verify on a Gaussian likelihood (logdet, inv): the transposes they drop, a missing term") {
    Gaussian g(false);
    CHECK(one(g.tape, g.J, "dSigma", g.d).diagnosis == "ok");
    // logdet's Σ⁻ᵀ written Σ⁻¹ (the other term right): an op-level transpose, at the logdet node.
    const GradientReport logdet_t = one(g.tape, g.J, "dSigma", 0.5 * g.Si - 0.5 * dot(dot(T(g.Si), g.S), T(g.Si)));
    CHECK(logdet_t.diagnosis == "transposed");
    CHECK(logdet_t.op == "logdet");
    CHECK(logdet_t.hint.substr(logdet_t.hint.find(" — ")) == " — Sigma⁻¹ instead of Sigma⁻ᵀ");
    const GradientReport inv_t = one(g.tape, g.J, "dSigma", 0.5 * T(g.Si) - 0.5 * dot(dot(g.Si, g.S), g.Si));
    CHECK(inv_t.diagnosis == "transposed");
    CHECK(inv_t.op == "inv");
    // inv(Sigma) is inline, so its gradient is written d(Sigma⁻¹).
    CHECK(inv_t.hint.substr(inv_t.hint.find(" — ")) ==
          " — the inverse's transposes dropped: −Sigma⁻¹ d(Sigma⁻¹) Sigma⁻¹ instead of −Sigma⁻ᵀ d(Sigma⁻¹) Sigma⁻ᵀ");
    CHECK(one(g.tape, g.J, "dSigma", T(g.d)).diagnosis == "transposed");  // both: the whole gradient
    const GradientReport no_trace = one(g.tape, g.J, "dSigma", 0.5 * T(g.Si));
    CHECK(no_trace.diagnosis == "missing_path");
    CHECK(one(g.tape, g.J, "dSigma", -g.d).diagnosis == "sign_flipped");
    CHECK(one(g.tape, g.J, "dSigma", random_matrix(3, 3, 53)).diagnosis == "unexplained");
    CHECK(one(g.tape, g.J, "dSigma", random_matrix(3, 1, 54)).diagnosis == "wrong_shape");
}

TEST_CASE("verify must not misdiagnose: symmetric Σ, a 1x1, n = 1, a mistake that cannot show") {
    // Σ symmetric: Σ⁻¹ = Σ⁻ᵀ, so the "transposed" mistakes of logdet and inv give the truth: ok.
    Gaussian g(true);
    const GradientReport sym = one(g.tape, g.J, "dSigma", g.d);
    CHECK(sym.diagnosis == "ok");
    CHECK(sym.also.empty());
    CHECK(one(g.tape, g.J, "dSigma", T(g.d)).diagnosis == "ok");
    CHECK(one(g.tape, g.J, "dSigma", 2.0 * g.d).diagnosis == "scaled");  // not "transposed" too
    CHECK(one(g.tape, g.J, "dSigma", 2.0 * g.d).also.empty());

    // One sample: the mean's 1/n and the bias sum change nothing, so the plain formulas are ok.
    Tape tape;
    const Matrix X = random_matrix(3, 1, 61), W = random_matrix(2, 3, 62), b = random_matrix(2, 1, 63);
    const Var Wv = tape.variable(W, "W"), bv = tape.variable(b, "b");
    const Var Z = (matmul(Wv, tape.constant(X, "X")) + bv).named("Z");
    const Var J = mean(sum(pow(tanh(Z), 2.0), 0)).named("J");
    const Matrix H = xt::tanh(dot(W, X) + b);
    const Matrix dZ = 2.0 * H * (1.0 - H * H);
    const VerifyReport r = verify(tape, J, {{"dZ", dZ}, {"db", dZ}, {"dW", dot(dZ, T(X))}});
    for (const GradientReport& x : r.gradients) {
        CAPTURE(x.name);
        CAPTURE(x.hint);
        CHECK(x.diagnosis == "ok");
    }
}

// ---- a user op with its own declared mistake -----------------------------------------------------

// cube(x) = x³, d = 3x²; the declared slip: the exponent kept (3x³).
struct Cube {
    static constexpr const char* name = "cube";
    static double forward(double x) { return x * x * x; }
    static double backward(double g, double x, double) { return 3.0 * g * x * x; }
};
void cube_exponent_kept_vjp(const BackwardContext& ctx) {
    detail::unary_store(ctx, [](double g, double x, double) { return 3.0 * g * x * x * x; });
}
const OpDef cube_def{"cube", "cube(x)", 1, {}, 0, {"{0}³", "{0}^3"}, "", {{{"3 {g} ⊙ {0}²", "3 {g} \\odot {0}^2"}}},
                     {{"exponent_kept", "d(x³) taken as 3x³: the exponent not lowered", 0, &cube_exponent_kept_vjp}},
                     &unary_vjp<Cube>, OpKind::elementwise};

TEST_CASE("verify finds a user op's own declared mistake") {
    Tape tape;
    const Matrix X = random_matrix(3, 5, 71), W = random_matrix(2, 3, 72);
    const Var Wv = tape.variable(W, "W");
    const Var C = elementwise<Cube>(cube_def, matmul(Wv, tape.constant(X, "X"))).named("C");
    const Var J = sum(C).named("J");
    const Matrix M = dot(W, X);
    CHECK(one(tape, J, "dW", dot(3.0 * M * M, T(X))).diagnosis == "ok");
    const GradientReport r = one(tape, J, "dW", dot(3.0 * M * M * M, T(X)));
    CHECK(r.diagnosis == "exponent_kept");
    CHECK(r.node == "C");
    CHECK(r.op == "cube");
    CHECK(r.hint.find("the exponent not lowered") != std::string::npos);
}

TEST_CASE("Mutation::drop_path: the reverse pass leaves out one use of a value") {
    // J = Σ (x ⊙ a) + Σ (x ⊙ x ⊙ b): dJ/dx = a + 2 x ⊙ b; without the second use, a.
    Tape tape;
    const Matrix xv = random_matrix(2, 3, 91), a = random_matrix(2, 3, 92), b = random_matrix(2, 3, 93);
    const Var x = tape.variable(xv, "x");
    const Var first = x * tape.constant(a, "a"), second = x * (x * tape.constant(b, "b"));
    const Var J = sum(first) + sum(second);
    tape.backward(J, {{second.index(), Mutation::drop_path, 0}});
    CHECK(test::max_abs_diff(x.grad(), a + xv * b) < 1e-12);  // x ⊙ b from the inner x remains
    tape.backward(J, {{first.index(), Mutation::drop_path, 0}});
    CHECK(test::max_abs_diff(x.grad(), 2.0 * xv * b) < 1e-12);
    tape.backward(J);
    CHECK(test::max_abs_diff(x.grad(), a + 2.0 * xv * b) < 1e-12);
    CHECK_THROWS_AS(tape.backward(J, {{first.index(), Mutation::drop_path, 2}}), UsageError);
}

TEST_CASE("verify refuses a name the graph does not have, and a constant") {
    Logistic m;
    CHECK_THROWS_AS(verify(m.tape, m.J, {{"dW7", m.dw}}), UsageError);
    CHECK_THROWS_AS(verify(m.tape, m.J, {{"dX", m.X}}), UsageError);
}

}  // namespace

TEST_CASE("verify: where a mistake gives the same numbers as the truth, an ok says the check cannot tell") {
    // At w = 0 the penalty's term of dw is 0: leaving it out changes nothing, so ok is no evidence.
    Tape tape;
    const Matrix X = random_matrix(3, 5, 43);
    const Var w = tape.variable(Matrix{{0.0, 0.0, 0.0}}, "w");
    const Var J = (sum(matmul(w, tape.constant(X, "X"))) + 0.5 * sum(pow(w, 2.0))).named("J");
    const Matrix dw = xt::transpose(row_sums(X));
    const GradientReport at_zero = one(tape, J, "dw", dw);
    CHECK(at_zero.diagnosis == "ok");
    CHECK(at_zero.hint == "dw = 𝟙 Xᵀ + w (1×3); at these values the check cannot tell it from mistakes, which give the "
                          "same numbers: sum(w²) divided by its 3 entries as if it were a mean; the factor 2 of 2 w "
                          "dropped: dw = d(w²) ⊙ w; one path from w to J left out (through pow; a value used 2 times "
                          "gets the sum of its paths' gradients)");
    // Away from 0 the same right gradient is a plain ok.
    Tape t2;
    const Var v = t2.variable(Matrix{{1.0, -2.0, 0.5}}, "w");
    const Var K = (sum(matmul(v, t2.constant(X, "X"))) + 0.5 * sum(pow(v, 2.0))).named("J");
    const GradientReport away = one(t2, K, "dw", dw + Matrix{{1.0, -2.0, 0.5}});
    CHECK(away.diagnosis == "ok");
    CHECK(away.hint == "dw = 𝟙 Xᵀ + w (1×3)");
}

TEST_CASE("verify: relu' left out cannot show where every input is positive, and ok says so") {
    // relu' = 1 wherever W X > 0: dW = (𝟙 ⊙ [W X > 0]) Xᵀ equals the gradient without relu', so ok is no
    // evidence that relu' was not forgotten. With some inputs negative the same right dW is a plain ok.
    const Matrix X = xt::abs(random_matrix(3, 5, 44)) + 0.1;
    const auto dw_of = [&](const Matrix& w) {
        Tape tape;
        const Var W = tape.variable(w, "W");
        const Var J = sum(relu(matmul(W, tape.constant(X, "X")))).named("J");
        const Matrix mask = xt::cast<double>(xt::linalg::dot(w, X) > 0.0);
        return one(tape, J, "dW", xt::linalg::dot(mask, xt::transpose(X)));
    };
    const GradientReport positive = dw_of(xt::abs(random_matrix(2, 3, 45)) + 0.1);
    CHECK(positive.diagnosis == "ok");
    CHECK(positive.hint.find("at these values the check cannot tell it from a mistake, which gives the same numbers: "
                             "relu' = [W X > 0] left out") != std::string::npos);
    const GradientReport mixed = dw_of(Matrix{{1.0, -2.0, 0.5}, {-1.0, 1.0, -0.5}});
    CHECK(mixed.diagnosis == "ok");
    CHECK(mixed.hint.find("cannot tell") == std::string::npos);
}

TEST_CASE("verify: not_summed is no mistake where nothing was broadcast, so it never makes ok doubtful") {
    // b is 2x1 and Z = W X + b has one column: there is nothing to sum back, at any values.
    Tape tape;
    const Matrix X = random_matrix(3, 1, 46);
    const Var W = tape.variable(random_matrix(2, 3, 47), "W");
    const Var b = tape.variable(random_matrix(2, 1, 48), "b");
    const Var J = sum(sigmoid(matmul(W, tape.constant(X, "X")) + b)).named("J");
    const Matrix a = 1.0 / (1.0 + xt::exp(-(xt::linalg::dot(W.value(), X) + b.value())));
    const GradientReport db = one(tape, J, "db", a * (1.0 - a));
    CHECK(db.diagnosis == "ok");
    CHECK(db.hint.find("cannot tell") == std::string::npos);
}
