// The libtorch implementation of the benchmarked step: what a PyTorch user writes.
#include "stepper.hpp"

#include <torch/torch.h>

namespace matgrad::bench {

namespace {

torch::Tensor from(const double* data, std::size_t rows, std::size_t cols, bool requires_grad) {
    auto t = torch::from_blob(const_cast<double*>(data),
                              {static_cast<long>(rows), static_cast<long>(cols)}, torch::kFloat64)
                 .clone();
    return t.set_requires_grad(requires_grad);
}

void copy_out(const torch::Tensor& t, double* out) {
    const torch::Tensor c = t.contiguous();
    std::copy(c.data_ptr<double>(), c.data_ptr<double>() + c.numel(), out);
}

class TorchStepper final : public Stepper {
public:
    explicit TorchStepper(const Problem& p)
        : X_(from(p.X, p.d, p.n, false)), Y_(from(p.Y, 1, p.n, false)),
          params_{from(p.W1, p.h, p.d, true), from(p.b1, p.h, 1, true), from(p.W2, 1, p.h, true),
                  from(p.b2, 1, 1, true)},
          lr_(p.learning_rate) {}

    double step() override {
        const torch::Tensor &W1 = params_[0], &b1 = params_[1], &W2 = params_[2], &b2 = params_[3];
        const torch::Tensor A1 = torch::sigmoid(W1.mm(X_) + b1);
        const torch::Tensor A2 = torch::sigmoid(W2.mm(A1) + b2);
        const torch::Tensor J = -(Y_ * torch::log(A2) + (1.0 - Y_) * torch::log(1.0 - A2)).mean();
        J.backward();
        torch::NoGradGuard no_grad;
        for (std::size_t i = 0; i < 4; ++i) {
            params_[i].sub_(params_[i].grad(), lr_);
            last_grads_[i] = params_[i].grad();
            params_[i].mutable_grad() = torch::Tensor();  // zero_grad(set_to_none=True)
        }
        return J.item<double>();
    }

    void gradients(double* dW1, double* db1, double* dW2, double* db2) const override {
        copy_out(last_grads_[0], dW1);
        copy_out(last_grads_[1], db1);
        copy_out(last_grads_[2], dW2);
        copy_out(last_grads_[3], db2);
    }

private:
    torch::Tensor X_, Y_;
    torch::Tensor params_[4];  // W1, b1, W2, b2
    double lr_;
    torch::Tensor last_grads_[4];
};

}  // namespace

std::unique_ptr<Stepper> make_torch_stepper(const Problem& p) { return std::make_unique<TorchStepper>(p); }

void set_torch_threads(int threads) { torch::set_num_threads(threads); }

}  // namespace matgrad::bench
