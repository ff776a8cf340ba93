// Reductions to 1x1: forward and backward side by side.
#include <autodiff/ops.hpp>

#include <algorithm>
#include <numeric>

namespace matgrad {

namespace {

// s = c Σ a_ij with c = 1 (sum) or 1/N (mean);  da_ij += c ds
template <bool Mean>
Var scaled_sum(const char* op, const Var& a) {
    return a.tape().record(
        op, {a}, 1, 1,
        [&](Matrix& out) {
            const double total = std::accumulate(a.value().begin(), a.value().end(), 0.0);
            out(0, 0) = Mean ? total / static_cast<double>(a.value().size()) : total;
        },
        [](const BackwardContext& ctx) {
            const BackwardContext::GradTarget da = ctx.grad_input_target(0);
            const double g = ctx.grad_output()(0, 0) / (Mean ? static_cast<double>(da.grad.size()) : 1.0);
            if (da.assign)
                std::fill(da.grad.begin(), da.grad.end(), g);
            else
                for (double& d : da.grad) d += g;
        });
}

}  // namespace

Var sum(const Var& a) { return scaled_sum<false>("sum", a); }
Var mean(const Var& a) { return scaled_sum<true>("mean", a); }

}  // namespace matgrad
