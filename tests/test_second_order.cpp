// Second order (issue 20): every op's JVP and the tangent of its VJP against central differences
// of gradients on non-square shapes (hvpcheck), the logistic-regression Hessian against its closed
// form X diag(p ⊙ (1 − p)) Xᵀ / n, symmetry, forward mode against differences of values, and the
// error for an op without a second-order rule.
#include "test_util.hpp"

#include <autodiff/registry.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

using namespace matgrad;
using matgrad::test::max_abs_diff;
using matgrad::test::random_matrix;

namespace {

// out ↦ Σ C ⊙ (out + out ⊙ out): a generic functional of the op's output whose own second
// derivative is not zero, so the op's VJP is exercised with ġ ≠ 0 and g varying per element.
Var probe(const Var& out) {
    const Var c = out.tape().constant(random_matrix(out.rows(), out.cols(), 7));
    return sum(c * (out + out * out));
}

using Op = std::function<Var(const std::vector<Var>&)>;

void check_second_order(const char* name, const Op& op, const std::vector<Matrix>& inputs) {
    const HvpcheckResult r = hvpcheck([&op](Tape&, const std::vector<Var>& v) { return probe(op(v)); }, inputs, 1e-6);
    const std::string what = std::string(name) + ": " + r.message;
    INFO(what);
    CHECK(r.ok);
}

Matrix positive(std::size_t rows, std::size_t cols, unsigned seed) {
    Matrix m = random_matrix(rows, cols, seed);
    for (double& v : m) v = 0.5 + std::abs(v);
    return m;
}

Matrix away_from_zero(std::size_t rows, std::size_t cols, unsigned seed) {
    Matrix m = random_matrix(rows, cols, seed);
    for (double& v : m) v += v > 0 ? 0.2 : -0.2;  // relu, abs: no kink within eps
    return m;
}

// A well-conditioned square matrix: I·n plus noise.
Matrix well_conditioned(std::size_t n, unsigned seed) {
    Matrix m = random_matrix(n, n, seed);
    for (std::size_t i = 0; i < n; ++i) m(i, i) += 3.0;
    return m;
}

// A user op with a VJP and no second-order rule.
struct Cube {
    static constexpr const char* name = "cube";
    static double forward(double x) { return x * x * x; }
    static double backward(double g, double x, double) { return 3 * g * x * x; }
};

}  // namespace

TEST_CASE("second order: every built-in op has its JVP and the tangent of its VJP") {
    for (const OpDef* def : all_op_definitions()) {
        INFO(std::string(def->signature));
        const bool has_jvp = def->jvp != nullptr, has_vjp_tangent = def->vjp_tangent != nullptr;
        CHECK(has_jvp);
        CHECK(has_vjp_tangent);
    }
}

TEST_CASE("second order: every op's H v against central differences of its gradient, non-square shapes") {
    const Matrix a = random_matrix(3, 5, 1), b = random_matrix(3, 5, 2);
    SUBCASE("broadcasting binary ops, both operands moving") {
        check_second_order("add 3x5 + 3x1", [](auto& v) { return v[0] + v[1]; }, {a, random_matrix(3, 1, 3)});
        check_second_order("sub 3x5 - 1x5", [](auto& v) { return v[0] - v[1]; }, {a, random_matrix(1, 5, 4)});
        check_second_order("mul 3x5 * 3x5", [](auto& v) { return v[0] * v[1]; }, {a, b});
        check_second_order("mul 3x5 * 1x1", [](auto& v) { return v[0] * v[1]; }, {a, random_matrix(1, 1, 5)});
        check_second_order("div 3x5 / 3x5", [](auto& v) { return v[0] / v[1]; }, {a, positive(3, 5, 6)});
        check_second_order("div 1x5 / 3x1", [](auto& v) { return v[0] / v[1]; }, {random_matrix(1, 5, 8), positive(3, 1, 9)});
    }
    SUBCASE("one operand constant") {
        check_second_order("mul by a constant", [&b](auto& v) { return v[0] * v[0].tape().constant(b); }, {a});
        check_second_order("div of a constant", [&b](auto& v) { return v[0].tape().constant(b) / v[0]; }, {positive(3, 5, 6)});
    }
    SUBCASE("element-wise unary ops") {
        check_second_order("neg", [](auto& v) { return -v[0]; }, {a});
        check_second_order("sigmoid", [](auto& v) { return sigmoid(v[0]); }, {a});
        check_second_order("log", [](auto& v) { return log(v[0]); }, {positive(3, 5, 10)});
        check_second_order("exp", [](auto& v) { return exp(v[0]); }, {a});
        check_second_order("tanh", [](auto& v) { return tanh(v[0]); }, {a});
        check_second_order("relu", [](auto& v) { return relu(v[0]); }, {away_from_zero(3, 5, 11)});
        check_second_order("softplus", [](auto& v) { return softplus(v[0]); }, {a});
        check_second_order("sqrt", [](auto& v) { return sqrt(v[0]); }, {positive(3, 5, 12)});
        check_second_order("abs", [](auto& v) { return abs(v[0]); }, {away_from_zero(3, 5, 13)});
        check_second_order("sin", [](auto& v) { return sin(v[0]); }, {a});
        check_second_order("cos", [](auto& v) { return cos(v[0]); }, {a});
        check_second_order("pow 3", [](auto& v) { return pow(v[0], 3.0); }, {a});
        check_second_order("pow 2.5", [](auto& v) { return pow(v[0], 2.5); }, {positive(3, 5, 14)});
    }
    SUBCASE("reductions and the softmax family") {
        check_second_order("sum", [](auto& v) { return sum(v[0]); }, {a});
        check_second_order("sum axis 0", [](auto& v) { return sum(v[0], 0); }, {a});
        check_second_order("sum axis 1", [](auto& v) { return sum(v[0], 1); }, {a});
        check_second_order("mean", [](auto& v) { return mean(v[0]); }, {a});
        check_second_order("mean axis 0", [](auto& v) { return mean(v[0], 0); }, {a});
        check_second_order("mean axis 1", [](auto& v) { return mean(v[0], 1); }, {a});
        check_second_order("softmax", [](auto& v) { return softmax(v[0]); }, {a});
        check_second_order("log_softmax", [](auto& v) { return log_softmax(v[0]); }, {a});
    }
    SUBCASE("linear algebra and matrix functions") {
        check_second_order("matmul 3x4 4x2", [](auto& v) { return matmul(v[0], v[1]); },
                           {random_matrix(3, 4, 15), random_matrix(4, 2, 16)});
        check_second_order("matmul by a constant", [](auto& v) { return matmul(v[0].tape().constant(random_matrix(2, 3, 17)), v[0]); },
                           {a});
        check_second_order("affine 3x4 4x2 + 3x1", [](auto& v) { return affine(v[0], v[1], v[2]); },
                           {random_matrix(3, 4, 22), random_matrix(4, 2, 23), random_matrix(3, 1, 24)});
        check_second_order("affine, only the bias moving",
                           [](auto& v) {
                               Tape& t = v[0].tape();
                               return affine(t.constant(random_matrix(3, 4, 25)), t.constant(random_matrix(4, 2, 26)), v[0]);
                           },
                           {random_matrix(3, 1, 27)});
        check_second_order("affine, the product's operands moving",
                           [](auto& v) { return affine(v[0], v[1], v[0].tape().constant(random_matrix(3, 1, 28))); },
                           {random_matrix(3, 4, 29), random_matrix(4, 2, 30)});
        check_second_order("transpose", [](auto& v) { return transpose(v[0]); }, {a});
        check_second_order("tr", [](auto& v) { return tr(v[0]); }, {random_matrix(4, 4, 18)});
        check_second_order("inv", [](auto& v) { return inv(v[0]); }, {well_conditioned(4, 19)});
        check_second_order("det", [](auto& v) { return det(v[0]); }, {well_conditioned(3, 20)});
        check_second_order("logdet", [](auto& v) { return logdet(v[0]); }, {well_conditioned(4, 21)});
        check_second_order("norm2", [](auto& v) { return norm2(v[0]); }, {a});
    }
}

TEST_CASE("second order: the logistic-regression Hessian equals X diag(p ⊙ (1 − p)) Xᵀ / n") {
    const std::size_t d = 4, n = 9;
    const Matrix X = random_matrix(d, n, 30), w0 = random_matrix(d, 1, 31);
    Matrix y({1, n});
    for (std::size_t j = 0; j < n; ++j) y(0, j) = j % 3 == 0 ? 1.0 : 0.0;
    Tape tape;
    const Var w = tape.variable(w0, "w");
    const Var Y = tape.constant(y, "y");
    const Var p = sigmoid(matmul(transpose(w), tape.constant(X, "X")));
    const Var J = -mean(Y * log(p) + (1.0 - Y) * log(1.0 - p));
    const Matrix H = hessian(J, {w});

    Matrix expected({d, d});
    expected.fill(0.0);
    for (std::size_t j = 0; j < n; ++j) {
        const double pj = p.value()(0, j), weight = pj * (1.0 - pj) / static_cast<double>(n);
        for (std::size_t r = 0; r < d; ++r)
            for (std::size_t c = 0; c < d; ++c) expected(r, c) += X(r, j) * weight * X(c, j);
    }
    double scale = 0.0;
    for (double v : expected) scale = std::max(scale, std::abs(v));
    CHECK(max_abs_diff(H, expected) <= 1e-12 * scale);
    // hvp reuses the same gradients and agrees with the dense Hessian's columns
    Matrix v = random_matrix(d, 1, 32);
    const Matrix Hv = hvp(J, {w}, {v})[0];
    Matrix dense({d, 1});
    dense.fill(0.0);
    for (std::size_t r = 0; r < d; ++r)
        for (std::size_t c = 0; c < d; ++c) dense(r, 0) += expected(r, c) * v(c, 0);
    CHECK(max_abs_diff(Hv, dense) <= 1e-12 * scale);
    // and the gradient it leaves is the gradient: Xᵀ-weighted residuals (p − y) / n
    Matrix grad({d, 1});
    grad.fill(0.0);
    for (std::size_t j = 0; j < n; ++j)
        for (std::size_t r = 0; r < d; ++r) grad(r, 0) += X(r, j) * (p.value()(0, j) - y(0, j)) / static_cast<double>(n);
    CHECK(max_abs_diff(w.grad(), grad) <= 1e-14);
}

TEST_CASE("second order: the slides' network -- Hessian symmetric, uᵀ(Hv) = vᵀ(Hu), several params") {
    const Matrix X = random_matrix(3, 7, 40);
    Matrix y({1, 7});
    for (std::size_t j = 0; j < 7; ++j) y(0, j) = j % 2;
    const GraphBuilder net = [&](Tape& tape, const std::vector<Var>& p) {
        const Var A1 = sigmoid(matmul(p[0], tape.constant(X)) + p[1]);
        const Var A2 = sigmoid(matmul(p[2], A1) + p[3]);
        const Var Y = tape.constant(y);
        return -mean(Y * log(A2) + (1.0 - Y) * log(1.0 - A2));
    };
    const std::vector<Matrix> params = {random_matrix(4, 3, 41), random_matrix(4, 1, 42), random_matrix(1, 4, 43),
                                        random_matrix(1, 1, 44)};
    const HvpcheckResult r = hvpcheck(net, params, 1e-6);
    INFO(r.message);
    CHECK(r.ok);
    CHECK(r.symmetry_error <= 1e-12);

    Tape tape;
    std::vector<Var> vars;
    for (const Matrix& m : params) vars.push_back(tape.variable(m));
    const Matrix H = hessian(net(tape, vars), vars);
    REQUIRE(H.shape(0) == 4 * 3 + 4 + 4 + 1);
    double asym = 0.0, scale = 0.0;
    for (std::size_t i = 0; i < H.shape(0); ++i)
        for (std::size_t j = 0; j < H.shape(1); ++j) {
            asym = std::max(asym, std::abs(H(i, j) - H(j, i)));
            scale = std::max(scale, std::abs(H(i, j)));
        }
    CHECK(asym <= 1e-12 * scale);
}

TEST_CASE("forward mode: jvp of a matrix-valued output against central differences of values") {
    const Matrix w0 = random_matrix(3, 4, 50), x0 = random_matrix(4, 5, 51), v = random_matrix(3, 4, 52);
    const auto f = [&](const Matrix& w) {
        Tape tape;
        const Var out = softmax(matmul(tape.variable(w), tape.constant(x0)));
        return Matrix(out.value());
    };
    Tape tape;
    const Var W = tape.variable(w0);
    const Var out = softmax(matmul(W, tape.constant(x0)));
    const Matrix tangent = jvp(out, {W}, {v});
    const double eps = 1e-6;
    const Matrix fd = (f(w0 + eps * v) - f(w0 - eps * v)) / (2 * eps);
    CHECK(max_abs_diff(tangent, fd) <= 1e-8);
}

TEST_CASE("second order: an op without a rule is one clear error naming it, never a silent zero") {
    Tape tape;
    const Var x = tape.variable(random_matrix(2, 3, 60), "x");
    const Var J = sum(elementwise<Cube>(x) * 2.0);
    tape.backward(J);  // first order works
    const std::vector<Matrix> v = {random_matrix(2, 3, 61)};
    CHECK_THROWS_WITH_AS(tape.hvp(J, {x}, v),
                         "hvp: the op 'cube' (the unnamed cube result #1) has no second-order rule: it was recorded "
                         "without an OpDef (examples/custom_op shows how to give an op one)",
                         UsageError);
    CHECK_THROWS_AS(jvp(J, {x}, v), UsageError);

    static const OpDef half_def{"half_defined", "half_defined(x)", 1, {}, 0, {}, "", {}, {}, &unary_vjp<Cube>};
    const Var K = sum(tape.record(half_def, {x}, 2, 3, [&x](Matrix& out) { out = x.value() * x.value() * x.value(); }));
    CHECK_THROWS_WITH_AS(tape.hvp(K, {x}, v),
                         "hvp: the op 'half_defined' (the unnamed half_defined result #5) has no second-order rule: "
                         "its OpDef has no jvp (examples/custom_op shows how to give an op one)",
                         UsageError);
}

TEST_CASE("second order: bad arguments") {
    Tape tape;
    const Var x = tape.variable(random_matrix(2, 3, 70), "x");
    const Var c = tape.constant(random_matrix(2, 3, 71), "c");
    const Var J = sum(x * x * c);
    CHECK_THROWS_WITH_AS(tape.hvp(J, {x}, {random_matrix(3, 2, 72)}),
                         "hvp: the direction of x is 3x2 but x is 2x3", ShapeError);
    CHECK_THROWS_WITH_AS(tape.hvp(J, {c}, {random_matrix(2, 3, 72)}), "hvp: c is a constant, not a variable", UsageError);
    CHECK_THROWS_WITH_AS(tape.hvp(J, {x, x}, {random_matrix(2, 3, 72), random_matrix(2, 3, 73)}),
                         "hvp: x is given twice", UsageError);
    CHECK_THROWS_WITH_AS(tape.hvp(J, {x}, {}), "hvp: 1 variables but 0 directions", UsageError);
    CHECK_THROWS_AS(tape.hvp(x * c, {x}, {random_matrix(2, 3, 72)}), ShapeError);  // output not 1x1
}
