// The training job matgrad_bench_epoch gives every implementation, as plain pointers so that the
// peers' translation units (mlpack/Armadillo, libtorch) never include xtensor.
#pragma once

#include <cstddef>
#include <cstdint>

namespace matgrad::bench {

/// Binary classification, samples as columns: X_* is d x n row-major (standardized features),
/// Y_* is 1 x n of 0/1. The network is d-hidden-1 with sigmoid layers, trained with mean BCE and
/// Adam (lr, 0.9, 0.999, 1e-8, no weight decay) on mini-batches of `batch` reshuffled every epoch.
/// After every epoch the loss on the training and test parts and the test accuracy are evaluated
/// (what `matgrad train` does); with `evaluate` false only after the last one.
struct EpochJob {
    std::size_t d, n_train, n_test;
    const double *X_train, *Y_train, *X_test, *Y_test;
    std::size_t hidden, batch, epochs;
    double learning_rate;
    std::uint64_t seed;
    bool evaluate;
};

/// What a run of `epochs` epochs gives back: the calling thread's CPU time of the training loop
/// alone (no setup or data conversion), the last evaluation's losses and test accuracy.
struct EpochOutcome {
    double cpu_seconds;
    double train_loss, test_loss, test_accuracy;
};

/// CPU time of the calling thread in seconds (with one BLAS thread all of the work runs there).
double thread_cpu_seconds();

#ifdef MATGRAD_BENCH_MLPACK
/// mlpack 4.8's FFN (Linear, Sigmoid, Linear, Sigmoid, BCELoss as a mean) with ensmallen's Adam.
EpochOutcome run_mlpack_epochs(const EpochJob& job);
#endif
#ifdef MATGRAD_BENCH_TORCH
/// libtorch 1.13: Sequential(Linear, Sigmoid, Linear), binary_cross_entropy_with_logits, optim::Adam.
EpochOutcome run_torch_epochs(const EpochJob& job);
#endif

}  // namespace matgrad::bench
