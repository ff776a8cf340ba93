// The built-in ops. Each is defined next to its backward in src/ (one file per family) and its
// derivative is listed in docs/derivatives.md.
#pragma once

#include <autodiff/tape.hpp>

#include <cmath>

namespace matgrad {

// Linear algebra (src/linalg_ops.cpp)
Var matmul(const Var& a, const Var& b);  ///< (m x k)(k x n) = m x n
/// aᵀ (n x m for an m x n a).
Var transpose(const Var& a);

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

// Reductions to 1x1 (src/reduction_ops.cpp)
///@{
/// The sum and the mean of all elements (1x1).
Var sum(const Var& a);
Var mean(const Var& a);
///@}

}  // namespace matgrad
