// Second order's cost: a Hessian-vector product against a gradient on the slides' network (S:
// 10-64-1, 7 samples) and the M case (100-256-1, 256 samples), both as bench_mlp's two-layer sigmoid
// network with the slides' mean BCE, and the full Hessian of S's 769 params. Each row times the whole
// step from an empty tape (record, then backward / hvp / hessian), and "hvp, same graph" a new
// direction on an already differentiated graph (its gradients are reused). One BLAS thread; the
// timings interleave so a noisy machine slows every row alike. Prints medians, the spread and the
// load average. PyTorch's side: bench/torch_hessian.py on the same shapes.
#include <autodiff/autodiff.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

extern "C" void openblas_set_num_threads(int);

namespace {

using namespace matgrad;

Matrix random_matrix(std::size_t rows, std::size_t cols, unsigned seed, double scale) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal(0.0, scale);
    Matrix m({rows, cols});
    for (double& x : m) x = normal(rng);
    return m;
}

struct Network {
    Matrix x, y, w1, b1, w2, b2;
    std::vector<Matrix> v;  // one direction per param
    Network(std::size_t d, std::size_t h, std::size_t n)
        : x(random_matrix(d, n, 1, 1.0)), y({1, n}), w1(random_matrix(h, d, 2, 1.0 / std::sqrt(double(d)))),
          b1(random_matrix(h, 1, 3, 0.1)), w2(random_matrix(1, h, 4, 1.0 / std::sqrt(double(h)))),
          b2(random_matrix(1, 1, 5, 0.1)) {
        for (std::size_t j = 0; j < n; ++j) y(0, j) = j % 2;
        v = {random_matrix(h, d, 6, 1.0), random_matrix(h, 1, 7, 1.0), random_matrix(1, h, 8, 1.0),
             random_matrix(1, 1, 9, 1.0)};
    }
    // Records the network on `tape` (cleared first) and returns its loss; `params` gets the four variables.
    Var record(Tape& tape, std::vector<Var>& params) const {
        tape.clear();
        const Var X = tape.constant(x), Y = tape.constant(y);
        params = {tape.variable(w1), tape.variable(b1), tape.variable(w2), tape.variable(b2)};
        const Var A1 = sigmoid(matmul(params[0], X) + params[1]);
        const Var A2 = sigmoid(matmul(params[2], A1) + params[3]);
        return -mean(Y * log(A2) + (1.0 - Y) * log(1.0 - A2));
    }
};

double seconds_of(const std::function<void()>& f, int reps) {
    const auto start = std::chrono::steady_clock::now();
    for (int r = 0; r < reps; ++r) f();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / reps;
}

double median(std::vector<double> xs) {
    std::sort(xs.begin(), xs.end());
    return xs[xs.size() / 2];
}

void bench(const char* name, const Network& net, int reps, int rounds, bool full_hessian) {
    Tape tape;
    std::vector<Var> params;
    Var J;
    const std::vector<std::pair<std::string, std::function<void()>>> rows{
        {"gradient (record + backward)", [&] { tape.backward(J = net.record(tape, params)); }},
        {"hvp (record + hvp)", [&] { tape.hvp(J = net.record(tape, params), params, net.v); }},
        {"hvp, same graph", [&] { tape.hvp(J, params, net.v); }},
    };
    std::vector<std::vector<double>> times(rows.size() + 1);
    double checksum = 0.0;
    Matrix H;
    for (int round = 0; round < rounds; ++round) {
        for (std::size_t k = 0; k < rows.size(); ++k) times[k].push_back(seconds_of(rows[k].second, reps));
        if (full_hessian)
            times.back().push_back(seconds_of([&] { H = hessian(J = net.record(tape, params), params); }, 1));
        checksum += params[0].grad_tangent()(0, 0);
    }
    const double gradient = median(times[0]);
    for (std::size_t k = 0; k < rows.size(); ++k)
        std::printf("%-3s %-30s %10.1f us  (min %.1f, max %.1f)  %5.2fx the gradient\n", name, rows[k].first.c_str(),
                    1e6 * median(times[k]), 1e6 * *std::min_element(times[k].begin(), times[k].end()),
                    1e6 * *std::max_element(times[k].begin(), times[k].end()), median(times[k]) / gradient);
    if (full_hessian)
        std::printf("%-3s %-30s %10.1f ms  (min %.1f, max %.1f)  %zux%zu, %.0fx the gradient\n", name,
                    "full Hessian (record + hessian)", 1e3 * median(times.back()),
                    1e3 * *std::min_element(times.back().begin(), times.back().end()),
                    1e3 * *std::max_element(times.back().begin(), times.back().end()), H.shape(0), H.shape(1),
                    median(times.back()) / gradient);
    std::printf("(checksum %.6g)\n", checksum);
}

}  // namespace

int main(int argc, char** argv) {
    openblas_set_num_threads(1);
    const int rounds = argc > 1 ? std::atoi(argv[1]) : 15;
    double load[3] = {0, 0, 0};
    if (FILE* f = std::fopen("/proc/loadavg", "r")) {
        if (std::fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) load[0] = -1;
        std::fclose(f);
    }
    std::printf("matgrad_bench_hessian: medians of %d interleaved rounds, 1 BLAS thread, load average %.2f %.2f %.2f\n",
                rounds, load[0], load[1], load[2]);
    bench("S", Network(10, 64, 7), 200, rounds, true);
    bench("M", Network(100, 256, 256), 10, rounds, false);
    return 0;
}
