// Seeded initialization (see <nn/init.hpp> for the schemes and why).
#include <nn/init.hpp>

#include <cmath>

namespace matgrad::nn {

constexpr double pi = 3.14159265358979323846;

double Rng::uniform() {
    return static_cast<double>(engine_() >> 11) * 0x1.0p-53;  // the top 53 bits: every double in [0, 1) step 2^-53
}

double Rng::normal() {
    if (has_spare_) {
        has_spare_ = false;
        return spare_;
    }
    const double u1 = 1.0 - uniform();  // (0, 1]: log(u1) is finite
    const double u2 = uniform();
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double angle = 2.0 * pi * u2;
    spare_ = radius * std::sin(angle);
    has_spare_ = true;
    return radius * std::cos(angle);
}

Matrix random_normal(std::size_t rows, std::size_t cols, Rng& rng, double scale) {
    Matrix m({rows, cols});
    for (double& x : m) x = scale * rng.normal();
    return m;
}

void xavier_uniform(Matrix& W, Rng& rng) {
    const double limit = std::sqrt(6.0 / static_cast<double>(W.shape(0) + W.shape(1)));
    for (double& w : W) w = limit * (2.0 * rng.uniform() - 1.0);
}

void he_normal(Matrix& W, Rng& rng) {
    const double stddev = std::sqrt(2.0 / static_cast<double>(W.shape(1)));
    for (double& w : W) w = stddev * rng.normal();
}

void init_layer(Linear& layer, Activation activation, Rng& rng) {
    if (activation == Activation::relu)
        he_normal(layer.W, rng);
    else
        xavier_uniform(layer.W, rng);
    layer.b.fill(0.0);
}

}  // namespace matgrad::nn
