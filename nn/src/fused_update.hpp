// Optimizer updates as single loops over contiguous buffers (internal to matgrad::nn).
//
// One pass reads and writes each element of the parameter and its state once, instead of one
// xtensor expression per state array; the loops vectorize (SSE2 on any x86-64, plus an AVX2 clone
// picked at load time where the CPU has it). Every operation is a correctly rounded +, -, *, / or
// sqrt in a fixed order with no FMA contraction, so the clones and the xtensor expressions that
// SGD::step and Adam::step evaluate today give bit-identical results (tests/nn/test_fused_update.cpp).
#pragma once

#include <cstddef>

namespace matgrad::nn::fused {

/// SGD with L2 weight decay λ, p -= lr (g + λ p), rounded as p = p * (1 - lr λ) - lr g.
/// With λ = 0 the factor is exactly 1: p -= lr g.
void sgd_update(double* param, const double* grad, std::size_t n, double lr, double weight_decay);

/// One Adam step for n parameters with their moment buffers m and v (Kingma & Ba 2015), with
/// decoupled weight decay λ (AdamW, applied first as p *= 1 - lr λ; exactly 1 when λ = 0):
///   m = β1 m + (1 - β1) g,   v = β2 v + (1 - β2) g g,
///   p -= lr (m / correction1) / (sqrt(v / correction2) + ε),
/// with correction1 = 1 - β1^t and correction2 = 1 - β2^t for the step t = 1, 2, ... being taken.
/// No buffer may overlap another.
void adam_update(double* param, const double* grad, double* m, double* v, std::size_t n, double lr,
                 double beta1, double beta2, double epsilon, double correction1, double correction2,
                 double weight_decay);

}  // namespace matgrad::nn::fused
