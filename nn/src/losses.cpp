// Binary cross-entropy: the slides' composed form and the stable one-op form from logits.
#include <nn/losses.hpp>

#include <autodiff/ops.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace matgrad::nn {

Var binary_cross_entropy(const Var& A, const Var& Y) {
    return -mean(Y * log(A) + (1.0 - Y) * log(1.0 - A));
}

// -[y log σ(z) + (1-y) log(1-σ(z))] = max(z,0) - z y + log(1 + e^-|z|): e^-|z| <= 1, so neither exp
// overflows nor log sees 0.  d/dz = σ(z) - y,  d/dy = -z.
Var binary_cross_entropy_with_logits(const Var& Z, const Var& Y) {
    if (Z.shape() != Y.shape())
        throw ShapeError("binary_cross_entropy_with_logits: " + Z.describe() + " is " + Z.shape_string() +
                         " but " + Y.describe() + " is " + Y.shape_string() + " (they must have the same shape)");
    return Z.tape().record(
        "bce_with_logits", {Z, Y}, 1, 1,
        [&](Matrix& out) {
            const double* z = Z.value().data();
            const double* y = Y.value().data();
            const std::size_t n = Z.value().size();
            double total = 0.0;
            for (std::size_t k = 0; k < n; ++k)
                total += std::max(z[k], 0.0) - z[k] * y[k] + std::log1p(std::exp(-std::abs(z[k])));
            out(0, 0) = total / static_cast<double>(n);
        },
        [](const BackwardContext& ctx) {
            const double* z = ctx.input(0).data();
            const double* y = ctx.input(1).data();
            const std::size_t n = ctx.input(0).size();
            const double g = ctx.grad_output()(0, 0) / static_cast<double>(n);
            if (ctx.needs_grad(0)) {
                double* dz = ctx.grad_input(0).data();
                for (std::size_t k = 0; k < n; ++k) dz[k] += g * (matgrad::sigmoid(z[k]) - y[k]);
            }
            if (ctx.needs_grad(1)) {
                double* dy = ctx.grad_input(1).data();
                for (std::size_t k = 0; k < n; ++k) dy[k] += -g * z[k];
            }
        });
}

double accuracy(const Matrix& output, const Matrix& labels, double threshold) {
    if (output.shape() != labels.shape() || output.size() == 0)
        throw std::invalid_argument("accuracy: output is " + shape_string(output) + " but labels are " +
                                    shape_string(labels));
    std::size_t correct = 0;
    for (std::size_t k = 0; k < output.size(); ++k)
        correct += (output.data()[k] >= threshold ? 1.0 : 0.0) == labels.data()[k];
    return static_cast<double>(correct) / static_cast<double>(output.size());
}

}  // namespace matgrad::nn
