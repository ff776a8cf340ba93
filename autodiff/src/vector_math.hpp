// Element-wise exp and sigmoid over whole arrays, vectorized (internal to the engine; not installed).
//
// libm's exp is a scalar call per element and keeps every loop that uses it scalar. These kernels
// are plain loops over a branch-free polynomial exp that the compiler vectorizes: SSE2 (2 doubles)
// on any x86-64, and an AVX2 clone (4 doubles) chosen at run time when the CPU has it. Both clones
// run the same operations in the same order (no FMA contraction: the build is ISO C++), so their
// results are bit-identical and a gradient does not depend on the machine. Other CPUs get the same
// loop at their baseline ISA.
//
// Accuracy, measured by tests/test_vector_math.cpp over [-800, 800] including the subnormal results
// below -708.4: exp within kExpMaxUlps of std::exp, sigmoid within kSigmoidMaxUlps of the scalar
// 1 / (1 + std::exp(-x)) (one ulp of e^-x can move the rounding of 1 + e^-x). Limits as libm: exp(x) = +inf for
// x > 709.79, 0 below -745.14, NaN for NaN; sigmoid(+-800) = 1 / 0, never NaN for a number.
#pragma once

#include <cstddef>

namespace matgrad::vector_math {

/// Largest differences from the scalar functions, in units in the last place of the result.
inline constexpr double kExpMaxUlps = 1.0;
inline constexpr double kSigmoidMaxUlps = 4.0;

/// out[k] = e^x[k] for k < n. out may equal x (in place); otherwise they must not overlap.
void exp_array(const double* x, double* out, std::size_t n);

/// out[k] = 1 / (1 + e^-x[k]) -- the formula of matgrad::sigmoid, with this file's exp. out may equal x.
void sigmoid_array(const double* x, double* out, std::size_t n);

/// The instruction sets behind the two functions above, so tests and bench/ can run each one.
enum class Isa { baseline, avx2 };
bool cpu_supports(Isa isa);
/// The clone exp_array and sigmoid_array run on this CPU: "avx2" or "baseline".
const char* dispatched_isa();
void exp_array(Isa isa, const double* x, double* out, std::size_t n);
void sigmoid_array(Isa isa, const double* x, double* out, std::size_t n);

}  // namespace matgrad::vector_math
