// The built-in ops, free functions on Var. Each is defined next to its backward and its
// definition (<autodiff/op.hpp>) in src/ (one file per family); docs/derivatives.md and the
// README's op table are generated from those definitions (see <autodiff/registry.hpp>).
#pragma once

#include <autodiff/tape.hpp>

#include <cmath>

namespace matgrad {

// Linear algebra (src/linalg_ops.cpp)
Var matmul(const Var& a, const Var& b);  ///< (m x k)(k x n) = m x n
/// W A + b with b a column (rows(W) x 1) added to every column, as one op: the same values as
/// matmul(W, A) + b without the separate add pass (forward) or the copy of its gradient (backward).
Var affine(const Var& W, const Var& A, const Var& b);
/// aᵀ (n x m for an m x n a).
Var transpose(const Var& a);
// Matrix functions of a square matrix (LAPACK LU); a non-square argument is a ShapeError.
Var tr(const Var& x);      ///< trace, 1x1
Var inv(const Var& x);     ///< inverse; NumericalError when x is singular
Var det(const Var& x);     ///< determinant, 1x1
Var logdet(const Var& x);  ///< log|det x|, 1x1 (gradient x⁻ᵀ); NumericalError when x is singular
Var norm2(const Var& x);   ///< Frobenius norm sqrt(Σ x_ij²), 1x1, any shape

// Element-wise, with numpy broadcasting among m x n, m x 1, 1 x n, 1 x 1 (src/elementwise_ops.cpp)
///@{
/// Element-wise a + b, a − b, a ⊙ b, a ⊘ b, −a, and the same with a double on either side (applied
/// to every element).
Var operator+(const Var& a, const Var& b);
Var operator-(const Var& a, const Var& b);
Var operator*(const Var& a, const Var& b);  ///< element-wise (Hadamard) product, not matmul
Var operator/(const Var& a, const Var& b);
Var operator-(const Var& a);
Var operator+(const Var& a, double b);
Var operator+(double a, const Var& b);
Var operator-(const Var& a, double b);
Var operator-(double a, const Var& b);
Var operator*(const Var& a, double b);
Var operator*(double a, const Var& b);
Var operator/(const Var& a, double b);
Var operator/(double a, const Var& b);
///@}
/// σ(a) = 1 / (1 + e^(−a)) element-wise; its backward uses σ' = σ(1 − σ) from the output.
Var sigmoid(const Var& a);
/// The scalar logistic function sigmoid(a) applies element-wise (for ops that need σ themselves).
/// One exp, no branch: for x < -709 exp(-x) overflows to inf and 1 / inf = 0 is still the right
/// limit; relative accuracy holds on both sides (1 + e^-x is never a cancellation). Inline so that
/// element loops keep it inlined.
inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
///@{
/// Natural logarithm and exponential, element-wise.
Var log(const Var& a);
Var exp(const Var& a);
///@}

/// tanh, element-wise.
Var tanh(const Var& x);
Var relu(const Var& x);      ///< max(x, 0); relu'(0) = 0
Var softplus(const Var& x);  ///< log(1 + eˣ), finite for any finite x
Var sqrt(const Var& x);      ///< √x element-wise
Var abs(const Var& x);       ///< abs'(0) = 0
Var sin(const Var& x);       ///< sine, element-wise
Var cos(const Var& x);       ///< cosine, element-wise
Var pow(const Var& x, double p);  ///< x^p element-wise for a number p

// Reductions (src/reduction_ops.cpp)
Var sum(const Var& a);   ///< Σ a_ij, 1x1
Var mean(const Var& a);  ///< Σ a_ij / N, 1x1
/// numpy's axes with kept dimensions: axis 0 sums down each column (1 x n), axis 1 across each
/// row (m x 1: the slides' db = sum(dZ, 1)). Any other axis is a ShapeError.
Var sum(const Var& a, int axis);
/// The mean along an axis (numpy numbering, dimensions kept), as sum(a, axis) / N.
Var mean(const Var& a, int axis);
/// Per column (samples are columns), stable for entries of any magnitude (max subtracted).
Var softmax(const Var& x);
/// log softmax(x) per column, as x − max − log Σ e^(x − max): finite for entries of any magnitude.
Var log_softmax(const Var& x);

}  // namespace matgrad
