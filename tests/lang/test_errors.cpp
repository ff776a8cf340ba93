// Every error class of the model language with its exact message and position: syntax, unknown
// name, redefinition, use before definition, shape mismatch (both operands as written), non-1x1
// output, missing or mismatched value, unbound dimension, incomplete expression.
#include "lang_test_util.hpp"
#include "test_util.hpp"

using namespace matgrad;
using matgrad::test::random_matrix;

namespace {

/// The message of the lang::Error that parsing `source` (as m.mg) throws.
std::string parse_error(const std::string& source) {
    try {
        lang::Model::parse(source, "m.mg");
    } catch (const lang::Error& e) {
        return e.what();
    }
    return "(no error)";
}

/// The message of the lang::Error that recording `source` with `values` throws.
std::string record_error(const std::string& source, const lang::Values& values) {
    const lang::Model model = lang::Model::parse(source, "m.mg");
    try {
        Tape tape;
        model.record(tape, values);
    } catch (const lang::Error& e) {
        return e.what();
    }
    return "(no error)";
}

std::string bind_error(const std::string& source, lang::Values values, const lang::BindOptions& options = {}) {
    const lang::Model model = lang::Model::parse(source, "m.mg");
    try {
        model.bind(values, options);
    } catch (const lang::Error& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST_CASE("syntax errors point at the token") {
    CHECK(parse_error("input X : 2 x 2\nJ = sum(X 2)\n") == "m.mg:2:11: error: missing operator before '2'");
    CHECK(parse_error("input X : 2 x 2\nJ = sum(X) $ 2\n") == "m.mg:2:12: error: unexpected character '$'");
    CHECK(parse_error("input X : 2 x 2\nJ = sum(X) \xFF 2\n") == "m.mg:2:12: error: unexpected byte 0xFF");
    CHECK(parse_error("input X : 2 x 2\nJ = * X\n") ==
          "m.mg:2:5: error: expected an operand (a name, a number, a function call or '('), got '*'");
    CHECK(parse_error("input X : 2 x 2\nJ = sum((X + 1)\n") == "m.mg:2:8: error: 'sum(' is not closed on this line");
    CHECK(parse_error("input X : 2 x 2\nJ = (X + 1\n") == "m.mg:2:5: error: '(' is not closed on this line");
    CHECK(parse_error("input X : 2 x 2\nJ = sum(X))\n") == "m.mg:2:11: error: unexpected ')'");
    CHECK(parse_error("input X : 2 x 2\nJ =\n") == "m.mg:2:4: error: missing expression after '='");
    CHECK(parse_error("input X : 2 x 2\nsum(X)\n") ==
          "m.mg:2:1: error: expected a declaration (input NAME : R x C, param NAME : R x C) or an assignment "
          "(NAME = expression), got 'sum'");
    CHECK(parse_error("input X : 10 by 7\nJ = sum(X)\n") ==
          "m.mg:1:14: error: expected 'x' between the dimensions of the shape (e.g. 10 x 7), got 'by'");
    CHECK(parse_error("input X : 10 x 0\nJ = sum(X)\n") ==
          "m.mg:1:16: error: a dimension is a positive whole number or a name, not 0");
    CHECK(parse_error("input X : 2.5 x 3\nJ = sum(X)\n") ==
          "m.mg:1:11: error: a dimension is a positive whole number or a name, not 2.5");
    CHECK(parse_error("input : 2 x 3\n") == "m.mg:1:7: error: expected a name after 'input', got ':'");
    CHECK(parse_error("input X : 2 x 2\nJ = sum(X .^ X)\n") == "m.mg:2:14: error: the exponent of '.^' must be a number, not 'X'");
    CHECK(parse_error("input X : 2 x 2\nJ = sum(2 @ X)\n") ==
          "m.mg:2:11: error: '@' is the matrix product of two matrices; scale by a number with *");
    CHECK(parse_error("input X : 2 x 2\nJ = sum(X**2)\n") ==
          "m.mg:2:10: error: '**' is not an operator: use .^ (element-wise) or ^ (1×1)");
    CHECK(parse_error("input X : 2 x 2\nJ = sum(X) / sqrt(-1)\n") == "m.mg:2:14: error: 'sqrt(-1)' is not a finite number");
    CHECK(parse_error("# only a comment\ninput X : 2 x 2\n") ==
          "m.mg: error: the model has no assignment: its last NAME = expression is the output");
}

TEST_CASE("an incomplete expression is reported on its own line, not joined with the next") {
    CHECK(parse_error("input X : 2 x 2\nJ = sum(X) +\n  sum(X)\n") ==
          "m.mg:2:13: error: incomplete expression: the line ends after '+'");
    CHECK(parse_error("input X : 2 x 2\nJ = sum(X) -   # comment\n") ==
          "m.mg:2:13: error: incomplete expression: the line ends after '-'");
    CHECK(parse_error("input X : 2 x 2\nJ = sum(\n") == "m.mg:2:9: error: incomplete expression: the line ends after '('");
}

TEST_CASE("unknown names and functions, with a suggestion") {
    const std::string decls = "param W1 : 2 x 2\nparam W2 : 2 x 2\n";
    CHECK(parse_error(decls + "J = sum(W3)\n") == "m.mg:3:9: error: unknown name 'W3' (did you mean W1?)");
    CHECK(parse_error(decls + "J = sum(Q)\n") == "m.mg:3:9: error: unknown name 'Q'");
    CHECK(parse_error(decls + "J = sigmoidd(W1)\n") == "m.mg:3:5: error: unknown function 'sigmoidd' (did you mean sigmoid?)");
    CHECK(parse_error(decls + "J = sum(sigmoid)\n") == "m.mg:3:9: error: 'sigmoid' is a function: call it as sigmoid(...)");
    CHECK(parse_error(decls + "J = frobnicate(W1)\n").rfind("m.mg:3:5: error: unknown function 'frobnicate' (functions: ", 0) == 0);
}

TEST_CASE("a name is assigned once and used after its definition") {
    CHECK(parse_error("param W : 2 x 2\nW = W\nJ = sum(W)\n") ==
          "m.mg:2:1: error: 'W' is already defined on line 1 (a name is assigned once)");
    CHECK(parse_error("param W : 2 x 2\nA = sum(W)\nA = mean(W)\n") ==
          "m.mg:3:1: error: 'A' is already defined on line 2 (a name is assigned once)");
    CHECK(parse_error("input W : 2 x 2\nparam W : 2 x 2\nJ = sum(W)\n") ==
          "m.mg:2:7: error: 'W' is already defined on line 1 (a name is assigned once)");
    CHECK(parse_error("param W : 2 x 2\nA = B + 1\nB = sum(W)\n") ==
          "m.mg:2:5: error: 'B' is used before it is defined (on line 3)");
    CHECK(parse_error("param W : 2 x 2\nA = sum(W) + A\n") == "m.mg:2:14: error: 'A' is used in its own definition");
    CHECK(parse_error("param W : 2 x 2\ninput = sum(W)\n") == "m.mg:2:7: error: expected a name after 'input', got '='");
}

TEST_CASE("shape errors name both operands as written") {
    const std::string decls = "param W : 2x5\ninput X : 3x4\ninput A : 2 x 3\ninput B : 3 x 2\ninput c : 1 x 1\n";
    const lang::Values values{{"W", random_matrix(2, 5, 1)}, {"X", random_matrix(3, 4, 2)}, {"A", random_matrix(2, 3, 3)},
                              {"B", random_matrix(3, 2, 4)}, {"c", random_matrix(1, 1, 5)}};
    CHECK(record_error(decls + "J = sum(W*X)\n", values) ==
          "m.mg:6:10: error: W*X: W is 2x5 but X is 3x4 (inner dimensions 5 and 3 differ)");
    CHECK(record_error(decls + "J = sum((A + 1) @ A)\n", values) ==
          "m.mg:6:17: error: (A + 1) @ A: (A + 1) is 2x3 but A is 2x3 (inner dimensions 3 and 2 differ)");
    CHECK(record_error(decls + "J = sum(A + B)\n", values) ==
          "m.mg:6:11: error: A + B: A is 2x3 but B is 3x2 (not broadcastable: each dimension must agree or be 1)");
    CHECK(record_error(decls + "J = sum(A .* B')\nK = 1\n", values) == "(no error)");
    CHECK(record_error(decls + "J = sum(A ./ B)\n", values) ==
          "m.mg:6:11: error: A ./ B: A is 2x3 but B is 3x2 (not broadcastable: each dimension must agree or be 1)");
    CHECK(record_error(decls + "J = sum(A / B)\n", values) ==
          "m.mg:6:11: error: A / B: B is 3x2, but / divides by a number or 1x1 (use ./ for element-wise division)");
    CHECK(record_error(decls + "J = sum(2 / A)\n", values) ==
          "m.mg:6:11: error: 2 / A: A is 2x3, but / divides by a number or 1x1 (use ./ for element-wise division)");
    CHECK(record_error(decls + "J = sum(A / c) + sum(c*A)\n", values) == "(no error)");
    const std::string failing = record_error(decls + "J = sum(matmul(A, A))\n", values);
    CHECK(failing.rfind("m.mg:6:9: error: matmul(A, A): matmul: ", 0) == 0);  // the op's own message follows
}

TEST_CASE("the output must be 1x1") {
    const lang::Values values{{"X", random_matrix(1, 7, 1)}};
    CHECK(record_error("input X : 1 x 7\nJ = X .* X\n", values) ==
          "m.mg:2:1: error: the output J is 1x7 but must be 1x1 (reduce it, e.g. with sum or mean)");
    lang::Model model = lang::Model::parse("input X : 1 x 7\nS = X + 1\nJ = sum(X)\n", "m.mg");
    try {
        model.set_output("Q");
        FAIL("no error");
    } catch (const lang::Error& e) {
        CHECK(std::string(e.what()) == "m.mg: error: there is no named node 'Q' to make the output (named nodes: S, J)");
    }
    model.set_output("S");
    Tape tape;
    try {
        model.record(tape, values);
        FAIL("no error");
    } catch (const lang::Error& e) {
        CHECK(std::string(e.what()) == "m.mg:2:1: error: the output S is 1x7 but must be 1x1 (reduce it, e.g. with sum or mean)");
    }
}

TEST_CASE("values: missing, mismatched, undeclared, and dimensions bound consistently or unbound") {
    const std::string model = "input X : d x n\ninput Y : 1 x n\nparam W : h x d\nJ = sum(W*X) + sum(Y)\n";
    const Matrix X = random_matrix(3, 7, 1), W = random_matrix(4, 3, 2);
    CHECK(bind_error(model, {{"X", X}, {"W", W}}) ==
          "m.mg:2:7: error: no value for input Y: the value of Y is missing (a seed draws missing values at random)");
    CHECK(bind_error(model, {{"X", X}, {"Y", random_matrix(1, 6, 3)}, {"W", W}}) ==
          "m.mg:2:15: error: the value of Y is 1x6 but n = 7 from the value of X (Y is declared 1 x n)");
    CHECK(bind_error("input X : 10 x 7\nJ = sum(X)\n", {{"X", random_matrix(10, 6, 4)}}) ==
          "m.mg:1:16: error: the value of X is 10x6 but X is declared 10 x 7");
    CHECK(bind_error(model, {{"X", X}, {"Z", X}}) == "m.mg: error: a value was given for 'Z', which the model does not declare");
    lang::BindOptions seeded;
    seeded.seed = 1;
    CHECK(bind_error(model, {{"X", X}}, seeded) ==
          "m.mg:3:11: error: unbound dimension 'h' in the shape of W: give its size (e.g. --dim h=N) or a value that has it");
    lang::BindOptions dims = seeded;
    dims.dims = {{"n", 5}};
    CHECK(bind_error(model, {{"X", X}}, dims) ==
          "m.mg:1:15: error: the value of X is 3x7 but n = 5 (given) (X is declared d x n)");
    dims.dims = {{"k", 5}};
    CHECK(bind_error(model, {{"X", X}}, dims) == "m.mg: error: the model has no dimension named 'k'");
    CHECK(bind_error("input X\nJ = sum(X)\n", {}, seeded) ==
          "m.mg:1:7: error: no value for input X and no shape to draw one: declare X : R x C or give the value of X");
    dims.dims = {{"h", 2}};
    CHECK(bind_error(model, {{"X", X}}, dims) == "(no error)");
}

TEST_CASE("formatted(): the message, the line and a caret under the token") {
    try {
        lang::Model::parse("input X : 2 x 2\n\tJ = sum(X) +\n", "m.mg");
        FAIL("no error");
    } catch (const lang::Error& e) {
        CHECK(e.file() == "m.mg");
        CHECK(e.line() == 2);
        CHECK(e.column() == 14);
        CHECK(e.message() == "incomplete expression: the line ends after '+'");
        CHECK(e.formatted() ==
              "m.mg:2:14: error: incomplete expression: the line ends after '+'\n"
              "  \tJ = sum(X) +\n"
              "  \t            ^");
    }
}

TEST_CASE("deep nesting and long chains are refused instead of exhausting the stack") {
    const std::string deep = "input X : 1 x 1\nJ = " + std::string(600, '(') + "X" + std::string(600, ')') + "\n";
    CHECK(parse_error(deep).find("error: expression nested too deeply (more than 500 levels)") != std::string::npos);
    std::string chain = "input X : 1 x 1\nJ = X";
    for (int k = 0; k < 600; ++k) chain += "+X";
    CHECK(parse_error(chain + "\n").find("error: expression too long (more than 500 operators)") != std::string::npos);
}

TEST_CASE("sizes: a declaration or a dimension too large for memory is refused before anything is allocated") {
    lang::BindOptions options;
    options.seed = 1;
    options.dims = {{"n", 9223372036854775807ull}};  // rows x cols overflows 64 bits
    const std::string square = "param W : n x n\nJ = sum(W .* W)\n";
    CHECK(bind_error(square, {}, options) ==
          "m.mg:1:7: error: param W : n x n (n = 9223372036854775807 (given)): 9223372036854775807x9223372036854775807 "
          "would need 6.81e+38 bytes, over the cap of 134217728 elements (1 GiB) per matrix");
    options.dims = {{"n", 4294967296ull}};  // rows x cols wraps to 0
    CHECK(bind_error("param W : n x n\nJ = tr(W)\n", {}, options).find("4294967296x4294967296 would need 1.48e+20 bytes") !=
          std::string::npos);
    options.dims = {};
    CHECK(bind_error("param W : 100000 x 100000\nJ = sum(W)\n", {}, options) ==
          "m.mg:1:7: error: param W : 100000 x 100000: 100000x100000 would need 8e+10 bytes, over the cap of 134217728 "
          "elements (1 GiB) per matrix");
    options.dims = {{"n", 0}};
    CHECK(bind_error(square, {}, options) == "m.mg: error: n = 0 (given): a dimension's size must be at least 1");
    // Results grow too (an outer product, broadcasting): refused at the operator, by the engine's own check.
    const lang::Values values{{"x", Matrix(std::array<std::size_t, 2>{100000, 1}, 1.0)},
                              {"y", Matrix(std::array<std::size_t, 2>{1, 100000}, 1.0)}};
    CHECK(record_error("input x : 100000 x 1\nJ = sum(x * x')\n", {{"x", values.at("x")}}) ==
          "m.mg:2:11: error: x * x': matmul: the result 100000x100000 would need 8e+10 bytes, over the cap of 134217728 "
          "elements (1 GiB) per matrix");
    CHECK(record_error("input x : 100000 x 1\ninput y : 1 x 100000\nJ = sum(x + y)\n", values) ==
          "m.mg:3:11: error: x + y: add: the result 100000x100000 would need 8e+10 bytes, over the cap of 134217728 "
          "elements (1 GiB) per matrix");
}
