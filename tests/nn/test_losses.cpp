// Binary cross-entropy: the slides' composed form and the stable form from logits agree where both
// are finite; the stable form stays finite for saturated units; both pass gradcheck.
#include "test_util.hpp"

#include <autodiff/registry.hpp>
#include <nn/nn.hpp>

#include <xtensor/xmath.hpp>

#include <doctest/doctest.h>

#include <cmath>

using namespace matgrad;
using matgrad::test::max_abs_diff;
using matgrad::test::random_matrix;

TEST_CASE("BCE from logits equals the slides' BCE of sigmoid(Z) in value and gradient") {
    const Matrix z = 3.0 * random_matrix(2, 9, 11);
    Matrix y({2, 9});
    for (std::size_t k = 0; k < y.size(); ++k) y.data()[k] = double(k % 3 == 0);

    Tape tape;
    const Var Z1 = tape.variable(z, "Z"), Y1 = tape.constant(y, "Y");
    const Var slides = nn::binary_cross_entropy(sigmoid(Z1), Y1);
    tape.backward(slides);
    const double slides_value = slides.value()(0, 0);
    const Matrix slides_grad = Z1.grad();

    tape.clear();
    const Var Z2 = tape.variable(z, "Z"), Y2 = tape.constant(y, "Y");
    const Var stable = nn::binary_cross_entropy_with_logits(Z2, Y2);
    tape.backward(stable);
    CHECK(std::abs(stable.value()(0, 0) - slides_value) <= 1e-12);
    CHECK(max_abs_diff(Z2.grad(), slides_grad) <= 1e-12);
}

TEST_CASE("BCE from logits by its definition on two samples") {
    Tape tape;
    const Var Z = tape.variable(Matrix{{0.0, 2.0}}), Y = tape.constant(Matrix{{1.0, 0.0}});
    const Var J = nn::binary_cross_entropy_with_logits(Z, Y);
    tape.backward(J);
    // -(1/2) (log σ(0) + log(1 - σ(2))) with σ(0) = 1/2 and 1 - σ(2) = 1 / (1 + e²)
    CHECK(J.value()(0, 0) == doctest::Approx((std::log(2.0) + std::log(1.0 + std::exp(2.0))) / 2).epsilon(1e-15));
    // (σ(z) - y) / 2
    CHECK(Z.grad()(0, 0) == doctest::Approx((0.5 - 1.0) / 2).epsilon(1e-15));
    CHECK(Z.grad()(0, 1) == doctest::Approx(1.0 / (1.0 + std::exp(-2.0)) / 2).epsilon(1e-15));
}

TEST_CASE("BCE from logits stays finite for saturated units, where the slides' form does not") {
    const Matrix z{{800.0, -800.0, 800.0, -800.0}};
    const Matrix y{{0.0, 1.0, 1.0, 0.0}};
    Tape tape;
    const Var Z = tape.variable(z), Y = tape.constant(y);
    const Var J = nn::binary_cross_entropy_with_logits(Z, Y);
    tape.backward(J);
    // Two confidently wrong units cost |z| = 800 each, two confidently right ones 0: mean 400.
    CHECK(J.value()(0, 0) == 400.0);
    // (σ(z) - y) / 4 with σ(800) = 1 and σ(-800) = 0 in double precision.
    CHECK(max_abs_diff(Z.grad(), Matrix{{0.25, -0.25, 0.0, 0.0}}) == 0.0);

    tape.clear();
    const Var slides = nn::binary_cross_entropy(sigmoid(tape.variable(z)), tape.constant(y));
    CHECK_FALSE(std::isfinite(slides.value()(0, 0)));  // log(1 - σ(800)) = log 0
}

TEST_CASE("gradcheck: both losses, with respect to predictions/logits and labels") {
    const Matrix z = random_matrix(3, 4, 21);
    const Matrix y{{0.2, 0.9, 0.5, 0.1}, {0.7, 0.3, 0.6, 0.4}, {0.8, 0.05, 0.95, 0.35}};  // soft labels: Y gets a gradient too
    const GradcheckResult stable = gradcheck(
        [](Tape&, const std::vector<Var>& in) { return nn::binary_cross_entropy_with_logits(in[0], in[1]); },
        {z, y});
    INFO(stable.message);
    CHECK(stable.ok);
    const GradcheckResult slides = gradcheck(
        [](Tape&, const std::vector<Var>& in) { return nn::binary_cross_entropy(sigmoid(in[0]), in[1]); },
        {z, y});
    INFO(slides.message);
    CHECK(slides.ok);
}

TEST_CASE("BCE from logits refuses Z and Y of different shapes") {
    Tape tape;
    const Var Z = tape.variable(Matrix{{1.0, 2.0}}, "Z2"), Y = tape.constant(Matrix{{1.0, 0.0, 1.0}}, "Y");
    CHECK_THROWS_WITH_AS(nn::binary_cross_entropy_with_logits(Z, Y),
                         "binary_cross_entropy_with_logits: Z2 is 1x2 but Y is 1x3 (they must have the same shape)",
                         ShapeError);
}

TEST_CASE("accuracy counts predictions at threshold 0.5 against 0/1 labels") {
    CHECK(nn::accuracy(Matrix{{0.9, 0.2, 0.5, 0.4}}, Matrix{{1, 0, 0, 1}}) == 0.5);
    CHECK_THROWS_AS(nn::accuracy(Matrix{{0.9}}, Matrix{{1, 0}}), std::invalid_argument);
}

TEST_CASE("softmax cross-entropy by its definition on two samples, and its gradient (softmax - Y) / n") {
    Tape tape;
    const Var Z = tape.variable(Matrix{{0.0, 1.0}, {0.0, 2.0}, {0.0, 3.0}});
    const Var Y = tape.constant(Matrix{{0.0, 0.0}, {1.0, 0.0}, {0.0, 1.0}});
    const Var J = nn::softmax_cross_entropy(Z, Y);
    tape.backward(J);
    // Sample 1: three equal logits, -log(1/3). Sample 2: -log(e³ / (e + e² + e³)).
    const double e1 = std::exp(1.0), e2 = std::exp(2.0), e3 = std::exp(3.0), s = e1 + e2 + e3;
    CHECK(J.value()(0, 0) == doctest::Approx((std::log(3.0) + std::log(s) - 3.0) / 2).epsilon(1e-15));
    const Matrix expected{{(1.0 / 3) / 2, (e1 / s) / 2}, {(1.0 / 3 - 1) / 2, (e2 / s) / 2}, {(1.0 / 3) / 2, (e3 / s - 1) / 2}};
    CHECK(max_abs_diff(Z.grad(), expected) <= 1e-15);
}

TEST_CASE("softmax cross-entropy stays finite and exact for logits of +-1000") {
    Tape tape;
    // Sample 1 confidently wrong (class 1 has logit -1000 against 1000), sample 2 confidently right.
    const Var Z = tape.variable(Matrix{{1000.0, -1000.0}, {-1000.0, 1000.0}});
    const Var J = nn::softmax_cross_entropy(Z, tape.constant(Matrix{{0.0, 0.0}, {1.0, 1.0}}));
    tape.backward(J);
    CHECK(J.value()(0, 0) == 1000.0);  // (2000 + 0) / 2
    CHECK(max_abs_diff(Z.grad(), Matrix{{0.5, 0.0}, {-0.5, 0.0}}) == 0.0);
}

TEST_CASE("mean squared error by its definition") {
    Tape tape;
    const Var A = tape.variable(Matrix{{1.0, 2.0}, {3.0, 4.0}}), T = tape.variable(Matrix{{0.0, 2.0}, {5.0, 4.0}});
    const Var J = nn::mse(A, T);
    tape.backward(J);
    CHECK(J.value()(0, 0) == 1.25);                                          // (1 + 0 + 4 + 0) / 4
    CHECK(max_abs_diff(A.grad(), Matrix{{0.5, 0.0}, {-1.0, 0.0}}) == 0.0);   // 2 (A - T) / 4
    CHECK(max_abs_diff(T.grad(), Matrix{{-0.5, 0.0}, {1.0, 0.0}}) == 0.0);
}

TEST_CASE("gradcheck: softmax cross-entropy (soft labels) and mse, with respect to both inputs") {
    const Matrix z = 2.0 * random_matrix(3, 4, 31);
    // Columns that do not sum to 1, so the Σ_l y_lj factor of the softmax gradient is exercised.
    const Matrix y{{0.2, 0.9, 0.5, 0.1}, {0.7, 0.35, 0.3, 0.4}, {0.4, 0.05, 0.6, 0.1}};
    for (const auto& loss : {nn::softmax_cross_entropy, nn::mse}) {
        const GradcheckResult r = gradcheck([&](Tape&, const std::vector<Var>& in) { return loss(in[0], in[1]); }, {z, y});
        INFO(r.message);
        CHECK(r.ok);
    }
}

TEST_CASE("the new losses refuse inputs of different shapes") {
    Tape tape;
    const Var Z = tape.variable(Matrix{{1.0, 2.0}}, "Z"), Y = tape.constant(Matrix{{1.0}, {0.0}}, "Y");
    CHECK_THROWS_WITH_AS(nn::softmax_cross_entropy(Z, Y),
                         "softmax_cross_entropy: Z is 1x2 but Y is 2x1 (they must have the same shape)", ShapeError);
    CHECK_THROWS_WITH_AS(nn::mse(Z, Y), "mse: Z is 1x2 but Y is 2x1 (they must have the same shape)", ShapeError);
}

TEST_CASE("metrics: argmax accuracy and R² against hand counts") {
    // The third column is a tie: the first row wins.
    CHECK(nn::argmax_accuracy(Matrix{{0.1, 3.0, 0.0}, {0.9, 1.0, 0.0}}, Matrix{{0, 1, 1}, {1, 0, 0}}) == 1.0);
    CHECK(nn::argmax_accuracy(Matrix{{0.1, 3.0}, {0.9, 1.0}}, Matrix{{1, 0}, {0, 1}}) == 0.0);
    // targets 1, 2, 3 (mean 2, Σ (t - mean)² = 2); predictions off by 1, 0, 0: R² = 1 - 1/2.
    CHECK(nn::r2_score(Matrix{{2.0, 2.0, 3.0}}, Matrix{{1.0, 2.0, 3.0}}) == 0.5);
}

// The losses' declared mistakes (what `verify` tries), each run by a mutated reverse pass and
// compared with the wrong gradient written out by hand: (A - T)/N without the 2, 2(A - T) without
// the 1/N, (σ(Z) - Y) and (softmax(Z) - Y) without the 1/n.
TEST_CASE("the losses' declared mistakes give the hand-written wrong gradients") {
    const Matrix a = random_matrix(3, 5, 21), t = random_matrix(3, 5, 22), z = 2.0 * random_matrix(3, 5, 23);
    Matrix y = xt::zeros<double>({3, 5});
    for (std::size_t j = 0; j < 5; ++j) y(j % 3, j) = 1.0;
    const double N = 15.0, n = 5.0;

    const auto mutated_gradient = [](auto&& loss, const Matrix& first, const Matrix& second, const char* code) {
        Tape tape;
        const Var A = tape.variable(first, "A"), B = tape.constant(second, "B");
        const Var J = loss(A, B);
        const OpDef* def = J.def();
        REQUIRE(def != nullptr);
        std::size_t mistake = def->mistakes.size();
        for (std::size_t k = 0; k < def->mistakes.size(); ++k)
            if (std::string(def->mistakes[k].code) == code) mistake = k;
        REQUIRE(mistake < def->mistakes.size());
        tape.backward(J, {Mutation{J.index(), mistake}});
        return Matrix(A.grad());
    };

    Matrix sig = z, soft = z;
    for (std::size_t k = 0; k < z.size(); ++k) sig.data()[k] = 1.0 / (1.0 + std::exp(-z.data()[k]));
    for (std::size_t j = 0; j < 5; ++j) {
        double total = 0.0;
        for (std::size_t i = 0; i < 3; ++i) total += std::exp(z(i, j));
        for (std::size_t i = 0; i < 3; ++i) soft(i, j) = std::exp(z(i, j)) / total;
    }
    CHECK(max_abs_diff(mutated_gradient(nn::mse, a, t, "missing_power_factor"), Matrix((a - t) / N)) <= 1e-12);
    CHECK(max_abs_diff(mutated_gradient(nn::mse, a, t, "missing_mean_factor"), Matrix(2.0 * (a - t))) <= 1e-12);
    CHECK(max_abs_diff(mutated_gradient(nn::softmax_cross_entropy, z, y, "missing_mean_factor"), Matrix(soft - y)) <= 1e-12);
    CHECK(max_abs_diff(mutated_gradient(nn::binary_cross_entropy_with_logits, z, y, "missing_mean_factor"),
                       Matrix(sig - y)) <= 1e-12);
    // And the right VJP still divides: (softmax(Z) - Y)/n.
    Tape tape;
    const Var Z = tape.variable(z), Y = tape.constant(y);
    tape.backward(nn::softmax_cross_entropy(Z, Y));
    CHECK(max_abs_diff(Z.grad(), Matrix((soft - y) / n)) <= 1e-12);
}

TEST_CASE("register_losses makes the losses callable by name, once") {
    nn::register_losses();
    nn::register_losses();  // a second call changes nothing (and does not throw)
    Tape tape;
    const Matrix a = random_matrix(2, 3, 31), t = random_matrix(2, 3, 32);
    const Var J = apply_op("mse", {tape.variable(a), tape.constant(t)}, {});
    CHECK(std::abs(J.value()(0, 0) - xt::mean(xt::square(a - t))()) <= 1e-12);
    CHECK(find_op("softmax_cross_entropy") != nullptr);
    CHECK(find_op("binary_cross_entropy_with_logits") != nullptr);
}

// Second order (issue 20): each loss op's JVP and the tangent of its VJP, against central
// differences of gradients, with both operands moving; and the logistic-regression Hessian
// through the one-op BCE against its closed form X diag(p ⊙ (1 − p)) Xᵀ / n.
TEST_CASE("losses: second-order rules against differences of gradients, both operands moving") {
    for (const OpDef* def : nn::loss_definitions()) {
        const bool has_rules = def->jvp != nullptr && def->vjp_tangent != nullptr;
        INFO(std::string(def->name));
        CHECK(has_rules);
    }
    using Loss = Var (*)(const Var&, const Var&);
    const std::pair<const char*, Loss> losses[] = {{"bce_with_logits", &nn::binary_cross_entropy_with_logits},
                                                   {"softmax_cross_entropy", &nn::softmax_cross_entropy},
                                                   {"mse", &nn::mse}};
    for (const auto& [name, loss] : losses) {
        // sin(·) keeps the loss's upstream gradient moving (ġ ≠ 0); the targets move too
        const HvpcheckResult r = hvpcheck(
            [loss](Tape&, const std::vector<Var>& v) { return sin(loss(v[0], v[1])); },
            {2.0 * random_matrix(3, 5, 41), random_matrix(3, 5, 42, 0.5)});
        const std::string what = std::string(name) + ": " + r.message;
        INFO(what);
        CHECK(r.ok);
        // the usual case: constant targets (no tangent on that side)
        const Matrix targets = random_matrix(3, 5, 43, 0.5);
        const HvpcheckResult c = hvpcheck(
            [loss, &targets](Tape& tape, const std::vector<Var>& v) { return sin(loss(v[0], tape.constant(targets))); },
            {2.0 * random_matrix(3, 5, 41)});
        const std::string constant_what = std::string(name) + " with constant targets: " + c.message;
        INFO(constant_what);
        CHECK(c.ok);
    }
}

TEST_CASE("losses: the Hessian of logistic regression through bce_with_logits is X diag(p(1 − p)) Xᵀ / n") {
    const std::size_t d = 3, n = 11;
    const Matrix X = random_matrix(d, n, 43);
    Matrix y({1, n});
    for (std::size_t j = 0; j < n; ++j) y(0, j) = j % 2;
    Tape tape;
    const Var w = tape.variable(random_matrix(1, d, 44), "w");
    const Var z = matmul(w, tape.constant(X));
    const Matrix H = hessian(nn::binary_cross_entropy_with_logits(z, tape.constant(y)), {w});
    Matrix expected({d, d});
    expected.fill(0.0);
    for (std::size_t j = 0; j < n; ++j) {
        const double p = sigmoid(z.value()(0, j)), weight = p * (1.0 - p) / static_cast<double>(n);
        for (std::size_t r = 0; r < d; ++r)
            for (std::size_t c = 0; c < d; ++c) expected(r, c) += X(r, j) * weight * X(c, j);
    }
    CHECK(max_abs_diff(H, expected) <= 1e-12 * xt::amax(xt::abs(expected))());
}
