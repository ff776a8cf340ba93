// The interface every benchmarked implementation of the MLP training step provides. Plain pointers
// only, so libtorch's translation unit never includes xtensor (and vice versa).
#pragma once

#include <cstddef>
#include <memory>

namespace matgrad::bench {

/// One problem: samples as columns. X is d x n, Y is 1 x n, W1 h x d, b1 h x 1, W2 1 x h, b2 1 x 1;
/// all row-major. Every implementation copies the initial parameters and then owns them.
struct Problem {
    std::size_t d, h, n;
    const double *X, *Y, *W1, *b1, *W2, *b2;
    double learning_rate;
};

class Stepper {
public:
    virtual ~Stepper() = default;
    /// One training step: forward, mean BCE, backward, SGD update. Returns the loss.
    virtual double step() = 0;
    /// The gradients of the last step, row-major, into buffers of the parameters' sizes.
    virtual void gradients(double* dW1, double* db1, double* dW2, double* db2) const = 0;
};

#ifdef MATGRAD_BENCH_TORCH
/// libtorch 1.13: the same graph (mm, +, sigmoid, log, mean) with autograd and an in-place SGD update.
std::unique_ptr<Stepper> make_torch_stepper(const Problem& p);
/// torch::set_num_threads
void set_torch_threads(int threads);
#endif

}  // namespace matgrad::bench
