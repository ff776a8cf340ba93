// A user-defined op in the form every built-in element-wise op takes: a name, the scalar forward,
// and the scalar vector-Jacobian product. softplus(x) = log(1 + eˣ), softplus'(x) = σ(x).
#pragma once

#include <autodiff/autodiff.hpp>

#include <cmath>

struct Softplus {
    static constexpr const char* name = "softplus";
    // log1p(e^-|x|) + max(x, 0) never overflows.
    static double forward(double x) { return std::log1p(std::exp(-std::abs(x))) + std::max(x, 0.0); }
    static double backward(double grad, double x, double) { return grad / (1.0 + std::exp(-x)); }
};

inline matgrad::Var softplus(const matgrad::Var& x) { return matgrad::elementwise<Softplus>(x); }

// A non-element-wise op through the general API: the Frobenius inner product <a, b> = Σ a⊙b (1x1).
inline matgrad::Var frobenius_dot(const matgrad::Var& a, const matgrad::Var& b) {
    using matgrad::BackwardContext;
    using matgrad::Matrix;
    if (a.shape() != b.shape())
        throw matgrad::ShapeError("frobenius_dot: " + a.describe() + " is " + a.shape_string() +
                                  " but " + b.describe() + " is " + b.shape_string());
    return a.tape().record(
        "frobenius_dot", {a, b}, 1, 1,
        [&](Matrix& out) { out(0, 0) = xt::sum(a.value() * b.value())(); },
        [](const BackwardContext& ctx) {  // d<a,b>/da = b, d<a,b>/db = a
            const double g = ctx.grad_output()(0, 0);
            if (ctx.needs_grad(0)) xt::noalias(ctx.grad_input(0)) += g * ctx.input(1);
            if (ctx.needs_grad(1)) xt::noalias(ctx.grad_input(1)) += g * ctx.input(0);
        });
}
