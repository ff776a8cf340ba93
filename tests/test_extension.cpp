// The user-defined ops shipped in examples/custom_op/ work like built-in ones: gradcheck, their
// explain rules, their mistakes in a mutated backward, and calls by name once registered. Also the
// legacy record(name, ..., BackwardFn) form.
#include "../examples/custom_op/user_ops.hpp"
#include "test_util.hpp"

#include <autodiff/inspect.hpp>

#include <doctest/doctest.h>

using namespace matgrad;
using matgrad::test::max_abs_diff;
using matgrad::test::random_matrix;

namespace {
std::string line_for_test(const std::vector<ExplainLine>& lines, const std::string& lhs) {
    for (const ExplainLine& l : lines)
        if (l.lhs == lhs && l.kind == ExplainLine::Kind::backward) return l.formula;
    return "(no line " + lhs + ")";
}
}  // namespace

TEST_CASE("user-defined leaky_relu(x, alpha): value, gradient, rule, mistake, by name") {
    Tape t;
    const Var x = t.variable(Matrix{{-2.0, -0.5, 0.5, 3.0}}, "x");
    const Var y = leaky_relu(x, 0.1).named("y");
    CHECK(max_abs_diff(y.value(), Matrix{{-0.2, -0.05, 0.5, 3.0}}) < 1e-16);
    const Var J = sum(y * t.constant(Matrix{{1.0, 2.0, 3.0, 4.0}}));
    t.backward(J);
    CHECK(max_abs_diff(x.grad(), Matrix{{0.1, 0.2, 3.0, 4.0}}) < 1e-16);
    CHECK(line_for_test(explain(t, J), "dx") == "dy ⊙ [x > 0 ? 1 : 0.1]");
    // Its mistake's description is a template: verify's hints write it with this graph's x and y.
    CHECK(explain_template(t, J, y, leaky_relu_def.mistakes[0].description) == "the slope left out: dx = dy");
    CHECK(explain_template(t, J, y, "the slope left out") == "the slope left out");  // plain text stays
    t.backward(J, {{y.index(), 0}});  // missing_activation_derivative: dx = dy
    CHECK(max_abs_diff(x.grad(), Matrix{{1.0, 2.0, 3.0, 4.0}}) == 0.0);

    const GradcheckResult r = gradcheck(
        [](Tape& tape, const std::vector<Var>& v) {
            return sum(leaky_relu(v[0], 0.2) * tape.constant(random_matrix(3, 4, 2)));
        },
        {random_matrix(3, 4, 1)});
    INFO(r.message);
    CHECK(r.ok);

    if (find_op("leaky_relu") == nullptr) register_op(leaky_relu_def);
    CHECK_THROWS_WITH_AS(register_op(leaky_relu_def), "register_op: an op named 'leaky_relu' already exists", UsageError);
    Tape u;
    CHECK(apply_op("leaky_relu", {u.constant(Matrix{{-1.0}})}, {0.5}).value()(0, 0) == -0.5);
}

TEST_CASE("user-defined ops differentiate twice through their own second-order rules") {
    const HvpcheckResult r = hvpcheck(
        [](Tape& tape, const std::vector<Var>& v) {
            return frobenius_dot(leaky_relu(v[0], 0.2) * v[0], v[1] * tape.constant(random_matrix(3, 4, 5)));
        },
        {random_matrix(3, 4, 1), random_matrix(3, 4, 2)});
    INFO(r.message);
    CHECK(r.ok);
}

TEST_CASE("user-defined frobenius_dot through the general record() API") {
    const GradcheckResult r = gradcheck(
        [](Tape&, const std::vector<Var>& v) { return frobenius_dot(sigmoid(v[0]), v[1]); },
        {random_matrix(3, 4, 3), random_matrix(3, 4, 4)});
    INFO(r.message);
    CHECK(r.ok);
    Tape t;
    const Var a = t.variable(Matrix{{1.0, 2.0}}, "a"), b = t.variable(Matrix{{1.0}}, "b");
    CHECK_THROWS_WITH_AS(frobenius_dot(a, b), "frobenius_dot: a is 1x2 but b is 1x1", ShapeError);
    const Var c = t.variable(Matrix{{3.0, 5.0}}, "c");
    const Var J = frobenius_dot(a, c).named("J");
    t.backward(J);
    CHECK(line_for_test(explain(t, J), "da") == "c");  // g = 1
    CHECK(explain_template(t, J, J, frobenius_dot_def.mistakes[0].description) ==
          "each operand's gradient taken from itself: da = dJ a, not dJ c");
    t.backward(J, {{J.index(), 0}});                   // own_operand: da = g a
    CHECK(max_abs_diff(a.grad(), Matrix{{1.0, 2.0}}) == 0.0);
}

TEST_CASE("record accepts any number of inputs, and the form without a definition still works") {
    Tape t;
    std::vector<Var> xs;
    for (int k = 0; k < 5; ++k) xs.push_back(t.variable(Matrix{{double(k)}}));
    const Var total = t.record(
        "sum5", xs, 1, 1,
        [&](Matrix& out) {
            out(0, 0) = 0.0;
            for (const Var& v : xs) out(0, 0) += v.value()(0, 0);
        },
        [](const BackwardContext& ctx) {
            for (std::size_t i = 0; i < ctx.num_inputs(); ++i) ctx.grad_input(i) += ctx.grad_output();
        });
    t.backward(total);
    CHECK(total.value()(0, 0) == 10.0);
    CHECK(total.def() == nullptr);
    for (const Var& v : xs) CHECK(v.grad()(0, 0) == 1.0);
}
