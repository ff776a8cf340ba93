// The op set of matrix calculus (issue 9): element-wise tanh, relu, softplus, sqrt, abs, sin, cos,
// pow; sum/mean along an axis; per-column softmax/log_softmax; tr, inv, det, logdet, norm2. Each:
// gradcheck on non-square shapes with a weighted upstream gradient, values against independent
// closed forms, stability cases and every error path. Also the registry and mutated backward.
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

// A fixed random weighting so every element of the upstream gradient differs.
Var weighted_sum(const Var& y) { return sum(y * y.tape().constant(random_matrix(y.rows(), y.cols(), 7))); }

void check(const GraphBuilder& f, const std::vector<Matrix>& inputs) {
    const GradcheckResult r = gradcheck(f, inputs, 1e-6);
    INFO(r.message);
    CHECK(r.ok);
}

using Unary = std::function<Var(const Var&)>;

// Entry-wise map of a matrix, for closed-form expectations.
Matrix map(const Matrix& m, double (*f)(double)) {
    Matrix out = m;
    for (double& x : out) x = f(x);
    return out;
}

}  // namespace

TEST_CASE("new element-wise ops: values, gradcheck on 3x5 with a weighted upstream gradient") {
    const Matrix x = random_matrix(3, 5, 31);
    Matrix positive = x;
    for (double& v : positive) v = 0.5 + std::abs(v);  // sqrt, pow with a fractional exponent
    Matrix away_from_zero = x;
    for (double& v : away_from_zero) v += v > 0 ? 0.1 : -0.1;  // relu, abs: no kink within eps
    struct Case {
        const char* name;
        Unary op;
        double (*closed)(double);
        Matrix input;
    };
    const std::vector<Case> cases = {
        {"tanh", [](const Var& v) { return tanh(v); }, [](double a) { return std::tanh(a); }, x},
        {"relu", [](const Var& v) { return relu(v); }, [](double a) { return a > 0 ? a : 0.0; }, away_from_zero},
        {"softplus", [](const Var& v) { return softplus(v); }, [](double a) { return std::log(1 + std::exp(a)); }, x},
        {"sqrt", [](const Var& v) { return sqrt(v); }, [](double a) { return std::sqrt(a); }, positive},
        {"abs", [](const Var& v) { return abs(v); }, [](double a) { return std::fabs(a); }, away_from_zero},
        {"sin", [](const Var& v) { return sin(v); }, [](double a) { return std::sin(a); }, x},
        {"cos", [](const Var& v) { return cos(v); }, [](double a) { return std::cos(a); }, x},
        {"pow", [](const Var& v) { return pow(v, 2.5); }, [](double a) { return a * a * std::sqrt(a); }, positive},
    };
    for (const Case& c : cases) {
        CAPTURE(c.name);
        Tape t;
        CHECK(max_abs_diff(c.op(t.constant(c.input)).value(), map(c.input, c.closed)) < 1e-12);
        check([&c](Tape&, const std::vector<Var>& v) { return weighted_sum(c.op(v[0])); }, {c.input});
    }
}

TEST_CASE("relu'(0) = 0 and abs'(0) = 0, and softplus finite at ±800") {
    Tape t;
    const Var z = t.variable(Matrix{{0.0, 0.0}});
    t.backward(sum(relu(z) + abs(z)));
    CHECK(max_abs_diff(z.grad(), Matrix{{0.0, 0.0}}) == 0.0);

    Tape s;
    const Var x = s.variable(Matrix{{-800.0, 800.0, -1000.0, 1000.0}});
    const Var y = softplus(x);
    s.backward(sum(y));
    CHECK(y.value()(0, 0) == doctest::Approx(std::exp(-800.0)).epsilon(1e-12));  // 0 in double
    CHECK(y.value()(0, 1) == 800.0);
    CHECK(y.value()(0, 3) == 1000.0);
    CHECK(max_abs_diff(x.grad(), Matrix{{0.0, 1.0, 0.0, 1.0}}) == 0.0);  // σ(±800) = 0, 1
}

TEST_CASE("sum and mean along an axis: numpy axes, kept dimensions, gradcheck, errors") {
    Tape t;
    const Matrix a{{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}};
    const Var A = t.constant(a, "A");
    CHECK(max_abs_diff(sum(A, 0).value(), Matrix{{5.0, 7.0, 9.0}}) == 0.0);
    CHECK(max_abs_diff(sum(A, 1).value(), Matrix{{6.0}, {15.0}}) == 0.0);
    CHECK(max_abs_diff(mean(A, 0).value(), Matrix{{2.5, 3.5, 4.5}}) == 0.0);
    CHECK(max_abs_diff(mean(A, 1).value(), Matrix{{2.0}, {5.0}}) == 0.0);
    for (int axis : {0, 1}) {
        CAPTURE(axis);
        check([axis](Tape&, const std::vector<Var>& v) { return weighted_sum(sum(v[0], axis)); }, {random_matrix(3, 5, 40)});
        check([axis](Tape&, const std::vector<Var>& v) { return weighted_sum(mean(v[0], axis)); }, {random_matrix(3, 5, 41)});
    }
    CHECK_THROWS_WITH_AS(sum(A, 2), "sum(A, 2): axis must be 0 (down each column, giving 1x3) or 1 (across each row, giving 2x1)",
                         ShapeError);
    CHECK_THROWS_WITH_AS(mean(A, -1), "mean(A, -1): axis must be 0 (down each column, giving 1x3) or 1 (across each row, giving 2x1)",
                         ShapeError);
}

TEST_CASE("softmax and log_softmax per column: hand values, gradcheck, stable at ±1000") {
    Tape t;
    const Matrix z{{1.0, 0.0}, {2.0, 0.0}, {3.0, std::log(2.0)}};
    const Var Z = t.constant(z);
    const double e = std::exp(1.0), d = 1 + e + e * e;
    const Matrix expected{{1 / d, 0.25}, {e / d, 0.25}, {e * e / d, 0.5}};
    CHECK(max_abs_diff(softmax(Z).value(), expected) < 1e-15);
    CHECK(max_abs_diff(log_softmax(Z).value(), map(expected, [](double v) { return std::log(v); })) < 1e-15);
    check([](Tape&, const std::vector<Var>& v) { return weighted_sum(softmax(v[0])); }, {random_matrix(4, 3, 50)});
    check([](Tape&, const std::vector<Var>& v) { return weighted_sum(log_softmax(v[0])); }, {random_matrix(4, 3, 51)});

    Tape s;
    const Var big = s.variable(Matrix{{1000.0, -1000.0}, {-1000.0, 1000.0}, {0.0, 1000.0}});
    const Var p = softmax(big), lp = log_softmax(big);
    s.backward(weighted_sum(p) + weighted_sum(lp));
    CHECK(p.value()(0, 0) == 1.0);
    CHECK(p.value()(1, 1) == 0.5);
    CHECK(lp.value()(1, 0) == -2000.0);
    CHECK(lp.value()(1, 1) == doctest::Approx(-std::log(2.0)).epsilon(1e-15));
    for (double g : big.grad()) CHECK(std::isfinite(g));
}

TEST_CASE("tr, inv, det, logdet, norm2: closed forms and gradcheck") {
    Tape t;
    const Matrix a2{{3.0, 1.0}, {2.0, 5.0}};
    const Matrix a3{{2.0, -1.0, 0.5}, {1.0, 3.0, 2.0}, {0.0, 1.0, 4.0}};
    // det by cofactors along the first row
    const double det3 = 2.0 * (3.0 * 4.0 - 2.0 * 1.0) - (-1.0) * (1.0 * 4.0 - 2.0 * 0.0) + 0.5 * (1.0 * 1.0 - 3.0 * 0.0);
    CHECK(det(t.constant(a2)).value()(0, 0) == doctest::Approx(13.0).epsilon(1e-14));
    CHECK(det(t.constant(a3)).value()(0, 0) == doctest::Approx(det3).epsilon(1e-14));
    CHECK(logdet(t.constant(Matrix{{0.0, -2.0}, {1.0, 0.0}})).value()(0, 0) == doctest::Approx(std::log(2.0)).epsilon(1e-15));
    CHECK(tr(t.constant(a3)).value()(0, 0) == 9.0);
    CHECK(norm2(t.constant(Matrix{{3.0, 0.0, 4.0}})).value()(0, 0) == 5.0);
    const Matrix inv3 = inv(t.constant(a3)).value();
    double worst = 0.0;  // A · inv(A) = I
    for (std::size_t i = 0; i < 3; ++i)
        for (std::size_t j = 0; j < 3; ++j) {
            double s = 0.0;
            for (std::size_t k = 0; k < 3; ++k) s += a3(i, k) * inv3(k, j);
            worst = std::max(worst, std::abs(s - (i == j ? 1.0 : 0.0)));
        }
    CHECK(worst < 1e-12);
    // det of a singular matrix is 0 and its gradient the cofactor matrix
    Tape s;
    const Var sing = s.variable(Matrix{{1.0, 2.0}, {2.0, 4.0}});
    const Var ds = det(sing);
    s.backward(ds);
    CHECK(ds.value()(0, 0) == 0.0);
    CHECK(max_abs_diff(sing.grad(), Matrix{{4.0, -2.0}, {-2.0, 1.0}}) < 1e-12);

    const Matrix m = random_matrix(4, 4, 60) + 4.0 * Matrix(xt::eye<double>(4));
    check([](Tape&, const std::vector<Var>& v) { return tr(v[0]) * 1.5; }, {m});
    check([](Tape&, const std::vector<Var>& v) { return weighted_sum(inv(v[0])); }, {m});
    check([](Tape&, const std::vector<Var>& v) { return det(v[0]) * 0.5; }, {m});
    check([](Tape&, const std::vector<Var>& v) { return logdet(v[0]) * 2.0; }, {m});
    check([](Tape&, const std::vector<Var>& v) { return logdet(v[0]) * 2.0; }, {Matrix(-1.0 * m)});  // det < 0
    check([](Tape&, const std::vector<Var>& v) { return norm2(v[0]) * 3.0; }, {random_matrix(3, 5, 61)});
}

TEST_CASE("logdet of an ill-conditioned but non-singular matrix, and singular and non-square errors") {
    Tape t;
    const Var ill = t.variable(Matrix{{1.0, 1.0}, {1.0, 1.0 + 1e-10}}, "ill");
    const Var ld = logdet(ill);
    t.backward(ld);
    CHECK(ld.value()(0, 0) == doctest::Approx(std::log(1e-10)).epsilon(1e-5));
    // x⁻ᵀ = [[1+ε, −1], [−1, 1]] / ε
    CHECK(ill.grad()(0, 1) == doctest::Approx(-1e10).epsilon(1e-5));
    for (double g : ill.grad()) CHECK(std::isfinite(g));

    Tape s;
    const Var sing = s.variable(Matrix{{1.0, 2.0}, {2.0, 4.0}}, "S");
    CHECK_THROWS_WITH_AS(inv(sing), "inv: S (2x2) is singular (LU found a zero pivot); its inverse does not exist",
                         NumericalError);
    CHECK_THROWS_WITH_AS(logdet(sing),
                         "logdet: S (2x2) is singular (LU found a zero pivot); its log-determinant does not exist",
                         NumericalError);
    CHECK(s.size() == 1);  // a failed forward leaves no node behind
    const Var rect = s.variable(Matrix{{1.0, 2.0, 3.0}}, "R");
    for (const auto& [name, op] : std::vector<std::pair<std::string, Unary>>{
             {"tr", [](const Var& v) { return tr(v); }},
             {"inv", [](const Var& v) { return inv(v); }},
             {"det", [](const Var& v) { return det(v); }},
             {"logdet", [](const Var& v) { return logdet(v); }}})
        CHECK_THROWS_WITH_AS(op(rect), (name + ": R is 1x3 but must be square").c_str(), ShapeError);
}

TEST_CASE("registry: every op by name, arity errors name the signature, user ops register") {
    const std::vector<std::string> names = op_names();
    for (const char* n : {"add", "sub", "mul", "div", "neg", "matmul", "transpose", "sigmoid", "log", "exp", "tanh",
                          "relu", "softplus", "sqrt", "abs", "sin", "cos", "pow", "sum", "mean", "softmax",
                          "log_softmax", "tr", "inv", "det", "logdet", "norm2"})
        CHECK(std::find(names.begin(), names.end(), n) != names.end());
    CHECK(std::is_sorted(names.begin(), names.end()));
    CHECK(find_op("nope") == nullptr);

    Tape t;
    const Var x = t.constant(Matrix{{1.0, 2.0}, {3.0, 4.0}});
    CHECK(max_abs_diff(apply_op("pow", {x}, {2.0}).value(), Matrix{{1.0, 4.0}, {9.0, 16.0}}) == 0.0);
    CHECK(max_abs_diff(apply_op("sum", {x}, {0.0}).value(), Matrix{{4.0, 6.0}}) == 0.0);
    CHECK(apply_op("sum", {x}, {}).value()(0, 0) == 10.0);
    CHECK(max_abs_diff(apply_op("matmul", {x, x}, {}).value(), Matrix{{7.0, 10.0}, {15.0, 22.0}}) == 0.0);
    CHECK(std::string(apply_op("add", {x, x}, {}).def()->name) == "add");
    CHECK_THROWS_WITH_AS(apply_op("pow", {x}, {}),
                         "pow: expects 1 matrix operand and 1 number (pow(x, p)), got 1 operand and 0 numbers", ShapeError);
    CHECK_THROWS_WITH_AS(apply_op("matmul", {x}, {}),
                         "matmul: expects 2 matrix operands and 0 numbers (matmul(a, b)), got 1 operand and 0 numbers",
                         ShapeError);
    CHECK_THROWS_WITH_AS(apply_op("sum", {x}, {0.0, 1.0}),
                         "sum: expects 1 matrix operand and 0 to 1 number (sum(x), axis optional), got 1 operand and 2 numbers",
                         ShapeError);
    CHECK_THROWS_AS(apply_op("nope", {x}, {}), ShapeError);

    // A definition looked up once (as the text language does when it parses): same results, same checks.
    const OpDef& pow_def = *find_op("pow");
    CHECK(max_abs_diff(apply_op(pow_def, {x}, {3.0}).value(), Matrix{{1.0, 8.0}, {27.0, 64.0}}) == 0.0);
    CHECK_THROWS_WITH_AS(apply_op(pow_def, {x}, {}),
                         "pow: expects 1 matrix operand and 1 number (pow(x, p)), got 1 operand and 0 numbers", ShapeError);
    OpDef unnamed_only;
    unnamed_only.name = "recorded_only";
    CHECK_THROWS_WITH_AS(apply_op(unnamed_only, {x}, {}), "op 'recorded_only' is not callable by name", ShapeError);
}

TEST_CASE("mutated backward: a mistake's VJP runs at the chosen node only") {
    const Matrix w = random_matrix(2, 3, 70), xs = random_matrix(3, 4, 71), b = random_matrix(2, 1, 72);
    Tape t;
    const Var W = t.variable(w, "W"), X = t.constant(xs, "X"), B = t.variable(b, "b");
    const Var Z = matmul(W, X) + B;
    const Var A = sigmoid(Z);
    const Var J = mean(A);
    t.backward(J);
    const Matrix right_dW = W.grad(), right_db = B.grad();

    auto mistake_index = [](const Var& v, const std::string& code, std::size_t input) {
        const std::vector<Mistake>& ms = v.def()->mistakes;
        for (std::size_t k = 0; k < ms.size(); ++k)
            if (code == ms[k].code && ms[k].input == input) return k;
        FAIL("no mistake " << code);
        return std::size_t{0};
    };
    // σ' left out: dZ = dA = 1/8 everywhere, so dW = (1/8) 𝟙 Xᵀ and db = row sums of 1/8 = 4/8.
    t.backward(J, {{A.index(), mistake_index(A, "missing_activation_derivative", 0)}});
    Matrix expected_dW({2, 3});
    for (std::size_t i = 0; i < 2; ++i)
        for (std::size_t j = 0; j < 3; ++j) {
            double s = 0.0;
            for (std::size_t k = 0; k < 4; ++k) s += xs(j, k) / 8.0;
            expected_dW(i, j) = s;
        }
    CHECK(max_abs_diff(W.grad(), expected_dW) < 1e-15);
    CHECK(max_abs_diff(B.grad(), Matrix{{0.5}, {0.5}}) < 1e-15);

    // not_summed: db left per sample (2x4), dW right.
    t.backward(J, {{Z.index(), mistake_index(Z, "not_summed", 1)}});
    CHECK(B.grad().shape(0) == 2);
    CHECK(B.grad().shape(1) == 4);
    CHECK(max_abs_diff(W.grad(), right_dW) < 1e-15);
    double row0 = 0.0;
    for (std::size_t k = 0; k < 4; ++k) row0 += B.grad()(0, k);
    CHECK(row0 == doctest::Approx(right_db(0, 0)).epsilon(1e-14));

    // mean's 1/N left out: every gradient 8 times the right one. Then an exact pass again.
    t.backward(J, {{J.index(), mistake_index(J, "missing_mean_factor", 0)}});
    CHECK(max_abs_diff(W.grad(), Matrix(8.0 * right_dW)) < 1e-14);
    t.backward(J);
    CHECK(max_abs_diff(W.grad(), right_dW) == 0.0);
    CHECK(max_abs_diff(B.grad(), right_db) == 0.0);

    CHECK_THROWS_WITH_AS(t.backward(J, {{A.index(), 9}}),
                         ("backward: mutation 9 at node " + std::to_string(A.index()) + " (sigmoid), which has 2 mistakes").c_str(),
                         UsageError);
}

TEST_CASE("every built-in op's mistakes run in a mutated pass and give a wrong gradient") {
    // Positive (log, sqrt, pow, inv, ...) and mixed-sign (relu, abs) inputs; a mistake must change
    // some gradient (values or shape) on at least one of them. Binary ops also run with the
    // operands swapped, so each operand is once the broadcast one.
    const Matrix P{{2.0, 0.5, 0.3}, {0.4, 3.0, 0.2}, {0.1, 0.6, 4.0}};
    const Matrix M{{1.5, -0.5, 0.3}, {-0.4, 2.0, -0.2}, {0.1, -0.6, 3.0}};
    const Matrix b{{0.5}, {1.5}, {2.5}};
    std::size_t mistakes = 0;
    for (const OpDef* def : all_op_definitions()) {
        std::vector<double> numbers;
        for (std::size_t k = 0; k + def->optional_params < def->params.size(); ++k)
            numbers.push_back(std::string(def->params[k]) == "axis" ? 1.0 : 2.5);
        for (std::size_t m = 0; m < def->mistakes.size(); ++m) {
            CAPTURE(def->signature);
            CAPTURE(def->mistakes[m].code);
            bool wrong = false;
            for (const Matrix* x : {&P, &M})
                for (bool swapped : {false, true}) {
                    if (swapped && def->arity != 2) continue;
                    Tape t;
                    std::vector<Var> args{t.variable(*x, "x")};
                    if (def->arity == 2) args.insert(swapped ? args.begin() : args.end(), t.variable(b, "b"));
                    Var y;
                    try {
                        y = apply_op(def->name, args, numbers);
                    } catch (const ShapeError&) {
                        continue;  // matmul(b, x) does not fit
                    }
                    const Var J = weighted_sum(y);
                    t.backward(J);
                    std::vector<Matrix> right;
                    for (const Var& a : args) right.push_back(a.grad());
                    t.backward(J, {{y.index(), m}});
                    for (std::size_t i = 0; i < args.size(); ++i)
                        wrong = wrong || !(max_abs_diff(args[i].grad(), right[i]) <= 1e-9);  // shape, value or NaN
                }
            CHECK(wrong);
            ++mistakes;
        }
    }
    CHECK(mistakes >= 25);
}
