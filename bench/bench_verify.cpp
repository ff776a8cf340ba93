// matgrad_bench_verify: how long matgrad::verify takes (via nn::verify_mlp_report, the path of
// `matgrad verify`) on the slides' network and on a 4-layer network of width 256, with every
// gradient given by hand (the slides' formulas, nn::reference_pass) and one of them wrong.
// Prints the number of reverse passes and the median of the repetitions.
// Usage: matgrad_bench_verify [--reps N]
#include <nn/reference.hpp>
#include <nn/verify.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using namespace matgrad;

void run(const char* label, const std::vector<std::size_t>& sizes, std::size_t samples, int reps) {
    nn::MlpSource source;
    source.sizes = sizes;
    source.samples = samples;
    source.seed = 1;
    const nn::MlpProblem p = nn::load_mlp_problem(source);
    const nn::ForwardBackward ref = nn::reference_pass(p.W, p.b, p.X, p.Y);
    std::map<std::string, Matrix> hand;
    for (std::size_t l = 1; l <= p.depth(); ++l) {
        const std::string s = std::to_string(l);
        hand["dW" + s] = ref.dW[l];
        hand["db" + s] = ref.db[l];
        hand["dZ" + s] = ref.dZ[l];
        hand["dA" + s] = ref.dA[l];
    }
    hand["db1"] = ref.dZ[1];  // one wrong line: not summed over the samples
    std::vector<double> ms;
    VerifyReport report;
    for (int r = 0; r < reps; ++r) {
        const auto start = std::chrono::steady_clock::now();
        report = nn::verify_mlp_report(p, hand);
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    // One plain backward() of the same graph, for the per-pass cost.
    Tape tape;
    const Var J = nn::record_mlp_loss(tape, p);
    std::vector<double> one;
    for (int r = 0; r < reps; ++r) {
        const auto start = std::chrono::steady_clock::now();
        tape.backward(J);
        one.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(ms.begin(), ms.end());
    std::sort(one.begin(), one.end());
    std::printf("%-28s %3zu hand gradients  %4zu reverse passes  verify median %8.2f ms (min %.2f, max %.2f, %d runs)"
                "  one backward() %.3f ms\n",
                label, hand.size(), report.reverse_passes, ms[ms.size() / 2], ms.front(), ms.back(), reps,
                one[one.size() / 2]);
}

}  // namespace

int main(int argc, char** argv) {
    int reps = 21;
    for (int i = 1; i + 1 < argc; ++i)
        if (std::strcmp(argv[i], "--reps") == 0) reps = std::max(1, std::atoi(argv[i + 1]));
    run("slides 10-64-1, n = 7", {10, 64, 1}, 7, reps);
    run("4 layers width 256, n = 64", {256, 256, 256, 256, 1}, 64, std::max(1, reps / 4));
    return 0;
}
