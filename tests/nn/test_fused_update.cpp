// The fused optimizer loops (nn/src/fused_update.hpp) against the SGD / AdamW formulas written out
// here element by element, and bit for bit against the xtensor expressions SGD::step and Adam::step
// evaluated before (with and without weight decay), so that wiring them in changed no trained weight.
#include "test_util.hpp"

#include <fused_update.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>
#include <xtensor/xmath.hpp>

using namespace matgrad;
using matgrad::test::random_matrix;

namespace {

constexpr double kRel = 1e-15;  // the formulas below round differently from the loops

bool same_bits(const Matrix& a, const Matrix& b) {
    return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

}  // namespace

TEST_CASE("sgd_update: p - lr (g + wd p), element by element") {
    const double lr = 0.05, wd = 0.01;
    const std::vector<double> p0{1.0, -2.0, 0.5, 3.0, 0.0}, g{0.5, 4.0, -1.0, 0.0, 2.0};
    std::vector<double> p = p0;
    nn::fused::sgd_update(p.data(), g.data(), p.size(), lr, wd);
    for (std::size_t k = 0; k < p.size(); ++k) {
        const double expected = p0[k] - lr * (g[k] + wd * p0[k]);
        CHECK(std::abs(p[k] - expected) <= kRel * std::max(1.0, std::abs(expected)));
    }
    // Without decay it is p - lr g to the last bit: 1 - 0.05 * 0.5 = 0.975.
    std::vector<double> q{1.0};
    const double h = 0.5;
    nn::fused::sgd_update(q.data(), &h, 1, lr, 0.0);
    CHECK(q[0] == 1.0 - 0.05 * 0.5);
}

TEST_CASE("adam_update: three AdamW steps against the formulas with bias correction") {
    const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.1;
    const std::vector<std::vector<double>> grads{{0.5, -4.0, 1e-3}, {1.0, 2.0, 0.0}, {-0.25, 0.0, 3.0}};
    std::vector<double> p{1.0, -2.0, 0.3}, m(3, 0.0), v(3, 0.0);
    std::vector<double> ep = p, em(3, 0.0), ev(3, 0.0);  // the expected state, kept separately
    for (std::size_t t = 1; t <= grads.size(); ++t) {
        const double c1 = 1.0 - std::pow(b1, t), c2 = 1.0 - std::pow(b2, t);
        nn::fused::adam_update(p.data(), grads[t - 1].data(), m.data(), v.data(), 3, lr, b1, b2, eps, c1, c2, wd);
        for (std::size_t k = 0; k < 3; ++k) {
            const double g = grads[t - 1][k];
            em[k] = b1 * em[k] + (1 - b1) * g;
            ev[k] = b2 * ev[k] + (1 - b2) * g * g;
            const double m_hat = em[k] / c1, v_hat = ev[k] / c2;
            ep[k] = ep[k] - lr * wd * ep[k] - lr * m_hat / (std::sqrt(v_hat) + eps);
            INFO("step " << t << ", element " << k);
            CHECK(std::abs(m[k] - em[k]) <= kRel * std::abs(em[k]));
            CHECK(std::abs(v[k] - ev[k]) <= kRel * std::abs(ev[k]));
            CHECK(std::abs(p[k] - ep[k]) <= kRel * std::abs(ep[k]));
        }
    }
    // Step 1 in closed form: m̂ = g and v̂ = g², so p = p0 (1 - lr wd) - lr g / (|g| + eps).
    std::vector<double> q{1.0}, qm{0.0}, qv{0.0};
    const double g = 0.5;
    nn::fused::adam_update(q.data(), &g, qm.data(), qv.data(), 1, lr, b1, b2, eps, 1 - b1, 1 - b2, wd);
    CHECK(std::abs(q[0] - (1.0 * (1 - lr * wd) - lr * 0.5 / (0.5 + eps))) <= kRel);
}

TEST_CASE("fused loops give the bits of the xtensor optimizer expressions they replaced, every length") {
    const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8;
    for (const double wd : {0.0, 0.1})
        for (std::size_t n : {1u, 2u, 3u, 5u, 7u, 8u, 13u, 64u, 4096u + 3u}) {
            Matrix p = random_matrix(1, n, 1), m = xt::zeros<double>({std::size_t{1}, n}), v = m;
            Matrix xp = p, xm = m, xv = m, sp = p, xsp = p;
            for (std::size_t t = 1; t <= 3; ++t) {
                const Matrix g = random_matrix(1, n, static_cast<unsigned>(10 + t));
                const double c1 = 1.0 - std::pow(b1, t), c2 = 1.0 - std::pow(b2, t);
                nn::fused::adam_update(p.data(), g.data(), m.data(), v.data(), n, lr, b1, b2, eps, c1, c2, wd);
                // nn/src/optim.cpp's Adam::step before the fused loop:
                if (wd != 0.0) xp *= 1.0 - lr * wd;
                xt::noalias(xm) = b1 * xm + (1.0 - b1) * g;
                xt::noalias(xv) = b2 * xv + (1.0 - b2) * g * g;
                xt::noalias(xp) -= lr * (xm / c1) / (xt::sqrt(xv / c2) + eps);
                nn::fused::sgd_update(sp.data(), g.data(), n, lr, wd);
                if (wd != 0.0) xsp *= 1.0 - lr * wd;  // SGD::step before the fused loop
                xt::noalias(xsp) -= lr * g;
            }
            INFO("n = " << n << ", weight decay " << wd);
            CHECK(same_bits(m, xm));
            CHECK(same_bits(v, xv));
            CHECK(same_bits(p, xp));
            CHECK(same_bits(sp, xsp));
        }
}
