// Matrix products on BLAS for ops that need them (matmul uses this; so can a user's op).
// cblas.h stays out of public headers: its enums clash with xtensor-blas's.
#pragma once

#include <autodiff/tape.hpp>

namespace matgrad {

/// Whether gemm() uses an operand as it is or transposed.
enum class Trans { no, yes };

/// c = alpha * op(a) op(b) + beta * c, with op(x) = x or xᵀ; c must already have the result's
/// shape. With beta = 1 it accumulates, which is how backward passes add into gradients without
/// materializing transposes or temporaries. Shapes are the caller's responsibility (checked by
/// assertion-level ShapeError).
void gemm(Trans trans_a, Trans trans_b, double alpha, const Matrix& a, const Matrix& b, double beta,
          Matrix& c);

}  // namespace matgrad
