// matgrad_bench: one training step of the slides' sigmoid MLP (samples as columns, mean BCE, SGD)
// timed four ways in one run, repetitions interleaved:
//   matgrad  -- the public API: a fresh graph per step on one tape reused with clear(), each layer's
//               W A + b one affine op (as nn's layers record it)
//   hand     -- what a careful engineer writes by hand: preallocated buffers, cblas_dgemm with
//               transpose flags, fused loops, no temporaries
//   floor    -- the hand step's five dgemm calls alone: no implementation can beat it
//   libtorch -- the same graph with torch autograd (when CMake found libtorch)
// All implementations must agree on the gradients (1e-10) before anything is timed.
// Usage: matgrad_bench [--cases S,M,L] [--threads 1,2] [--quick] [--rss-steps N] [--json FILE]
//        matgrad_bench --profile matgrad|hand|floor --cases S --steps N   (only that step, for perf/callgrind)
#include "stepper.hpp"

#include <autodiff/autodiff.hpp>

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <new>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

// Heap allocation counter: every operator new of this process is counted (xtensor's default
// allocator is std::allocator, i.e. operator new).
#include "allocation_counter.hpp"

namespace matgrad::bench {
namespace {

// ---------------------------------------------------------------------------------------------
// The implementations

double sigmoid_of(double x) { return 1.0 / (1.0 + std::exp(-x)); }

Matrix to_matrix(const double* data, std::size_t rows, std::size_t cols) {
    Matrix m({rows, cols});
    std::copy(data, data + rows * cols, m.data());
    return m;
}

class MatgradStepper final : public Stepper {
public:
    explicit MatgradStepper(const Problem& p)
        : X_(to_matrix(p.X, p.d, p.n)), Y_(to_matrix(p.Y, 1, p.n)), W1_(to_matrix(p.W1, p.h, p.d)),
          b1_(to_matrix(p.b1, p.h, 1)), W2_(to_matrix(p.W2, 1, p.h)), b2_(to_matrix(p.b2, 1, 1)),
          lr_(p.learning_rate) {}

    // Data and parameters are moved into the tape and taken back with release(): no step copies
    // a matrix (for L that is 16 MB per step of X and W1).
    double step() override {
        tape_.clear();
        const Var X = tape_.constant(std::move(X_), "X"), Y = tape_.constant(std::move(Y_), "Y");
        W1v_ = tape_.variable(std::move(W1_), "W1");
        b1v_ = tape_.variable(std::move(b1_), "b1");
        W2v_ = tape_.variable(std::move(W2_), "W2");
        b2v_ = tape_.variable(std::move(b2_), "b2");
        const Var A1 = sigmoid(affine(W1v_, X, b1v_));
        const Var A2 = sigmoid(affine(W2v_, A1, b2v_));
        const Var J = -mean(Y * log(A2) + (1.0 - Y) * log(1.0 - A2));
        tape_.backward(J);
        const double loss = J.value()(0, 0);
        X_ = tape_.release(X);
        Y_ = tape_.release(Y);
        W1_ = tape_.release(W1v_);
        b1_ = tape_.release(b1v_);
        W2_ = tape_.release(W2v_);
        b2_ = tape_.release(b2v_);
        xt::noalias(W1_) -= lr_ * W1v_.grad();
        xt::noalias(b1_) -= lr_ * b1v_.grad();
        xt::noalias(W2_) -= lr_ * W2v_.grad();
        xt::noalias(b2_) -= lr_ * b2v_.grad();
        return loss;
    }

    void gradients(double* dW1, double* db1, double* dW2, double* db2) const override {
        std::copy(W1v_.grad().begin(), W1v_.grad().end(), dW1);
        std::copy(b1v_.grad().begin(), b1v_.grad().end(), db1);
        std::copy(W2v_.grad().begin(), W2v_.grad().end(), dW2);
        std::copy(b2v_.grad().begin(), b2v_.grad().end(), db2);
    }

private:
    Matrix X_, Y_, W1_, b1_, W2_, b2_;
    double lr_;
    Tape tape_;
    Var W1v_, b1v_, W2v_, b2v_;  // the last step's parameter nodes, for gradients()
};

void dgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, std::size_t m, std::size_t n, std::size_t k,
           const double* a, std::size_t lda, const double* b, std::size_t ldb, double* c) {
    cblas_dgemm(CblasRowMajor, ta, tb, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k),
                1.0, a, static_cast<int>(lda), b, static_cast<int>(ldb), 0.0, c, static_cast<int>(n));
}

/// The hand-written step's buffers and its five GEMMs; HandStepper adds the element-wise work.
class HandBuffers {
public:
    explicit HandBuffers(const Problem& p)
        : d_(p.d), h_(p.h), n_(p.n), X_(p.X, p.X + p.d * p.n), Y_(p.Y, p.Y + p.n),
          W1_(p.W1, p.W1 + p.h * p.d), b1_(p.b1, p.b1 + p.h), W2_(p.W2, p.W2 + p.h), b2_(p.b2[0]),
          A1_(p.h * p.n), A2_(p.n), dZ2_(p.n), dZ1_(p.h * p.n), dW1_(p.h * p.d), db1_(p.h),
          dW2_(p.h), lr_(p.learning_rate) {}

    void forward_gemm1() { dgemm(CblasNoTrans, CblasNoTrans, h_, n_, d_, W1_.data(), d_, X_.data(), n_, A1_.data()); }  // W1 X
    void forward_gemm2() { dgemm(CblasNoTrans, CblasNoTrans, 1, n_, h_, W2_.data(), h_, A1_.data(), n_, A2_.data()); }  // W2 A1
    void backward_gemms_layer2() {
        dgemm(CblasNoTrans, CblasTrans, 1, h_, n_, dZ2_.data(), n_, A1_.data(), n_, dW2_.data());  // dZ2 A1ᵀ
        dgemm(CblasTrans, CblasNoTrans, h_, n_, 1, W2_.data(), h_, dZ2_.data(), n_, dZ1_.data());  // W2ᵀ dZ2
    }
    void backward_gemm_layer1() { dgemm(CblasNoTrans, CblasTrans, h_, d_, n_, dZ1_.data(), n_, X_.data(), n_, dW1_.data()); }  // dZ1 Xᵀ

protected:
    std::size_t d_, h_, n_;
    std::vector<double> X_, Y_, W1_, b1_, W2_;
    double b2_;
    std::vector<double> A1_, A2_, dZ2_, dZ1_, dW1_, db1_, dW2_;
    double db2_ = 0.0;
    double lr_;
};

class HandStepper final : public Stepper, HandBuffers {
public:
    using HandBuffers::HandBuffers;

    double step() override {
        forward_gemm1();
        for (std::size_t i = 0; i < h_; ++i)  // A1 = σ(W1 X + b1), in place
            for (std::size_t j = 0; j < n_; ++j) A1_[i * n_ + j] = sigmoid_of(A1_[i * n_ + j] + b1_[i]);
        forward_gemm2();
        double loss = 0.0;
        db2_ = 0.0;
        const double inv_n = 1.0 / static_cast<double>(n_);
        for (std::size_t j = 0; j < n_; ++j) {  // A2, J and dZ2 = (A2 - Y) / n in one pass
            const double a = sigmoid_of(A2_[j] + b2_), y = Y_[j];
            loss -= y * std::log(a) + (1.0 - y) * std::log(1.0 - a);
            dZ2_[j] = (a - y) * inv_n;
            db2_ += dZ2_[j];
        }
        backward_gemms_layer2();
        for (std::size_t i = 0; i < h_; ++i) {  // dZ1 = dA1 ⊙ A1 (1 - A1), db1 = row sums
            double row_sum = 0.0;
            for (std::size_t j = 0; j < n_; ++j) {
                const double a = A1_[i * n_ + j];
                dZ1_[i * n_ + j] *= a * (1.0 - a);
                row_sum += dZ1_[i * n_ + j];
            }
            db1_[i] = row_sum;
        }
        backward_gemm_layer1();
        for (std::size_t k = 0; k < W1_.size(); ++k) W1_[k] -= lr_ * dW1_[k];
        for (std::size_t k = 0; k < h_; ++k) b1_[k] -= lr_ * db1_[k];
        for (std::size_t k = 0; k < h_; ++k) W2_[k] -= lr_ * dW2_[k];
        b2_ -= lr_ * db2_;
        return loss * inv_n;
    }

    void gradients(double* dW1, double* db1, double* dW2, double* db2) const override {
        std::copy(dW1_.begin(), dW1_.end(), dW1);
        std::copy(db1_.begin(), db1_.end(), db1);
        std::copy(dW2_.begin(), dW2_.end(), dW2);
        *db2 = db2_;
    }
};

/// The GEMM floor: the hand step's dgemm calls on the same buffers, nothing else.
class GemmFloor : HandBuffers {
public:
    using HandBuffers::HandBuffers;
    void step() {
        forward_gemm1();
        forward_gemm2();
        backward_gemms_layer2();
        backward_gemm_layer1();
    }
};

/// The floor as a Stepper, for --profile floor (it computes no loss and no gradients of its own).
class FloorStepper final : public Stepper {
public:
    explicit FloorStepper(const Problem& p) : floor_(p) {}
    double step() override {
        floor_.step();
        return NAN;
    }
    void gradients(double*, double*, double*, double*) const override {}

private:
    GemmFloor floor_;
};

// ---------------------------------------------------------------------------------------------
// The workload

struct Case {
    const char* name;
    std::size_t d, h, n;
    int reps;   // timed repetitions per implementation (interleaved)
    int batch;  // steps per timed repetition (small steps are timed in batches)
};

struct OwnedProblem {
    std::vector<double> X, Y, W1, b1, W2, b2;
    Problem view(std::size_t d, std::size_t h, std::size_t n) const {
        return {d, h, n, X.data(), Y.data(), W1.data(), b1.data(), W2.data(), b2.data(), 0.01};
    }
};

OwnedProblem make_problem(const Case& c) {
    std::mt19937_64 rng(42);
    std::normal_distribution<double> normal(0.0, 1.0);
    auto randn = [&](std::size_t size, double scale) {
        std::vector<double> v(size);
        for (double& x : v) x = scale * normal(rng);
        return v;
    };
    OwnedProblem p;
    p.X = randn(c.d * c.n, 1.0);
    p.Y.resize(c.n);
    for (double& y : p.Y) y = normal(rng) > 0 ? 1.0 : 0.0;
    p.W1 = randn(c.h * c.d, 1.0 / std::sqrt(static_cast<double>(c.d)));
    p.b1 = randn(c.h, 0.1);
    p.W2 = randn(c.h, 1.0 / std::sqrt(static_cast<double>(c.h)));
    p.b2 = randn(1, 0.1);
    return p;
}

struct Gradients {
    std::vector<double> dW1, db1, dW2, db2;
    explicit Gradients(const Problem& p) : dW1(p.h * p.d), db1(p.h), dW2(p.h), db2(1) {}
};

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
    double worst = 0.0;
    for (std::size_t k = 0; k < a.size(); ++k) {
        const double diff = std::abs(a[k] - b[k]);
        if (!(diff <= worst)) worst = diff;  // NaN propagates
    }
    return worst;
}

/// One step of each implementation from the same parameters; the largest gradient difference
/// from the hand-written step, or an exit when it exceeds 1e-10.
double check_gradients(const Case& c, std::vector<std::pair<const char*, Stepper*>> steppers,
                       const Problem& p) {
    Gradients reference(p);
    steppers.front().second->step();
    steppers.front().second->gradients(reference.dW1.data(), reference.db1.data(), reference.dW2.data(),
                                       reference.db2.data());
    double worst = 0.0;
    for (std::size_t s = 1; s < steppers.size(); ++s) {
        Gradients g(p);
        steppers[s].second->step();
        steppers[s].second->gradients(g.dW1.data(), g.db1.data(), g.dW2.data(), g.db2.data());
        const double diff = std::max({max_abs_diff(g.dW1, reference.dW1), max_abs_diff(g.db1, reference.db1),
                                      max_abs_diff(g.dW2, reference.dW2), max_abs_diff(g.db2, reference.db2)});
        if (!(diff <= 1e-10)) {
            std::fprintf(stderr, "case %s: %s's gradients differ from %s's by %.3g (> 1e-10)\n", c.name,
                         steppers[s].first, steppers.front().first, diff);
            std::exit(1);
        }
        worst = std::max(worst, diff);
    }
    return worst;
}

// ---------------------------------------------------------------------------------------------
// Timing

double now_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/// CPU time of the calling thread: with one BLAS thread all of a step's work runs here, and time
/// the scheduler gives to other processes on this shared machine is not counted.
double thread_cpu_seconds() {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

struct Stats {
    double median_us = NAN, min_us = NAN, max_us = NAN;
};

Stats stats_of(std::vector<double> seconds_per_step) {
    if (seconds_per_step.empty()) return {};
    std::sort(seconds_per_step.begin(), seconds_per_step.end());
    const std::size_t n = seconds_per_step.size();
    const double median = n % 2 ? seconds_per_step[n / 2]
                                : 0.5 * (seconds_per_step[n / 2 - 1] + seconds_per_step[n / 2]);
    return {1e6 * median, 1e6 * seconds_per_step.front(), 1e6 * seconds_per_step.back()};
}

struct Contender {
    const char* name;
    std::function<void()> step;
    std::vector<double> wall_per_step, cpu_per_step;  // seconds
};

/// reps rounds; in each, every contender runs `batch` steps, in an order rotated every round so
/// that no implementation always runs right after the same other one (caches, frequency, noise).
void time_interleaved(std::vector<Contender>& contenders, int reps, int batch) {
    for (Contender& c : contenders) c.step();  // warm-up: buffers sized, caches and BLAS threads up
    for (int rep = 0; rep < reps; ++rep) {
        for (std::size_t k = 0; k < contenders.size(); ++k) {
            Contender& c = contenders[(k + static_cast<std::size_t>(rep)) % contenders.size()];
            const double wall = now_seconds(), cpu = thread_cpu_seconds();
            for (int b = 0; b < batch; ++b) c.step();
            c.cpu_per_step.push_back((thread_cpu_seconds() - cpu) / batch);
            c.wall_per_step.push_back((now_seconds() - wall) / batch);
        }
    }
}

std::size_t allocations_per_step(Stepper& s, int steps) {
    s.step();  // steady state starts after the first step
    const std::size_t before = matgrad::test::allocations.load();
    for (int k = 0; k < steps; ++k) s.step();
    return (matgrad::test::allocations.load() - before + static_cast<std::size_t>(steps) - 1) / static_cast<std::size_t>(steps);
}

std::size_t first_step_allocations(Stepper& s) {
    const std::size_t before = matgrad::test::allocations.load();
    s.step();
    return matgrad::test::allocations.load() - before;
}

long resident_kb() {
    std::ifstream statm("/proc/self/statm");
    long pages_total = 0, pages_resident = 0;
    statm >> pages_total >> pages_resident;
    return pages_resident * (sysconf(_SC_PAGESIZE) / 1024);
}

// ---------------------------------------------------------------------------------------------
// Report

struct Timings {
    Stats matgrad, hand, floor, torch;
    double matgrad_over_hand() const { return matgrad.median_us / hand.median_us; }
    double matgrad_over_floor() const { return matgrad.median_us / floor.median_us; }
    double torch_over_matgrad() const { return torch.median_us / matgrad.median_us; }
};

struct Row {
    std::string case_name;
    std::size_t d, h, n;
    int threads, reps, batch;
    double gradient_diff;
    Timings wall, cpu;  // cpu: the calling thread's CPU time, meaningful with 1 BLAS thread only
    std::size_t matgrad_first_step_allocs, matgrad_allocs, hand_allocs;
};

std::string fmt_stats(const Stats& s) {
    if (std::isnan(s.median_us)) return "skipped";
    char buf[96];
    std::snprintf(buf, sizeof buf, "%.1f [%.1f-%.1f]", s.median_us, s.min_us, s.max_us);
    return buf;
}

std::string fmt_ratio(double r) {
    if (std::isnan(r)) return "-";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", r);
    return buf;
}

void print_table(const std::vector<Row>& rows, Timings Row::*timings, const char* title, bool one_thread_only) {
    std::printf("\n%s: median [min-max] microseconds per training step\n", title);
    std::printf("%-4s %-3s %-26s %-26s %-26s %-26s %-12s %-13s %-16s %s\n", "case", "thr", "matgrad",
                "hand (BLAS)", "GEMM floor", "libtorch", "matgrad/hand", "matgrad/floor",
                "libtorch/matgrad", "allocs/step");
    for (const Row& r : rows) {
        if (one_thread_only && r.threads != 1) continue;
        const Timings& t = r.*timings;
        std::printf("%-4s %-3d %-26s %-26s %-26s %-26s %-12s %-13s %-16s %zu\n", r.case_name.c_str(),
                    r.threads, fmt_stats(t.matgrad).c_str(), fmt_stats(t.hand).c_str(),
                    fmt_stats(t.floor).c_str(), fmt_stats(t.torch).c_str(),
                    fmt_ratio(t.matgrad_over_hand()).c_str(), fmt_ratio(t.matgrad_over_floor()).c_str(),
                    fmt_ratio(t.torch_over_matgrad()).c_str(), r.matgrad_allocs);
    }
}

void print_scaling(const std::vector<Row>& rows) {
    bool header = false;
    for (const Row& two : rows) {
        if (two.threads == 1) continue;
        for (const Row& one : rows) {
            if (one.threads != 1 || one.case_name != two.case_name) continue;
            if (!header) std::printf("\nBLAS thread scaling (wall-clock median 1 thread / N threads)\n");
            header = true;
            std::printf("%-4s %d threads: matgrad %s  hand %s  floor %s  libtorch %s\n",
                        two.case_name.c_str(), two.threads,
                        fmt_ratio(one.wall.matgrad.median_us / two.wall.matgrad.median_us).c_str(),
                        fmt_ratio(one.wall.hand.median_us / two.wall.hand.median_us).c_str(),
                        fmt_ratio(one.wall.floor.median_us / two.wall.floor.median_us).c_str(),
                        fmt_ratio(one.wall.torch.median_us / two.wall.torch.median_us).c_str());
        }
    }
}

std::string json_number(double x) {
    if (std::isnan(x)) return "null";
    std::ostringstream s;
    s.precision(6);
    s << x;
    return s.str();
}

std::string json_stats(const Stats& s) {
    return "{\"median_us\": " + json_number(s.median_us) + ", \"min_us\": " + json_number(s.min_us) +
           ", \"max_us\": " + json_number(s.max_us) + "}";
}

std::string json_timings(const Timings& t) {
    return "{\"matgrad\": " + json_stats(t.matgrad) + ",\n       \"hand\": " + json_stats(t.hand) +
           ",\n       \"gemm_floor\": " + json_stats(t.floor) + ",\n       \"libtorch\": " +
           json_stats(t.torch) + ",\n       \"matgrad_over_hand\": " + json_number(t.matgrad_over_hand()) +
           ", \"matgrad_over_floor\": " + json_number(t.matgrad_over_floor()) +
           ", \"libtorch_over_matgrad\": " + json_number(t.torch_over_matgrad()) + "}";
}

std::string cpu_model() {
    std::ifstream cpuinfo("/proc/cpuinfo");
    for (std::string line; std::getline(cpuinfo, line);)
        if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
    return "unknown";
}

void write_json(const std::string& path, const std::vector<Row>& rows, long rss_before_kb,
                long rss_after_kb, long rss_steps) {
    std::ostringstream j;
    j << "{\n  \"cpu\": \"" << cpu_model() << "\",\n  \"online_cpus\": " << sysconf(_SC_NPROCESSORS_ONLN)
      << ",\n  \"rows\": [\n";
    for (std::size_t k = 0; k < rows.size(); ++k) {
        const Row& r = rows[k];
        j << "    {\"case\": \"" << r.case_name << "\", \"d\": " << r.d << ", \"h\": " << r.h
          << ", \"n\": " << r.n << ", \"blas_threads\": " << r.threads << ", \"reps\": " << r.reps
          << ", \"steps_per_rep\": " << r.batch << ", \"max_gradient_diff\": " << json_number(r.gradient_diff)
          << ",\n     \"wall_clock\": " << json_timings(r.wall)
          << ",\n     \"calling_thread_cpu\": " << json_timings(r.cpu)
          << ",\n     \"matgrad_first_step_allocations\": " << r.matgrad_first_step_allocs
          << ", \"matgrad_allocations_per_step\": " << r.matgrad_allocs
          << ", \"hand_allocations_per_step\": " << r.hand_allocs << "}"
          << (k + 1 < rows.size() ? ",\n" : "\n");
    }
    j << "  ],\n  \"rss_kb_S_matgrad\": {\"steps\": " << rss_steps << ", \"before\": " << rss_before_kb
      << ", \"after\": " << rss_after_kb << "}\n}\n";
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp);
        out << j.str();
        if (!out.flush()) {
            std::fprintf(stderr, "cannot write %s\n", tmp.c_str());
            std::exit(2);
        }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::fprintf(stderr, "cannot rename %s to %s\n", tmp.c_str(), path.c_str());
        std::exit(2);
    }
}

void set_blas_threads(int threads) {
    openblas_set_num_threads(threads);
#ifdef MATGRAD_BENCH_TORCH
    set_torch_threads(threads);
#endif
}

Row run_case(const Case& c, int threads) {
    set_blas_threads(threads);
    const OwnedProblem owned = make_problem(c);
    const Problem p = owned.view(c.d, c.h, c.n);
    MatgradStepper matgrad(p);
    HandStepper hand(p);
    GemmFloor floor(p);
    std::vector<std::pair<const char*, Stepper*>> checked{{"hand", &hand}, {"matgrad", &matgrad}};
#ifdef MATGRAD_BENCH_TORCH
    const std::unique_ptr<Stepper> torch = make_torch_stepper(p);
    checked.emplace_back("libtorch", torch.get());
#endif
    Row row{c.name, c.d, c.h, c.n, threads, c.reps, c.batch, 0.0, {}, {}, 0, 0, 0};
    {
        MatgradStepper fresh(p);
        row.matgrad_first_step_allocs = first_step_allocations(fresh);
    }
    row.gradient_diff = check_gradients(c, checked, p);

    std::vector<Contender> contenders{{"matgrad", [&] { matgrad.step(); }, {}, {}},
                                      {"hand", [&] { hand.step(); }, {}, {}},
                                      {"floor", [&] { floor.step(); }, {}, {}}};
#ifdef MATGRAD_BENCH_TORCH
    contenders.push_back({"libtorch", [&] { torch->step(); }, {}, {}});
#endif
    time_interleaved(contenders, c.reps, c.batch);
    for (auto [timings, samples] : {std::pair{&row.wall, &Contender::wall_per_step},
                                    std::pair{&row.cpu, &Contender::cpu_per_step}}) {
        timings->matgrad = stats_of(contenders[0].*samples);
        timings->hand = stats_of(contenders[1].*samples);
        timings->floor = stats_of(contenders[2].*samples);
        if (contenders.size() > 3) timings->torch = stats_of(contenders[3].*samples);
    }
    const int alloc_steps = std::max(3, c.batch * 4);
    row.matgrad_allocs = allocations_per_step(matgrad, alloc_steps);
    row.hand_allocs = allocations_per_step(hand, alloc_steps);
    std::printf("%s (%zu-%zu-1, n=%zu) %d BLAS thread%s: %d reps x %d steps, max gradient diff %.2g\n",
                c.name, c.d, c.h, c.n, threads, threads == 1 ? "" : "s", c.reps, c.batch,
                row.gradient_diff);
    std::fflush(stdout);
    return row;
}

/// Only one implementation's steps, single-threaded BLAS: what perf or callgrind should look at.
int run_profile(const Case& c, const std::string& which, long steps) {
    set_blas_threads(1);
    const OwnedProblem owned = make_problem(c);
    const Problem p = owned.view(c.d, c.h, c.n);
    std::unique_ptr<Stepper> s;
    if (which == "matgrad") s = std::make_unique<MatgradStepper>(p);
    else if (which == "floor") s = std::make_unique<FloorStepper>(p);
    else s = std::make_unique<HandStepper>(p);
    double loss = 0.0;
    const double start = now_seconds();
    for (long k = 0; k < steps; ++k) loss = s->step();
    std::printf("%s %s: %ld steps, %.2f us/step, final loss %.6f\n", which.c_str(), c.name, steps,
                1e6 * (now_seconds() - start) / static_cast<double>(steps), loss);
    return 0;
}

std::vector<std::string> split(const std::string& list) {
    std::vector<std::string> out;
    std::stringstream s(list);
    for (std::string item; std::getline(s, item, ',');) out.push_back(item);
    return out;
}

int usage(const char* why) {
    std::fprintf(stderr, "matgrad_bench: %s\nusage: matgrad_bench [--cases S,M,L] [--threads 1,2] "
                         "[--quick] [--rss-steps N] [--json FILE]\n"
                         "       matgrad_bench --profile matgrad|hand|floor --cases S --steps N\n", why);
    return 2;
}

int run(int argc, char** argv) {
    std::vector<Case> cases{{"S", 10, 64, 7, 301, 100}, {"M", 100, 256, 256, 101, 4},
                            {"L", 1024, 1024, 1024, 15, 1}};
    std::vector<std::string> wanted{"S", "M", "L"};
    std::vector<int> thread_counts{1, 2};
    std::string json_path;
    long rss_steps = 100000;
    bool quick = false;
    std::string profile;
    long profile_steps = 10000;
    for (int k = 1; k < argc; ++k) {
        const std::string arg = argv[k];
        const bool has_value = k + 1 < argc;
        if (arg == "--quick") quick = true;
        else if (arg == "--json" && has_value) json_path = argv[++k];
        else if (arg == "--cases" && has_value) wanted = split(argv[++k]);
        else if (arg == "--rss-steps" && has_value) rss_steps = std::atol(argv[++k]);
        else if (arg == "--profile" && has_value) profile = argv[++k];
        else if (arg == "--steps" && has_value) profile_steps = std::atol(argv[++k]);
        else if (arg == "--threads" && has_value) {
            thread_counts.clear();
            for (const std::string& t : split(argv[++k])) thread_counts.push_back(std::atoi(t.c_str()));
        } else return usage(("unknown or incomplete argument: " + arg).c_str());
    }
    for (const std::string& w : wanted)
        if (std::none_of(cases.begin(), cases.end(), [&](const Case& c) { return w == c.name; }))
            return usage(("unknown case: " + w).c_str());
    for (int t : thread_counts)
        if (t < 1) return usage("--threads takes positive thread counts");
    if (!profile.empty()) {
        if (profile != "matgrad" && profile != "hand" && profile != "floor")
            return usage("--profile takes matgrad, hand or floor");
        if (wanted.size() != 1) return usage("--profile takes exactly one case");
        return run_profile(*std::find_if(cases.begin(), cases.end(), [&](const Case& c) { return wanted[0] == c.name; }),
                           profile, profile_steps);
    }

    std::printf("matgrad_bench: %s, %ld online CPUs%s\n", cpu_model().c_str(),
                sysconf(_SC_NPROCESSORS_ONLN),
#ifdef MATGRAD_BENCH_TORCH
                ", libtorch found"
#else
                ", libtorch not found (column skipped)"
#endif
    );
    std::vector<Row> rows;
    for (const Case& base : cases) {
        if (std::find(wanted.begin(), wanted.end(), base.name) == wanted.end()) continue;
        Case c = base;
        if (quick) c.reps = std::max(5, c.reps / 10);
        for (int t : thread_counts) rows.push_back(run_case(c, t));
    }
    set_blas_threads(1);

    // RSS over many small steps: a leak of even one buffer per step would show.
    long rss_before = 0, rss_after = 0;
    if (rss_steps > 0) {
        const OwnedProblem owned = make_problem(cases[0]);
        MatgradStepper s(owned.view(cases[0].d, cases[0].h, cases[0].n));
        for (int k = 0; k < 100; ++k) s.step();
        rss_before = resident_kb();
        for (long k = 0; k < rss_steps; ++k) s.step();
        rss_after = resident_kb();
    }

    print_table(rows, &Row::wall, "wall clock", false);
    print_table(rows, &Row::cpu, "CPU time of the calling thread (1 BLAS thread; not counting time "
                "the shared machine gave to other processes)", true);
    print_scaling(rows);
    std::printf("\nheap allocations (operator new) per steady-state step: matgrad and hand as listed "
                "(first matgrad step:");
    for (const Row& r : rows) std::printf(" %s %zu", r.case_name.c_str(), r.matgrad_first_step_allocs);
    std::printf(")\n");
    if (rss_steps > 0)
        std::printf("RSS over %ld S matgrad steps: %ld kB before, %ld kB after\n", rss_steps, rss_before,
                    rss_after);
    if (!json_path.empty()) {
        write_json(json_path, rows, rss_before, rss_after, rss_steps);
        std::printf("wrote %s\n", json_path.c_str());
    }
    return 0;
}

}  // namespace
}  // namespace matgrad::bench

int main(int argc, char** argv) { return matgrad::bench::run(argc, argv); }
