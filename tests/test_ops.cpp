// Every built-in op's gradient against central finite differences (gradcheck, tol 1e-6), including
// every broadcast pattern of every binary op.
#include "test_util.hpp"

#include <autodiff/blas.hpp>

#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

using namespace matgrad;
using matgrad::test::random_matrix;

namespace {

constexpr double kTol = 1e-6;

// Reduces a matrix-valued graph to 1x1 through a fixed random weighting, so every element of the
// upstream gradient differs (a plain sum() would hide transposed or misplaced gradients).
Var weighted_sum(const Var& y) {
    return sum(y * y.tape().constant(random_matrix(y.rows(), y.cols(), 7)));
}

void check(const GraphBuilder& f, const std::vector<Matrix>& inputs) {
    const GradcheckResult r = gradcheck(f, inputs, kTol);
    INFO(r.message);
    CHECK(r.ok);
}

using BinaryOp = std::function<Var(const Var&, const Var&)>;

}  // namespace

TEST_CASE("matmul and transpose match finite differences") {
    check([](Tape&, const std::vector<Var>& v) { return weighted_sum(matmul(v[0], v[1])); },
          {random_matrix(3, 4, 1), random_matrix(4, 5, 2)});
    check([](Tape&, const std::vector<Var>& v) { return weighted_sum(transpose(v[0])); },
          {random_matrix(3, 5, 3)});
    // A matmul with a constant operand: only the variable side gets a gradient.
    check([](Tape& t, const std::vector<Var>& v) {
              return weighted_sum(matmul(t.constant(random_matrix(2, 3, 9)), v[0]));
          },
          {random_matrix(3, 4, 4)});
}

TEST_CASE("affine(W, A, b) matches finite differences and equals matmul(W, A) + b") {
    check([](Tape&, const std::vector<Var>& v) { return weighted_sum(affine(v[0], v[1], v[2])); },
          {random_matrix(3, 4, 1), random_matrix(4, 5, 2), random_matrix(3, 1, 3)});
    check([](Tape& t, const std::vector<Var>& v) {  // a constant A (the data X): no gradient there
              return weighted_sum(affine(v[0], t.constant(random_matrix(4, 5, 2)), v[1]));
          },
          {random_matrix(3, 4, 1), random_matrix(3, 1, 3)});
    // The same values and gradients as the composition it replaces, also when b's gradient is
    // accumulated from a second use.
    Tape fused, composed;
    const auto run = [](Tape& t, bool one_op) {
        const Var W = t.variable(random_matrix(3, 4, 1)), A = t.variable(random_matrix(4, 5, 2));
        const Var b = t.variable(random_matrix(3, 1, 3));
        const Var Z = one_op ? affine(W, A, b) : matmul(W, A) + b;
        t.backward(weighted_sum(sigmoid(Z)) + sum(b * b));
        return std::vector<Matrix>{Z.value(), W.grad(), A.grad(), b.grad()};
    };
    const std::vector<Matrix> f = run(fused, true), c = run(composed, false);
    for (std::size_t k = 0; k < f.size(); ++k) CHECK(xt::amax(xt::abs(f[k] - c[k]))() <= 1e-12);
    CHECK_THROWS_AS(affine(fused.variable(random_matrix(3, 4, 1)), fused.variable(random_matrix(4, 5, 2)),
                           fused.variable(random_matrix(1, 5, 3))),
                    ShapeError);
}

TEST_CASE("gemm with an inner dimension of 1 (an outer product, written without dgemm) is alpha a bᵀ + beta c") {
    // Every transpose flag: the operands are a column and a row whichever way they are stored.
    const Matrix column = random_matrix(5, 1, 40), row = random_matrix(1, 7, 41), start = random_matrix(5, 7, 42);
    const Matrix column_t = xt::transpose(column), row_t = xt::transpose(row);
    for (const Trans ta : {Trans::no, Trans::yes})
        for (const Trans tb : {Trans::no, Trans::yes})
            for (const double beta : {0.0, 1.0, 0.5}) {
                Matrix c = start;
                if (beta == 0.0) c.fill(std::nan(""));  // beta = 0 never reads c, as BLAS
                gemm(ta, tb, -2.0, ta == Trans::no ? column : column_t, tb == Trans::no ? row : row_t, beta, c);
                double worst = 0.0;
                for (std::size_t i = 0; i < 5; ++i)
                    for (std::size_t j = 0; j < 7; ++j) {
                        const double expected = -2.0 * column(i, 0) * row(0, j) + (beta == 0.0 ? 0.0 : beta * start(i, j));
                        worst = std::max(worst, std::abs(c(i, j) - expected));
                    }
                INFO("transposes " << (ta == Trans::yes) << (tb == Trans::yes) << ", beta " << beta);
                CHECK(worst <= 1e-12);
            }
    // The products that take this path in a training step: a one-unit layer's W2ᵀ dZ2, and a 3x1 times 1x4.
    check([](Tape&, const std::vector<Var>& v) { return weighted_sum(matmul(v[0], v[1])); },
          {random_matrix(3, 1, 43), random_matrix(1, 4, 44)});
    check([](Tape&, const std::vector<Var>& v) { return weighted_sum(affine(v[0], v[1], v[2])); },
          {random_matrix(1, 6, 45), random_matrix(6, 9, 46), random_matrix(1, 1, 47)});
}

TEST_CASE("affine's bias gradient is the row sums of dZ for every row length (four partial sums and a tail)") {
    for (const std::size_t cols : {1, 3, 4, 5, 8, 11}) {
        Tape t;
        const Var W = t.variable(random_matrix(3, 2, 50)), b = t.variable(random_matrix(3, 1, 51));
        const Var Z = affine(W, t.constant(random_matrix(2, cols, 52)), b);
        const Matrix weights = random_matrix(3, cols, 53);
        t.backward(sum(Z * t.constant(weights)));  // dZ = weights
        double worst = 0.0;
        for (std::size_t i = 0; i < 3; ++i) {
            double expected = 0.0;
            for (std::size_t j = 0; j < cols; ++j) expected += weights(i, j);
            worst = std::max(worst, std::abs(b.grad()(i, 0) - expected));
        }
        INFO("cols " << cols);
        CHECK(worst <= 1e-12);
    }
}

TEST_CASE("unary element-wise ops match finite differences") {
    check([](Tape&, const std::vector<Var>& v) { return weighted_sum(sigmoid(v[0])); },
          {random_matrix(3, 4, 5)});
    check([](Tape&, const std::vector<Var>& v) { return weighted_sum(exp(v[0])); },
          {random_matrix(3, 4, 6)});
    // log needs positive inputs: exp of a random matrix is one.
    Matrix positive = xt::exp(random_matrix(3, 4, 8));
    check([](Tape&, const std::vector<Var>& v) { return weighted_sum(log(v[0])); }, {positive});
    check([](Tape&, const std::vector<Var>& v) { return weighted_sum(-v[0]); },
          {random_matrix(4, 3, 10)});
}

TEST_CASE("reductions match finite differences") {
    check([](Tape&, const std::vector<Var>& v) { return sum(v[0]) * sum(v[0]); },
          {random_matrix(3, 4, 11)});
    check([](Tape&, const std::vector<Var>& v) { return mean(v[0]) * mean(v[0]); },
          {random_matrix(3, 4, 12)});
}

TEST_CASE("binary ops match finite differences for every broadcast pattern") {
    const std::vector<std::pair<std::string, BinaryOp>> ops = {
        {"add", [](const Var& a, const Var& b) { return a + b; }},
        {"sub", [](const Var& a, const Var& b) { return a - b; }},
        {"mul", [](const Var& a, const Var& b) { return a * b; }},
        {"div", [](const Var& a, const Var& b) { return a / b; }},
    };
    // (a's shape, b's shape) for m = 3, n = 4: equal, column, row and scalar broadcasts each way,
    // and the outer broadcast m x 1 with 1 x n.
    const std::vector<std::pair<std::array<std::size_t, 2>, std::array<std::size_t, 2>>> patterns = {
        {{3, 4}, {3, 4}}, {{3, 4}, {3, 1}}, {{3, 1}, {3, 4}}, {{3, 4}, {1, 4}}, {{1, 4}, {3, 4}},
        {{3, 4}, {1, 1}}, {{1, 1}, {3, 4}}, {{3, 1}, {1, 4}}, {{1, 4}, {3, 1}}, {{1, 1}, {1, 1}},
        {{3, 1}, {3, 1}}, {{1, 4}, {1, 1}}};
    for (const auto& [op_name, op] : ops)
        for (const auto& [sa, sb] : patterns) {
            CAPTURE(op_name);
            CAPTURE(sa[0]); CAPTURE(sa[1]); CAPTURE(sb[0]); CAPTURE(sb[1]);
            // Divisors are kept away from zero (mean 3) so finite differences stay accurate.
            const Matrix a = random_matrix(sa[0], sa[1], 20);
            const Matrix b = random_matrix(sb[0], sb[1], 21, op_name == "div" ? 3.0 : 0.0);
            check([&op](Tape&, const std::vector<Var>& v) { return weighted_sum(op(v[0], v[1])); }, {a, b});
        }
}

TEST_CASE("forward values of the element-wise ops follow their formulas") {
    Tape t;
    const Matrix a{{1.0, -2.0, 3.0}, {0.5, 4.0, -1.5}};
    const Matrix col{{2.0}, {-4.0}};
    const Var A = t.constant(a), C = t.constant(col);
    const Matrix expected_div{{0.5, -1.0, 1.5}, {-0.125, -1.0, 0.375}};
    CHECK(test::max_abs_diff((A / C).value(), expected_div) == 0.0);
    const Matrix expected_sub{{-1.0, -4.0, 1.0}, {4.5, 8.0, 2.5}};
    CHECK(test::max_abs_diff((A - C).value(), expected_sub) == 0.0);
    CHECK(test::max_abs_diff((2.0 * A).value(), Matrix(a + a)) == 0.0);
    CHECK(test::max_abs_diff((1.0 - A).value(), Matrix(1.0 - a)) == 0.0);
    CHECK(test::max_abs_diff((6.0 / A).value(), Matrix(6.0 / a)) == 0.0);
    CHECK(test::max_abs_diff((A + 1.0).value(), Matrix(a + 1.0)) == 0.0);
    CHECK(sum(A).value()(0, 0) == doctest::Approx(5.0).epsilon(1e-15));
    CHECK(mean(A).value()(0, 0) == doctest::Approx(5.0 / 6.0).epsilon(1e-15));
    CHECK(test::max_abs_diff(transpose(A).value(), Matrix(xt::transpose(a))) == 0.0);
    // Outer broadcast: (2x1) + (1x3) = 2x3.
    const Var row = t.constant(Matrix{{10.0, 20.0, 30.0}});
    const Matrix expected_outer{{12.0, 22.0, 32.0}, {6.0, 16.0, 26.0}};
    CHECK(test::max_abs_diff((C + row).value(), expected_outer) == 0.0);
}

TEST_CASE("sigmoid is exact and finite far into saturation") {
    Tape t;
    const Var s = sigmoid(t.constant(Matrix{{-800.0, -30.0, 0.0, 30.0, 800.0}}));
    CHECK(s.value()(0, 0) == 0.0);
    CHECK(s.value()(0, 1) == doctest::Approx(std::exp(-30.0) / (1 + std::exp(-30.0))).epsilon(1e-14));
    CHECK(s.value()(0, 2) == 0.5);
    CHECK(s.value()(0, 3) == doctest::Approx(1.0 / (1 + std::exp(-30.0))).epsilon(1e-15));
    CHECK(s.value()(0, 4) == 1.0);
}
