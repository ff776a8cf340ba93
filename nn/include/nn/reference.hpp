// The slides' MLP (sigmoid on every layer, mean binary cross-entropy, samples as columns) for any
// depth L, computed twice with the same result type:
//
// - reference_pass: the slides' backward pass written out with matrix formulas on xtensor, sharing
//   no gradient code with the tape:
//       dZ[L] = (A[L] - Y) / n,           dA[L] = (-Y / A[L] + (1 - Y) / (1 - A[L])) / n,
//       dW[l] = dZ[l] A[l-1]ᵀ,            db[l] = row sums of dZ[l],
//       dA[l-1] = W[l]ᵀ dZ[l],            dZ[l] = dA[l] ⊙ A[l] (1 - A[l])    for l < L,
//   with n the number of elements of Y (the samples, for the slides' single output).
// - autodiff_pass: the same network recorded on a Tape, every intermediate read back from backward().
//
// Parameters are given as lists with W[0] = the slides' W1 (out x in), b[0] = b1 (out x 1). Both
// passes check shapes first (check_mlp_shapes) and throw std::invalid_argument naming the array.
#pragma once

#include <autodiff/gradcheck.hpp>
#include <autodiff/tape.hpp>

#include <vector>

namespace matgrad::nn {

/// Every intermediate by the slides' names, indexed like the slides: l = 1..L. Each list has L + 1
/// entries; entry 0 is the input layer: A[0] = X, and Z[0], dZ[0], dA[0], dW[0], db[0] are empty
/// (0x0) because the slides compute no gradient for X.
struct ForwardBackward {
    /// Z[l] = W[l] A[l-1] + b[l] (index 0 unused).
    std::vector<Matrix> Z, A;       ///< forward: Z[l] = W[l] A[l-1] + b[l], A[l] = σ(Z[l])
    /// dJ/dZ[l].
    std::vector<Matrix> dZ, dA;     ///< d J / d Z[l], d J / d A[l]
    /// dJ/dW[l] and the other gradients, indexed like W.
    std::vector<Matrix> dW, db;     ///< d J / d W[l], d J / d b[l]
    double J = 0.0;                 ///< -(1/n) Σ ( Y log A[L] + (1 - Y) log(1 - A[L]) )
    std::size_t depth() const { return Z.empty() ? 0 : Z.size() - 1; }  ///< L
};

/// The slides' hand-derived formulas on xtensor (xt::linalg::dot), no tape.
ForwardBackward reference_pass(const std::vector<Matrix>& W, const std::vector<Matrix>& b,
                               const Matrix& X, const Matrix& Y);

/// The same network on a Tape (nodes named X, Y, W1, b1, Z1, A1, ..., J) with the slides' loss
/// binary_cross_entropy; gradients from tape.backward(J).
ForwardBackward autodiff_pass(const std::vector<Matrix>& W, const std::vector<Matrix>& b,
                              const Matrix& X, const Matrix& Y);

/// The network's loss as a graph builder for gradcheck / numerical_gradient: inputs are
/// {W1, b1, W2, b2, ..., WL, bL}; X and Y are copied into the builder.
GraphBuilder mlp_loss(const Matrix& X, const Matrix& Y);

}  // namespace matgrad::nn
