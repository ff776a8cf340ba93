// Binary cross-entropy, averaged over all elements (n samples for a 1 x n output).
#pragma once

#include <autodiff/tape.hpp>

namespace matgrad::nn {

/// The slides' loss, composed of built-in ops: J = -(1/n) Σ ( Y log A + (1 - Y) log(1 - A) ).
/// A are probabilities (a sigmoid output). Infinite when an A saturates to exactly 0 or 1 on the
/// wrong label; use binary_cross_entropy_with_logits for training.
Var binary_cross_entropy(const Var& A, const Var& Y);

/// The same loss from the logits Z (A = σ(Z)), as one op that never takes log(0):
///   J = (1/n) Σ ( max(z, 0) - z y + log(1 + e^-|z|) ),   dJ/dz = (σ(z) - y) / n,
///   dJ/dy = -z / n.
/// Equals binary_cross_entropy(sigmoid(Z), Y) in value and gradient wherever that is finite, and
/// stays finite for any finite z. Z and Y must have the same shape.
Var binary_cross_entropy_with_logits(const Var& Z, const Var& Y);

/// Share of elements whose prediction (output >= threshold) equals the 0/1 label: for a 1 x n
/// output, the share of samples classified right. Throws std::invalid_argument if shapes differ.
double accuracy(const Matrix& output, const Matrix& labels, double threshold = 0.5);

}  // namespace matgrad::nn
