#include "vector_math.hpp"

#include <cstdint>
#include <cstring>
#include <stdexcept>

// Run-time dispatch needs GCC/Clang function multiversioning on x86-64; elsewhere there is one clone.
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define MATGRAD_VECTOR_MATH_AVX2 1
#define MATGRAD_TARGET_AVX2 __attribute__((target("avx2")))
#else
#define MATGRAD_VECTOR_MATH_AVX2 0
#endif

namespace matgrad::vector_math {

namespace {

inline double bits_to_double(std::uint64_t u) {
    double d;
    std::memcpy(&d, &u, sizeof d);
    return d;
}
inline std::uint64_t double_to_bits(double d) {
    std::uint64_t u;
    std::memcpy(&u, &d, sizeof u);
    return u;
}

// Adding 1.5 * 2^52 rounds a double of magnitude < 2^51 to an integer, which then sits in the low
// mantissa bits: this is round-to-nearest and double -> int64 without a conversion instruction
// (SSE2 and AVX2 have none for 64-bit lanes).
constexpr double kShifter = 0x1.8p52;

// 2^k for an integer-valued double k in [-1022, 1023]: the biased exponent written into place.
inline double exp2_integer(double k) {
    return bits_to_double((double_to_bits(k + kShifter) + 1023) << 52);
}

// e^x, branch-free so that loops over it vectorize. x = k ln2 + r with |r| <= ln2/2 (Cody-Waite:
// ln2 split so that k * kLn2Hi is exact), e^r by its Taylor series to r^13 (truncation < 1e-17),
// then 2^k applied as 2^k1 * 2^k2 with k1 ~ k/2: each factor stays a normal double for every k of
// the clamped range, and only the last multiplication rounds, also into the subnormals.
__attribute__((always_inline)) inline double exp_kernel(double x) {
    constexpr double kLog2e = 0x1.71547652b82fep0;
    constexpr double kLn2Hi = 0x1.62e42fefa3800p-1;  // 42 significant bits: k * kLn2Hi is exact
    constexpr double kLn2Lo = 0x1.ef35793c76730p-45;
    // Beyond these e^x is +inf or 0 anyway; clamping keeps k in range. Written as comparisons so a
    // NaN passes through unchanged.
    x = x > 710.0 ? 710.0 : x;
    x = x < -746.0 ? -746.0 : x;
    const double k = (x * kLog2e + kShifter) - kShifter;
    const double r = (x - k * kLn2Hi) - k * kLn2Lo;
    // 1 + r + r^2 (1/2! + r/3! + ... + r^11/13!): the small tail added last keeps the rounding low.
    // The tail in Estrin's scheme: a dependency chain of 6 operations instead of Horner's 22, so
    // the out-of-order core overlaps more elements (the loop was latency-bound).
    const double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
    const double c01 = 1.0 / 2 + r * (1.0 / 6), c23 = 1.0 / 24 + r * (1.0 / 120);
    const double c45 = 1.0 / 720 + r * (1.0 / 5040), c67 = 1.0 / 40320 + r * (1.0 / 362880);
    const double c89 = 1.0 / 3628800 + r * (1.0 / 39916800), c1011 = 1.0 / 479001600 + r * (1.0 / 6227020800);
    const double tail = (c01 + c23 * r2) + (c45 + c67 * r2) * r4 + (c89 + c1011 * r2) * r8;
    const double p = 1.0 + (r + r2 * tail);
    const double k1 = (k * 0.5 + kShifter) - kShifter;
    return p * exp2_integer(k1) * exp2_integer(k - k1);
}

__attribute__((always_inline)) inline void exp_loop(const double* x, double* out, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) out[i] = exp_kernel(x[i]);
}

// 1 / (1 + e^-x): e^-x = +inf for x < -709.8 gives 0, e^-x = 0 for x > 745 gives 1; no NaN.
__attribute__((always_inline)) inline void sigmoid_loop(const double* x, double* out, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) out[i] = 1.0 / (1.0 + exp_kernel(-x[i]));
}

void exp_baseline(const double* x, double* out, std::size_t n) { exp_loop(x, out, n); }
void sigmoid_baseline(const double* x, double* out, std::size_t n) { sigmoid_loop(x, out, n); }

#if MATGRAD_VECTOR_MATH_AVX2
MATGRAD_TARGET_AVX2 void exp_avx2(const double* x, double* out, std::size_t n) { exp_loop(x, out, n); }
MATGRAD_TARGET_AVX2 void sigmoid_avx2(const double* x, double* out, std::size_t n) { sigmoid_loop(x, out, n); }
#endif

using Kernel = void (*)(const double*, double*, std::size_t);

struct Kernels {
    Kernel exp;
    Kernel sigmoid;
};

Kernels kernels_for(Isa isa) {
    if (!cpu_supports(isa)) throw std::invalid_argument("vector_math: this CPU cannot run the avx2 kernels");
#if MATGRAD_VECTOR_MATH_AVX2
    if (isa == Isa::avx2) return {exp_avx2, sigmoid_avx2};
#endif
    return {exp_baseline, sigmoid_baseline};
}

// Chosen once (thread-safe static initialization); the best clone this CPU runs.
const Kernels& dispatched() {
    static const Kernels best = kernels_for(cpu_supports(Isa::avx2) ? Isa::avx2 : Isa::baseline);
    return best;
}

}  // namespace

bool cpu_supports(Isa isa) {
    if (isa == Isa::baseline) return true;
#if MATGRAD_VECTOR_MATH_AVX2
    return __builtin_cpu_supports("avx2");
#else
    return false;
#endif
}

const char* dispatched_isa() { return cpu_supports(Isa::avx2) ? "avx2" : "baseline"; }

void exp_array(const double* x, double* out, std::size_t n) { dispatched().exp(x, out, n); }
void sigmoid_array(const double* x, double* out, std::size_t n) { dispatched().sigmoid(x, out, n); }
void exp_array(Isa isa, const double* x, double* out, std::size_t n) { kernels_for(isa).exp(x, out, n); }
void sigmoid_array(Isa isa, const double* x, double* out, std::size_t n) { kernels_for(isa).sigmoid(x, out, n); }

}  // namespace matgrad::vector_math
