// Reductions to 1x1: forward and backward side by side.
#include <autodiff/ops.hpp>

#include <numeric>

namespace matgrad {

// s = Σ a_ij;  da_ij += ds
Var sum(const Var& a) {
    return a.tape().record(
        "sum", {a}, 1, 1,
        [&](Matrix& out) { out(0, 0) = std::accumulate(a.value().begin(), a.value().end(), 0.0); },
        [](const BackwardContext& ctx) {
            const double g = ctx.grad_output()(0, 0);
            for (double& d : ctx.grad_input(0)) d += g;
        });
}

// m = (1/N) Σ a_ij;  da_ij += dm / N
Var mean(const Var& a) {
    return a.tape().record(
        "mean", {a}, 1, 1,
        [&](Matrix& out) {
            out(0, 0) = std::accumulate(a.value().begin(), a.value().end(), 0.0) /
                        static_cast<double>(a.value().size());
        },
        [](const BackwardContext& ctx) {
            const double g = ctx.grad_output()(0, 0) / static_cast<double>(ctx.input(0).size());
            for (double& d : ctx.grad_input(0)) d += g;
        });
}

}  // namespace matgrad
