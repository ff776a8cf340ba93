// The slides' network (../shared/seed/README.md): 10-64-1, 7 samples as columns, sigmoid, mean BCE.
// Autodiff's dA2, dZ2, dW2, db2, dA1, dZ1, dW1, db1 must equal the hand-derived formulas -- with the
// 1/n of the mean -- to 1e-12. The hand formulas use xtensor-blas, not matgrad's gemm.
#include "test_util.hpp"

#include <doctest/doctest.h>
#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xreducer.hpp>

using namespace matgrad;
using matgrad::test::max_abs_diff;
using matgrad::test::random_matrix;

TEST_CASE("autodiff reproduces the slides' hand-derived gradients to 1e-12") {
    const std::size_t n = 7;
    const Matrix x = random_matrix(10, n, 100);
    const Matrix y{{1, 0, 1, 1, 0, 0, 1}};
    const Matrix w1 = 0.5 * random_matrix(64, 10, 101), b1 = 0.1 * random_matrix(64, 1, 102);
    const Matrix w2 = 0.5 * random_matrix(1, 64, 103), b2 = 0.1 * random_matrix(1, 1, 104);

    Tape tape;
    const Var X = tape.constant(x, "X"), Y = tape.constant(y, "Y");
    const Var W1 = tape.variable(w1, "W1"), b1v = tape.variable(b1, "b1");
    const Var W2 = tape.variable(w2, "W2"), b2v = tape.variable(b2, "b2");
    const Var Z1 = (matmul(W1, X) + b1v).named("Z1");
    const Var A1 = sigmoid(Z1).named("A1");
    const Var Z2 = (matmul(W2, A1) + b2v).named("Z2");
    const Var A2 = sigmoid(Z2).named("A2");
    const Var J = -mean(Y * log(A2) + (1.0 - Y) * log(1.0 - A2));
    tape.backward(J);

    // Forward, by hand.
    using xt::linalg::dot;
    const Matrix z1 = dot(w1, x) + b1;
    const Matrix a1 = 1.0 / (1.0 + xt::exp(-z1));
    const Matrix z2 = dot(w2, a1) + b2;
    const Matrix a2 = 1.0 / (1.0 + xt::exp(-z2));
    const double j = -xt::sum(y * xt::log(a2) + (1.0 - y) * xt::log(1.0 - a2))() / n;
    CHECK(max_abs_diff(A2.value(), a2) <= 1e-15);
    CHECK(J.value()(0, 0) == doctest::Approx(j).epsilon(1e-14));

    // Backward, the slides' formulas with the 1/n of the mean carried through.
    const Matrix dA2 = (-y / a2 + (1.0 - y) / (1.0 - a2)) / double(n);
    const Matrix dZ2 = (a2 - y) / double(n);
    const Matrix dW2 = dot(dZ2, xt::transpose(a1));
    const Matrix db2 = xt::sum(dZ2, {1}, xt::keep_dims);
    const Matrix dA1 = dot(xt::transpose(w2), dZ2);
    const Matrix dZ1 = dA1 * a1 * (1.0 - a1);
    const Matrix dW1 = dot(dZ1, xt::transpose(x));
    const Matrix db1 = xt::sum(dZ1, {1}, xt::keep_dims);

    const double tol = 1e-12;
    CHECK(max_abs_diff(A2.grad(), dA2) <= tol);
    CHECK(max_abs_diff(Z2.grad(), dZ2) <= tol);
    CHECK(max_abs_diff(W2.grad(), dW2) <= tol);
    CHECK(max_abs_diff(b2v.grad(), db2) <= tol);
    CHECK(max_abs_diff(A1.grad(), dA1) <= tol);
    CHECK(max_abs_diff(Z1.grad(), dZ1) <= tol);
    CHECK(max_abs_diff(W1.grad(), dW1) <= tol);
    CHECK(max_abs_diff(b1v.grad(), db1) <= tol);
    // The shapes of the slides.
    CHECK(W1.grad().shape() == std::array<std::size_t, 2>{64, 10});
    CHECK(b1v.grad().shape() == std::array<std::size_t, 2>{64, 1});
    CHECK(W2.grad().shape() == std::array<std::size_t, 2>{1, 64});
    CHECK(b2v.grad().shape() == std::array<std::size_t, 2>{1, 1});

    // And the whole network against finite differences.
    const GradcheckResult fd = gradcheck(
        [&](Tape& t, const std::vector<Var>& p) {
            const Var Xc = t.constant(x), Yc = t.constant(y);
            const Var a = sigmoid(matmul(p[0], Xc) + p[1]);
            const Var out = sigmoid(matmul(p[2], a) + p[3]);
            return -mean(Yc * log(out) + (1.0 - Yc) * log(1.0 - out));
        },
        {w1, b1, w2, b2});
    INFO(fd.message);
    CHECK(fd.ok);
}
