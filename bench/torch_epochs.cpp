// libtorch's side of matgrad_bench_epoch: the usual C++ API training loop (samples as rows).
#include "epoch_job.hpp"

#include <torch/torch.h>

namespace matgrad::bench {

namespace {

/// A d x n row-major block of samples as columns -> n x d, torch's samples-as-rows layout.
torch::Tensor samples_as_rows(const double* data, std::size_t rows, std::size_t cols) {
    return torch::from_blob(const_cast<double*>(data), {static_cast<long>(rows), static_cast<long>(cols)},
                            torch::kFloat64)
        .t()
        .contiguous();
}

}  // namespace

EpochOutcome run_torch_epochs(const EpochJob& job) {
    const torch::Tensor X_train = samples_as_rows(job.X_train, job.d, job.n_train);
    const torch::Tensor Y_train = samples_as_rows(job.Y_train, 1, job.n_train);
    const torch::Tensor X_test = samples_as_rows(job.X_test, job.d, job.n_test);
    const torch::Tensor Y_test = samples_as_rows(job.Y_test, 1, job.n_test);
    torch::manual_seed(job.seed);
    torch::nn::Sequential model(torch::nn::Linear(job.d, job.hidden), torch::nn::Sigmoid(),
                                torch::nn::Linear(job.hidden, 1));
    model->to(torch::kFloat64);
    torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(job.learning_rate));
    namespace F = torch::nn::functional;
    EpochOutcome outcome{};
    const auto evaluate = [&] {
        torch::NoGradGuard no_grad;
        outcome.train_loss = F::binary_cross_entropy_with_logits(model->forward(X_train), Y_train).item<double>();
        const torch::Tensor Z = model->forward(X_test);
        outcome.test_loss = F::binary_cross_entropy_with_logits(Z, Y_test).item<double>();
        outcome.test_accuracy = (Z >= 0).to(torch::kFloat64).eq(Y_test).to(torch::kFloat64).mean().item<double>();
    };
    const long n = static_cast<long>(job.n_train), batch = static_cast<long>(job.batch);
    const double start = thread_cpu_seconds();
    for (std::size_t epoch = 0; epoch < job.epochs; ++epoch) {
        const torch::Tensor order = torch::randperm(n, torch::kLong);
        for (long first = 0; first < n; first += batch) {
            const torch::Tensor rows = order.slice(0, first, std::min(first + batch, n));
            adam.zero_grad();
            F::binary_cross_entropy_with_logits(model->forward(X_train.index_select(0, rows)),
                                                Y_train.index_select(0, rows))
                .backward();
            adam.step();
        }
        if (job.evaluate) evaluate();
    }
    if (!job.evaluate) evaluate();  // once, as matgrad's fit evaluates the last epoch
    outcome.cpu_seconds = thread_cpu_seconds() - start;
    return outcome;
}

}  // namespace matgrad::bench
