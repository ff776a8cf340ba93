// SGD and Adam, updating parameters in place without temporaries (xt::noalias).
#include <nn/optim.hpp>

#include <cmath>
#include <stdexcept>
#include <xtensor/xmath.hpp>

namespace matgrad::nn {

namespace {

void check_pairs(const char* who, const std::vector<Matrix*>& params, const std::vector<const Matrix*>& grads) {
    if (params.size() != grads.size())
        throw std::invalid_argument(std::string(who) + ": " + std::to_string(params.size()) + " parameters but " +
                                    std::to_string(grads.size()) + " gradients");
    for (std::size_t i = 0; i < params.size(); ++i)
        if (params[i]->shape() != grads[i]->shape())
            throw std::invalid_argument(std::string(who) + ": parameter " + std::to_string(i) + " is " +
                                        shape_string(*params[i]) + " but its gradient is " + shape_string(*grads[i]));
}

}  // namespace

SGD::SGD(double lr, double decay) : learning_rate(lr), weight_decay(decay) {}

void SGD::step(const std::vector<Matrix*>& params, const std::vector<const Matrix*>& grads) {
    check_pairs("SGD", params, grads);
    for (std::size_t i = 0; i < params.size(); ++i) {
        if (weight_decay != 0.0) *params[i] *= 1.0 - learning_rate * weight_decay;  // p -= lr λ p
        xt::noalias(*params[i]) -= learning_rate * *grads[i];
    }
}

Adam::Adam(double lr, double b1, double b2, double eps, double decay)
    : learning_rate(lr), beta1(b1), beta2(b2), epsilon(eps), weight_decay(decay) {}

void Adam::step(const std::vector<Matrix*>& params, const std::vector<const Matrix*>& grads) {
    check_pairs("Adam", params, grads);
    if (t_ == 0) {
        m_.clear();
        v_.clear();
        for (const Matrix* p : params) {
            m_.emplace_back(xt::zeros<double>(p->shape()));
            v_.emplace_back(xt::zeros<double>(p->shape()));
        }
    }
    if (m_.size() != params.size())
        throw std::invalid_argument("Adam: " + std::to_string(params.size()) + " parameters but " +
                                    std::to_string(m_.size()) + " at the first step");
    ++t_;
    const double correction1 = 1.0 - std::pow(beta1, static_cast<double>(t_));
    const double correction2 = 1.0 - std::pow(beta2, static_cast<double>(t_));
    for (std::size_t i = 0; i < params.size(); ++i) {
        if (m_[i].shape() != params[i]->shape())
            throw std::invalid_argument("Adam: parameter " + std::to_string(i) + " is " + shape_string(*params[i]) +
                                        " but was " + shape_string(m_[i]) + " at the first step");
        const Matrix& g = *grads[i];
        if (weight_decay != 0.0) *params[i] *= 1.0 - learning_rate * weight_decay;  // decoupled (AdamW)
        xt::noalias(m_[i]) = beta1 * m_[i] + (1.0 - beta1) * g;
        xt::noalias(v_[i]) = beta2 * v_[i] + (1.0 - beta2) * g * g;
        xt::noalias(*params[i]) -=
            learning_rate * (m_[i] / correction1) / (xt::sqrt(v_[i] / correction2) + epsilon);
    }
}

}  // namespace matgrad::nn
