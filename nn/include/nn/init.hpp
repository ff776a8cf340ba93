// Seeded parameter initialization. The random numbers come from std::mt19937_64 turned into
// uniform and normal values by code in this library (not std::*_distribution, whose algorithms the
// C++ standard leaves to each library), so a seed gives the same parameters on every platform.
#pragma once

#include <autodiff/tape.hpp>
#include <nn/layers.hpp>

#include <cstdint>
#include <random>

namespace matgrad::nn {

/// A seeded source of uniform and standard normal doubles, the same on every platform.
class Rng {
public:
    /// A generator seeded with `seed`: the same seed gives the same numbers on every platform.
    explicit Rng(std::uint64_t seed) : engine_(seed) {}
    double uniform();  ///< in [0, 1), 53 random bits
    double normal();   ///< N(0, 1) by the Box-Muller transform

private:
    std::mt19937_64 engine_;
    bool has_spare_ = false;
    double spare_ = 0.0;
};

/// rows x cols of N(0, 1) values scaled by `scale`.
Matrix random_normal(std::size_t rows, std::size_t cols, Rng& rng, double scale = 1.0);

/// Xavier/Glorot uniform (Glorot & Bengio 2010): W ~ U(-a, a) with a = sqrt(6 / (in + out)), which
/// keeps the variance of activations and gradients roughly constant across sigmoid/tanh layers.
void xavier_uniform(Matrix& W, Rng& rng);

/// He/Kaiming normal (He et al. 2015): W ~ N(0, 2 / in), the variance relu layers need because they
/// zero half their inputs.
void he_normal(Matrix& W, Rng& rng);

/// He for relu, Xavier otherwise; the bias is set to zero.
void init_layer(Linear& layer, Activation activation, Rng& rng);

}  // namespace matgrad::nn
