// The vectorized exp and sigmoid kernels (autodiff/src/vector_math.hpp) against libm's std::exp and
// the scalar sigmoid formula, every clone this CPU can run, over the whole double range; and the
// engine's sigmoid, exp and softplus ops, whose forward runs on them.
#include <vector_math.hpp>

#include <autodiff/autodiff.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

using namespace matgrad::vector_math;

namespace {

// Ulps between two non-negative doubles (their bit patterns are ordered like their values); zero
// exactly when the bits are equal, whatever the sign.
double ulps_apart(double a, double b) {
    std::uint64_t ua, ub;
    std::memcpy(&ua, &a, sizeof a);
    std::memcpy(&ub, &b, sizeof b);
    return static_cast<double>(ua > ub ? ua - ub : ub - ua);
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](double x, double y) { return ulps_apart(x, y) == 0; });
}

std::vector<Isa> runnable_isas() {
    std::vector<Isa> isas{Isa::baseline};
    if (cpu_supports(Isa::avx2)) isas.push_back(Isa::avx2);
    return isas;
}

// A dense grid over [-800, 800] (past both ends of exp's range), random points, the subnormal
// results between -745.2 and -708.3, and the edges: overflow, the smallest subnormal, ln2 steps,
// tiny and subnormal inputs, signed zeros.
std::vector<double> test_inputs() {
    std::vector<double> x;
    for (int i = 0; i <= 400000; ++i) x.push_back(-800.0 + 1600.0 * i / 400000.0);
    std::mt19937_64 rng(11);
    std::uniform_real_distribution<double> wide(-746.0, 710.0), near_zero(-2.0, 2.0), subnormal(-745.2, -708.3);
    for (int i = 0; i < 200000; ++i) {
        x.push_back(wide(rng));
        x.push_back(near_zero(rng));
        x.push_back(subnormal(rng));
    }
    for (double e : {0.0, -0.0, 1e-300, -1e-300, 4.9e-324, -4.9e-324, 1e-17, 0.5, 1.0, 700.0, 709.0, -709.0,
                     709.782712893384, 709.79, 710.0, -708.3964185322641, -745.1332191019411, -745.14,
                     -746.0, 800.0, -800.0, 1e300, -1e300})
        x.push_back(e);
    for (int k = -1074; k <= 1023; ++k) x.push_back(k * 0.6931471805599453);
    return x;
}

using Kernel = void (*)(Isa, const double*, double*, std::size_t);

struct Worst {
    double ulps, at;
};

// Runs kernel on isa over x into out; the largest ulps distance from reference(x) and where.
template <class Reference>
Worst worst_ulps(Kernel kernel, Isa isa, const std::vector<double>& x, std::vector<double>& out,
                 Reference reference) {
    kernel(isa, x.data(), out.data(), x.size());
    double worst = 0.0, worst_at = 0.0;
    for (std::size_t k = 0; k < x.size(); ++k) {
        const double d = ulps_apart(out[k], reference(x[k]));
        if (!(d <= worst)) worst = d, worst_at = x[k];
    }
    return {worst, worst_at};
}

}  // namespace

TEST_CASE("exp_array is within kExpMaxUlps of std::exp over the whole range, on every clone") {
    const std::vector<double> x = test_inputs();
    std::vector<double> out(x.size());
    for (const Isa isa : runnable_isas()) {
        const Worst w = worst_ulps(exp_array, isa, x, out, [](double v) { return std::exp(v); });
        INFO("isa " << static_cast<int>(isa) << ": " << w.ulps << " ulps at x = " << w.at);
        CHECK(w.ulps <= kExpMaxUlps);
    }
}

TEST_CASE("exp_array: exact values and limits from closed forms") {
    const double inf = std::numeric_limits<double>::infinity();
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const std::vector<double> x{0.0, 1.0, 709.782712893384, -745.1332191019411, 710.0, 800.0, -746.0, -800.0,
                                inf, -inf, nan};
    std::vector<double> out(x.size());
    for (const Isa isa : runnable_isas()) {
        exp_array(isa, x.data(), out.data(), x.size());
        CHECK(out[0] == 1.0);
        CHECK(ulps_apart(out[1], 2.718281828459045) <= kExpMaxUlps);  // e
        CHECK(ulps_apart(out[2], 1.7976931348622732e308) <= kExpMaxUlps);  // ln(DBL_MAX)
        CHECK(out[3] == 4.9406564584124654e-324);  // ln of the smallest subnormal
        CHECK(out[4] == inf);
        CHECK(out[5] == inf);
        CHECK(out[6] == 0.0);
        CHECK(out[7] == 0.0);
        CHECK(out[8] == inf);
        CHECK(out[9] == 0.0);
        CHECK(std::isnan(out[10]));
    }
}

TEST_CASE("sigmoid_array is within kSigmoidMaxUlps of 1 / (1 + std::exp(-x)) and never NaN for a number") {
    const std::vector<double> x = test_inputs();
    std::vector<double> out(x.size());
    for (const Isa isa : runnable_isas()) {
        const Worst w =
            worst_ulps(sigmoid_array, isa, x, out, [](double v) { return 1.0 / (1.0 + std::exp(-v)); });
        INFO("isa " << static_cast<int>(isa) << ": " << w.ulps << " ulps at x = " << w.at);
        CHECK(w.ulps <= kSigmoidMaxUlps);
        CHECK(std::all_of(out.begin(), out.end(), [](double s) { return s >= 0.0 && s <= 1.0; }));
    }
}

TEST_CASE("sigmoid_array: limits at +-800 and +-inf, 1/2 at 0, NaN stays NaN") {
    const double inf = std::numeric_limits<double>::infinity();
    const std::vector<double> x{800.0, -800.0, inf, -inf, 0.0, std::numeric_limits<double>::quiet_NaN()};
    std::vector<double> out(x.size());
    for (const Isa isa : runnable_isas()) {
        sigmoid_array(isa, x.data(), out.data(), x.size());
        CHECK(out[0] == 1.0);
        CHECK(out[1] == 0.0);
        CHECK(out[2] == 1.0);
        CHECK(out[3] == 0.0);
        CHECK(out[4] == 0.5);
        CHECK(std::isnan(out[5]));
    }
}

TEST_CASE("the clones agree bit for bit, every length (vector tails), in place too") {
    std::mt19937_64 rng(5);
    std::normal_distribution<double> normal(0.0, 30.0);
    for (std::size_t n = 0; n <= 19; ++n) {
        std::vector<double> x(n);
        for (double& v : x) v = normal(rng);
        std::vector<double> reference(n), out(n);
        exp_array(Isa::baseline, x.data(), reference.data(), n);
        for (const Isa isa : runnable_isas()) {
            exp_array(isa, x.data(), out.data(), n);
            CHECK(same_bits(out, reference));
        }
        sigmoid_array(Isa::baseline, x.data(), reference.data(), n);
        std::vector<double> in_place = x;
        sigmoid_array(in_place.data(), in_place.data(), n);  // the dispatched clone
        CHECK(same_bits(in_place, reference));
    }
}

TEST_CASE("the sigmoid, exp and softplus ops compute their forward with the kernels, within the stated ulps") {
    // Every length up to 19 (vector tails) and a 3 x 700 grid over [-740, 740].
    std::vector<matgrad::Matrix> inputs;
    std::mt19937_64 rng(7);
    std::normal_distribution<double> normal(0.0, 20.0);
    for (std::size_t n = 1; n <= 19; ++n) {
        matgrad::Matrix x({std::size_t{1}, n});
        for (double& v : x) v = normal(rng);
        inputs.push_back(x);
    }
    matgrad::Matrix grid({std::size_t{3}, std::size_t{700}});
    for (std::size_t k = 0; k < grid.size(); ++k) grid.data()[k] = -740.0 + 1480.0 * static_cast<double>(k) / 2099.0;
    inputs.push_back(grid);
    double worst_softplus = 0.0;
    for (const matgrad::Matrix& x : inputs) {
        matgrad::Tape t;
        const matgrad::Var v = t.constant(x);
        const matgrad::Matrix s = matgrad::sigmoid(v).value(), e = matgrad::exp(v).value(),
                              sp = matgrad::softplus(v).value();
        std::vector<double> kernel_s(x.size()), kernel_e(x.size());
        sigmoid_array(x.data(), kernel_s.data(), x.size());
        exp_array(x.data(), kernel_e.data(), x.size());
        for (std::size_t k = 0; k < x.size(); ++k) {
            const double xk = x.data()[k];
            INFO("x = " << xk);
            CHECK(ulps_apart(s.data()[k], kernel_s[k]) == 0);  // the kernel's bits: the op uses it
            CHECK(ulps_apart(e.data()[k], kernel_e[k]) == 0);
            CHECK(ulps_apart(s.data()[k], 1.0 / (1.0 + std::exp(-xk))) <= kSigmoidMaxUlps);
            CHECK(ulps_apart(e.data()[k], std::exp(xk)) <= kExpMaxUlps);
            // softplus = max(x, 0) + log1p(e^-|x|) with the kernel's e^-|x|: log1p passes exp's
            // relative error on at most 1:1, plus its own rounding.
            const double scalar = std::max(xk, 0.0) + std::log1p(std::exp(-std::abs(xk)));
            worst_softplus = std::max(worst_softplus, ulps_apart(sp.data()[k], scalar));
        }
    }
    INFO("softplus: " << worst_softplus << " ulps");
    CHECK(worst_softplus <= kExpMaxUlps + 1.0);
}
