#include "fused_update.hpp"

#include <cmath>

// GCC/Clang build an AVX2 and a baseline clone of each function and pick one when the library is
// loaded (an ifunc: needs x86 ELF). Elsewhere: the one baseline loop.
#if defined(__x86_64__) && defined(__ELF__) && defined(__GNUC__)
#define MATGRAD_X86_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define MATGRAD_X86_CLONES
#endif

namespace matgrad::nn::fused {

MATGRAD_X86_CLONES
void sgd_update(double* __restrict param, const double* __restrict grad, std::size_t n, double lr,
                double weight_decay) {
    const double decay = 1.0 - lr * weight_decay;
    for (std::size_t i = 0; i < n; ++i) param[i] = param[i] * decay - lr * grad[i];
}

MATGRAD_X86_CLONES
void adam_update(double* __restrict param, const double* __restrict grad, double* __restrict m,
                 double* __restrict v, std::size_t n, double lr, double beta1, double beta2,
                 double epsilon, double correction1, double correction2, double weight_decay) {
    const double decay = 1.0 - lr * weight_decay;
    for (std::size_t i = 0; i < n; ++i) {
        const double g = grad[i];
        // The xtensor expressions' operation order, term by term (bit-identical results).
        const double mi = beta1 * m[i] + (1.0 - beta1) * g;
        const double vi = beta2 * v[i] + (1.0 - beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        param[i] = param[i] * decay - lr * (mi / correction1) / (std::sqrt(vi / correction2) + epsilon);
    }
}

}  // namespace matgrad::nn::fused
