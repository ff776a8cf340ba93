// matgrad_bench_epoch: issue 23's per-epoch comparison. The job of bench/train_speed.py (one
// sigmoid hidden layer of 64, Adam lr 0.01, batches of 32, float64, no early stopping, the
// training and test parts evaluated after every epoch) on the split `matgrad train` makes
// (20 % test, seed 1), timed in one process, implementations interleaved round by round:
//   matgrad  -- nn::fit, as `matgrad train` runs it;
//   hand     -- the same epoch written directly on BLAS: shuffled columns gathered once per epoch,
//               batches read in place (ldb), bias + sigmoid and σ' + row sums fused in one pass
//               each, Adam as one loop over one contiguous parameter block, evaluation in one pass
//               per part; with matgrad's vectorized sigmoid and Adam kernels, so that the floor
//               differs from matgrad by the framework's overhead only;
//   mlpack   -- mlpack 4.8 FFN + ensmallen Adam, evaluation in an epoch callback (when built with it);
//   libtorch -- the C++ API's usual loop (when CMake found libtorch).
// Each is also run without the per-epoch evaluation, which splits an epoch into training and
// evaluation; matgrad's training is further split into its steps (the same steps on fixed,
// pre-gathered batches) and the rest (shuffle, gathering, history: bookkeeping).
// Usage: matgrad_bench_epoch --data NAME=FILE.csv:LABEL [--data ...] [--epochs 100] [--rounds 7]
//        matgrad_bench_epoch --data ... --profile matgrad|hand [--epochs N]  (one nn::fit, for callgrind)
#include "epoch_job.hpp"

#include <fused_update.hpp>  // nn/src and autodiff/src: the hand epoch uses matgrad's Adam loop
#include <vector_math.hpp>   // and sigmoid kernel, so it differs from matgrad by overhead only

#include <nn/nn.hpp>

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace matgrad::bench {

double thread_cpu_seconds() {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

namespace {

// ---------------------------------------------------------------------------------------------
// The data: `matgrad train`'s split and standardization of a binary CSV, through nn's public API

struct DataSet {
    std::string name;
    nn::FitData parts;
};

DataSet load(const std::string& name, const std::string& path, const std::string& label) {
    const io::CsvTable table = io::read_csv(path);
    const auto at = std::find(table.header.begin(), table.header.end(), label);
    if (at == table.header.end()) throw std::invalid_argument(path + " has no column " + label);
    const std::size_t label_column = static_cast<std::size_t>(at - table.header.begin());
    // table.values is columns x rows: samples are its columns already.
    const std::size_t rows = table.values.shape(1), features = table.values.shape(0) - 1;
    Matrix X({features, rows}), y({std::size_t{1}, rows});
    for (std::size_t c = 0, f = 0; c < table.values.shape(0); ++c) {
        Matrix& to = c == label_column ? y : X;
        const std::size_t row = c == label_column ? 0 : f++;
        for (std::size_t r = 0; r < rows; ++r) to(row, r) = table.values(c, r);
    }
    const nn::TargetCoding coding = nn::make_target_coding(nn::Task::binary, y);
    const nn::Split split = nn::split_samples(coding, y, 0.2, 0.0, 1);
    const nn::Standardization standard = nn::Standardization::of(nn::take_columns(X, split.train));
    const Matrix Xs = standard.apply(X), Y = coding.encode(y);
    return {name,
            {{nn::take_columns(Xs, split.train), nn::take_columns(Y, split.train)},
             {},
             {nn::take_columns(Xs, split.test), nn::take_columns(Y, split.test)}}};
}

EpochJob job_of(const DataSet& data, std::size_t epochs, bool evaluate) {
    const nn::Part &train = data.parts.train, &test = data.parts.test;
    return {train.X.shape(0), train.X.shape(1), test.X.shape(1), train.X.data(), train.Y.data(),
            test.X.data(), test.Y.data(), 64, 32, epochs, 0.01, 1, evaluate};
}

// ---------------------------------------------------------------------------------------------
// matgrad

nn::MLP fresh_model(const EpochJob& job) {
    nn::MLP model({job.d, job.hidden, 1}, nn::Activation::sigmoid, nn::Activation::sigmoid);
    model.init(job.seed);
    return model;
}

/// nn::fit with the job's options; without evaluation only the last epoch is evaluated.
EpochOutcome run_matgrad_fit(const DataSet& data, const EpochJob& job) {
    nn::MLP model = fresh_model(job);
    nn::FitOptions options;
    options.learning_rate = job.learning_rate;
    options.weight_decay = 0.0;
    options.epochs = job.epochs;
    options.batch = job.batch;
    options.patience = 0;
    options.seed = job.seed;
    options.evaluate_every = job.evaluate ? 1 : job.epochs;
    const double start = thread_cpu_seconds();
    const nn::FitResult r = nn::fit(model, nn::Task::binary, data.parts, options);
    const double cpu = thread_cpu_seconds() - start;
    const nn::EpochRecord& last = r.history.back();
    return {cpu, last.train_loss, last.test_loss, last.test_metric};
}

/// fit's steps alone: the same graph and optimizer on fixed batches gathered before timing, each
/// batch and the parameters moved onto the tape and back as fit does.
EpochOutcome run_matgrad_steps(const DataSet& data, const EpochJob& job) {
    nn::MLP model = fresh_model(job);
    nn::Adam adam(job.learning_rate);
    std::vector<nn::Part> batches;
    for (std::size_t first = 0; first < job.n_train; first += job.batch) {
        std::vector<std::size_t> columns(std::min(job.batch, job.n_train - first));
        for (std::size_t k = 0; k < columns.size(); ++k) columns[k] = first + k;
        batches.push_back({nn::take_columns(data.parts.train.X, columns), nn::take_columns(data.parts.train.Y, columns)});
    }
    Tape tapes[2];  // full batches and the shorter last one, as fit keeps them
    double loss = 0.0;
    const double start = thread_cpu_seconds();
    for (std::size_t epoch = 0; epoch < job.epochs; ++epoch) {
        for (nn::Part& b : batches) {
            Tape& tape = tapes[b.X.shape(1) == job.batch ? 0 : 1];
            tape.clear();
            const Var X = tape.constant(std::move(b.X), "X"), Y = tape.constant(std::move(b.Y), "Y");
            const Var J = nn::task_loss(nn::Task::binary, model.logits_on_loan(X), Y);
            tape.backward(J);
            loss = J.value()(0, 0);
            model.take_back_parameters();
            b.X = tape.release(X);
            b.Y = tape.release(Y);
            adam.step(model.parameters(), model.gradients());
        }
    }
    return {thread_cpu_seconds() - start, loss, NAN, NAN};
}

// ---------------------------------------------------------------------------------------------
// The hand-written epoch (the floor)

double bce_with_logit(double z, double y) { return std::max(z, 0.0) - z * y + std::log1p(std::exp(-std::abs(z))); }

class HandEpochs {
public:
    explicit HandEpochs(const EpochJob& job)
        : job_(job), d_(job.d), h_(job.hidden), n_(job.n_train),
          params_(h_ * d_ + 2 * h_ + 1), grads_(params_.size()), m_(params_.size()), v_(params_.size()),
          Xs_(d_ * n_), Ys_(n_), order_(n_), A1_(h_ * std::max(n_, job.n_test)), z2_(std::max(n_, job.n_test)),
          dZ1_(h_ * job.batch) {
        std::mt19937_64 rng(job.seed);  // Xavier uniform, biases 0
        const auto xavier = [&](double* w, std::size_t size, std::size_t in, std::size_t out) {
            const double a = std::sqrt(6.0 / static_cast<double>(in + out));
            std::uniform_real_distribution<double> u(-a, a);
            for (std::size_t k = 0; k < size; ++k) w[k] = u(rng);
        };
        xavier(W1(params_), h_ * d_, d_, h_);
        xavier(W2(params_), h_, h_, 1);
        for (std::size_t k = 0; k < n_; ++k) order_[k] = k;
    }

    EpochOutcome run() {
        EpochOutcome outcome{};
        std::mt19937_64 rng(job_.seed);
        const double start = thread_cpu_seconds();
        for (std::size_t epoch = 0; epoch < job_.epochs; ++epoch) {
            std::shuffle(order_.begin(), order_.end(), rng);
            for (std::size_t f = 0; f < d_; ++f)
                for (std::size_t k = 0; k < n_; ++k) Xs_[f * n_ + k] = job_.X_train[f * n_ + order_[k]];
            for (std::size_t k = 0; k < n_; ++k) Ys_[k] = job_.Y_train[order_[k]];
            for (std::size_t first = 0; first < n_; first += job_.batch) step(first, std::min(job_.batch, n_ - first));
            if (job_.evaluate) evaluate(outcome);
        }
        if (!job_.evaluate) evaluate(outcome);  // once, as fit evaluates the last epoch
        outcome.cpu_seconds = thread_cpu_seconds() - start;
        return outcome;
    }

private:
    // The parameter block: W1 (h x d), b1 (h), W2 (1 x h), b2; gradients in the same layout.
    double* W1(std::vector<double>& block) { return block.data(); }
    double* b1(std::vector<double>& block) { return block.data() + h_ * d_; }
    double* W2(std::vector<double>& block) { return block.data() + h_ * d_ + h_; }
    double& b2(std::vector<double>& block) { return block.back(); }

    /// A1 = σ(A1 + b1) in place, A1 being h x n; row by row while the row is in L1.
    void bias_sigmoid(std::size_t n) {
        for (std::size_t i = 0; i < h_; ++i) {
            double* row = A1_.data() + i * n;
            for (std::size_t j = 0; j < n; ++j) row[j] += b1(params_)[i];
            vector_math::sigmoid_array(row, row, n);
        }
    }

    /// One step on the shuffled columns first .. first + m - 1, read in place (ldb = n).
    void step(std::size_t first, std::size_t m) {
        const double* X = Xs_.data() + first;
        const double* Y = Ys_.data() + first;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, h_, m, d_, 1.0, W1(params_), d_, X, n_, 0.0, A1_.data(), m);
        bias_sigmoid(m);
        cblas_dgemv(CblasRowMajor, CblasTrans, h_, m, 1.0, A1_.data(), m, W2(params_), 1, 0.0, z2_.data(), 1);
        for (std::size_t j = 0; j < m; ++j) z2_[j] += b2(params_);
        vector_math::sigmoid_array(z2_.data(), z2_.data(), m);
        double db2 = 0.0;
        const double inv_m = 1.0 / static_cast<double>(m);
        for (std::size_t j = 0; j < m; ++j) db2 += z2_[j] = (z2_[j] - Y[j]) * inv_m;  // dz2
        b2(grads_) = db2;
        cblas_dgemv(CblasRowMajor, CblasNoTrans, h_, m, 1.0, A1_.data(), m, z2_.data(), 1, 0.0, W2(grads_), 1);
        for (std::size_t i = 0; i < h_; ++i) {  // dZ1 = (W2ᵀ dz2) ⊙ A1 (1 - A1), db1 = its row sums
            double row_sum = 0.0;
            const double w = W2(params_)[i];
            for (std::size_t j = 0; j < m; ++j) {
                const double a = A1_[i * m + j];
                row_sum += dZ1_[i * m + j] = w * z2_[j] * a * (1.0 - a);
            }
            b1(grads_)[i] = row_sum;
        }
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, h_, d_, m, 1.0, dZ1_.data(), m, X, n_, 0.0, W1(grads_), d_);
        ++t_;
        const double c1 = 1.0 - std::pow(0.9, static_cast<double>(t_)), c2 = 1.0 - std::pow(0.999, static_cast<double>(t_));
        nn::fused::adam_update(params_.data(), grads_.data(), m_.data(), v_.data(), params_.size(), job_.learning_rate,
                               0.9, 0.999, 1e-8, c1, c2, 0.0);
    }

    /// Mean BCE of a part, and its accuracy: one GEMM, one fused bias + sigmoid pass, one GEMV.
    std::pair<double, double> loss_and_accuracy(const double* X, const double* Y, std::size_t n) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, h_, n, d_, 1.0, W1(params_), d_, X, n, 0.0, A1_.data(), n);
        bias_sigmoid(n);
        cblas_dgemv(CblasRowMajor, CblasTrans, h_, n, 1.0, A1_.data(), n, W2(params_), 1, 0.0, z2_.data(), 1);
        double loss = 0.0, correct = 0.0;
        for (std::size_t j = 0; j < n; ++j) {
            const double z = z2_[j] + b2(params_);
            loss += bce_with_logit(z, Y[j]);
            correct += (z >= 0.0 ? 1.0 : 0.0) == Y[j];
        }
        return {loss / static_cast<double>(n), correct / static_cast<double>(n)};
    }

    void evaluate(EpochOutcome& outcome) {
        outcome.train_loss = loss_and_accuracy(job_.X_train, job_.Y_train, n_).first;
        std::tie(outcome.test_loss, outcome.test_accuracy) = loss_and_accuracy(job_.X_test, job_.Y_test, job_.n_test);
    }

    EpochJob job_;
    std::size_t d_, h_, n_;
    std::vector<double> params_, grads_, m_, v_, Xs_, Ys_;
    std::vector<std::size_t> order_;
    std::vector<double> A1_, z2_, dZ1_;
    std::size_t t_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Timing and report

struct Contender {
    std::string name;
    std::function<EpochOutcome()> run;
    std::vector<double> ms_per_epoch;
    EpochOutcome last{};
};

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::string cell(const std::vector<double>& v) {
    if (v.empty()) return "skipped";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3f [%.3f-%.3f]", median(v), *std::min_element(v.begin(), v.end()),
                  *std::max_element(v.begin(), v.end()));
    return buf;
}

std::string number(double x, const char* format = "%.3f") {
    if (std::isnan(x)) return "-";
    char buf[32];
    std::snprintf(buf, sizeof buf, format, x);
    return buf;
}

struct Result {
    std::string data;
    std::size_t rows;
    std::vector<Contender> contenders;
    const Contender* find(const std::string& name) const {
        for (const Contender& c : contenders)
            if (c.name == name) return &c;
        return nullptr;
    }
    double ms(const std::string& name) const {
        const Contender* c = find(name);
        return c && !c->ms_per_epoch.empty() ? median(c->ms_per_epoch) : NAN;
    }
    /// Per-epoch evaluation from a run with it and one evaluating only after the last epoch.
    double evaluation_ms(const std::string& name, std::size_t epochs) const {
        const double e = static_cast<double>(epochs);
        return (e * ms(name) - e * ms(name + " no-eval")) / (e - 1.0);
    }
};

Result run_data_set(const DataSet& data, std::size_t epochs, int rounds) {
    const EpochJob with = job_of(data, epochs, true), without = job_of(data, epochs, false);
    Result result{data.name, with.n_train, {}};
    std::vector<Contender>& c = result.contenders;
    const auto add = [&](const char* name, std::function<EpochOutcome()> run) { c.push_back({name, std::move(run), {}, {}}); };
    add("matgrad", [&] { return run_matgrad_fit(data, with); });
    add("matgrad no-eval", [&] { return run_matgrad_fit(data, without); });
    add("matgrad steps", [&] { return run_matgrad_steps(data, with); });
    add("hand", [&] { return HandEpochs(with).run(); });
    add("hand no-eval", [&] { return HandEpochs(without).run(); });
#ifdef MATGRAD_BENCH_MLPACK
    add("mlpack", [&] { return run_mlpack_epochs(with); });
    add("mlpack no-eval", [&] { return run_mlpack_epochs(without); });
#endif
#ifdef MATGRAD_BENCH_TORCH
    add("libtorch", [&] { return run_torch_epochs(with); });
    add("libtorch no-eval", [&] { return run_torch_epochs(without); });
#endif
    for (Contender& k : c) k.last = k.run();  // warm-up (and the accuracies)
    for (int round = 0; round < rounds; ++round) {
        for (std::size_t i = 0; i < c.size(); ++i) {  // the order rotates every round
            Contender& k = c[(i + static_cast<std::size_t>(round)) % c.size()];
            k.last = k.run();
            k.ms_per_epoch.push_back(1e3 * k.last.cpu_seconds / static_cast<double>(epochs));
        }
    }
    std::printf("%s: %zu training rows, %zu test rows, %d rounds done\n", data.name.c_str(), with.n_train,
                with.n_test, rounds);
    std::fflush(stdout);
    return result;
}

void report(const std::vector<Result>& results, std::size_t epochs, int rounds) {
    std::printf("\nCPU ms per epoch (calling thread, 1 BLAS thread), median of %d interleaved rounds [min-max], "
                "%zu epochs per run, evaluation of the training and test parts after every epoch\n",
                rounds, epochs);
    std::printf("%-14s %6s  %-22s %-22s %-22s %-22s %9s %10s %11s\n", "data", "rows", "matgrad", "hand (floor)",
                "mlpack 4.8", "libtorch", "mg/hand", "mlpack/mg", "libtorch/mg");
    for (const Result& r : results) {
        const auto samples = [&](const char* name) {
            const Contender* c = r.find(name);
            return c ? c->ms_per_epoch : std::vector<double>{};
        };
        std::printf("%-14s %6zu  %-22s %-22s %-22s %-22s %9s %10s %11s\n", r.data.c_str(), r.rows,
                    cell(samples("matgrad")).c_str(), cell(samples("hand")).c_str(), cell(samples("mlpack")).c_str(),
                    cell(samples("libtorch")).c_str(), number(r.ms("matgrad") / r.ms("hand"), "%.2f").c_str(),
                    number(r.ms("mlpack") / r.ms("matgrad"), "%.2f").c_str(),
                    number(r.ms("libtorch") / r.ms("matgrad"), "%.2f").c_str());
    }
    std::printf("\nWhere an epoch goes, CPU ms (medians; evaluation = (E x with - E x without) / (E - 1), "
                "training = epoch - evaluation; matgrad's training = steps + bookkeeping)\n");
    std::printf("%-14s %-10s %8s %9s %8s %12s %11s   %s\n", "data", "impl", "epoch", "training", "steps",
                "bookkeeping", "evaluation", "final train loss / test loss / test accuracy");
    for (const Result& r : results) {
        for (const char* name : {"matgrad", "hand", "mlpack", "libtorch"}) {
            const Contender* c = r.find(name);
            if (!c) continue;
            const double evaluation = r.evaluation_ms(name, epochs), training = r.ms(name) - evaluation;
            const bool mg = std::string(name) == "matgrad";
            const double steps = mg ? r.ms("matgrad steps") : NAN;
            std::printf("%-14s %-10s %8.3f %9.3f %8s %12s %11.3f   %.4f / %.4f / %.4f\n", r.data.c_str(), name,
                        r.ms(name), training, number(steps).c_str(), number(training - steps).c_str(), evaluation,
                        c->last.train_loss, c->last.test_loss, c->last.test_accuracy);
        }
    }
}

int usage(const char* why) {
    std::fprintf(stderr,
                 "matgrad_bench_epoch: %s\nusage: matgrad_bench_epoch --data NAME=FILE.csv:LABEL [--data ...] "
                 "[--epochs 100] [--rounds 7]\n       matgrad_bench_epoch --data ... --profile matgrad|hand "
                 "[--epochs N]\n",
                 why);
    return 2;
}

int run(int argc, char** argv) {
    std::vector<DataSet> sets;
    std::size_t epochs = 100;
    int rounds = 7;
    std::string profile;
    for (int k = 1; k < argc; ++k) {
        const std::string arg = argv[k];
        const bool has_value = k + 1 < argc;
        if (arg == "--data" && has_value) {
            const std::string spec = argv[++k];
            const std::size_t eq = spec.find('='), colon = spec.rfind(':');
            if (eq == std::string::npos || colon == std::string::npos || colon < eq) return usage("--data NAME=FILE:LABEL");
            sets.push_back(load(spec.substr(0, eq), spec.substr(eq + 1, colon - eq - 1), spec.substr(colon + 1)));
        } else if (arg == "--epochs" && has_value) epochs = std::strtoul(argv[++k], nullptr, 10);
        else if (arg == "--rounds" && has_value) rounds = std::atoi(argv[++k]);
        else if (arg == "--profile" && has_value) profile = argv[++k];
        else return usage(("unknown or incomplete argument: " + arg).c_str());
    }
    if (sets.empty() || epochs < 2 || rounds < 1) return usage("needs --data, --epochs >= 2, --rounds >= 1");
    openblas_set_num_threads(1);
    if (!profile.empty()) {
        if (profile != "matgrad" && profile != "hand") return usage("--profile takes matgrad or hand");
        for (const DataSet& s : sets) {
            const EpochJob job = job_of(s, epochs, true);
            const EpochOutcome o = profile == "matgrad" ? run_matgrad_fit(s, job) : HandEpochs(job).run();
            std::printf("%s %s: %zu epochs, %.3f ms/epoch, test accuracy %.4f\n", profile.c_str(), s.name.c_str(),
                        epochs, 1e3 * o.cpu_seconds / static_cast<double>(epochs), o.test_accuracy);
        }
        return 0;
    }
    std::printf("matgrad_bench_epoch: mlpack %s, libtorch %s\n",
#ifdef MATGRAD_BENCH_MLPACK
                "found",
#else
                "not built (column skipped)",
#endif
#ifdef MATGRAD_BENCH_TORCH
                "found"
#else
                "not found (column skipped)"
#endif
    );
    std::vector<Result> results;
    for (const DataSet& s : sets) results.push_back(run_data_set(s, epochs, rounds));
    report(results, epochs, rounds);
    return 0;
}

}  // namespace
}  // namespace matgrad::bench

int main(int argc, char** argv) {
    try {
        return matgrad::bench::run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "matgrad_bench_epoch: %s\n", e.what());
        return 1;
    }
}
