// `matgrad seed` and `matgrad grad`, run as the real binary (std::system) on files written here:
// grad's output must equal nn::reference_pass, and bad input must exit 2 with one line on stderr
// and no output files.
#include "test_util.hpp"

#include <nn/nn.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

using namespace matgrad;
using matgrad::test::max_abs_diff;
using matgrad::test::random_matrix;
namespace fs = std::filesystem;

namespace {

/// A fresh folder per test case (ctest runs test cases in parallel processes).
fs::path scratch(const std::string& name) {
    const fs::path dir = fs::path(MATGRAD_NN_SCRATCH) / name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

struct Run {
    int status;
    std::string out, err;
};

std::string read_all(const fs::path& file) {
    std::ifstream in(file);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

Run run_matgrad(const std::string& args, const fs::path& dir) {
    const fs::path out = dir / "stdout.txt", err = dir / "stderr.txt";
    const int raw = std::system((std::string(MATGRAD_CLI) + " " + args + " >" + out.string() + " 2>" + err.string()).c_str());
    return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, read_all(out), read_all(err)};
}

/// Writes X.npy, Y.npy into dir/data and W1.npy, b1.npy, ... into dir/params.
void write_problem(const fs::path& dir, const std::vector<Matrix>& W, const std::vector<Matrix>& b, const Matrix& X,
                   const Matrix& Y) {
    fs::create_directories(dir / "data");
    fs::create_directories(dir / "params");
    io::write_npy((dir / "data" / "X.npy").string(), X);
    io::write_npy((dir / "data" / "Y.npy").string(), Y);
    for (std::size_t l = 0; l < W.size(); ++l) {
        io::write_npy((dir / "params" / ("W" + std::to_string(l + 1) + ".npy")).string(), W[l]);
        io::write_npy((dir / "params" / ("b" + std::to_string(l + 1) + ".npy")).string(), b[l]);
    }
}

std::string grad_args(const fs::path& dir) {
    return "grad --data " + (dir / "data").string() + " --params " + (dir / "params").string() + " --out " +
           (dir / "out").string();
}

}  // namespace

TEST_CASE("matgrad seed prints the forward steps and every gradient, and exits 0") {
    const fs::path dir = scratch("seed");
    const Run run = run_matgrad("seed", dir);
    CHECK(run.status == 0);
    CHECK(run.out.find("Z[1] = W[1] X + b[1]      (64×10)(10×7) + (64×1) = 64×7") != std::string::npos);
    CHECK(run.out.find("Z[2] = W[2] A[1] + b[2]   (1×64)(64×7) + (1×1) = 1×7") != std::string::npos);
    for (const char* gradient : {"dA2", "dZ2", "dW2", "db2", "dA1", "dZ1", "dW1", "db1"}) {
        CAPTURE(gradient);
        CHECK(run.out.find(std::string("\n  ") + gradient + " ") != std::string::npos);
    }
    CHECK(run.out.find("DISAGREE") == std::string::npos);
    CHECK(run.out.find("All gradients agree.") != std::string::npos);
    CHECK(run_matgrad("seed --seed 12345", dir).status == 0);
    CHECK(run_matgrad("seed --seed nope", dir).status == 2);
}

TEST_CASE("matgrad grad writes J and every dW, db equal to the hand-derived reference") {
    for (const std::vector<std::size_t>& sizes : {std::vector<std::size_t>{3, 1}, {4, 6, 5, 1}}) {
        const fs::path dir = scratch("grad_depth_" + std::to_string(sizes.size() - 1));
        std::vector<Matrix> W, b;
        for (std::size_t l = 1; l < sizes.size(); ++l) {
            W.push_back(random_matrix(sizes[l], sizes[l - 1], 50 + l));
            b.push_back(random_matrix(sizes[l], 1, 60 + l));
        }
        const Matrix X = random_matrix(sizes.front(), 11, 70);
        const Matrix Y{{1, 0, 0, 1, 1, 1, 0, 1, 0, 0, 1}};
        write_problem(dir, W, b, X, Y);

        const Run run = run_matgrad(grad_args(dir), dir);
        INFO(run.err);
        REQUIRE(run.status == 0);
        const nn::ForwardBackward ref = nn::reference_pass(W, b, X, Y);
        CHECK(std::abs(io::read_npy((dir / "out" / "J.npy").string())(0, 0) - ref.J) <= 1e-12);
        std::size_t files = 0;
        for (const auto& entry : fs::directory_iterator(dir / "out")) files += entry.is_regular_file();
        CHECK(files == 1 + 2 * W.size());
        for (std::size_t l = 1; l <= W.size(); ++l) {
            CAPTURE(l);
            const std::string i = std::to_string(l);
            CHECK(max_abs_diff(io::read_npy((dir / "out" / ("dW" + i + ".npy")).string()), ref.dW[l]) <= 1e-12);
            CHECK(max_abs_diff(io::read_npy((dir / "out" / ("db" + i + ".npy")).string()), ref.db[l]) <= 1e-12);
        }
    }
}

TEST_CASE("matgrad grad: bad input exits 2 with one line naming the problem, and writes nothing") {
    const std::vector<Matrix> W{random_matrix(5, 3, 1), random_matrix(1, 5, 2)};
    const std::vector<Matrix> b{random_matrix(5, 1, 3), random_matrix(1, 1, 4)};
    const Matrix X = random_matrix(3, 4, 5);
    const Matrix Y{{1, 0, 0, 1}};

    struct Case {
        const char* name;
        void (*spoil)(const fs::path& dir);
        const char* expected;  // a piece of the error line
    };
    const Case cases[] = {
        {"shapes_do_not_chain",
         [](const fs::path& d) { io::write_npy((d / "params" / "W2.npy").string(), Matrix(xt::zeros<double>({1, 3}))); },
         "W2 is 1x3 but A1 has 5 rows"},
        {"labels_not_binary",
         [](const fs::path& d) { io::write_npy((d / "data" / "Y.npy").string(), Matrix{{1, 0, 0.5, 1}}); },
         "Y(0,2) = 0.5 is not 0 or 1"},
        {"missing_bias", [](const fs::path& d) { fs::remove(d / "params" / "b2.npy"); }, "b2.npy: missing"},
        {"missing_X", [](const fs::path& d) { fs::remove(d / "data" / "X.npy"); }, "X.npy"},
        {"no_layers", [](const fs::path& d) {
             fs::remove_all(d / "params");
             fs::create_directory(d / "params");
         },
         "W1.npy: missing"},
        {"Y_wrong_length", [](const fs::path& d) { io::write_npy((d / "data" / "Y.npy").string(), Matrix{{1, 0}}); },
         "Y is 1x2 but A2 is 1x4"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.name);
        const fs::path dir = scratch(std::string("grad_bad_") + c.name);
        write_problem(dir, W, b, X, Y);
        c.spoil(dir);
        const Run run = run_matgrad(grad_args(dir), dir);
        INFO(run.err);
        CHECK(run.status == 2);
        CHECK(run.err.find(c.expected) != std::string::npos);
        CHECK(std::count(run.err.begin(), run.err.end(), '\n') == 1);
        CHECK_FALSE(fs::exists(dir / "out"));
    }

    const fs::path dir = scratch("grad_bad_usage");
    CHECK(run_matgrad("grad", dir).status == 2);
    CHECK(run_matgrad("grad --data a --params b --out c --bogus", dir).status == 2);
    CHECK(run_matgrad("grad --data nowhere --params nowhere --out " + (dir / "out").string(), dir).status == 2);
    CHECK_FALSE(fs::exists(dir / "out"));
}
