// `matgrad verify`, `explain` and `graph` run as the real binary (std::system) on .npy files
// written here with xtensor's own writer: diagnoses and exit codes, JSON fields, bad input.
#include "test_util.hpp"

#include <nn/reference.hpp>
#include <nn/verify.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xmanipulation.hpp>
#include <xtensor/xnpy.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

using namespace matgrad;
namespace fs = std::filesystem;

namespace {

struct Run {
    int status;
    std::string out, err;
};

Run run(const fs::path& dir, const std::string& args) {
    const fs::path out = dir / "stdout.txt", err = dir / "stderr.txt";
    const std::string command = std::string(MATGRAD_CLI) + " " + args + " > " + out.string() + " 2> " + err.string();
    const int raw = std::system(command.c_str());
    auto slurp = [](const fs::path& p) {
        std::stringstream s;
        s << std::ifstream(p).rdbuf();
        return s.str();
    };
    return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, slurp(out), slurp(err)};
}

// A fresh folder per test case (ctest runs test cases in parallel processes) holding data/ and
// params/ of the slides' network; returns its problem.
nn::MlpProblem write_problem(const fs::path& dir) {
    fs::remove_all(dir);
    for (const char* sub : {"data", "params", "hand"}) fs::create_directories(dir / sub);
    nn::MlpSource source;
    source.seed = 11;
    const nn::MlpProblem p = nn::load_mlp_problem(source);
    xt::dump_npy((dir / "data/X.npy").string(), p.X);
    xt::dump_npy((dir / "data/Y.npy").string(), p.Y);
    for (std::size_t l = 1; l <= p.depth(); ++l) {
        xt::dump_npy((dir / ("params/W" + std::to_string(l) + ".npy")).string(), p.W[l - 1]);
        xt::dump_npy((dir / ("params/b" + std::to_string(l) + ".npy")).string(), p.b[l - 1]);
    }
    return p;
}

std::string network_args(const fs::path& dir) {
    return "--data " + (dir / "data").string() + " --params " + (dir / "params").string();
}

std::string verify_args(const fs::path& dir) { return "verify " + network_args(dir) + " --hand " + (dir / "hand").string(); }

void write_hand(const fs::path& dir, const std::string& name, const Matrix& m) {
    xt::dump_npy((dir / "hand" / (name + ".npy")).string(), m);
}

fs::path scratch(const std::string& name) { return fs::path(MATGRAD_EXPLAIN_SCRATCH) / name; }

}  // namespace

TEST_CASE("matgrad verify: the slides' formulas pass (exit 0)") {
    const fs::path dir = scratch("verify_ok");
    const nn::MlpProblem p = write_problem(dir);
    const nn::ForwardBackward ref = nn::reference_pass(p.W, p.b, p.X, p.Y);
    for (std::size_t l = 1; l <= 2; ++l) {
        write_hand(dir, "dW" + std::to_string(l), ref.dW[l]);
        write_hand(dir, "db" + std::to_string(l), ref.db[l]);
    }
    const Run r = run(dir, verify_args(dir));
    CAPTURE(r.out);
    CAPTURE(r.err);
    CHECK(r.status == 0);
    CHECK(r.out.find("4 ok, 0 wrong") != std::string::npos);
}

TEST_CASE("matgrad verify --json: one diagnosis per file, exit 1") {
    const fs::path dir = scratch("verify_json");
    const nn::MlpProblem p = write_problem(dir);
    const nn::ForwardBackward ref = nn::reference_pass(p.W, p.b, p.X, p.Y);
    write_hand(dir, "dW1", xt::transpose(ref.dW[1]));  // Xᵀ dZ1 instead of dZ1 Xᵀ
    write_hand(dir, "db1", ref.dZ[1]);                 // not summed over the samples
    write_hand(dir, "dW2", 7.0 * ref.dW[2]);           // the slides' dropped 1/n
    write_hand(dir, "db2", ref.db[2]);
    const Run r = run(dir, verify_args(dir) + " --json");
    CAPTURE(r.out);
    CAPTURE(r.err);
    CHECK(r.status == 1);
    const nlohmann::json j = nlohmann::json::parse(r.out);
    const auto& g = j.at("gradients");
    REQUIRE(g.size() == 4);
    CHECK(g[0]["param"] == "dW2");
    CHECK(g[0]["diagnosis"] == "missing_mean_factor");
    CHECK(g[0]["factor"] == 7.0);
    CHECK(g[1]["param"] == "db2");
    CHECK(g[1]["diagnosis"] == "ok");
    CHECK(g[1]["max_abs_error"].get<double>() < 1e-15);
    CHECK(g[2]["param"] == "dW1");
    CHECK(g[2]["diagnosis"] == "transposed");
    CHECK(g[2]["expected_shape"] == nlohmann::json::array({64, 10}));
    CHECK(g[2]["given_shape"] == nlohmann::json::array({10, 64}));
    CHECK(g[2]["max_abs_error"].is_null());
    CHECK(g[2]["hint"].get<std::string>().find("dW1 should be dZ1 Xᵀ (64×10); yours equals (dZ1 Xᵀ)ᵀ") == 0);
    CHECK(g[3]["param"] == "db1");
    CHECK(g[3]["diagnosis"] == "not_summed");

    const Run table = run(dir, verify_args(dir));
    CHECK(table.status == 1);
    CHECK(table.out.find("1 ok, 3 wrong") != std::string::npos);
}

TEST_CASE("matgrad verify: bad input exits 2 with one line on stderr") {
    const fs::path dir = scratch("verify_bad");
    const nn::MlpProblem p = write_problem(dir);
    auto expect_bad = [&](const std::string& args, const std::string& mention) {
        const Run r = run(dir, args);
        CAPTURE(args);
        CAPTURE(r.err);
        CHECK(r.status == 2);
        CHECK(r.err.find(mention) != std::string::npos);
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    };
    expect_bad(verify_args(dir), "no .npy files");  // the hand folder is empty
    write_hand(dir, "dW3", p.W[1]);
    expect_bad(verify_args(dir), "dW3");
    fs::remove(dir / "hand/dW3.npy");
    write_hand(dir, "dW1", p.W[0]);
    expect_bad(verify_args(dir) + " --tol -1", "--tol");
    expect_bad("verify " + network_args(dir) + " --hand " + (dir / "nowhere").string(), "nowhere");
    fs::remove(dir / "params/b2.npy");
    expect_bad(verify_args(dir), "b2.npy");
    std::ofstream(dir / "data/X.npy") << "not an npy file";
    expect_bad(verify_args(dir), "X.npy");
}

TEST_CASE("matgrad explain and graph on your .npy files") {
    const fs::path dir = scratch("explain_files");
    write_problem(dir);
    const Run e = run(dir, "explain " + network_args(dir) + " --check");
    CAPTURE(e.err);
    CHECK(e.status == 0);
    CHECK(e.out.find("Z1 = W1 X + b1") != std::string::npos);
    CHECK(e.out.find("(64×10)(10×7) + (64×1 broadcast over 7 columns) = 64×7") != std::string::npos);
    CHECK(e.out.find("finite differences") != std::string::npos);

    const fs::path dot = dir / "graph.dot";
    const Run g = run(dir, "graph " + network_args(dir) + " --grad-norms --dot " + dot.string());
    CHECK(g.status == 0);
    std::stringstream text;
    text << std::ifstream(dot).rdbuf();
    CHECK(text.str().rfind("digraph", 0) == 0);
    CHECK(text.str().find("‖grad‖") != std::string::npos);

    CHECK(run(dir, "explain --sizes 10").status == 2);
    CHECK(run(dir, "explain --data " + (dir / "data").string()).status == 2);  // --params missing
    CHECK(run(dir, "graph " + network_args(dir) + " --sizes 3,1").status == 2);  // files or sizes, not both
}

TEST_CASE("matgrad verify: states the model, marks the first wrong step and its consequences") {
    const fs::path dir = scratch("verify_steps");
    const nn::MlpProblem p = write_problem(dir);
    const nn::ForwardBackward ref = nn::reference_pass(p.W, p.b, p.X, p.Y);
    write_hand(dir, "dZ2", ref.dZ[2]);
    write_hand(dir, "dA1", ref.dA[1]);
    write_hand(dir, "dZ1", ref.dA[1]);  // σ'(Z1) left out: dZ1 = dA1
    write_hand(dir, "dW1", xt::linalg::dot(ref.dA[1], xt::transpose(p.X)));
    const Run r = run(dir, verify_args(dir) + " --json");
    CAPTURE(r.out);
    CHECK(r.status == 1);
    const nlohmann::json j = nlohmann::json::parse(r.out);
    CHECK(j.at("first_wrong_step") == "dZ1");
    const auto& g = j.at("gradients");
    REQUIRE(g.size() == 4);
    for (const char* key : {"name", "diagnosis", "also", "node", "op", "factor", "max_abs_error", "expected_shape",
                            "given_shape", "hint"})
        CHECK(g[0].contains(key));
    CHECK(g[0]["name"] == "dZ2");
    CHECK(g[0]["node"].is_null());
    CHECK(g[2]["name"] == "dZ1");
    CHECK(g[2]["diagnosis"] == "missing_activation_derivative");
    CHECK(g[2]["node"] == "A1");
    CHECK(g[2]["op"] == "sigmoid");
    CHECK(g[2]["consequence_of"].is_null());
    CHECK(g[3]["name"] == "dW1");
    CHECK(g[3]["consequence_of"] == "dZ1");

    const Run table = run(dir, verify_args(dir));
    CAPTURE(table.out);
    CHECK(table.status == 1);
    CHECK(table.out.find("checking against the slides' network: 2 sigmoid layers 10→64→1") == 0);
    CHECK(table.out.find("mean binary cross-entropy over Y 1×7") != std::string::npos);
    CHECK(table.out.find("→ ✗  dZ1") != std::string::npos);
    CHECK(table.out.find("first wrong step: dZ1") != std::string::npos);

    fs::remove_all(dir / "hand");
    fs::create_directories(dir / "hand");
    write_hand(dir, "dW1", ref.dW[1]);
    const Run ok = run(dir, verify_args(dir) + " --json");
    CHECK(ok.status == 0);
    CHECK(nlohmann::json::parse(ok.out).at("first_wrong_step").is_null());
}

TEST_CASE("matgrad verify: a Y with several rows is another model, refused with a pointer to model files") {
    const fs::path dir = scratch("verify_multiclass");
    fs::remove_all(dir);
    for (const char* sub : {"data", "params", "hand"}) fs::create_directories(dir / sub);
    Matrix Y = xt::zeros<double>({4, 9});
    for (std::size_t j = 0; j < 9; ++j) Y(j % 4, j) = 1.0;  // one-hot, meant for softmax regression
    xt::dump_npy((dir / "data/X.npy").string(), test::random_matrix(10, 9, 1));
    xt::dump_npy((dir / "data/Y.npy").string(), Y);
    xt::dump_npy((dir / "params/W1.npy").string(), test::random_matrix(5, 10, 2));
    xt::dump_npy((dir / "params/b1.npy").string(), test::random_matrix(5, 1, 3));
    xt::dump_npy((dir / "params/W2.npy").string(), test::random_matrix(4, 5, 4));
    xt::dump_npy((dir / "params/b2.npy").string(), test::random_matrix(4, 1, 5));
    write_hand(dir, "dW1", test::random_matrix(5, 10, 6));
    const Run r = run(dir, verify_args(dir));
    CHECK(r.status == 2);
    CHECK(r.out.empty());
    CHECK(r.err.find("Y is 4×9") != std::string::npos);
    CHECK(r.err.find("model file") != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
}
