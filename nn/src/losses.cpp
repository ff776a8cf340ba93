// The losses: binary cross-entropy (the slides' composed form and the stable one-op form from
// logits), softmax cross-entropy and mean squared error (one op each), and the metrics.
#include <nn/losses.hpp>

#include <autodiff/ops.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace matgrad::nn {

namespace {

void require_same_shape(const char* loss, const Var& A, const Var& B) {
    if (A.shape() != B.shape())
        throw ShapeError(std::string(loss) + ": " + A.describe() + " is " + A.shape_string() + " but " +
                         B.describe() + " is " + B.shape_string() + " (they must have the same shape)");
}

/// log Σ_i exp(z_i) over column j of Z, shifted by the column's maximum so no exp overflows.
double column_log_sum_exp(const Matrix& Z, std::size_t j) {
    double top = Z(0, j);
    for (std::size_t i = 1; i < Z.shape(0); ++i) top = std::max(top, Z(i, j));
    double sum = 0.0;
    for (std::size_t i = 0; i < Z.shape(0); ++i) sum += std::exp(Z(i, j) - top);
    return top + std::log(sum);
}

}  // namespace

Var binary_cross_entropy(const Var& A, const Var& Y) {
    return -mean(Y * log(A) + (1.0 - Y) * log(1.0 - A));
}

// -[y log σ(z) + (1-y) log(1-σ(z))] = max(z,0) - z y + log(1 + e^-|z|): e^-|z| <= 1, so neither exp
// overflows nor log sees 0.  d/dz = σ(z) - y,  d/dy = -z.
Var binary_cross_entropy_with_logits(const Var& Z, const Var& Y) {
    require_same_shape("binary_cross_entropy_with_logits", Z, Y);
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

// Per sample j: Σ_i y_ij (lse_j - z_ij) = -Σ_i y_ij log softmax(z)_ij, with lse_j = log Σ_i e^z_ij taken
// after subtracting the column maximum, so logits of any size stay finite.
//   d/dz_ij = ((Σ_l y_lj) softmax_ij - y_ij) / n   (= (softmax - Y)/n for one-hot Y),
//   d/dy_ij = (lse_j - z_ij) / n.
Var softmax_cross_entropy(const Var& Z, const Var& Y) {
    require_same_shape("softmax_cross_entropy", Z, Y);
    return Z.tape().record(
        "softmax_cross_entropy", {Z, Y}, 1, 1,
        [&](Matrix& out) {
            const Matrix& z = Z.value();
            const Matrix& y = Y.value();
            double total = 0.0;
            for (std::size_t j = 0; j < z.shape(1); ++j) {
                const double lse = column_log_sum_exp(z, j);
                for (std::size_t i = 0; i < z.shape(0); ++i) total += y(i, j) * (lse - z(i, j));
            }
            out(0, 0) = total / static_cast<double>(z.shape(1));
        },
        [](const BackwardContext& ctx) {
            const Matrix& z = ctx.input(0);
            const Matrix& y = ctx.input(1);
            const double g = ctx.grad_output()(0, 0) / static_cast<double>(z.shape(1));
            Matrix* dz = ctx.needs_grad(0) ? &ctx.grad_input(0) : nullptr;
            Matrix* dy = ctx.needs_grad(1) ? &ctx.grad_input(1) : nullptr;
            for (std::size_t j = 0; j < z.shape(1); ++j) {
                const double lse = column_log_sum_exp(z, j);
                double y_sum = 0.0;
                for (std::size_t i = 0; i < z.shape(0); ++i) y_sum += y(i, j);
                for (std::size_t i = 0; i < z.shape(0); ++i) {
                    if (dz) (*dz)(i, j) += g * (y_sum * std::exp(z(i, j) - lse) - y(i, j));
                    if (dy) (*dy)(i, j) += g * (lse - z(i, j));
                }
            }
        });
}

// J = (1/N) Σ (a - t)² over all N entries;  dJ/da = 2 (a - t) / N,  dJ/dt = -2 (a - t) / N.
Var mse(const Var& A, const Var& T) {
    require_same_shape("mse", A, T);
    return A.tape().record(
        "mse", {A, T}, 1, 1,
        [&](Matrix& out) {
            const double* a = A.value().data();
            const double* t = T.value().data();
            const std::size_t n = A.value().size();
            double total = 0.0;
            for (std::size_t k = 0; k < n; ++k) total += (a[k] - t[k]) * (a[k] - t[k]);
            out(0, 0) = total / static_cast<double>(n);
        },
        [](const BackwardContext& ctx) {
            const double* a = ctx.input(0).data();
            const double* t = ctx.input(1).data();
            const std::size_t n = ctx.input(0).size();
            const double g = 2.0 * ctx.grad_output()(0, 0) / static_cast<double>(n);
            double* da = ctx.needs_grad(0) ? ctx.grad_input(0).data() : nullptr;
            double* dt = ctx.needs_grad(1) ? ctx.grad_input(1).data() : nullptr;
            for (std::size_t k = 0; k < n; ++k) {
                if (da) da[k] += g * (a[k] - t[k]);
                if (dt) dt[k] -= g * (a[k] - t[k]);
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

double argmax_accuracy(const Matrix& scores, const Matrix& one_hot) {
    if (scores.shape() != one_hot.shape() || scores.size() == 0)
        throw std::invalid_argument("argmax_accuracy: scores are " + shape_string(scores) + " but labels are " +
                                    shape_string(one_hot));
    std::size_t correct = 0;
    for (std::size_t j = 0; j < scores.shape(1); ++j) {
        std::size_t best = 0;
        for (std::size_t i = 1; i < scores.shape(0); ++i)
            if (scores(i, j) > scores(best, j)) best = i;
        correct += one_hot(best, j) == 1.0;
    }
    return static_cast<double>(correct) / static_cast<double>(scores.shape(1));
}

double r2_score(const Matrix& predicted, const Matrix& target) {
    if (predicted.shape() != target.shape() || target.size() == 0)
        throw std::invalid_argument("r2_score: predictions are " + shape_string(predicted) + " but targets are " +
                                    shape_string(target));
    const double n = static_cast<double>(target.size());
    double mean = 0.0;
    for (const double t : target) mean += t / n;
    double residual = 0.0, total = 0.0;
    for (std::size_t k = 0; k < target.size(); ++k) {
        residual += (predicted.data()[k] - target.data()[k]) * (predicted.data()[k] - target.data()[k]);
        total += (target.data()[k] - mean) * (target.data()[k] - mean);
    }
    return 1.0 - residual / total;  // a constant target (total 0) gives -inf or nan, as sklearn's warns
}

}  // namespace matgrad::nn
