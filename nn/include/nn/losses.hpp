// The training losses (each averaged: over samples, or over all elements) and the metrics.
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

/// Softmax cross-entropy from the logits Z (k classes x n samples) against Y (k x n, one-hot
/// columns; soft labels also work), as one op stable for any finite logits (log-sum-exp after
/// subtracting each column's maximum):
///   J = -(1/n) Σ_j Σ_i y_ij log softmax(z_j)_i,   dJ/dZ = (softmax(Z) - Y) / n for one-hot Y.
/// Z and Y must have the same shape.
Var softmax_cross_entropy(const Var& Z, const Var& Y);
/// Mean squared error over all entries: J = (1/N) Σ (a - t)², dJ/dA = 2 (A - T) / N. A and T must
/// have the same shape.
Var mse(const Var& A, const Var& T);
/// Share of elements whose prediction (output >= threshold) equals the 0/1 label: for a 1 x n
/// output, the share of samples classified right. Throws std::invalid_argument if shapes differ.
double accuracy(const Matrix& output, const Matrix& labels, double threshold = 0.5);
/// Share of columns (samples) whose largest score is where `one_hot` holds its 1 (ties: the first
/// row). Throws std::invalid_argument if shapes differ.
double argmax_accuracy(const Matrix& scores, const Matrix& one_hot);
/// Coefficient of determination 1 - Σ (p - t)² / Σ (t - mean t)² over all elements.
double r2_score(const Matrix& predicted, const Matrix& target);

}  // namespace matgrad::nn
