// explain() on the slides' network (its equations and shapes as the slides and the issue write
// them), deeper networks and generic ops; Tape::to_dot rendered by graphviz; Tape::trace.
#include "test_util.hpp"

#include <autodiff/autodiff.hpp>
#include <autodiff/inspect.hpp>
#include <nn/reference.hpp>
#include <nn/verify.hpp>

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace matgrad;
using matgrad::test::random_matrix;
using Kind = ExplainLine::Kind;

namespace {

nn::MlpProblem problem(std::vector<std::size_t> sizes, std::size_t samples) {
    nn::MlpSource source;
    source.sizes = std::move(sizes);
    source.samples = samples;
    return nn::load_mlp_problem(source);
}

std::vector<ExplainLine> explain_mlp(const nn::MlpProblem& p, bool check = false) {
    return explain(nn::mlp_loss(p.X, p.Y), nn::mlp_parameters(p), nn::mlp_parameter_names(p.depth()), check);
}

const ExplainLine& line_for(const std::vector<ExplainLine>& lines, const std::string& lhs) {
    for (const ExplainLine& l : lines)
        if (l.lhs == lhs && l.kind != Kind::input) return l;
    FAIL("no line for " << lhs);
    throw std::logic_error("unreachable");
}

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
    return n;
}

}  // namespace

TEST_CASE("explain: the slides' network reads as the slides' equations with their shapes") {
    const std::vector<ExplainLine> lines = explain_mlp(problem({10, 64, 1}, 7));
    // Forward, as the issue and the slides write it.
    const ExplainLine& Z1 = line_for(lines, "Z1");
    CHECK(Z1.formula == "W1 X + b1");
    CHECK(Z1.shapes == "(64×10)(10×7) + (64×1 broadcast over 7 columns) = 64×7");
    CHECK(line_for(lines, "A1").formula == "σ(Z1)");
    CHECK(line_for(lines, "Z2").shapes == "(1×64)(64×7) + (1×1 broadcast over 7 columns) = 1×7");
    CHECK(line_for(lines, "J").formula == "−mean(Y ⊙ log(A2) + (1 − Y) ⊙ log(1 − A2))");
    // Backward, in the slides' order and notation (with the mean's 1/n = 1/7 the slides drop).
    std::vector<std::string> backward;
    for (const ExplainLine& l : lines)
        if (l.kind == Kind::backward) backward.push_back(l.lhs);
    CHECK(backward == std::vector<std::string>{"dA2", "dZ2", "dW2", "db2", "dA1", "dZ1", "dW1", "db1"});
    CHECK(line_for(lines, "dA2").formula == "−(1/7) Y ⊘ A2 + (1/7) (1 − Y) ⊘ (1 − A2)");
    CHECK(line_for(lines, "dZ2").formula == "dA2 ⊙ A2 ⊙ (1 − A2)");
    CHECK(line_for(lines, "dW2").formula == "dZ2 A1ᵀ");
    CHECK(line_for(lines, "dW2").shapes == "(1×7)(7×64) = 1×64");
    CHECK(line_for(lines, "db2").formula == "rowsum(dZ2)");
    const ExplainLine& dA1 = line_for(lines, "dA1");
    CHECK(dA1.formula == "W2ᵀ dZ2");
    CHECK(dA1.shapes == "(64×1)(1×7) = 64×7");
    CHECK(dA1.layout.find("dZ2 W2ᵀ (numerator layout)") != std::string::npos);
    CHECK(line_for(lines, "dZ1").formula == "dA1 ⊙ A1 ⊙ (1 − A1)");
    CHECK(line_for(lines, "dW1").formula == "dZ1 Xᵀ");
    CHECK(line_for(lines, "dW1").shapes == "(64×7)(7×10) = 64×10");
    CHECK(line_for(lines, "db1").formula == "rowsum(dZ1)");
    CHECK(line_for(lines, "db1").shapes == "64×7 → 64×1 (broadcast reduction)");
    const std::string text = format_explanation(lines);
    CHECK(text.find("dW1 = dZ1 Xᵀ") != std::string::npos);
}

TEST_CASE("explain: the shapes come from the tape, for any depth and sample count") {
    const std::vector<ExplainLine> lines = explain_mlp(problem({5, 4, 3, 2}, 6));
    CHECK(line_for(lines, "Z3").shapes == "(2×3)(3×6) + (2×1 broadcast over 6 columns) = 2×6");
    CHECK(line_for(lines, "dW2").shapes == "(3×6)(6×4) = 3×4");
    CHECK(line_for(lines, "dA1").formula == "W2ᵀ dZ2");
    CHECK(line_for(lines, "dA1").shapes == "(4×3)(3×6) = 4×6");
    // Two outputs x 6 samples: the mean averages 12 elements.
    CHECK(line_for(lines, "dA3").formula == "−(1/12) Y ⊘ A3 + (1/12) (1 − Y) ⊘ (1 − A3)");
}

TEST_CASE("explain --check: every parameter gradient agrees with finite differences") {
    std::size_t checked = 0;
    for (const ExplainLine& l : explain_mlp(problem({4, 3, 1}, 5), true)) {
        if (l.kind != Kind::backward || (l.lhs.rfind("dW", 0) != 0 && l.lhs.rfind("db", 0) != 0)) continue;
        CAPTURE(l.lhs);
        CHECK(l.fd_error < 1e-7);
        ++checked;
    }
    CHECK(checked == 4);
}

TEST_CASE("explain: generic ops, shared intermediates, unused variables") {
    Tape tape;
    const Var x = tape.variable(random_matrix(2, 3, 1), "x");
    const Var y = tape.variable(random_matrix(2, 3, 2, 3.0), "y");
    tape.variable(random_matrix(4, 4, 3), "W9");  // recorded, never used
    const Var J = sum(exp(x) / y).named("J");
    tape.backward(J);
    const std::vector<ExplainLine> lines = explain(tape, J);
    CHECK(line_for(lines, "J").formula == "sum(exp(x) ⊘ y)");
    CHECK(line_for(lines, "dy").formula == "−exp(x) ⊘ y²");
    CHECK(line_for(lines, "dx").formula == "𝟙 ⊘ y ⊙ exp(x)");
    bool noted = false;
    for (const ExplainLine& l : lines)
        noted = noted || (l.kind == Kind::note && l.formula.find("W9 (4×4) does not affect J") == 0);
    CHECK(noted);

    // An unnamed node used twice gets its own line (t<index>) and one gradient summing both uses.
    Tape t2;
    const Var a = t2.variable(random_matrix(3, 1, 4), "a");
    const Var s = sigmoid(a);
    const Var out = mean(s * s);
    t2.backward(out);
    const std::vector<ExplainLine> l2 = explain(t2, out);
    const std::string t = "t" + std::to_string(s.index());
    CHECK(line_for(l2, t).formula == "σ(a)");
    // Both uses send (1/3) t: one term, as a person writes it, and the shapes say two paths met.
    CHECK(line_for(l2, "d" + t).formula == "(2/3) " + t);
    CHECK(line_for(l2, "d" + t).shapes == "3×1 (sum of 2 paths)");
    CHECK(line_for(l2, "da").formula == "d" + t + " ⊙ " + t + " ⊙ (1 − " + t + ")");

    // Paths that cancel leave 0: d(c − c) gives dc = dD − dD.
    Tape t3;
    const Var c = t3.variable(random_matrix(2, 2, 7), "c");
    const Var D = (c - c).named("D");
    const Var o = sum(D * t3.constant(random_matrix(2, 2, 8), "E")).named("o");
    t3.backward(o);
    const std::vector<ExplainLine> l3 = explain(t3, o);
    CHECK(line_for(l3, "dD").formula == "E");
    CHECK(line_for(l3, "dc").formula == "0");
}

// A matmul operand that is already a transpose: the rule's {1}ᵀ must read L, not Lᵀᵀ.
TEST_CASE("explain: the transpose of a transposed operand cancels") {
    Tape tape;
    const Var A = tape.variable(random_matrix(3, 2, 5), "A");
    const Var L = tape.variable(random_matrix(4, 2, 6), "L");
    const Var J = sum(matmul(A, transpose(L))).named("J");
    tape.backward(J);
    const std::vector<ExplainLine> lines = explain(tape, J);
    CHECK(line_for(lines, "dA").formula.find("ᵀᵀ") == std::string::npos);
    CHECK(line_for(lines, "dA").formula.find("L") != std::string::npos);
}

TEST_CASE("explain: an op without a rule is written as its vjp — misuse throws") {
    Tape tape;
    const Var x = tape.variable(random_matrix(2, 2, 5), "x");
    const Var z = tape.record(
        "square", {x}, 2, 2, [&](Matrix& out) { xt::noalias(out) = x.value() * x.value(); },
        [](const BackwardContext& ctx) { xt::noalias(ctx.grad_input(0)) += 2.0 * ctx.grad_output() * ctx.input(0); });
    const Var J = sum(z);
    CHECK_THROWS_AS(explain(tape, J), UsageError);  // no backward() yet
    CHECK_THROWS_AS(explain(tape, z), ShapeError);  // not 1x1
    tape.backward(J);
    CHECK(line_for(explain(tape, J), "dx").formula == "vjp(square, input 0, 1)");
}

#ifdef MATGRAD_DOT
constexpr bool kGraphvizMissing = false;
#else
constexpr bool kGraphvizMissing = true;  // the render check below is skipped
#endif

TEST_CASE("Tape::to_dot: a node per tape node, an edge per input — graphviz renders it" *
          doctest::skip(kGraphvizMissing)) {
    const nn::MlpProblem p = problem({10, 64, 1}, 7);
    Tape tape;
    tape.backward(nn::record_mlp_loss(tape, p));
    std::size_t edges = 0;
    for (std::size_t k = 0; k < tape.size(); ++k) edges += tape.node(k).num_inputs();
    DotOptions options;
    options.gradient_norms = true;
    const std::string dot = tape.to_dot(options);
    CHECK(count(dot, " -> ") == edges);
    std::size_t with_gradient = 0;
    for (std::size_t k = 0; k < tape.size(); ++k) with_gradient += tape.node(k).requires_grad();
    CHECK(count(dot, "‖grad‖") == with_gradient);

#ifdef MATGRAD_DOT
    const std::filesystem::path dir = std::filesystem::path(MATGRAD_EXPLAIN_SCRATCH) / "dot";
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "slides.dot") << dot;
    const std::string command = std::string(MATGRAD_DOT) + " -Tsvg " + (dir / "slides.dot").string() + " -o " +
                                (dir / "slides.svg").string();
    REQUIRE(std::system(command.c_str()) == 0);
    std::stringstream svg;
    svg << std::ifstream(dir / "slides.svg").rdbuf();
    CHECK(count(svg.str(), "class=\"node\"") == tape.size());
    CHECK(count(svg.str(), "class=\"edge\"") == edges);
    CHECK(svg.str().find("W1") != std::string::npos);
#endif
}

TEST_CASE("Tape::to_dot: leaves and constants styled apart, names and shapes in labels") {
    Tape tape;
    const Var a = tape.variable(Matrix{{1, 2}, {3, 4}}, "a");
    const Var c = tape.constant(Matrix{{1}, {1}}, "c\"quoted\"");
    const Var J = sum(matmul(a, c) * 2.0);
    tape.backward(J);
    const std::string dot = tape.to_dot();
    CHECK(dot.find("n0 [label=\"a\\nvariable\\n2×2\", shape=box, style=filled") != std::string::npos);
    CHECK(dot.find("c\\\"quoted\\\"\\nconstant\\n2×1\", shape=box, style=\"filled,dashed\"") != std::string::npos);
    CHECK(dot.find("label=\"2\\n1×1\"") != std::string::npos);  // the literal 2.0
    CHECK(dot.find("n0 -> n2 [label=\"0\"]") != std::string::npos);
    CHECK(dot.find("n1 -> n2 [label=\"1\"]") != std::string::npos);
    CHECK(count(dot, " -> ") == 5);  // matmul 2, mul 2, sum 1
}

TEST_CASE("Tape::trace: one row per node with value statistics, gradient norm and times") {
    Tape tape;
    tape.set_timing(true);
    const Var a = tape.variable(Matrix{{1, 2}, {3, 4}}, "a");
    const Var J = sum(a).named("J");
    const std::string before = tape.trace();
    CHECK(count(before, "\n") == 3);  // header + 2 nodes
    tape.backward(J);
    std::istringstream rows(tape.trace());
    std::string header, row_a, row_J;
    std::getline(rows, header);
    std::getline(rows, row_a);
    std::getline(rows, row_J);
    CHECK(header.find("‖grad‖") != std::string::npos);
    std::istringstream fields(row_a);
    std::string index, op, name, shape, lo, hi, mean, norm;
    fields >> index >> op >> name >> shape >> lo >> hi >> mean >> norm;
    CHECK(index == "0");
    CHECK(op == "variable");
    CHECK(name == "a");
    CHECK(shape == "2×2");
    CHECK(lo == "1");
    CHECK(hi == "4");
    CHECK(mean == "2.5");
    CHECK(norm == "2");  // dJ/da is all ones: ‖·‖ = sqrt(4)
    CHECK(row_J.find("sum") != std::string::npos);
}

TEST_CASE("explain: rules come from the op definitions (tanh, softmax, matrix functions)") {
    Tape tape;
    const Var W = tape.variable(random_matrix(3, 4, 11), "W");
    const Var X = tape.constant(random_matrix(4, 5, 12), "X");
    const Var Z = matmul(W, X).named("Z");
    const Var A = tanh(Z).named("A");                  // nn's tanh is the engine's: a rule, no vjp(...)
    const Var P = softmax(A).named("P");               // per column: not "element-wise"
    const Var J = mean(pow(P, 2.0)).named("J");
    tape.backward(J);
    const std::vector<ExplainLine> lines = explain(tape, J);
    CHECK(line_for(lines, "dZ").formula == "dA ⊙ (1 − A²)");
    CHECK(line_for(lines, "dA").formula == "P ⊙ (dP − colsum(P ⊙ dP))");
    CHECK(line_for(lines, "P").shapes == "softmax: 3×5 → 3×5");
    CHECK(line_for(lines, "dP").formula == "(2/15) P");
    CHECK(line_for(lines, "J").formula == "mean(P²)");

    Tape t2;
    const Var M = t2.variable(Matrix{{2.0, 1.0}, {1.0, 3.0}}, "M");
    const Var L = (logdet(M) + det(M)).named("L");
    t2.backward(L);
    CHECK(line_for(explain(t2, L), "dM").formula == "M⁻ᵀ + det(M) M⁻ᵀ");
}

TEST_CASE("explain: an inverse transposed is written X⁻ᵀ, whichever superscript comes first") {
    // The rules meet the forward notation: inv's "−{out}ᵀ {g} {out}ᵀ" with out = S⁻¹, transpose's
    // "{0}ᵀ" of an inverse, inv's "{0}⁻¹" of a transpose. One spelling: (S⁻¹)ᵀ = (Sᵀ)⁻¹ = S⁻ᵀ,
    // (S⁻ᵀ)ᵀ = (Sᵀ)⁻ᵀ = S⁻¹, as (Sᵀ)ᵀ = S.
    Tape tape;
    const Var S = tape.variable(Matrix{{2.0, 1.0}, {0.5, 3.0}}, "S");
    const Var y = tape.constant(Matrix{{1.0}, {2.0}}, "y");
    const Var a = sum(matmul(inv(S), y)).named("a");                        // dS = −S⁻ᵀ da yᵀ S⁻ᵀ
    const Var b = sum(matmul(transpose(inv(S)), y)).named("b");             // forward S⁻ᵀ
    const Var c = sum(matmul(inv(transpose(S)), y)).named("c");             // forward S⁻ᵀ too
    const Var d = sum(matmul(transpose(inv(transpose(S))), y)).named("d");  // (S⁻ᵀ)ᵀ = S⁻¹
    const Var e = sum(matmul(transpose(transpose(inv(S))), y)).named("e");  // (S⁻ᵀ)ᵀ = S⁻¹
    const Var J = (a + b + c + d + e).named("J");
    tape.backward(J);
    const std::vector<ExplainLine> lines = explain(tape, J);
    for (const auto& [lhs, formula] : std::vector<std::pair<std::string, std::string>>{
             {"a", "sum(S⁻¹ y)"}, {"b", "sum(S⁻ᵀ y)"}, {"c", "sum(S⁻ᵀ y)"}, {"d", "sum(S⁻¹ y)"}, {"e", "sum(S⁻¹ y)"}})
        CHECK_MESSAGE(line_for(lines, lhs).formula == formula, lhs);
    // Each path by hand: e's two transposes cancel, so inv's rule −(S⁻¹)ᵀ g (S⁻¹)ᵀ gets de yᵀ; d's
    // inverse is inv(Sᵀ) = S⁻ᵀ, whose rule transposes it back to S⁻¹ and whose gradient goes through
    // Sᵀ (an outer ᵀ); c likewise without the outer transpose on the path; b's transpose gives g ᵀ.
    // Each transpose of a product is pushed inside ((AB)ᵀ = BᵀAᵀ) where that removes one:
    // (S⁻¹ (dd yᵀ)ᵀ S⁻¹)ᵀ = S⁻ᵀ dd yᵀ S⁻ᵀ.
    CHECK(line_for(lines, "dS").formula ==
          "−S⁻ᵀ de yᵀ S⁻ᵀ − S⁻ᵀ dd yᵀ S⁻ᵀ − S⁻ᵀ y dcᵀ S⁻ᵀ − S⁻ᵀ y dbᵀ S⁻ᵀ − S⁻ᵀ da yᵀ S⁻ᵀ");
}

TEST_CASE("explain: a user's same-shape op without a definition is not called element-wise") {
    Tape tape;
    const Var x = tape.variable(random_matrix(4, 9, 13), "x");
    const Var s = tape.record(
        "column_softmax", {x}, 4, 9, [&](Matrix& out) { xt::noalias(out) = x.value(); },
        [](const BackwardContext& ctx) { ctx.grad_input(0) += ctx.grad_output(); });
    s.named("S");
    const Var J = sum(s);
    tape.backward(J);
    const std::vector<ExplainLine> lines = explain(tape, J);
    CHECK(line_for(lines, "S").shapes == "column_softmax: 4×9 → 4×9");
    CHECK(line_for(lines, "dx").formula == "vjp(column_softmax, input 0, dS)");
    CHECK(line_for(lines, "dx").shapes == "4×9 → 4×9");
}

TEST_CASE("explain(f, ...): Inputs and Forward each printed once when f records constants after ops") {
    const std::string text = format_explanation(explain_mlp(problem({4, 3, 1}, 5)));
    CHECK(count(text, "Inputs\n") == 1);
    CHECK(count(text, "Forward\n") == 1);
    CHECK(count(text, "Backward") == 1);
}

TEST_CASE("explain: numbers as a person writes them -- coefficients, exponents, scalar factors") {
    // A model's / sqrt(3) and a typed * 0.5773502691896258 are (1/√3), not the rational approximation
    // (7953/13775); 2/√3 likewise; a coefficient that is neither is a decimal.
    Tape tape;
    const Var w = tape.variable(Matrix{{1.0, 2.0, 3.0}}, "w");
    const Var T = tape.constant(Matrix{{0.5, 0.5, 0.5}}, "T");
    const Var X = tape.constant(random_matrix(3, 4, 13), "X");
    const Var J = (sum(pow(w, 2.0)) * 0.5773502691896258 + sum(pow(w - T, 2.0)) * 0.5774 +
                   sum(pow(matmul(w, X), 3.0)) / std::sqrt(3.0))
                      .named("J");
    tape.backward(J);
    const std::vector<ExplainLine> lines = explain(tape, J);
    // Numeric exponents worked out: 2 (w − T), not 2 (w − T)^(2 − 1); 3 (w X)², not 3 (w X)^(3 − 1).
    CHECK(line_for(lines, "dw").formula == "(2/√3) w + 1.1548 (w − T) + √3 (w X)² Xᵀ");
    // A number multiplies without ⊙, before what it scales; the shapes say "scalar ·".
    CHECK(line_for(lines, "J").formula == "(1/√3) sum(w²) + 0.5774 sum((w − T)²) + sum((w X)³) / √3");
    CHECK(line_for(lines, "J").shapes == "scalar · 1×1 + scalar · 1×1 + 1×1 / scalar = 1×1");

    Tape t2;  // 0.02/√3 = 1/√7500: a root of a large number reads worse than the decimal
    const Var v = t2.variable(Matrix{{1.0}, {2.0}}, "w");
    const Var K = (0.01 * matmul(transpose(v), v) / std::sqrt(3.0)).named("J");
    t2.backward(K);
    CHECK(line_for(explain(t2, K), "dw").formula == "0.011547 w");
}

TEST_CASE("explain: a transposed product is pushed inside, equal terms combine, a 1×1 gradient is a scalar") {
    // l2_logistic's shape: r = w'X; dw = (1/10) w + X drᵀ, not (dr Xᵀ)ᵀ.
    Tape tape;
    const Var w = tape.variable(Matrix{{1.0}, {2.0}, {3.0}}, "w");
    const Var X = tape.constant(random_matrix(3, 10, 14), "X");
    const Var r = matmul(transpose(w), X).named("r");
    const Var J = (0.05 * sum(w * w) + sum(r)).named("J");
    tape.backward(J);
    CHECK(line_for(explain(tape, J), "dw").formula == "(1/10) w + X drᵀ");

    // w'*w: both paths reach w; the 1×1 gradient scales, so no "w 𝟙" and no layout step.
    Tape t2;
    const Var v = t2.variable(Matrix{{1.0}, {2.0}, {3.0}}, "w");
    const Var K = (0.01 * matmul(transpose(v), v)).named("J");
    t2.backward(K);
    const std::vector<ExplainLine> lines = explain(t2, K);  // line_for returns a reference into it
    const ExplainLine& dv = line_for(lines, "dw");
    CHECK(dv.formula == "(1/50) w");
    CHECK(dv.layout.empty());
}

TEST_CASE("explain: the headings and remarks use no name a model may use itself") {
    // A model with its own V and E: the Backward heading is d□ = ∂J/∂□, the layout remark has no E.
    Tape tape;
    const Var V = tape.variable(random_matrix(2, 3, 15), "V");
    const Var E = tape.constant(random_matrix(3, 4, 16), "E");
    const Var S = matmul(V, E).named("S");
    const Var J = sum(S * S).named("J");
    tape.backward(J);
    const std::vector<ExplainLine> lines = explain(tape, J);
    CHECK(backward_heading(lines) == "Backward (d□ = ∂J/∂□, shaped like □)");
    CHECK(line_for(lines, "dV").layout == "d(V E)/dV puts Eᵀ on the right, so dV has the shape of V");
    CHECK(format_explanation(lines).find("Backward (d□ = ∂J/∂□, shaped like □)\n") != std::string::npos);
}

TEST_CASE("explain: an unnamed constant (a numpy array) is called by its shape, not by its tape index") {
    Tape tape;
    const Var W = tape.variable(random_matrix(2, 3, 17), "W");
    const Var X = tape.constant(random_matrix(3, 4, 18));
    const Var J = mean((matmul(W, X) - tape.constant(random_matrix(1, 4, 19))) * matmul(W, tape.constant(random_matrix(3, 4, 20))));
    tape.backward(J);
    const std::vector<ExplainLine> lines = explain(tape, J);
    CHECK(line_for(lines, "J").formula == "mean((W C₃ₓ₄ − C₁ₓ₄) ⊙ W C′₃ₓ₄)");  // was mean((W c1 − c3) ⊙ W c5)
    CHECK(lines[1].lhs == "C₃ₓ₄");  // the Inputs line: C₃ₓ₄  constant 3×4
    CHECK(lines[1].kind == Kind::input);
}
