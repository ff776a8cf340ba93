// Optimizers: update parameters in place from their gradients. `params` and `grads` are parallel
// lists (MLP::parameters() and MLP::gradients()); each grads[i] has the shape of params[i].
#pragma once

#include <autodiff/tape.hpp>

#include <vector>

namespace matgrad::nn {

/// Updates parameters from their gradients after each backward().
class Optimizer {
public:
    virtual ~Optimizer() = default;
    /// One update. Throws std::invalid_argument if the lists differ in length or a shape differs
    /// (also from the shapes of an earlier step, for optimizers with state).
    virtual void step(const std::vector<Matrix*>& params, const std::vector<const Matrix*>& grads) = 0;
};

/// Plain gradient descent: p -= lr * g.
class SGD : public Optimizer {
public:
    /// Plain gradient descent with this step size.
    explicit SGD(double learning_rate);
    void step(const std::vector<Matrix*>& params, const std::vector<const Matrix*>& grads) override;
    /// The step size.
    double learning_rate;
};

/// Adam (Kingma & Ba 2015). At step t = 1, 2, ...:
///   m = β1 m + (1 - β1) g,   v = β2 v + (1 - β2) g²,
///   p -= lr * (m / (1 - β1^t)) / (sqrt(v / (1 - β2^t)) + ε).
/// m and v start at zero and are allocated on the first step (none after).
class Adam : public Optimizer {
public:
    /// Adam with the usual defaults.
    explicit Adam(double learning_rate = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
                  double epsilon = 1e-8);
    void step(const std::vector<Matrix*>& params, const std::vector<const Matrix*>& grads) override;
    /// Number of step() calls so far (Adam's bias correction uses it).
    std::size_t steps_taken() const { return t_; }

    ///@{
    /// Step size, moment decay rates and the denominator's epsilon.
    double learning_rate, beta1, beta2, epsilon;
    ///@}

private:
    std::vector<Matrix> m_, v_;
    std::size_t t_ = 0;
};

}  // namespace matgrad::nn
