// SGD and Adam, updating parameters in place: one fused loop per parameter (fused_update.hpp)
// reads and writes each element and its optimizer state once.
#include "fused_update.hpp"

#include <nn/optim.hpp>

#include <cmath>
#include <stdexcept>

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
    for (std::size_t i = 0; i < params.size(); ++i)
        fused::sgd_update(params[i]->data(), grads[i]->data(), params[i]->size(), learning_rate, weight_decay);
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
        fused::adam_update(params[i]->data(), grads[i]->data(), m_[i].data(), v_[i].data(), params[i]->size(),
                           learning_rate, beta1, beta2, epsilon, correction1, correction2, weight_decay);
    }
}

}  // namespace matgrad::nn
