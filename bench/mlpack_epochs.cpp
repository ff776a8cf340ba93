// mlpack 4.8's side of matgrad_bench_epoch: what an mlpack user writes for the job, made fair as
// ../shared/peers/README.md says (per-batch Adam steps, the mean BCE, maxIterations in samples).
#define ENS_OLD_SEPARABLE_STEP_BEHAVIOR
#include "epoch_job.hpp"

#include <mlpack.hpp>

namespace matgrad::bench {

namespace {

arma::mat columns(const double* row_major, std::size_t rows, std::size_t cols) {
    arma::mat m(rows, cols);
    for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < cols; ++j) m(i, j) = row_major[i * cols + j];
    return m;
}

using Network = mlpack::FFN<mlpack::BCELoss>;

/// The per-epoch evaluation `matgrad train` does, as an ensmallen callback: losses of both parts
/// (FFN::Evaluate, "to monitor progress while training") and the test accuracy (FFN::Predict).
struct Evaluation {
    Network& model;
    const arma::mat &X_train, &Y_train, &X_test, &Y_test;
    bool every_epoch;
    EpochOutcome& outcome;
    arma::mat predicted;

    void run() {
        outcome.train_loss = model.Evaluate(X_train, Y_train);
        outcome.test_loss = model.Evaluate(X_test, Y_test);
        model.Predict(X_test, predicted);
        outcome.test_accuracy = arma::accu((predicted >= 0.5) == Y_test) / static_cast<double>(Y_test.n_cols);
    }
    template <typename Optimizer, typename Function, typename Mat>
    bool EndEpoch(Optimizer&, Function&, const Mat&, std::size_t, double) {
        if (every_epoch) run();
        return false;
    }
};

}  // namespace

EpochOutcome run_mlpack_epochs(const EpochJob& job) {
    const arma::mat X_train = columns(job.X_train, job.d, job.n_train), Y_train = columns(job.Y_train, 1, job.n_train);
    const arma::mat X_test = columns(job.X_test, job.d, job.n_test), Y_test = columns(job.Y_test, 1, job.n_test);
    arma::arma_rng::set_seed(job.seed);
    Network model(mlpack::BCELoss(1e-10, false));  // reduction = false: the mean over the batch
    model.Add<mlpack::Linear>(job.hidden);
    model.Add<mlpack::Sigmoid>();
    model.Add<mlpack::Linear>(1);
    model.Add<mlpack::Sigmoid>();
    ens::Adam adam(job.learning_rate, job.batch, 0.9, 0.999, 1e-8, job.epochs * job.n_train, -1.0, true);
    EpochOutcome outcome{};
    Evaluation evaluation{model, X_train, Y_train, X_test, Y_test, job.evaluate, outcome, {}};
    const double start = thread_cpu_seconds();
    model.Train(X_train, Y_train, adam, evaluation);
    if (!job.evaluate) evaluation.run();  // once, as matgrad's fit evaluates the last epoch
    outcome.cpu_seconds = thread_cpu_seconds() - start;
    return outcome;
}

}  // namespace matgrad::bench
