// Optimizers: update parameters in place from their gradients. `params` and `grads` are parallel
// lists (MLP::parameters() and MLP::gradients()); each grads[i] has the shape of params[i].
#pragma once

#include <autodiff/tape.hpp>

#include <vector>

namespace matgrad::nn {

class Optimizer {
public:
    virtual ~Optimizer() = default;
    /// One update. Throws std::invalid_argument if the lists differ in length or a shape differs
    /// (also from the shapes of an earlier step, for optimizers with state).
    virtual void step(const std::vector<Matrix*>& params, const std::vector<const Matrix*>& grads) = 0;
};

/// Plain gradient descent with optional L2 weight decay λ: p -= lr * (g + λ p), the gradient of
/// loss + (λ/2) Σ p².
class SGD : public Optimizer {
public:
    explicit SGD(double learning_rate, double weight_decay = 0.0);
    void step(const std::vector<Matrix*>& params, const std::vector<const Matrix*>& grads) override;
    double learning_rate, weight_decay;
};

/// Adam (Kingma & Ba 2015). At step t = 1, 2, ...:
///   m = β1 m + (1 - β1) g,   v = β2 v + (1 - β2) g²,
///   p -= lr * (m / (1 - β1^t)) / (sqrt(v / (1 - β2^t)) + ε).
/// With weight decay λ > 0 it is AdamW (Loshchilov & Hutter 2019): the decay is decoupled from the
/// gradient statistics, p -= lr * λ * p before the update above (as torch.optim.AdamW), so every
/// weight shrinks at the same rate instead of at one rescaled by 1 / sqrt(v).
/// m and v start at zero and are allocated on the first step (none after).
class Adam : public Optimizer {
public:
    explicit Adam(double learning_rate = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
                  double epsilon = 1e-8, double weight_decay = 0.0);
    void step(const std::vector<Matrix*>& params, const std::vector<const Matrix*>& grads) override;
    std::size_t steps_taken() const { return t_; }

    double learning_rate, beta1, beta2, epsilon, weight_decay;

private:
    std::vector<Matrix> m_, v_;
    std::size_t t_ = 0;
};

}  // namespace matgrad::nn
