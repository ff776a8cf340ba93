// SGD and Adam against updates computed by hand from their formulas (the numbers are written out
// here, not taken from the optimizer).
#include "test_util.hpp"

#include <nn/nn.hpp>

#include <doctest/doctest.h>

#include <cmath>

using namespace matgrad;
using matgrad::test::max_abs_diff;

TEST_CASE("SGD: p -= lr * g") {
    Matrix p{{1.0, -2.0}, {0.5, 3.0}};
    const Matrix g{{0.5, 4.0}, {-1.0, 0.0}};
    nn::SGD sgd(0.1);
    sgd.step({&p}, {&g});
    CHECK(max_abs_diff(p, Matrix{{0.95, -2.4}, {0.6, 3.0}}) <= 1e-15);
}

TEST_CASE("Adam: two steps match the formulas with bias correction") {
    Matrix p{{1.0, -2.0}};
    Matrix q{{0.0}};  // a second parameter: state is kept per parameter
    nn::Adam adam(0.1);  // beta1 0.9, beta2 0.999, epsilon 1e-8

    const Matrix g1{{0.5, -4.0}}, h1{{2.0}};
    adam.step({&p, &q}, {&g1, &h1});
    // Step 1: m = 0.1 g, v = 0.001 g², m̂ = m / 0.1 = g, v̂ = v / 0.001 = g², so p -= 0.1 g / (|g| + 1e-8).
    CHECK(p(0, 0) == doctest::Approx(1.0 - 0.1 * 0.5 / (0.5 + 1e-8)).epsilon(1e-14));
    CHECK(p(0, 1) == doctest::Approx(-2.0 + 0.1 * 4.0 / (4.0 + 1e-8)).epsilon(1e-14));
    CHECK(q(0, 0) == doctest::Approx(-0.1 * 2.0 / (2.0 + 1e-8)).epsilon(1e-14));

    const double p1_0 = p(0, 0), p1_1 = p(0, 1);
    const Matrix g2{{1.0, 2.0}}, h2{{0.0}};
    adam.step({&p, &q}, {&g2, &h2});
    // Step 2: m = 0.9 m1 + 0.1 g2, v = 0.999 v1 + 0.001 g2², corrections 1 - 0.9² and 1 - 0.999².
    const double m0 = 0.9 * 0.05 + 0.1 * 1.0, m1 = 0.9 * -0.4 + 0.1 * 2.0;
    const double v0 = 0.999 * 0.00025 + 0.001 * 1.0, v1 = 0.999 * 0.016 + 0.001 * 4.0;
    const double c1 = 1.0 - 0.81, c2 = 1.0 - 0.998001;
    CHECK(p(0, 0) == doctest::Approx(p1_0 - 0.1 * (m0 / c1) / (std::sqrt(v0 / c2) + 1e-8)).epsilon(1e-14));
    CHECK(p(0, 1) == doctest::Approx(p1_1 - 0.1 * (m1 / c1) / (std::sqrt(v1 / c2) + 1e-8)).epsilon(1e-14));
    CHECK(adam.steps_taken() == 2);
}

TEST_CASE("optimizers refuse mismatched parameter and gradient lists") {
    Matrix p{{1.0, 2.0}};
    const Matrix g{{1.0}};
    nn::SGD sgd(0.1);
    CHECK_THROWS_WITH_AS(sgd.step({&p}, {&g}), "SGD: parameter 0 is 1x2 but its gradient is 1x1",
                         std::invalid_argument);
    CHECK_THROWS_AS(sgd.step({&p}, {}), std::invalid_argument);
    nn::Adam adam;
    const Matrix g2{{1.0, 1.0}};
    adam.step({&p}, {&g2});
    Matrix bigger{{1.0, 2.0, 3.0}};
    const Matrix g3{{1.0, 1.0, 1.0}};
    CHECK_THROWS_WITH_AS(adam.step({&bigger}, {&g3}), "Adam: parameter 0 is 1x3 but was 1x2 at the first step",
                         std::invalid_argument);
}

TEST_CASE("weight decay: one SGD step is p -= lr (g + λ p), one AdamW step p -= lr λ p + the Adam step") {
    Matrix p{{1.0, -2.0}};
    const Matrix g{{0.5, 4.0}};
    nn::SGD sgd(0.1, 0.2);
    sgd.step({&p}, {&g});
    CHECK(p(0, 0) == doctest::Approx(1.0 - 0.1 * (0.5 + 0.2 * 1.0)).epsilon(1e-15));
    CHECK(p(0, 1) == doctest::Approx(-2.0 - 0.1 * (4.0 + 0.2 * -2.0)).epsilon(1e-15));

    Matrix q{{1.0, -2.0}};
    nn::Adam adamw(0.1, 0.9, 0.999, 1e-8, 0.2);
    adamw.step({&q}, {&g});
    // Decoupled: the decay is not part of m and v, so the Adam part is still lr g / (|g| + ε).
    CHECK(q(0, 0) == doctest::Approx(1.0 - 0.1 * 0.2 * 1.0 - 0.1 * 0.5 / (0.5 + 1e-8)).epsilon(1e-14));
    CHECK(q(0, 1) == doctest::Approx(-2.0 - 0.1 * 0.2 * -2.0 - 0.1 * 4.0 / (4.0 + 1e-8)).epsilon(1e-14));
}

// Newton's method (nn/newton.hpp): exact Hessians, a line search, Levenberg–Marquardt damping where
// the Hessian is not positive definite, and the documented refusal above max_params.
TEST_CASE("newton_minimize: damped where the Hessian is indefinite, quadratic convergence near the minimum") {
    // f(x, y) = x⁴/4 − x²/2 + y²: ∂²f/∂x² = 3x² − 1 < 0 at the start x = 0.1, minima at x = ±1, y = 0
    const GraphBuilder f = [](Tape&, const std::vector<Var>& p) {
        return sum(pow(p[0], 4.0) / 4.0 - p[0] * p[0] / 2.0 + p[1] * p[1]);
    };
    Matrix x{{0.1}}, y{{0.7}};
    const nn::NewtonResult r = nn::newton_minimize(f, {&x, &y});
    REQUIRE(r.converged);
    CHECK(r.history.size() <= 20);
    CHECK(r.history.front().damping > 0.0);    // indefinite at the start: damped
    CHECK(r.history.back().gradient_norm <= 1e-8);
    CHECK(std::abs(std::abs(x(0, 0)) - 1.0) <= 1e-8);
    CHECK(std::abs(y(0, 0)) <= 1e-8);
    for (std::size_t k = 1; k < r.history.size(); ++k) CHECK(r.history[k].loss <= r.history[k - 1].loss);

    nn::NewtonOptions options;
    options.max_params = 1;
    CHECK_THROWS_WITH_AS(nn::newton_minimize(f, {&x, &y}, options),
                         "newton: 2 parameters, more than the 1 Newton's method takes (each step builds and factors the "
                         "dense n x n Hessian); use a first-order optimizer (adam, sgd)",
                         std::invalid_argument);
}
