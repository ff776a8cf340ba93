// Binary cross-entropy: the slides' composed form and the stable form from logits agree where both
// are finite; the stable form stays finite for saturated units; both pass gradcheck.
#include "test_util.hpp"

#include <nn/nn.hpp>

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
