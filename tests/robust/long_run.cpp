// Steady state costs no memory:
//   long_run [STEPS]  1e5 training steps of the slides' network on one tape: the resident set size
//                     must not grow by more than 1 MB after warm-up (Tape::clear() keeps and reuses
//                     every buffer).
//   long_run fit      nn::fit, the loop of `matgrad train`, on a digits-shaped data set for each
//                     task: no heap allocation at all in any epoch after the second (mini-batches,
//                     the last shorter batch, the evaluation of all three parts and the early-
//                     stopping copy of the best parameters included), and RSS flat; also with a
//                     full batch and through nn::train (the parts as index lists).
//   long_run hvp      Hessian-vector products of the slides' network (and a softmax cross-entropy
//                     head) on a reused tape: none allocates after the first, whether the graph is
//                     recorded afresh each time or the same graph takes new directions.
#include "../rss_meaningful.hpp"
#include "../allocation_counter.hpp"
#include "slides_training.hpp"

#include <nn/nn.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>
#include <string>
#include <vector>


namespace {

using namespace matgrad;

/// From /proc/self/statm, read without allocating (an ifstream would, inside the counted epochs).
long resident_kib() {
    char text[128] = {};
    const int fd = ::open("/proc/self/statm", O_RDONLY);
    if (fd < 0) return 0;
    const ssize_t got = ::read(fd, text, sizeof text - 1);
    ::close(fd);
    long pages = 0, resident = 0;
    if (got <= 0 || std::sscanf(text, "%ld %ld", &pages, &resident) != 2) return 0;
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

int slides_steps(long steps) {
    test::SlidesModel model(3);
    Tape tape;
    double first_loss = model.step(tape, 0.5), loss = first_loss;
    for (int s = 1; s < 1000; ++s) loss = model.step(tape, 0.5);  // warm-up
    const long before = resident_kib();
    for (long s = 1000; s < steps; ++s) loss = model.step(tape, 0.5);
    const long after = resident_kib();
    std::printf("%ld steps: loss %.6f -> %.6f, RSS after warm-up %ld KiB, at the end %ld KiB (growth %ld KiB)\n",
                steps, first_loss, loss, before, after, after - before);
    const bool learned = loss < first_loss;
    const bool flat = after - before <= 1024;
    if (!learned) std::printf("FAIL: the loss did not decrease\n");
    if (!flat) std::printf("FAIL: RSS grew by more than 1 MB\n");
    return learned && flat ? 0 : 1;
}

/// A part of n samples with 64 features in 0..16 standardized, and targets of `task` that depend
/// on the first features (so that the validation loss improves for a while and the best
/// parameters are copied).
nn::Part make_part(nn::Task task, std::size_t n, std::uint64_t seed) {
    nn::Rng rng(seed);
    nn::Part part{Matrix({std::size_t{64}, n}), Matrix({task == nn::Task::multiclass ? std::size_t{3} : std::size_t{1}, n})};
    for (double& x : part.X) x = (std::floor(rng.uniform() * 17.0) - 8.0) / 5.0;
    part.Y.fill(0.0);
    for (std::size_t j = 0; j < n; ++j) {
        const double score = part.X(0, j) + part.X(1, j) - part.X(2, j) + 0.5 * (rng.uniform() - 0.5);
        if (task == nn::Task::binary) part.Y(0, j) = score > 0;
        if (task == nn::Task::multiclass) part.Y(score < -0.5 ? 0 : score < 0.5 ? 1 : 2, j) = 1.0;
        if (task == nn::Task::regression) part.Y(0, j) = score;
    }
    return part;
}

/// Runs one training (run(hooks) -> FitResult) and judges its steady state: no allocation in any
/// epoch after the second, RSS flat, and the validation loss improving after epoch 2 (so that the
/// best parameters were copied in the counted epochs).
template <class Run>
bool steady_state(const char* what, std::size_t epochs, Run&& run) {
    std::vector<std::size_t> counts;  // allocations so far, at the end of each epoch
    std::vector<long> rss;
    counts.reserve(epochs);
    rss.reserve(epochs);
    nn::FitHooks hooks{[&](const nn::EpochRecord&) {
                           counts.push_back(test::allocations.load());
                           rss.push_back(resident_kib());
                       },
                       {}};
    const std::size_t at_start = test::allocations.load();
    const nn::FitResult r = run(hooks);
    std::size_t steady = 0;
    for (std::size_t e = 2; e < counts.size(); ++e) steady += counts[e] - counts[e - 1];
    const long growth = rss.back() - rss[1];
    std::printf("%-22s %zu epochs (best %zu): %zu allocations in epoch 1, %zu in epoch 2, %zu in "
                "epochs 3-%zu; RSS after epoch 2 %ld KiB, growth %ld KiB\n",
                what, r.history.size(), r.best_epoch, counts[0] - at_start, counts[1] - counts[0], steady, epochs,
                rss[1], growth);
    if (steady != 0) std::printf("FAIL: a steady-state epoch allocated\n");
    // Under AddressSanitizer RSS says nothing about our allocations (its allocator maps and
    // poisons memory of its own); the allocation count above still holds there.
    const bool rss_flat = kRssMeaningful ? growth <= 1024 : true;
    if (!rss_flat) std::printf("FAIL: RSS grew by more than 1 MB\n");
    if (!kRssMeaningful) std::printf("(RSS not judged: AddressSanitizer build)\n");
    if (r.best_epoch < 3) std::printf("FAIL: the validation loss never improved after epoch 2\n");
    return steady == 0 && rss_flat && r.best_epoch >= 3;
}

int fit_epochs(std::size_t epochs) {
    bool ok = true;
    nn::FitOptions options;
    options.epochs = epochs;
    options.patience = epochs;  // never stops, keeps copying the best parameters while they improve
    for (const nn::Task task : {nn::Task::binary, nn::Task::multiclass, nn::Task::regression}) {
        // The digits odd/even shape: 1438 training samples (44 batches of 32 and one of 30).
        const nn::FitData data{make_part(task, 1438, 1), make_part(task, 160, 2), make_part(task, 199, 3)};
        nn::MLP model({64, 64, data.train.Y.shape(0)}, nn::Activation::sigmoid,
                      task == nn::Task::binary ? nn::Activation::sigmoid : nn::Activation::identity);
        model.init(1);
        const std::string what = std::string("fit ") + nn::task_name(task);
        ok = steady_state(what.c_str(), epochs, [&](const nn::FitHooks& hooks) {
                 return nn::fit(model, task, data, options, hooks);
             }) && ok;
    }
    // Full batch: the training part is gathered once, each step moves it onto the tape and back.
    const nn::FitData data{make_part(nn::Task::binary, 300, 1), make_part(nn::Task::binary, 160, 2), {}};
    nn::MLP model({64, 16, 1}, nn::Activation::sigmoid, nn::Activation::sigmoid);
    model.init(1);
    nn::FitOptions full_batch = options;
    full_batch.batch = 300;
    ok = steady_state("fit full batch", epochs, [&](const nn::FitHooks& hooks) {
             return nn::fit(model, nn::Task::binary, data, full_batch, hooks);
         }) && ok;
    // nn::train, as `matgrad train` runs it: the parts are index lists into one standardized matrix.
    const nn::Part all = make_part(nn::Task::binary, 1797, 4);
    nn::TrainOptions train_options;
    static_cast<nn::FitOptions&>(train_options) = options;
    train_options.hidden = {64};
    ok = steady_state("train (index parts)", epochs, [&](const nn::FitHooks& hooks) {
             return nn::train(all.X, all.Y, std::vector<std::string>(64, "x"), "y", train_options, hooks).fit;
         }) && ok;
    return ok ? 0 : 1;
}

int hvp_steps(long steps) {
    test::SlidesModel model(3);
    const Matrix t = test::random_matrix(3, 7, 9);
    const Matrix w3 = test::random_matrix(3, 1, 10);
    const std::vector<Matrix> v = {test::random_matrix(64, 10, 4), test::random_matrix(64, 1, 5),
                                   test::random_matrix(1, 64, 6), test::random_matrix(1, 1, 7),
                                   test::random_matrix(3, 1, 8)};
    std::vector<Matrix> same_graph = v;
    Tape tape;
    std::size_t recorded = 0, reused = 0;
    double check = 0.0;
    for (long s = 0; s < steps; ++s) {
        const std::size_t before = test::allocations.load();
        tape.clear();
        const Var X = tape.constant(model.x, "X"), Y = tape.constant(model.y, "Y"), T = tape.constant(t, "T");
        const Var W1 = tape.variable(model.w1, "W1"), B1 = tape.variable(model.b1, "b1");
        const Var W2 = tape.variable(model.w2, "W2"), B2 = tape.variable(model.b2, "b2");
        const Var W3 = tape.variable(w3, "W3");
        const Var A1 = sigmoid(matmul(W1, X) + B1);
        const Var A2 = sigmoid(matmul(W2, A1) + B2);
        const Var J = -mean(Y * log(A2) + (1.0 - Y) * log(1.0 - A2)) +
                      nn::softmax_cross_entropy(matmul(W3, A2), softmax(T));
        tape.hvp(J, {W1, B1, W2, B2, W3}, v);  // gradients and their tangents
        const std::size_t middle = test::allocations.load();
        for (Matrix& d : same_graph) d *= -1.0;
        tape.hvp(J, {W1, B1, W2, B2, W3}, same_graph);  // the gradients are current: tangents only
        check += std::abs(W1.grad_tangent()(0, 0));
        if (s >= 2) {
            recorded += middle - before;
            reused += test::allocations.load() - middle;
        }
    }
    std::printf("%ld HVP rounds (checksum %.6g): %zu allocations recording + hvp, %zu in hvp on the same graph, "
                "after the first 2 rounds\n",
                steps, check, recorded, reused);
    if (recorded + reused != 0) std::printf("FAIL: a repeated HVP allocated\n");
    return recorded + reused == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 1 && std::strcmp(argv[1], "hvp") == 0) return hvp_steps(argc > 2 ? std::atol(argv[2]) : 100);
    if (argc > 1 && std::strcmp(argv[1], "fit") == 0) return fit_epochs(argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 30);
    return slides_steps(argc > 1 ? std::atol(argv[1]) : 100000);
}
