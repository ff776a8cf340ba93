// The user-defined ops shipped in examples/custom_op/ work like built-in ones.
#include "../examples/custom_op/softplus.hpp"
#include "test_util.hpp"

#include <doctest/doctest.h>

using namespace matgrad;
using matgrad::test::random_matrix;

TEST_CASE("user-defined softplus: value, stability and gradient") {
    Tape t;
    const Var s = softplus(t.constant(Matrix{{-1000.0, -1.0, 0.0, 2.0, 1000.0}}));
    CHECK(s.value()(0, 0) == 0.0);
    CHECK(s.value()(0, 1) == doctest::Approx(std::log(1 + std::exp(-1.0))).epsilon(1e-15));
    CHECK(s.value()(0, 2) == doctest::Approx(std::log(2.0)).epsilon(1e-15));
    CHECK(s.value()(0, 3) == doctest::Approx(std::log(1 + std::exp(2.0))).epsilon(1e-15));
    CHECK(s.value()(0, 4) == 1000.0);

    const GradcheckResult r = gradcheck(
        [](Tape& tape, const std::vector<Var>& v) {
            return sum(softplus(v[0]) * tape.constant(random_matrix(3, 4, 2)));
        },
        {random_matrix(3, 4, 1)});
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
}
