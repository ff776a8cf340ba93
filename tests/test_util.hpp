// Helpers shared by the test files: seeded random matrices and exact comparisons.
#pragma once

#include <autodiff/autodiff.hpp>

#include <algorithm>
#include <cmath>
#include <random>

namespace matgrad::test {

/// A rows x cols matrix of N(mean, 1) values from a fixed seed.
inline Matrix random_matrix(std::size_t rows, std::size_t cols, unsigned seed, double mean = 0.0) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal(mean, 1.0);
    Matrix m({rows, cols});
    for (double& x : m) x = normal(rng);
    return m;
}

/// max |a - b|, or +inf when the shapes differ.
inline double max_abs_diff(const Matrix& a, const Matrix& b) {
    if (a.shape() != b.shape()) return INFINITY;
    double worst = 0.0;
    for (std::size_t k = 0; k < a.size(); ++k) {
        const double d = std::abs(a.data()[k] - b.data()[k]);
        if (!(d <= worst)) worst = d;  // NaN propagates
    }
    return worst;
}

}  // namespace matgrad::test
