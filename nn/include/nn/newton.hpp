// Newton's method with exact Hessians (<autodiff/second_order.hpp>): for small models -- logistic
// regression, a text model's few params -- where a handful of Newton steps replace thousands of
// gradient steps (IRLS for logistic regression).
#pragma once

#include <autodiff/gradcheck.hpp>

#include <cstddef>
#include <functional>
#include <vector>

namespace matgrad::nn {

/// How newton_minimize() runs.
struct NewtonOptions {
    std::size_t max_steps = 100;        ///< Newton steps at most
    double gradient_tolerance = 1e-8;   ///< stop once ‖∇f‖ (all params, Euclidean) is at most this
    /// Refused above this many parameters: each step builds the dense n x n Hessian (n HVPs) and
    /// factors it (n³/3 flops).
    std::size_t max_params = 2000;
};

/// One step as it went.
struct NewtonStep {
    std::size_t step = 0;        ///< 1-based
    double loss = 0.0;           ///< f before the step
    double gradient_norm = 0.0;  ///< ‖∇f‖ before the step
    double damping = 0.0;        ///< λ of (H + λ I) p = −∇f: 0 where H is positive definite
    double step_size = 0.0;      ///< t of x + t p chosen by the line search (0: no step, converged)
};

/// What newton_minimize() did.
struct NewtonResult {
    /// One entry per evaluation; the last has step_size 0 (the point reached, converged or not).
    std::vector<NewtonStep> history;
    bool converged = false;           ///< the gradient norm reached the tolerance
};

/// Minimizes f (a 1x1 function of the params, as gradcheck's GraphBuilder) over `params`, updated in
/// place. Each step solves (H + λ I) p = −∇f by Cholesky, λ = 0 when H is positive definite, else
/// the smallest of 10⁻⁶·max(1, max|H_ii|)·10^k that makes it so (Levenberg–Marquardt), then
/// backtracks t = 1, 1/2, ... until f(x + t p) <= f(x) + 10⁻⁴ t ∇fᵀp (Armijo). Stops when ‖∇f‖ <=
/// gradient_tolerance, after max_steps, or when `stop` returns true (checked before each step).
/// Throws std::invalid_argument above max_params, std::runtime_error when f or ∇f is not finite or
/// the line search finds no decrease.
NewtonResult newton_minimize(const GraphBuilder& f, const std::vector<Matrix*>& params,
                             const NewtonOptions& options = {},
                             const std::function<void(const NewtonStep&)>& on_step = {},
                             const std::function<bool()>& stop = {});

}  // namespace matgrad::nn
