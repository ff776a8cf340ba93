// matgrad_bench_text: the slides' S case (X 10x7, W1 64x10, b1 64x1, W2 1x64, b2 1x1) as a model
// file (examples/models/slides.mg, parsed once, recorded every step) vs the same graph written in
// C++, one SGD training step each, repetitions interleaved in one run. Both copy their leaves into
// the tape and name the same nodes, so the difference is the interpretation of the parsed model.
// The two must produce bit-identical gradients before anything is timed.
// Usage: matgrad_bench_text [--reps N] [--batch N]
#include <autodiff/autodiff.hpp>
#include <lang/model.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

using namespace matgrad;

namespace {

constexpr double kLearningRate = 0.01;

lang::Values make_values() {
    std::mt19937_64 rng(42);
    std::normal_distribution<double> normal(0.0, 1.0);
    auto randn = [&](std::size_t rows, std::size_t cols, double scale) {
        Matrix m({rows, cols});
        for (double& x : m) x = scale * normal(rng);
        return m;
    };
    Matrix Y({1, 7});
    for (double& y : Y) y = normal(rng) > 0 ? 1.0 : 0.0;
    return {{"X", randn(10, 7, 1.0)}, {"Y", Y},  {"W1", randn(64, 10, 0.3)},
            {"b1", randn(64, 1, 0.1)}, {"W2", randn(1, 64, 0.125)}, {"b2", randn(1, 1, 0.1)}};
}

const char* const kParams[] = {"W1", "b1", "W2", "b2"};

/// The same graph in C++: what slides.mg says, node for node.
struct CppStep {
    lang::Values v = make_values();
    Tape tape;
    Var params[4];
    double operator()() {
        tape.clear();
        const Var X = tape.constant(v.at("X"), "X"), Y = tape.constant(v.at("Y"), "Y");
        for (int k = 0; k < 4; ++k) params[k] = tape.variable(v.at(kParams[k]), kParams[k]);
        const Var Z1 = (matmul(params[0], X) + params[1]).named("Z1");
        const Var A1 = sigmoid(Z1).named("A1");
        const Var Z2 = (matmul(params[2], A1) + params[3]).named("Z2");
        const Var A2 = sigmoid(Z2).named("A2");
        const Var J = (-mean(Y * log(A2) + (1.0 - Y) * log(1.0 - A2))).named("J");
        tape.backward(J);
        for (int k = 0; k < 4; ++k) xt::noalias(v.at(kParams[k])) -= kLearningRate * params[k].grad();
        return J.value()(0, 0);
    }
    const Matrix& grad(int k) const { return params[k].grad(); }
};

/// The model file, parsed once.
struct TextStep {
    explicit TextStep(lang::Model m) : model(std::move(m)) {
        for (int k = 0; k < 4; ++k) index[k] = model.index_of(kParams[k]);
    }
    lang::Model model;
    std::size_t index[4];
    lang::Values v = make_values();
    Tape tape;
    Var params[4];
    double operator()() {
        tape.clear();
        const lang::Recording r = model.record(tape, v);
        tape.backward(r.output());
        for (int k = 0; k < 4; ++k) {
            params[k] = r[index[k]];
            xt::noalias(v.at(kParams[k])) -= kLearningRate * params[k].grad();
        }
        return r.output().value()(0, 0);
    }
    const Matrix& grad(int k) const { return params[k].grad(); }
};

double thread_cpu_seconds() {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

double median(std::vector<double> x) {
    std::sort(x.begin(), x.end());
    return x.size() % 2 ? x[x.size() / 2] : 0.5 * (x[x.size() / 2 - 1] + x[x.size() / 2]);
}

}  // namespace

int main(int argc, char** argv) {
    int reps = 301, batch = 100;
    for (int k = 1; k + 1 < argc; k += 2) {
        const std::string arg = argv[k];
        if (arg == "--reps") reps = std::atoi(argv[k + 1]);
        else if (arg == "--batch") batch = std::atoi(argv[k + 1]);
    }
    std::ifstream file(MATGRAD_SLIDES_MODEL);
    const std::string text{std::istreambuf_iterator<char>(file), {}};
    CppStep cpp;
    TextStep txt(lang::Model::parse(text, MATGRAD_SLIDES_MODEL));

    // Same parameters, same step: the gradients must agree to the bit.
    const double J_cpp = cpp(), J_txt = txt();
    for (int k = 0; k < 4; ++k)
        if (!(cpp.grad(k) == txt.grad(k)) || J_cpp != J_txt) {
            std::fprintf(stderr, "matgrad_bench_text: the text model's %s differs from the C++ graph's\n", kParams[k]);
            return 1;
        }

    std::vector<double> cpp_us, txt_us;
    for (int rep = 0; rep < reps; ++rep) {
        for (int which = 0; which < 2; ++which) {  // alternate which runs first
            const bool text_now = (rep + which) % 2 == 0;
            const double start = thread_cpu_seconds();
            for (int b = 0; b < batch; ++b) text_now ? txt() : cpp();
            (text_now ? txt_us : cpp_us).push_back(1e6 * (thread_cpu_seconds() - start) / batch);
        }
    }
    const double c = median(cpp_us), t = median(txt_us);
    std::printf("slides' S case (10-64-1, 7 samples), one SGD step, median of %d x %d steps (thread CPU time):\n"
                "  C++ graph   %.2f us\n  text model  %.2f us\n  text / C++  %.3f\n",
                reps, batch, c, t, t / c);
    return 0;
}
