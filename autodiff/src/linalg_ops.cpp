// matmul and transpose: forward and backward side by side.
#include <autodiff/blas.hpp>
#include <autodiff/ops.hpp>

#include <xtensor/xmanipulation.hpp>

#include <cblas.h>

#include <string>

namespace matgrad {

void gemm(Trans trans_a, Trans trans_b, double alpha, const Matrix& a, const Matrix& b, double beta,
          Matrix& c) {
    const bool ta = trans_a == Trans::yes, tb = trans_b == Trans::yes;
    const std::size_t m = ta ? a.shape(1) : a.shape(0), k = ta ? a.shape(0) : a.shape(1);
    const std::size_t kb = tb ? b.shape(1) : b.shape(0), n = tb ? b.shape(0) : b.shape(1);
    if (k != kb || c.shape(0) != m || c.shape(1) != n)
        throw ShapeError("gemm: op(a) is " + std::to_string(m) + "x" + std::to_string(k) +
                         ", op(b) is " + std::to_string(kb) + "x" + std::to_string(n) + ", c is " + shape_string(c));
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, a.data(),
                static_cast<int>(a.shape(1)), b.data(), static_cast<int>(b.shape(1)), beta, c.data(),
                static_cast<int>(c.shape(1)));
}

// C = A B;  dA += dC Bᵀ;  dB += Aᵀ dC  (transposes are BLAS flags, never materialized)
Var matmul(const Var& a, const Var& b) {
    if (a.cols() != b.rows())
        throw ShapeError("matmul: " + a.describe() + " is " + a.shape_string() + " but " +
                         b.describe() + " is " + b.shape_string() + " (inner dimensions " +
                         std::to_string(a.cols()) + " and " + std::to_string(b.rows()) + " differ)");
    return a.tape().record(
        "matmul", {a, b}, a.rows(), b.cols(),
        [&](Matrix& c) { gemm(Trans::no, Trans::no, 1.0, a.value(), b.value(), 0.0, c); },
        [](const BackwardContext& ctx) {
            // beta = 0 for the first contribution: BLAS overwrites the stale buffer, no zero-fill.
            if (ctx.needs_grad(0)) {
                const BackwardContext::GradTarget da = ctx.grad_input_target(0);
                gemm(Trans::no, Trans::yes, 1.0, ctx.grad_output(), ctx.input(1), da.assign ? 0.0 : 1.0, da.grad);
            }
            if (ctx.needs_grad(1)) {
                const BackwardContext::GradTarget db = ctx.grad_input_target(1);
                gemm(Trans::yes, Trans::no, 1.0, ctx.input(0), ctx.grad_output(), db.assign ? 0.0 : 1.0, db.grad);
            }
        });
}

// B = Aᵀ;  dA += dBᵀ
Var transpose(const Var& a) {
    return a.tape().record(
        "transpose", {a}, a.cols(), a.rows(),
        [&](Matrix& out) { xt::noalias(out) = xt::transpose(a.value()); },
        [](const BackwardContext& ctx) {
            const BackwardContext::GradTarget da = ctx.grad_input_target(0);
            if (da.assign)
                xt::noalias(da.grad) = xt::transpose(ctx.grad_output());
            else
                xt::noalias(da.grad) += xt::transpose(ctx.grad_output());
        });
}

}  // namespace matgrad
