// matgrad_bench_kernels: the element-wise kernels and optimizer loops of issue 15, each against what
// the engine runs today, on the shapes of the two training cases, repetitions interleaved.
//   exp / sigmoid  -- the scalar libm loop the Exp and Sigmoid ops run today vs
//                     vector_math's baseline (SSE2 on x86-64) and AVX2 clones
//   Adam / SGD     -- today's xtensor expressions (nn/src/optim.cpp) vs the fused loops
//                     (nn/src/fused_update.hpp), and Adam's loop over all parameters laid out
//                     as one contiguous block, on the breast-cancer and digits networks'
//                     parameters (64x30 or 64x64, 64x1, 1x64, 1x1) and the L case's 1024x1024
// Results are checked to agree (exp/sigmoid within the stated ulps, optimizers bit for bit) before
// anything is timed. Times are CPU time of this thread (the machine may be shared); the median over
// the rounds, with the fastest and slowest round.
// Usage: matgrad_bench_kernels [--rounds N]
#include <vector_math.hpp>
#include <fused_update.hpp>

#include <autodiff/autodiff.hpp>

#include <xtensor/xmath.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace {

using matgrad::Matrix;
namespace vm = matgrad::vector_math;
namespace fused = matgrad::nn::fused;

double thread_seconds() {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

struct Contender {
    std::string name;
    std::function<void()> run;
    std::vector<double> seconds;  // one entry per round: the time of one run()
};

// Each round runs every contender `inner` times, starting with a different one every round.
void time_interleaved(std::vector<Contender>& cs, int rounds, int inner) {
    for (Contender& c : cs) c.run();  // warm-up
    for (int r = 0; r < rounds; ++r)
        for (std::size_t k = 0; k < cs.size(); ++k) {
            Contender& c = cs[(k + static_cast<std::size_t>(r)) % cs.size()];
            const double start = thread_seconds();
            for (int i = 0; i < inner; ++i) c.run();
            c.seconds.push_back((thread_seconds() - start) / inner);
        }
}

double median_of(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

// Prints one table: microseconds per call (median [min-max]) and the speedup over the first row.
void report(const std::string& title, std::vector<Contender>& cs, int rounds, std::size_t elements) {
    const int inner = std::max(1, static_cast<int>(2e6 / static_cast<double>(elements)));
    time_interleaved(cs, rounds, inner);
    std::printf("\n%s (%zu elements, %d rounds x %d calls)\n", title.c_str(), elements, rounds, inner);
    const double base = median_of(cs.front().seconds);
    for (const Contender& c : cs) {
        const double med = median_of(c.seconds);
        const auto [lo, hi] = std::minmax_element(c.seconds.begin(), c.seconds.end());
        std::printf("  %-28s %10.1f us [%.1f-%.1f]  %5.2f ns/elem  %5.2fx\n", c.name.c_str(), 1e6 * med,
                    1e6 * *lo, 1e6 * *hi, 1e9 * med / static_cast<double>(elements), base / med);
    }
}

std::vector<double> random_values(std::size_t n, double spread, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal(0.0, spread);
    std::vector<double> v(n);
    for (double& x : v) x = normal(rng);
    return v;
}

[[noreturn]] void fail(const std::string& what) {
    std::fprintf(stderr, "matgrad_bench_kernels: %s\n", what.c_str());
    std::exit(1);
}

double max_ulps(const std::vector<double>& a, const std::vector<double>& b) {
    double worst = 0;
    for (std::size_t k = 0; k < a.size(); ++k) {
        std::int64_t ia, ib;
        std::memcpy(&ia, &a[k], 8);
        std::memcpy(&ib, &b[k], 8);
        worst = std::max(worst, std::abs(static_cast<double>(ia - ib)));
    }
    return worst;
}

// One element-wise kernel: the scalar loop (inlined, as in the op) against every clone, after
// checking they agree.
template <double (*scalar)(double)>
void bench_unary(const char* what, void (*kernel)(vm::Isa, const double*, double*, std::size_t),
                 double tolerance_ulps, std::size_t rows, std::size_t cols, int rounds) {
    const std::size_t n = rows * cols;
    const std::vector<double> x = random_values(n, 4.0, 3);  // pre-activations of a few units
    std::vector<double> out(n), reference(n);
    for (std::size_t k = 0; k < n; ++k) reference[k] = scalar(x[k]);
    std::vector<Contender> cs{{std::string("scalar libm loop (today)"), [&] {
                                   const double* in = x.data();
                                   double* o = out.data();
                                   for (std::size_t k = 0; k < n; ++k) o[k] = scalar(in[k]);
                               }, {}}};
    for (const vm::Isa isa : {vm::Isa::baseline, vm::Isa::avx2}) {
        if (!vm::cpu_supports(isa)) continue;
        kernel(isa, x.data(), out.data(), n);
        if (max_ulps(out, reference) > tolerance_ulps) fail(std::string(what) + " disagrees with libm");
        cs.push_back({std::string(what) + (isa == vm::Isa::avx2 ? "_array avx2" : "_array baseline"),
                      [&, isa] { kernel(isa, x.data(), out.data(), n); }, {}});
    }
    report(std::string(what) + " " + std::to_string(rows) + "x" + std::to_string(cols), cs, rounds, n);
}

// Adam and SGD on a set of parameter shapes: today's xtensor expressions vs the fused loops.
void bench_optimizers(const char* label, const std::vector<std::array<std::size_t, 2>>& shapes, int rounds) {
    struct State {
        Matrix p, g, m, v;
    };
    const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8, c1 = 1 - b1 * b1, c2 = 1 - b2 * b2;
    std::vector<State> xs, fs;
    std::size_t elements = 0;
    unsigned seed = 1;
    for (const auto& s : shapes) {
        const auto make = [&] {
            Matrix m({s[0], s[1]});
            const std::vector<double> r = random_values(m.size(), 1.0, seed++);
            std::copy(r.begin(), r.end(), m.begin());
            return m;
        };
        State st{make(), make(), make(), xt::abs(make())};
        xs.push_back(st);
        fs.push_back(st);
        elements += st.p.size();
    }
    const auto adam_xtensor = [&] {  // nn/src/optim.cpp, Adam::step's loop body
        for (State& s : xs) {
            xt::noalias(s.m) = b1 * s.m + (1.0 - b1) * s.g;
            xt::noalias(s.v) = b2 * s.v + (1.0 - b2) * s.g * s.g;
            xt::noalias(s.p) -= lr * (s.m / c1) / (xt::sqrt(s.v / c2) + eps);
        }
    };
    const auto adam_fused = [&] {
        for (State& s : fs)
            fused::adam_update(s.p.data(), s.g.data(), s.m.data(), s.v.data(), s.p.size(), lr, b1, b2, eps, c1, c2, 0.0);
    };
    // The same parameters and states laid end to end: what "Adam over one contiguous block" would
    // save is the per-parameter call overhead (issue 23 measured it here before deciding).
    std::vector<double> block_p, block_g, block_m, block_v;
    for (const State& s : fs) {
        block_p.insert(block_p.end(), s.p.begin(), s.p.end());
        block_g.insert(block_g.end(), s.g.begin(), s.g.end());
        block_m.insert(block_m.end(), s.m.begin(), s.m.end());
        block_v.insert(block_v.end(), s.v.begin(), s.v.end());
    }
    const auto adam_block = [&] {
        fused::adam_update(block_p.data(), block_g.data(), block_m.data(), block_v.data(), block_p.size(), lr, b1, b2,
                           eps, c1, c2, 0.0);
    };
    adam_xtensor();
    adam_fused();
    adam_block();
    for (std::size_t k = 0, offset = 0; k < xs.size(); offset += xs[k].p.size(), ++k) {
        if (std::memcmp(xs[k].p.data(), fs[k].p.data(), xs[k].p.size() * 8) != 0) fail("fused Adam differs in the bits");
        if (std::memcmp(fs[k].p.data(), block_p.data() + offset, fs[k].p.size() * 8) != 0)
            fail("Adam over one block differs in the bits from Adam per parameter");
    }
    std::vector<Contender> adam{{"xtensor Adam (today)", adam_xtensor, {}}, {"fused adam_update", adam_fused, {}},
                                {"fused, one contiguous block", adam_block, {}}};
    report(std::string("Adam step, ") + label, adam, rounds, elements);

    std::vector<Contender> sgd{
        {"xtensor SGD (today)", [&] { for (State& s : xs) xt::noalias(s.p) -= lr * s.g; }, {}},
        {"fused sgd_update", [&] { for (State& s : fs) fused::sgd_update(s.p.data(), s.g.data(), s.p.size(), lr, 0.0); }, {}}};
    report(std::string("SGD step, ") + label, sgd, rounds, elements);
}

double scalar_exp(double x) { return std::exp(x); }

}  // namespace

int main(int argc, char** argv) {
    int rounds = 21;
    for (int a = 1; a < argc; ++a) {
        if (std::strcmp(argv[a], "--rounds") == 0 && a + 1 < argc) rounds = std::atoi(argv[++a]);
        else fail(std::string("unknown argument '") + argv[a] + "' (usage: matgrad_bench_kernels [--rounds N])");
    }
    if (rounds < 1) fail("--rounds must be at least 1");
    std::printf("matgrad_bench_kernels: dispatched clone '%s', %d rounds; CPU time per call\n",
                vm::dispatched_isa(), rounds);
    void (*exp_kernel)(vm::Isa, const double*, double*, std::size_t) = vm::exp_array;
    void (*sigmoid_kernel)(vm::Isa, const double*, double*, std::size_t) = vm::sigmoid_array;
    for (const auto& [rows, cols] : {std::array<std::size_t, 2>{64, 1438}, {1024, 1024}}) {
        bench_unary<scalar_exp>("exp", exp_kernel, vm::kExpMaxUlps, rows, cols, rounds);
        bench_unary<matgrad::sigmoid>("sigmoid", sigmoid_kernel, vm::kSigmoidMaxUlps, rows, cols, rounds);
    }
    bench_optimizers("breast-cancer net (64x30, 64x1, 1x64, 1x1)", {{64, 30}, {64, 1}, {1, 64}, {1, 1}}, rounds);
    bench_optimizers("digits net (64x64, 64x1, 1x64, 1x1)", {{64, 64}, {64, 1}, {1, 64}, {1, 1}}, rounds);
    bench_optimizers("L (1024x1024)", {{1024, 1024}}, rounds);
}
