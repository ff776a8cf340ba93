// The MODEL forms of the matgrad commands, run as the real binary: grad's files and listing (against
// the slides' hand formulas), errors as FILE:LINE:COL + line + caret with nothing written, explain,
// graph, verify, fit, and seed --print-model.
#include "cli/cli_test_util.hpp"
#include "lang_test_util.hpp"
#include "test_util.hpp"

#include <nn/io.hpp>
#include <nn/reference.hpp>

#include <nlohmann/json.hpp>
#include <xtensor-blas/xlinalg.hpp>

#include <csignal>

using namespace matgrad;
using namespace matgrad::test;

namespace {

const std::string slides = model_path("slides.mg");

/// The slides' network's values in dir: X, Y and the four params.
struct SlidesValues {
    Matrix X = random_matrix(10, 7, 1), Y{{1, 0, 1, 1, 0, 0, 1}};
    std::vector<Matrix> W{random_matrix(64, 10, 2) * 0.3, random_matrix(1, 64, 4) * 0.3};
    std::vector<Matrix> b{random_matrix(64, 1, 3) * 0.1, random_matrix(1, 1, 5) * 0.1};
    void write(const ScratchDir& dir, const std::string& sub) const {
        fs::create_directories(dir / sub);
        io::write_npy(dir / (sub + "/X.npy"), X);
        io::write_npy(dir / (sub + "/Y.npy"), Y);
        for (std::size_t l = 0; l < 2; ++l) {
            io::write_npy(dir / (sub + "/W" + std::to_string(l + 1) + ".npy"), W[l]);
            io::write_npy(dir / (sub + "/b" + std::to_string(l + 1) + ".npy"), b[l]);
        }
    }
};

std::vector<std::string> entries(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace

TEST_CASE("grad MODEL: the slides' gradients as the hand formulas give them, and exactly the files it lists") {
    ScratchDir dir("lang-grad");
    const SlidesValues v;
    v.write(dir, "in");
    const RunResult r = run_matgrad({"grad", slides, "--inputs", dir / "in", "--out", dir / "out"}, dir);
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out.find("; wrote J.npy, dW1.npy, db1.npy, dW2.npy, db2.npy to " + (dir / "out") + "\n") != std::string::npos);
    CHECK(entries(dir / "out") == std::vector<std::string>{"J.npy", "dW1.npy", "dW2.npy", "db1.npy", "db2.npy"});
    const nn::ForwardBackward ref = nn::reference_pass(v.W, v.b, v.X, v.Y);
    CHECK(std::abs(io::read_npy(dir / "out/J.npy")(0, 0) - ref.J) <= 1e-12);
    CHECK(max_abs_diff(io::read_npy(dir / "out/dW1.npy"), ref.dW[1]) <= 1e-12);
    CHECK(max_abs_diff(io::read_npy(dir / "out/db1.npy"), ref.db[1]) <= 1e-12);
    CHECK(max_abs_diff(io::read_npy(dir / "out/dW2.npy"), ref.dW[2]) <= 1e-12);
    CHECK(max_abs_diff(io::read_npy(dir / "out/db2.npy"), ref.db[2]) <= 1e-12);

    const RunResult all = run_matgrad({"grad", slides, "--inputs", dir / "in", "--out", dir / "all", "--all"}, dir);
    REQUIRE(all.status == 0);
    CHECK(all.out.find("; wrote J.npy, dW1.npy, db1.npy, dW2.npy, db2.npy, dZ1.npy, dA1.npy, dZ2.npy, dA2.npy, dJ.npy to ") !=
          std::string::npos);
    CHECK(entries(dir / "all").size() == 10);
    CHECK(max_abs_diff(io::read_npy(dir / "all/dZ1.npy"), ref.dZ[1]) <= 1e-12);

    // --save-values: the values used, drawn with --seed or read, written back; --inputs reads them again.
    const RunResult saved = run_matgrad({"grad", slides, "--seed", "4", "--out", dir / "g4", "--save-values", dir / "v4"}, dir);
    INFO(saved.err);
    REQUIRE(saved.status == 0);
    CHECK(saved.out.find("; wrote the values X.npy, Y.npy, W1.npy, b1.npy, W2.npy, b2.npy to " + (dir / "v4") +
                         "; wrote J.npy, dW1.npy, db1.npy, dW2.npy, db2.npy to " + (dir / "g4") + "\n") != std::string::npos);
    const RunResult again = run_matgrad({"grad", slides, "--inputs", dir / "v4", "--out", dir / "again"}, dir);
    REQUIRE(again.status == 0);
    CHECK(io::read_npy(dir / "again/dW1.npy") == io::read_npy(dir / "g4/dW1.npy"));
    CHECK(run_matgrad({"grad", "--data", dir / "in", "--params", dir / "in", "--out", dir / "x", "--save-values", dir / "v"}, dir).status == 2);
}

TEST_CASE("grad --data/--params lists the files it wrote (a one-layer network: J, dW1, db1)") {
    ScratchDir dir("lang-mlp-grad");
    fs::create_directories(dir / "data");
    fs::create_directories(dir / "params");
    io::write_npy(dir / "data/X.npy", random_matrix(3, 4, 1));
    io::write_npy(dir / "data/Y.npy", Matrix{{1, 0, 0, 1}});
    io::write_npy(dir / "params/W1.npy", random_matrix(1, 3, 2));
    io::write_npy(dir / "params/b1.npy", random_matrix(1, 1, 3));
    const RunResult r = run_matgrad({"grad", "--data", dir / "data", "--params", dir / "params", "--out", dir / "g"}, dir);
    REQUIRE(r.status == 0);
    CHECK(r.out.find("; wrote J.npy, dW1.npy, db1.npy to " + (dir / "g") + "\n") != std::string::npos);
    CHECK(entries(dir / "g") == std::vector<std::string>{"J.npy", "dW1.npy", "db1.npy"});

    const RunResult json = run_matgrad(
        {"grad", "--data", dir / "data", "--params", dir / "params", "--out", dir / "j", "--format", "json"}, dir);
    REQUIRE(json.status == 0);
    const nlohmann::json summary = nlohmann::json::parse(json.out);
    CHECK(summary["files"] == nlohmann::json::array({"J.npy", "dW1.npy", "db1.npy"}));
    CHECK(summary["layers"] == 1);
    CHECK(summary["out"] == dir / "j");
    CHECK(summary["J"].get<double>() == io::read_npy(dir / "j/J.npy")(0, 0));
}

TEST_CASE("grad MODEL --format json: the output's value and exactly the files written") {
    ScratchDir dir("lang-grad-json");
    SlidesValues().write(dir, "in");
    const RunResult r =
        run_matgrad({"grad", slides, "--inputs", dir / "in", "--out", dir / "out", "--all", "--format", "json"}, dir);
    INFO(r.err);
    REQUIRE(r.status == 0);
    const nlohmann::json summary = nlohmann::json::parse(r.out);
    CHECK(summary["model"] == slides);
    CHECK(summary["output"] == "J");
    CHECK(summary["value"].get<double>() == io::read_npy(dir / "out/J.npy")(0, 0));
    CHECK(summary["values"] == "the .npy files in " + (dir / "in"));
    CHECK(summary["out"] == dir / "out");
    std::vector<std::string> files = summary["files"];
    CHECK(files.size() == 10);
    std::sort(files.begin(), files.end());
    CHECK(files == entries(dir / "out"));
}

TEST_CASE("a model file calls nn's losses by name (the tool registers them): softmax_cross_entropy") {
    ScratchDir dir("lang-loss-by-name");
    const std::string m = dir / "softmax.mg";
    write_file(m, "input X : 4 x 6\ninput Y : 3 x 6\nparam W : 3 x 4\nZ = W*X\nJ = softmax_cross_entropy(Z, Y)\n");
    const Matrix X = random_matrix(4, 6, 71), W = random_matrix(3, 4, 72);
    Matrix Y = xt::zeros<double>({3, 6});
    for (std::size_t j = 0; j < 6; ++j) Y((j * 2) % 3, j) = 1.0;
    fs::create_directories(dir / "in");
    io::write_npy(dir / "in/X.npy", X);
    io::write_npy(dir / "in/Y.npy", Y);
    io::write_npy(dir / "in/W.npy", W);
    const RunResult r = run_matgrad({"grad", m, "--inputs", dir / "in", "--out", dir / "out"}, dir);
    INFO(r.err);
    REQUIRE(r.status == 0);
    // J = -(1/n) sum Y log softmax(Z), dW = (softmax(Z) - Y) Xᵀ / n, by hand
    const Matrix Z = xt::linalg::dot(W, X);
    const Matrix E = xt::exp(Z);
    const Matrix P = E / Matrix(xt::sum(E, {0}, xt::keep_dims));
    CHECK(std::abs(io::read_npy(dir / "out/J.npy")(0, 0) - (-xt::sum(Y * xt::log(P))() / 6.0)) <= 1e-12);
    CHECK(max_abs_diff(io::read_npy(dir / "out/dW.npy"), Matrix(xt::linalg::dot(Matrix(P - Y), Matrix(xt::transpose(X))) / 6.0)) <= 1e-12);
}

TEST_CASE("a mistake in the model: FILE:LINE:COL, the line, a caret, exit 2 and nothing written") {
    ScratchDir dir("lang-errors");
    SlidesValues().write(dir, "in");
    const std::string m = dir / "m.mg";
    auto expect = [&](const std::string& model, std::vector<std::string> extra, const std::string& expected) {
        write_file(m, model);
        std::vector<std::string> args{"grad", m, "--inputs", dir / "in", "--out", dir / "out"};
        args.insert(args.end(), extra.begin(), extra.end());
        const RunResult r = run_matgrad(args, dir);
        CHECK(r.status == 2);
        CHECK(r.err == expected);
        CHECK(r.out.empty());
        CHECK(!fs::exists(dir / "out"));
    };
    // X.npy is 10x7, W1.npy 64x10
    expect("input X : 10 x 7\nparam W1 : 64 x 9\nJ = sum(W1*X)\n", {},
           m + ":2:17: error: " + (dir / "in/W1.npy") + " is 64x10 but W1 is declared 64 x 9\n"
           "  param W1 : 64 x 9\n                  ^\n");
    expect("input X : 10 x 7\nparam W1 : 64 x 10\nJ = sum(X*W1)\n", {},
           m + ":3:10: error: X*W1: X is 10x7 but W1 is 64x10 (inner dimensions 7 and 64 differ)\n"
           "  J = sum(X*W1)\n           ^\n");
    expect("input X : 10 x 7\nJ = X +\n", {},
           m + ":2:8: error: incomplete expression: the line ends after '+'\n  J = X +\n         ^\n");
    expect("input X : d x n\nparam V : h x d\nJ = sum(V*X)\n", {"--seed", "1"},
           m + ":2:11: error: unbound dimension 'h' in the shape of V: give its size (e.g. --dim h=N) or a value that has it\n"
           "  param V : h x d\n            ^\n");
    expect("input X : d x n\nparam V : 3 x d\nJ = sum(V*X)\n", {},
           m + ":2:7: error: no value for param V: " + (dir / "in/V.npy") +
               " is missing (--seed S draws missing values at random)\n  param V : 3 x d\n        ^\n");
    expect("input X : d x n\nparam V : 3 x d\nJ = sum(V*X)\n", {"--seed", "1", "--dim", "n=6"},
           m + ":1:15: error: " + (dir / "in/X.npy") + " is 10x7 but n = 6 from --dim (X is declared d x n)\n"
           "  input X : d x n\n                ^\n");
    expect("input X : 10 x 7\nJ = X .* X\n", {},
           m + ":2:1: error: the output J is 10x7 but must be 1x1 (reduce it, e.g. with sum or mean)\n  J = X .* X\n  ^\n");
    expect("input X : 10 x 7\nJ = sum(X)\n", {"--dim", "n7"}, "matgrad: error: --dim: 'n7' is not NAME=SIZE with a positive size (e.g. --dim n=7)\n");
    expect("input X : 10 x 7\nJ = sum(X)\n", {"--output", "K"},
           "" + m + ": error: there is no named node 'K' to make the output (named nodes: J)\n");
}

TEST_CASE("every example model runs through grad, explain --check, graph and fit") {
    for (const std::string name : {"slides", "l2_logistic", "softmax_regression", "tanh_mse", "gaussian_nll"}) {
        CAPTURE(name);
        ScratchDir dir("lang-example");
        const std::vector<std::string> values{"--inputs", model_path(name), "--seed", "1", "--dim", "h=8"};
        auto with = [&](std::vector<std::string> args) {
            args.insert(args.begin() + 1, model_path(name + ".mg"));
            if (name != "tanh_mse")
                args.insert(args.end(), values.begin(), values.end() - 2);
            else
                args.insert(args.end(), values.begin(), values.end());
            return run_matgrad(args, dir);
        };
        const RunResult grad = with({"grad", "--out", dir / "g"});
        INFO(grad.err);
        CHECK(grad.status == 0);
        const RunResult explain = with({"explain", "--check"});
        INFO(explain.out);
        CHECK(explain.status == 0);
        CHECK(explain.out.find("finite differences") != std::string::npos);
        const RunResult graph = with({"graph", "--dot", dir / "g.dot"});
        CHECK(graph.status == 0);
        CHECK(read_file(dir / "g.dot").rfind("digraph", 0) == 0);
        const RunResult latex = with({"explain", "--format", "latex"});
        CHECK(latex.status == 0);
        CHECK(latex.out.find("\\begin{aligned}") != std::string::npos);
        // The true gradients as hand gradients: every one ok, in every format.
        fs::remove(dir / "g/J.npy");
        const RunResult verify = with({"verify", "--hand", dir / "g", "--format", "json"});
        INFO(verify.out);
        CHECK(verify.status == 0);
        CHECK(nlohmann::json::parse(verify.out)["gradients"].size() == entries(dir / "g").size());
        const RunResult fit = with({"fit", "--steps", "200", "--lr", "0.01", "--out", dir / "fitted", "--plot", dir / "fit.svg"});
        INFO(fit.err);
        REQUIRE(fit.status == 0);
        // "J 0.69 -> 0.41 in 200 steps ..."
        double first = 0, last = 0;
        REQUIRE(std::sscanf(fit.out.c_str(), "J %lf -> %lf", &first, &last) == 2);
        CHECK(last < first);
        CHECK(read_file(dir / "fit.svg").find("<svg") != std::string::npos);
    }
}

TEST_CASE("fit writes the params it reached, and verify MODEL judges hand gradients") {
    ScratchDir dir("lang-fit-verify");
    const std::string model = model_path("l2_logistic.mg"), inputs = model_path("l2_logistic");
    const RunResult fit = run_matgrad({"fit", model, "--inputs", inputs, "--seed", "3", "--optimizer", "sgd", "--lr", "0.5",
                                       "--steps", "300", "--out", dir / "fitted"}, dir);
    REQUIRE(fit.status == 0);
    CHECK(fit.out.find("in 300 steps (sgd, lr 0.5, ") != std::string::npos);
    CHECK(fit.out.find("; wrote w.npy to " + (dir / "fitted")) != std::string::npos);
    CHECK(entries(dir / "fitted") == std::vector<std::string>{"w.npy"});
    CHECK(fit.err.find("step 1/300") != std::string::npos);  // progress on stderr ...
    const RunResult quiet = run_matgrad({"fit", model, "--inputs", inputs, "--seed", "3", "--steps", "300", "--quiet"}, dir);
    CHECK(quiet.status == 0);
    CHECK(quiet.err.empty());  // ... and none with --quiet

    // The true gradient at a point, then hand gradients: right, transposed, and misnamed.
    REQUIRE(run_matgrad({"grad", model, "--inputs", inputs, "--seed", "3", "--out", dir / "true", "--all"}, dir).status == 0);
    const Matrix dw = io::read_npy(dir / "true/dw.npy");
    fs::create_directories(dir / "hand");
    io::write_npy(dir / "hand/dw.npy", dw);
    io::write_npy(dir / "hand/dmargins.npy", io::read_npy(dir / "true/dmargins.npy"));
    const std::vector<std::string> verify{"verify", model, "--inputs", inputs, "--seed", "3", "--hand", dir / "hand"};
    RunResult r = run_matgrad(verify, dir);
    INFO(r.out << r.err);
    CHECK(r.status == 0);
    CHECK(r.out.find("2 hand gradients checked against autodiff") != std::string::npos);
    io::write_npy(dir / "hand/dw.npy", Matrix(xt::transpose(dw)));
    r = run_matgrad(verify, dir);
    CHECK(r.status == 1);
    CHECK(r.out.find("transposed") != std::string::npos);
    io::write_npy(dir / "hand/dX.npy", dw);
    r = run_matgrad(verify, dir);
    CHECK(r.status == 2);
    CHECK(r.err == "matgrad: error: " + (dir / "hand/dX.npy") + ": X is an input, which gets no gradient\n");
    // A file named without the d prefix: the engine's one rule (Python's Model.verify says the same),
    // naming the file (it said "no param or named node ''").
    fs::remove(dir / "hand/dX.npy");
    io::write_npy(dir / "hand/w.npy", dw);
    r = run_matgrad(verify, dir);
    CHECK(r.status == 2);
    CHECK(r.err == "matgrad: error: " + (dir / "hand/w.npy") + ": the hand gradient 'w' is not named d<node>: the gradient of w is dw\n");
}

TEST_CASE("seed --print-model prints examples/models/slides.mg byte for byte") {
    ScratchDir dir("lang-seed");
    const RunResult r = run_matgrad({"seed", "--print-model"}, dir);
    CHECK(r.status == 0);
    CHECK(r.out == read_text(slides));
}

TEST_CASE("Ctrl-C stops fit after the current step and still writes the params reached (exit 130)") {
    ScratchDir dir("lang-sigint");
    const std::string err = dir / "stderr.txt", out = dir / "fitted";
    const std::string model = model_path("l2_logistic.mg"), inputs = model_path("l2_logistic");
    std::fflush(nullptr);  // or the child's freopen would write the parent's buffered output again
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {  // child: matgrad with stderr to a file, so the parent sees the first step
        if (!std::freopen(err.c_str(), "w", stderr) || !std::freopen("/dev/null", "w", stdout)) ::_exit(99);
        ::execl(MATGRAD_EXE, MATGRAD_EXE, "fit", model.c_str(), "--inputs", inputs.c_str(), "--seed", "1", "--steps",
                "1000000000", "--out", out.c_str(), static_cast<char*>(nullptr));
        ::_exit(98);
    }
    for (int waited = 0; waited < 3000 && read_file(err).find("step 1/") == std::string::npos; ++waited) ::usleep(10000);
    ::kill(pid, SIGINT);
    int raw = 0;
    REQUIRE(::waitpid(pid, &raw, 0) == pid);
    REQUIRE(WIFEXITED(raw));
    CHECK(WEXITSTATUS(raw) == 130);
    CHECK(read_file(err).find("matgrad fit: interrupted after ") != std::string::npos);
    CHECK(io::read_npy(out + "/w.npy").shape(0) == 3);
}

namespace {

Matrix matmul(const Matrix& a, const Matrix& b) { return xt::linalg::dot(a, b); }
Matrix transposed(const Matrix& a) { return xt::transpose(a); }
Matrix row_sums(const Matrix& a) { return xt::sum(a, {1}, xt::keep_dims); }

/// verify MODEL --json on the values in dir/in and the hand gradients in dir/hand.
nlohmann::json verify_json(const ScratchDir& dir, const std::string& model, int expected_status) {
    const RunResult r = run_matgrad({"verify", model_path(model), "--inputs", dir / "in", "--hand", dir / "hand", "--json"}, dir);
    INFO(r.out << r.err);
    CHECK(r.status == expected_status);
    return nlohmann::json::parse(r.out);
}

/// The report of hand gradient `name`; null (so every check on it fails) when there is none.
nlohmann::json gradient(const nlohmann::json& report, const std::string& name) {
    for (const nlohmann::json& g : report.value("gradients", nlohmann::json::array()))
        if (g["name"] == name) return g;
    return nullptr;
}

}  // namespace

TEST_CASE("verify MODEL on softmax regression: a hand dW without the 1/n is a missing mean factor at the mean") {
    ScratchDir dir("lang-verify-softmax");
    const std::size_t n = 8;
    const Matrix X = random_matrix(4, n, 81), W = random_matrix(3, 4, 82), b = random_matrix(3, 1, 83);
    Matrix Y = xt::zeros<double>({std::size_t{3}, n});
    for (std::size_t j = 0; j < n; ++j) Y((j * 2) % 3, j) = 1.0;
    fs::create_directories(dir / "in");
    fs::create_directories(dir / "hand");
    for (const auto& [name, value] : std::vector<std::pair<std::string, Matrix>>{{"X", X}, {"Y", Y}, {"W", W}, {"b", b}})
        io::write_npy(dir / ("in/" + name + ".npy"), value);
    // By hand: P = softmax(WX + b) per column, dZ = (P − Y)/n, dW = dZ Xᵀ, db = row sums of dZ.
    const Matrix E = xt::exp(matmul(W, X) + b);
    const Matrix P = E / Matrix(xt::sum(E, {0}, xt::keep_dims));
    const Matrix dZ = (P - Y) / double(n);
    io::write_npy(dir / "hand/dW.npy", matmul(dZ, transposed(X)));
    io::write_npy(dir / "hand/db.npy", row_sums(dZ));
    nlohmann::json report = verify_json(dir, "softmax_regression.mg", 0);
    CHECK(gradient(report, "dW")["diagnosis"] == "ok");
    CHECK(gradient(report, "db")["diagnosis"] == "ok");
    CHECK(report["first_wrong_step"].is_null());

    io::write_npy(dir / "hand/dW.npy", Matrix(matmul(P - Y, transposed(X))));  // the 1/n left out
    report = verify_json(dir, "softmax_regression.mg", 1);
    nlohmann::json dW = gradient(report, "dW");
    CHECK(dW["diagnosis"] == "missing_mean_factor");
    CHECK(dW["factor"].get<double>() == doctest::Approx(double(n)).epsilon(1e-12));
    CHECK(dW["op"] == "mean");
    CHECK(gradient(report, "db")["diagnosis"] == "ok");
    CHECK(report["first_wrong_step"] == "dW");

    // log_softmax's Jacobian taken as diagonal: dZ = dL ⊙ (1 − P) with dL = −Y/n, L = log_softmax(Z).
    io::write_npy(dir / "hand/dW.npy", matmul(dZ, transposed(X)));
    io::write_npy(dir / "hand/db.npy", row_sums(Matrix(-Y / double(n) * (1.0 - P))));
    report = verify_json(dir, "softmax_regression.mg", 1);
    CHECK(gradient(report, "dW")["diagnosis"] == "ok");
    const nlohmann::json db = gradient(report, "db");
    CHECK(db["diagnosis"] == "diagonal_jacobian");
    // log_softmax(Z) has no line of its own: the hint writes it as it reads inline in J.
    CHECK(db["hint"] == "db should be row-sum of dZ (3×1); yours equals the derivation with a mistake at "
                        "log_softmax(Z) in J = −mean(sum(Y ⊙ log_softmax(Z), 0)) — only the Jacobian's diagonal "
                        "kept, as if log_softmax were element-wise: "
                        "dZ = d(log_softmax(Z)) ⊙ (1 − exp(log_softmax(Z)))");
}

TEST_CASE("verify MODEL on the tanh network: tanh' left out is a missing activation derivative at H") {
    ScratchDir dir("lang-verify-tanh");
    const std::size_t n = 6;
    const Matrix X = random_matrix(2, n, 91), T = random_matrix(1, n, 92), W1 = random_matrix(4, 2, 93),
                 b1 = random_matrix(4, 1, 94), w2 = random_matrix(1, 4, 95), b2 = random_matrix(1, 1, 96);
    fs::create_directories(dir / "in");
    fs::create_directories(dir / "hand");
    for (const auto& [name, value] : std::vector<std::pair<std::string, Matrix>>{
             {"X", X}, {"T", T}, {"W1", W1}, {"b1", b1}, {"w2", w2}, {"b2", b2}})
        io::write_npy(dir / ("in/" + name + ".npy"), value);
    // By hand: H = tanh(W1 X + b1), R = w2 H + b2 − T, J = mean(R²): dP = 2R/n, dH = w2ᵀ dP,
    // dW1 = (dH ⊙ (1 − H²)) Xᵀ -- written here without the (1 − H²).
    const Matrix H = xt::tanh(matmul(W1, X) + b1);
    const Matrix dP = 2.0 * (matmul(w2, H) + b2 - T) / double(n);
    const Matrix dH = matmul(transposed(w2), dP);
    io::write_npy(dir / "hand/dw2.npy", matmul(dP, transposed(H)));
    io::write_npy(dir / "hand/dH.npy", dH);
    io::write_npy(dir / "hand/dW1.npy", matmul(dH, transposed(X)));
    const nlohmann::json report = verify_json(dir, "tanh_mse.mg", 1);
    CHECK(gradient(report, "dw2")["diagnosis"] == "ok");
    CHECK(gradient(report, "dH")["diagnosis"] == "ok");
    nlohmann::json dW1 = gradient(report, "dW1");
    CHECK(dW1["diagnosis"] == "missing_activation_derivative");
    CHECK(dW1["node"] == "H");
    CHECK(dW1["op"] == "tanh");
    // The hint in the model's names: H, and W1 X + b1 (unnamed) as its formula.
    CHECK(dW1["hint"] == "dW1 should be (dH ⊙ (1 − H²)) Xᵀ (4×2); yours equals the derivation with a mistake at "
                         "H = tanh(W1 X + b1) — tanh' = 1 − H² left out: d(W1 X + b1) = dH");
    CHECK(report["first_wrong_step"] == "dW1");
}
