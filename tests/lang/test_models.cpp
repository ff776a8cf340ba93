// Every example model's gradients against central finite differences (1e-6) and against closed-form
// formulas written out here with xtensor (1e-12), and the language's operators against the C++ API.
#include "lang_test_util.hpp"
#include "test_util.hpp"

#include <autodiff/autodiff.hpp>
#include <nn/losses.hpp>
#include <nn/reference.hpp>

#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xmath.hpp>

using namespace matgrad;
using matgrad::test::max_abs_diff;
using matgrad::test::random_matrix;

namespace {

constexpr double kExact = 1e-12;  // two exact formulas: rounding only
constexpr double kFd = 1e-6;      // central differences, step 1e-6

/// Records `model` on `tape` with `values` and runs backward.
lang::Recording run(const lang::Model& model, Tape& tape, const lang::Values& values) {
    const lang::Recording r = model.record(tape, values);
    tape.backward(r.output());
    return r;
}

void check_fd(const lang::Model& model, const lang::Values& values) {
    std::vector<Matrix> params;
    for (const std::string& name : model.param_names()) params.push_back(values.at(name));
    const GradcheckResult g = gradcheck(model.loss(values), params, kFd);
    INFO(g.message);
    CHECK(g.ok);
}

Matrix dot(const Matrix& a, const Matrix& b) { return xt::linalg::dot(a, b); }
Matrix t(const Matrix& a) { return xt::transpose(a); }
Matrix row_sums(const Matrix& a) { return xt::sum(a, {1}, xt::keep_dims); }
Matrix col_sums(const Matrix& a) { return xt::sum(a, {0}, xt::keep_dims); }

}  // namespace

TEST_CASE("slides.mg: the same J and gradients as the slides' hand-derived backward pass") {
    const lang::Model model = test::example_model("slides");
    const Matrix X = random_matrix(10, 7, 1), W1 = random_matrix(64, 10, 2) * 0.3, b1 = random_matrix(64, 1, 3) * 0.1;
    const Matrix W2 = random_matrix(1, 64, 4) * 0.3, b2 = random_matrix(1, 1, 5) * 0.1;
    const Matrix Y{{1, 0, 1, 1, 0, 0, 1}};
    const lang::Values values{{"X", X}, {"Y", Y}, {"W1", W1}, {"b1", b1}, {"W2", W2}, {"b2", b2}};
    Tape tape;
    const lang::Recording r = run(model, tape, values);
    const nn::ForwardBackward ref = nn::reference_pass({W1, W2}, {b1, b2}, X, Y);
    CHECK(std::abs(r.output().value()(0, 0) - ref.J) <= kExact);
    CHECK(max_abs_diff(r.var("W1").grad(), ref.dW[1]) <= kExact);
    CHECK(max_abs_diff(r.var("b1").grad(), ref.db[1]) <= kExact);
    CHECK(max_abs_diff(r.var("W2").grad(), ref.dW[2]) <= kExact);
    CHECK(max_abs_diff(r.var("b2").grad(), ref.db[2]) <= kExact);
    // the named intermediates too: dZ1, dA1, dZ2, dA2
    CHECK(max_abs_diff(r.var("Z1").grad(), ref.dZ[1]) <= kExact);
    CHECK(max_abs_diff(r.var("A1").grad(), ref.dA[1]) <= kExact);
    CHECK(max_abs_diff(r.var("Z2").grad(), ref.dZ[2]) <= kExact);
    CHECK(max_abs_diff(r.var("A2").grad(), ref.dA[2]) <= kExact);
    CHECK(max_abs_diff(r.var("A1").value(), ref.A[1]) <= kExact);
    CHECK(r.var("Z1").name() == "Z1");
    check_fd(model, values);
}

TEST_CASE("slides.mg: declarations, named nodes and output as written") {
    const lang::Model model = test::example_model("slides");
    REQUIRE(model.declarations().size() == 6);
    const lang::Declaration& X = model.declarations()[0];
    CHECK(X.name == "X");
    CHECK(X.kind == lang::Declaration::Kind::input);
    REQUIRE(X.shape);
    CHECK((*X.shape)[0].value == 10);
    CHECK((*X.shape)[1].value == 7);
    CHECK(X.line == 2);
    CHECK(model.declarations()[2].kind == lang::Declaration::Kind::param);
    CHECK(model.param_names() == std::vector<std::string>{"W1", "b1", "W2", "b2"});
    REQUIRE(model.assignments().size() == 5);
    CHECK(model.assignments()[0].name == "Z1");
    CHECK(model.assignments()[0].expression == "W1*X + b1");
    CHECK(model.assignments()[4].expression == "-mean(Y .* log(A2) + (1 - Y) .* log(1 - A2))");
    CHECK(model.output() == "J");
}

/// l2_logistic.mg's values: X 3x9, labels y = ±1, w 3x1, all drawn from fixed seeds.
static lang::Values l2_logistic_values() {
    Matrix y = random_matrix(1, 9, 13);
    for (double& v : y) v = v > 0 ? 1.0 : -1.0;
    return {{"X", random_matrix(3, 9, 11)}, {"y", y}, {"w", random_matrix(3, 1, 12)}};
}

TEST_CASE("l2_logistic.mg: dw = X (-(1/n) y .* sigmoid(-margins))' + 0.02 w") {
    const lang::Model model = test::example_model("l2_logistic");
    const lang::Values values = l2_logistic_values();
    const Matrix &X = values.at("X"), &y = values.at("y"), &w = values.at("w");
    Tape tape;
    const lang::Recording r = run(model, tape, values);
    const Matrix margins = y * dot(t(w), X);
    const double n = 9.0;
    const double J = xt::mean(xt::log(1.0 + xt::exp(-margins)))() + 0.01 * xt::sum(w * w)();
    const Matrix dmargins = -(1.0 / n) / (1.0 + xt::exp(margins));  // -(1/n) sigmoid(-m)
    const Matrix dw = dot(X, t(dmargins * y)) + 0.02 * w;
    CHECK(std::abs(r.output().value()(0, 0) - J) <= kExact);
    CHECK(max_abs_diff(r.var("w").grad(), dw) <= kExact);
    CHECK(max_abs_diff(r.var("margins").grad(), dmargins) <= kExact);
    check_fd(model, values);
}

TEST_CASE("tanh_mse.mg: the tanh network's backward pass written out") {
    const lang::Model model = test::example_model("tanh_mse");
    const Matrix X = random_matrix(2, 6, 21), T = random_matrix(1, 6, 22);
    const Matrix W1 = random_matrix(4, 2, 23), b1 = random_matrix(4, 1, 24), w2 = random_matrix(1, 4, 25),
                 b2 = random_matrix(1, 1, 26);
    const lang::Values values{{"X", X}, {"T", T}, {"W1", W1}, {"b1", b1}, {"w2", w2}, {"b2", b2}};
    Tape tape;
    const lang::Recording r = run(model, tape, values);
    const Matrix H = xt::tanh(dot(W1, X) + b1);
    const Matrix E = dot(w2, H) + b2 - T;
    const Matrix dP = 2.0 * E / 6.0;
    const Matrix dZ1 = dot(t(w2), dP) * (1.0 - H * H);
    CHECK(std::abs(r.output().value()(0, 0) - xt::mean(E * E)()) <= kExact);
    CHECK(max_abs_diff(r.var("w2").grad(), dot(dP, t(H))) <= kExact);
    CHECK(max_abs_diff(r.var("b2").grad(), row_sums(dP)) <= kExact);
    CHECK(max_abs_diff(r.var("W1").grad(), dot(dZ1, t(X))) <= kExact);
    CHECK(max_abs_diff(r.var("b1").grad(), row_sums(dZ1)) <= kExact);
    check_fd(model, values);
}

TEST_CASE("softmax_regression.mg: dZ = (softmax(Z) - Y) / n") {
    const lang::Model model = test::example_model("softmax_regression");
    const Matrix X = random_matrix(4, 8, 31), W = random_matrix(3, 4, 32), b = random_matrix(3, 1, 33);
    Matrix Y = xt::zeros<double>({3, 8});
    for (std::size_t j = 0; j < 8; ++j) Y(j % 3, j) = 1.0;
    const lang::Values values{{"X", X}, {"Y", Y}, {"W", W}, {"b", b}};
    Tape tape;
    const lang::Recording r = run(model, tape, values);
    const Matrix Z = dot(W, X) + b;
    const Matrix P = xt::exp(Z) / col_sums(xt::exp(Z));
    const double J = -xt::sum(Y * xt::log(P))() / 8.0;
    const Matrix dZ = (P - Y) / 8.0;
    CHECK(std::abs(r.output().value()(0, 0) - J) <= kExact);
    CHECK(max_abs_diff(r.var("Z").grad(), dZ) <= kExact);
    CHECK(max_abs_diff(r.var("W").grad(), dot(dZ, t(X))) <= kExact);
    CHECK(max_abs_diff(r.var("b").grad(), row_sums(dZ)) <= kExact);
    check_fd(model, values);
}

TEST_CASE("gaussian_nll.mg: dS = (S⁻¹ - S⁻¹ C S⁻¹)/2, dL = 2 dS L, dmu = -S⁻¹ mean(D)") {
    const lang::Model model = test::example_model("gaussian_nll");
    const Matrix X = random_matrix(3, 10, 41), L = random_matrix(3, 3, 42), mu = random_matrix(3, 1, 43);
    const Matrix I = xt::eye<double>(3);
    const lang::Values values{{"X", X}, {"I", I}, {"mu", mu}, {"L", L}};
    Tape tape;
    const lang::Recording r = run(model, tape, values);
    const Matrix S = dot(L, t(L)) + 0.1 * I;
    const Matrix Sinv = xt::linalg::inv(S);
    const Matrix D = X - mu;
    const Matrix C = dot(D, t(D)) / 10.0;
    const double J = 0.5 * std::log(xt::linalg::det(S)) + 0.5 * xt::sum(Sinv * C)();  // tr(S⁻¹C), both symmetric
    const Matrix dS = 0.5 * (Sinv - dot(dot(Sinv, C), Sinv));
    CHECK(std::abs(r.output().value()(0, 0) - J) <= kExact);
    CHECK(max_abs_diff(r.var("S").grad(), dS) <= kExact);
    CHECK(max_abs_diff(r.var("L").grad(), 2.0 * dot(dS, L)) <= kExact);
    CHECK(max_abs_diff(r.var("mu").grad(), -dot(Sinv, row_sums(D)) / 10.0) <= kExact);
    check_fd(model, values);
}

TEST_CASE("operators map onto the C++ API: precedence, scaling, broadcasting, transpose") {
    const Matrix A = random_matrix(2, 3, 51), B = random_matrix(3, 2, 52), c = random_matrix(1, 1, 53),
                 v = random_matrix(2, 1, 54), w = random_matrix(1, 3, 55);
    const lang::Values values{{"A", A}, {"B", B}, {"c", c}, {"v", v}, {"w", w}};
    const std::string decls = "param A : 2x3\nparam B : 3 x 2\nparam c : 1x1\nparam v : 2 x 1\nparam w : 1 x 3\n";
    struct Case {
        const char* expression;
        Matrix expected;
    };
    const double s = c(0, 0);
    const std::vector<Case> ok{
        {"A*B", dot(A, B)},
        {"A @ B", dot(A, B)},
        {"2*A + A .* A - A ./ 3", 2.0 * A + A * A - A / 3.0},
        {"c*A", s * A},            // * scales by a 1x1
        {"A*c", A * s},
        {"A / c", A / s},
        {"A + v", A + v},          // broadcasting a column
        {"A - w", A - w},          // and a row
        {"-A'", -t(A)},            // postfix ' binds tighter than unary -
        {"B' + A", t(B) + A},
        {"-2*A", -2.0 * A},
        {"(A + A)*B", dot(A + A, B)},
        {"1 - 2 - A", -1.0 - A},   // left-associative, folded
        {"A / 2 / 4", A / 8.0},
        {"3 ./ (A .* A + 1)", 3.0 / (A * A + 1.0)},
        {"exp(log(A .* A + 1))", A * A + 1.0},
        {"sigmoid(A)", 1.0 / (1.0 + xt::exp(-A))},
        {"transpose(A)", t(A)},
        {"matmul(A, B)", dot(A, B)},
        {"1e-1*A + .5*A", 0.6 * A},
    };
    for (const Case& k : ok) {
        CAPTURE(k.expression);
        const lang::Model model = lang::Model::parse(decls + "R = " + k.expression + "\nJ = sum(R)\n");
        Tape tape;
        const lang::Recording r = model.record(tape, values);
        CHECK(max_abs_diff(r.var("R").value(), k.expected) <= kExact);
    }
}

TEST_CASE("the ops from the registry: each function and .^ against its formula") {
    const Matrix A = random_matrix(3, 3, 61), P = xt::abs(random_matrix(3, 3, 62)) + 0.5;
    const Matrix S = dot(A, t(A)) + xt::eye<double>(3);
    const lang::Values values{{"A", A}, {"P", P}, {"S", S}};
    const std::string decls = "input A : 3 x 3\ninput P : 3 x 3\ninput S : 3 x 3\n";
    const Matrix eA = xt::exp(A);
    const std::vector<std::pair<const char*, Matrix>> cases{
        {"tanh(A)", xt::tanh(A)},
        {"relu(A)", xt::maximum(A, 0.0)},
        {"softplus(A)", xt::log(1.0 + xt::exp(A))},
        {"sqrt(P)", xt::sqrt(P)},
        {"abs(A)", xt::abs(A)},
        {"sin(A) + cos(A)", xt::sin(A) + xt::cos(A)},
        {"P .^ 1.5", xt::pow(P, 1.5)},
        {"pow(P, 3)", xt::pow(P, 3.0)},
        {"-A.^2", -(A * A)},  // .^ binds tighter than unary minus
        {"softmax(A)", eA / col_sums(eA)},
        {"log_softmax(A)", A - xt::log(col_sums(eA))},
        {"sum(A, 0)", col_sums(A)},
        {"sum(A, 1)", row_sums(A)},
        {"mean(A, 1)", row_sums(A) / 3.0},
        {"inv(S)", xt::linalg::inv(S)},
        {"tr(S)", Matrix{{S(0, 0) + S(1, 1) + S(2, 2)}}},
        {"det(S)", Matrix{{xt::linalg::det(S)}}},
        {"logdet(S)", Matrix{{std::log(xt::linalg::det(S))}}},
        {"norm2(A)", Matrix{{std::sqrt(xt::sum(A * A)())}}},  // the Frobenius norm, not squared
        {"det(S)^2", Matrix{{xt::linalg::det(S) * xt::linalg::det(S)}}},
        {"A / sqrt(3) + exp(-1) + pow(2, 3)", A / std::sqrt(3.0) + std::exp(-1.0) + 8.0},  // functions of numbers are numbers
    };
    for (const auto& [expression, expected] : cases) {
        const std::string written = expression;
        CAPTURE(written);
        const lang::Model model = lang::Model::parse(decls + "R = " + expression + "\nJ = sum(R)\n");
        Tape tape;
        CHECK(max_abs_diff(model.record(tape, values).var("R").value(), expected) <= 1e-10);
    }
}

TEST_CASE("dimension names bind from values and --dim, and missing values are drawn with a seed") {
    const lang::Model model = test::example_model("l2_logistic");
    lang::Values values{{"X", random_matrix(3, 5, 71)}};
    lang::BindOptions options;
    options.seed = 7;
    const std::map<std::string, std::size_t> dims = model.bind(values, options);
    CHECK(dims == std::map<std::string, std::size_t>{{"d", 3}, {"n", 5}});
    REQUIRE(values.count("y"));
    REQUIRE(values.count("w"));
    CHECK((values.at("y").shape(0) == 1 && values.at("y").shape(1) == 5));
    CHECK((values.at("w").shape(0) == 3 && values.at("w").shape(1) == 1));
    for (const double y : values.at("y")) CHECK((y >= 0.0 && y < 1.0));  // inputs U(0, 1)
    lang::Values again{{"X", random_matrix(3, 5, 71)}};
    model.bind(again, options);
    CHECK(max_abs_diff(again.at("w"), values.at("w")) == 0.0);  // the same seed, the same values

    lang::Values none;
    options.dims = {{"d", 2}, {"n", 4}};
    model.bind(none, options);
    CHECK((none.at("X").shape(0) == 2 && none.at("X").shape(1) == 4));
}

TEST_CASE("--output picks another 1x1 node, and B = A names no new node") {
    lang::Model model = lang::Model::parse("param a : 2 x 1\nS = sum(a)\nK = S\nJ = mean(a)\n");
    const lang::Values values{{"a", Matrix{{1.0}, {3.0}}}};
    Tape tape;
    CHECK(model.record(tape, values).output().value()(0, 0) == 2.0);
    model.set_output("K");
    CHECK(model.output() == "K");
    tape.clear();
    const lang::Recording r = model.record(tape, values);
    CHECK(r.output().value()(0, 0) == 4.0);
    CHECK(r.output().name() == "S");  // K is S itself
}

TEST_CASE("a name declared after an equation: every node still reads its own value") {
    // Found by fuzz_model: Z's slot once equalled W's, so J read W where it says Z (dW = 2W, not 2X).
    const lang::Model model =
        lang::Model::parse("input X : 2 x 3\nZ = X .* 2\nparam W : 2 x 3\nJ = sum(W .* Z)\n", "late.mg");
    const Matrix x = random_matrix(2, 3, 1), w = random_matrix(2, 3, 2);
    Tape tape;
    const lang::Recording r = run(model, tape, {{"X", x}, {"W", w}});
    CHECK(max_abs_diff(r.var("W").grad(), 2.0 * x) <= kExact);
    CHECK(r.output().value()(0, 0) == doctest::Approx(xt::sum(w * x * 2.0)()).epsilon(kExact));
    CHECK(model.index_of("Z") == 2);  // after both declarations, as in the Recording
    CHECK(model.index_of("J") == 3);
}

TEST_CASE("the README's C++ example: parse once, record per step") {
    const std::string text = test::read_text(test::model_path("slides.mg"));
    const Matrix X = random_matrix(10, 7, 81), Y{{1, 0, 1, 1, 0, 0, 1}};
    const Matrix W1 = random_matrix(64, 10, 82) * 0.3, b1 = random_matrix(64, 1, 83) * 0.1;
    const Matrix W2 = random_matrix(1, 64, 84) * 0.3, b2 = random_matrix(1, 1, 85) * 0.1;
    double first = 0.0, last = 0.0;
    // -- as in the README
    nn::register_losses();                 // only if the model calls nn's losses by name
    lang::Model model = lang::Model::parse(text, "slides.mg");   // throws lang::Error (file, line, column)
    lang::Values values{{"X", X}, {"Y", Y}, {"W1", W1}, {"b1", b1}, {"W2", W2}, {"b2", b2}};
    model.bind(values);                    // checks shapes, binds dimension names (BindOptions: --dim, seed)
    Tape tape;
    for (int step = 0; step < 100; ++step) {
        tape.clear();
        const lang::Recording r = model.record(tape, values);    // inputs constants, params variables
        tape.backward(r.output());
        values["W1"] -= 0.1 * r.var("W1").grad();                 // ... and so on; r.var("Z1") too
        // -- end
        values["b1"] -= 0.1 * r.var("b1").grad();
        values["W2"] -= 0.1 * r.var("W2").grad();
        values["b2"] -= 0.1 * r.var("b2").grad();
        (step == 0 ? first : last) = r.output().value()(0, 0);
    }
    CHECK(last < first);
}

TEST_CASE("l2_logistic.mg: Model::hessian is X diag(σ(m)(1 − σ(m))) Xᵀ / n + 0.02 I, Model::hvp its products") {
    const lang::Model model = test::example_model("l2_logistic");
    const lang::Values values = l2_logistic_values();
    const Matrix &X = values.at("X"), &y = values.at("y"), &w = values.at("w");
    const Matrix margins = y * dot(t(w), X);
    const Matrix s = 1.0 / (1.0 + xt::exp(-margins));
    const Matrix weights = s * (1.0 - s) / 9.0;
    Matrix expected = dot(X * weights, t(X));
    for (std::size_t i = 0; i < 3; ++i) expected(i, i) += 0.02;
    const Matrix H = model.hessian(values);
    CHECK(max_abs_diff(H, expected) <= 1e-12 * xt::amax(xt::abs(expected))());
    CHECK(max_abs_diff(model.hessian(values, {"w"}), H) == 0.0);
    const Matrix v = random_matrix(3, 1, 14);
    const lang::Values Hv = model.hvp(values, {{"w", v}});
    CHECK(max_abs_diff(Hv.at("w"), Matrix(dot(expected, v))) <= 1e-12);
    CHECK_THROWS_WITH_AS(model.hessian(values, {"X"}), "l2_logistic.mg: error: hessian: 'X' is not a param (params: w)",
                         lang::Error);
    CHECK_THROWS_WITH_AS(model.hessian(values, {"w", "w"}), "l2_logistic.mg: error: hessian: 'w' is given twice", lang::Error);
    CHECK_THROWS_WITH_AS(model.hvp(values, {{"margins", v}}), "l2_logistic.mg: error: hvp: 'margins' is not a param (params: w)",
                         lang::Error);
}
