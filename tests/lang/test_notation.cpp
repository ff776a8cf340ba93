// The slides' notation and Unicode in the model language: the aliases ⊙ ⊘ ᵀ − σ(…), dimension
// names as numbers, a UTF-8 byte-order mark, Unicode letters in names, and an echoed source line
// that never carries a raw control byte to the terminal.
#include "lang_test_util.hpp"
#include "test_util.hpp"

#include <autodiff/autodiff.hpp>

#include <cmath>

using namespace matgrad;
using matgrad::test::max_abs_diff;
using matgrad::test::random_matrix;

namespace {

constexpr double kExact = 1e-12;

lang::Error parse_failure(const std::string& source) {
    try {
        lang::Model::parse(source, "m.mg");
    } catch (const lang::Error& e) {
        return e;
    }
    FAIL("no error for: " << source);
    return lang::Error("", 0, 0, "", "");
}

double logistic(double z) { return 1.0 / (1.0 + std::exp(-z)); }

}  // namespace

TEST_CASE("the slides' notation: ⊙ ⊘ ᵀ − σ(…) are .* ./ ' - sigmoid") {
    const std::string slides =
        "input X : 3 x 4\ninput Y : 1 x 4\nparam W : 1 x 3\n"
        "A = σ(W*X)\n"
        "J = sum(Y ⊙ A − (1 − Y) ⊘ (2 + A)) + sum(Wᵀ ⊙ Wᵀ)\n";
    const std::string ascii =
        "input X : 3 x 4\ninput Y : 1 x 4\nparam W : 1 x 3\n"
        "A = sigmoid(W*X)\n"
        "J = sum(Y .* A - (1 - Y) ./ (2 + A)) + sum(W' .* W')\n";
    const Matrix X = random_matrix(3, 4, 1), Y = random_matrix(1, 4, 2), W = random_matrix(1, 3, 3);
    const lang::Values values{{"X", X}, {"Y", Y}, {"W", W}};
    // The value against the formula written out here.
    double expected = 0.0;
    for (std::size_t j = 0; j < 4; ++j) {
        double z = 0.0;
        for (std::size_t i = 0; i < 3; ++i) z += W(0, i) * X(i, j);
        const double a = logistic(z);
        expected += Y(0, j) * a - (1 - Y(0, j)) / (2 + a);
    }
    for (std::size_t i = 0; i < 3; ++i) expected += W(0, i) * W(0, i);
    const lang::Model unicode = lang::Model::parse(slides, "s.mg"), plain = lang::Model::parse(ascii, "a.mg");
    Tape tape;
    const lang::Recording r = unicode.record(tape, values);
    CHECK(std::abs(r.output().value()(0, 0) - expected) <= kExact);
    tape.backward(r.output());
    // The gradient against the ASCII spelling's autodiff.
    Tape tape2;
    const lang::Recording r2 = plain.record(tape2, values);
    tape2.backward(r2.output());
    CHECK(max_abs_diff(r.var("W").grad(), r2.var("W").grad()) <= kExact);
    // σ alone is a name (a model may call its standard deviation σ), σ(…) the function.
    CHECK_NOTHROW(lang::Model::parse("param σ : 1 x 1\nJ = σ(σ) * σ\n"));
}

TEST_CASE("dimension names are numbers in expressions: / n, /(2*n)") {
    const lang::Model model = lang::Model::parse(
        "input X : d x n\nparam w : 1 x d\nR = w*X\nJ = sum(R .* R) / (2*n) + d - n/n\n", "m.mg");
    const Matrix X = random_matrix(3, 5, 1), w = random_matrix(1, 3, 2);
    Tape tape;
    const lang::Recording r = model.record(tape, {{"X", X}, {"w", w}});
    double sum_sq = 0.0;
    Matrix dw = Matrix::from_shape({1, 3});
    dw.fill(0.0);
    for (std::size_t j = 0; j < 5; ++j) {
        double z = 0.0;
        for (std::size_t i = 0; i < 3; ++i) z += w(0, i) * X(i, j);
        sum_sq += z * z;
        for (std::size_t i = 0; i < 3; ++i) dw(0, i) += z * X(i, j) / 5.0;  // d/dw of Σ z² / 10
    }
    CHECK(std::abs(r.output().value()(0, 0) - (sum_sq / 10.0 + 3.0 - 1.0)) <= kExact);
    tape.backward(r.output());
    CHECK(max_abs_diff(r.var("w").grad(), dw) <= kExact);
    // A mistyped dimension is suggested like any name.
    CHECK(std::string(parse_failure("input X : d x n\nJ = sum(X) + nn\n").what()) ==
          "m.mg:2:14: error: unknown name 'nn' (did you mean n?)");
}

TEST_CASE("a UTF-8 byte-order mark is skipped and Unicode letters make names") {
    const lang::Model model =
        lang::Model::parse("\xEF\xBB\xBFparam λ : 1 x 1\ninput Σ : 2 x 2\nα = λ * sum(Σ)\nJ = α .* α\n", "u.mg");
    CHECK(model.declarations().front().name == "λ");
    CHECK(model.declarations().front().column == 7);  // the BOM is not part of line 1
    const Matrix S{{1.0, 2.0}, {3.0, 4.5}};
    const Matrix L{{0.7}};
    Tape tape;
    const lang::Recording r = model.record(tape, {{"λ", L}, {"Σ", S}});
    tape.backward(r.output());
    CHECK(std::abs(r.var("λ").grad()(0, 0) - 2 * 0.7 * 10.5 * 10.5) <= kExact);  // d(λs)²/dλ = 2λs²
    // A symbol is not a letter: named with its code point, the caret under it counted in characters.
    const lang::Error e = parse_failure("param λ : 1 x 1\nJ = λ ∑ λ\n");
    CHECK(std::string(e.what()) == "m.mg:2:8: error: unexpected character '∑' (U+2211)");
    CHECK(e.formatted() == "m.mg:2:8: error: unexpected character '∑' (U+2211)\n  J = λ ∑ λ\n        ^");
}

TEST_CASE("control and escape bytes in an echoed line are shown escaped, never raw") {
    const lang::Error esc = parse_failure("input X : 2 x 2\nJ = sum(X) \x1b[2J\n");
    CHECK(std::string(esc.what()) == "m.mg:2:12: error: unexpected byte 0x1B");
    CHECK(esc.formatted() == "m.mg:2:12: error: unexpected byte 0x1B\n  J = sum(X) \\x1B[2J\n             ^");
    // In a comment the bytes are no error, but the line is echoed for another one on it.
    const lang::Error comment = parse_failure("input X : 2 x 2\nJ = $ # \x07\x7f\xc2\x9b\n");
    CHECK(comment.formatted() == "m.mg:2:5: error: unexpected character '$'\n  J = $ # \\x07\\x7F\\xC2\\x9B\n      ^");
    for (const std::string& text : {esc.formatted(), comment.formatted()})
        for (const char c : text) CHECK((static_cast<unsigned char>(c) >= 0x20 || c == '\n'));
}

TEST_CASE("explain's notation: juxtaposition is the product, rowsum colsum ² ⁻¹ ⁻ᵀ 𝟙") {
    // Each pair: as explain writes it, and in ASCII. Juxtaposition binds tighter than ⊙ and *, as
    // in explain's formulas; a name before ( is a product, a function before ( a call.
    const std::pair<const char*, const char*> spellings[] = {
        {"sum(A ⊙ B A)", "sum(A .* (B*A))"},
        {"sum(A(1 − A))", "sum(A*(1 - A))"},
        {"sum(−(1/3) A B ⊘ (2 + A))", "sum((-1/3)*(A*B) ./ (2 + A))"},
        {"sum(Aᵀ(B) v)", "sum(A'*B*v)"},
        {"sum(σ(A) exp(B))", "sum(sigmoid(A)*exp(B))"},
        {"sum(rowsum(A) + colsum(B)ᵀ)", "sum(sum(A, 1) + sum(B, 0)')"},
        {"sum(A⁻¹ B + A⁻ᵀ)", "sum(inv(A)*B + inv(A)')"},
        {"sum(exp(A)⁻¹)", "sum(inv(exp(A)))"},
        {"sum(1 − A²)", "sum(1 - A .^ 2)"},
        {"sum(𝟙 ⊘ (2 + A))", "sum(1 ./ (2 + A))"},
    };
    const lang::Values values{{"A", random_matrix(3, 3, 1)}, {"B", random_matrix(3, 3, 2)}, {"v", random_matrix(3, 1, 3)}};
    const std::string head = "input A : 3 x 3\ninput B : 3 x 3\nparam v : 3 x 1\n";
    for (const auto& [notation, ascii] : spellings) {
        INFO(std::string(notation));
        double value[2];
        for (int k = 0; k < 2; ++k) {
            const lang::Model m = lang::Model::parse(head + "J = " + (k == 0 ? notation : ascii) + " + sum(v)\n", "m.mg");
            Tape tape;
            value[k] = m.record(tape, values).output().value()(0, 0);
        }
        CHECK(std::abs(value[0] - value[1]) <= kExact * std::max(1.0, std::abs(value[1])));
    }
    // What juxtaposition does not take: a number after an operand, and an unknown name before (.
    CHECK(parse_failure("input X : 2 x 2\nJ = sum(X 2)\n").formatted().find("2:11: error: missing operator before '2'") !=
          std::string::npos);
    CHECK(parse_failure("input X : 2 x 2\nJ = sum(fo(X))\n").formatted().find("unknown function 'fo'") != std::string::npos);
}
