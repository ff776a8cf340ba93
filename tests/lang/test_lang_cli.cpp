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
    REQUIRE(run_matgrad({"grad", model, "--inputs", inputs, "--seed", "3", "--out", dir / "true", "--all", "--save-values",
                         dir / "values"}, dir).status == 0);
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
    // An input's hand gradient is judged like a param's (the input recorded as a variable): with
    // margins = y ⊙ (wᵀ X), dX = w (dmargins ⊙ y), written out here from the true dmargins.
    const Matrix y = io::read_npy(inputs + "/y.npy"), dmargins = io::read_npy(dir / "true/dmargins.npy");
    const Matrix w = io::read_npy(dir / "values/w.npy");  // drawn with --seed 3
    io::write_npy(dir / "hand/dw.npy", dw);
    const Matrix row = dmargins * y;  // 1×n
    io::write_npy(dir / "hand/dX.npy", Matrix(xt::linalg::outer(xt::flatten(w), xt::flatten(row))));
    r = run_matgrad(verify, dir);
    INFO(r.out << r.err);
    CHECK(r.status == 0);
    CHECK(r.out.find("3 hand gradients checked against autodiff") != std::string::npos);
    io::write_npy(dir / "hand/dX.npy", Matrix(2.0 * xt::linalg::outer(xt::flatten(w), xt::flatten(row))));
    r = run_matgrad(verify, dir);
    CHECK(r.status == 1);
    CHECK(r.out.find("dX  ") != std::string::npos);
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
    CHECK(db["hint"] == "db should be rowsum(dZ) (3×1); yours equals the derivation with a mistake at "
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

TEST_CASE("verify MODEL --hand FILE.mg: the slides' derivation as typed, line by line, and a bad line exits 2") {
    ScratchDir dir("lang-verify-derivation");
    const std::string derivation = std::string(MATGRAD_MODELS_DIR) + "/../derivations/slides.mg";
    RunResult r = run_matgrad({"verify", slides, "--seed", "1", "--hand", derivation}, dir);
    CHECK(r.status == 1);
    CHECK(r.out.find("→ ✗  4     dA2 = −Y ⊘ A2 + (1 − Y) ⊘ (1 − A2)  missing_mean_factor") != std::string::npos);
    CHECK(r.out.find("✗    5     dZ2 = dA2 ⊙ σ'(Z2)                  missing_mean_factor at mean(Y ⊙ log(A2) + (1 − Y) ⊙ "
                     "log(1 − A2))  ok (follows from dA2)") != std::string::npos);
    CHECK(r.out.find("first wrong step: dA2 (line 4)") != std::string::npos);
    r = run_matgrad({"verify", slides, "--seed", "1", "--hand", derivation, "--json"}, dir);
    CHECK(r.status == 1);
    const nlohmann::json report = nlohmann::json::parse(r.out);
    CHECK(report["first_wrong_step"] == "dA2");
    const nlohmann::json dW1 = gradient(report, "dW1");
    CHECK(dW1["line"] == 10);
    CHECK(dW1["formula"] == "dZ1 Xᵀ");
    CHECK(dW1["step"] == "ok");
    CHECK(dW1["diagnosis"] == "missing_mean_factor");
    CHECK(dW1["consequence_of"] == "dZ1");

    // HTML: your formula typeset beside the right one (KaTeX renders every data-tex), the step's verdict.
    r = run_matgrad({"verify", slides, "--seed", "1", "--hand", derivation, "--format", "html", "--out", dir / "v.html"}, dir);
    CHECK(r.status == 1);
    CHECK(read_file(dir / "v.html").find("yours (line 4): <span data-tex=\"dA_{2} = -Y \\oslash A_{2} + (1 - Y) \\oslash "
                                         "(1 - A_{2})\">") != std::string::npos);
    CHECK(read_file(dir / "v.html").find("missing_mean_factor, step wrong — dA2 should be") != std::string::npos);

    // An input's line is typeset beside its own equation, as the params' are: X is a variable of
    // the equations' recording too.
    write_file(dir / "dx.mg", "dZ2 = (A2 − Y) / 7\ndA1 = W2ᵀ dZ2\ndZ1 = dA1 ⊙ σ'(Z1)\ndX = W1ᵀ dZ1\n");
    r = run_matgrad({"verify", slides, "--seed", "1", "--hand", dir / "dx.mg", "--format", "latex"}, dir);
    CHECK(r.status == 0);
    CHECK(r.out.find("dX &= W_{1}^{\\top} dZ_{1} && \\in \\mathbb{R}^{10\\times 7} && \\text{yours (line 4): }dX = "
                     "W_{1}^{\\top} dZ_{1} \\quad \\text{ok, step ok}") != std::string::npos);
    r = run_matgrad({"verify", slides, "--seed", "1", "--hand", dir / "dx.mg", "--format", "html", "--out", dir / "dx.html"}, dir);
    CHECK(r.status == 0);
    CHECK(read_file(dir / "dx.html").find("yours (line 4): <span data-tex=\"dX = W_{1}^{\\top} dZ_{1}\">") != std::string::npos);

    // A helper line has a row of its own: its formula, "helper" with its shape, or why it cannot be evaluated.
    write_file(dir / "helpers.mg", "e = A2 − Y\ndZ2 = e / 7\nbad = dZ2 * A1\nh = W2ᵀ dZ2\ndA1 = h\n");
    const std::vector<std::string> helpers{"verify", slides, "--seed", "1", "--hand", dir / "helpers.mg"};
    r = run_matgrad(helpers, dir);
    CHECK(r.status == 0);
    CHECK(r.out.find("\n   1     e = A2 − Y      helper, 1×7  ") != std::string::npos);
    CHECK(r.out.find("\n   3     bad = dZ2 * A1  helper, not evaluated        dZ2 * A1: dZ2 is 1x7 but A1 is 64x7 (inner "
                     "dimensions 7 and 64 differ)\n") != std::string::npos);
    CHECK(r.out.find("\n   4     h = W2ᵀ dZ2     helper, 64×7  ") != std::string::npos);
    CHECK(r.out.find("\n✓  5     dA1 = h ") != std::string::npos);
    std::vector<std::string> as_json = helpers;
    as_json.push_back("--json");
    const nlohmann::json with_helpers = nlohmann::json::parse(run_matgrad(as_json, dir).out);
    REQUIRE(with_helpers["helpers"].size() == 3);
    CHECK(with_helpers["helpers"][0] == nlohmann::json({{"name", "e"}, {"line", 1}, {"formula", "A2 − Y"}, {"verdict", "helper"},
                                                        {"shape", {1, 7}}, {"error", nullptr}}));
    CHECK(with_helpers["helpers"][1]["shape"].is_null());
    CHECK(with_helpers["helpers"][1]["error"] == "dZ2 * A1: dZ2 is 1x7 but A1 is 64x7 (inner dimensions 7 and 64 differ)");
    std::vector<std::string> as_latex = helpers;
    as_latex.insert(as_latex.end(), {"--format", "latex"});
    CHECK(run_matgrad(as_latex, dir).out.find("h &= W_{2}^{\\top} dZ_{2} && \\in \\mathbb{R}^{64\\times 7} && "
                                              "\\text{helper (line 4)}") != std::string::npos);
    std::vector<std::string> as_html = helpers;
    as_html.insert(as_html.end(), {"--format", "html", "--out", dir / "helpers.html"});
    REQUIRE(run_matgrad(as_html, dir).status == 0);
    CHECK(read_file(dir / "helpers.html").find("<h2>Your helper lines</h2>\n<div class=\"eq helper\" data-tex=\"e = A_{2} - Y") !=
          std::string::npos);

    write_file(dir / "bad.mg", "dZ2 = A2 - Y\ndW2 = dZ2 * A1ᵀ + \x1b[2J\n");
    r = run_matgrad({"verify", slides, "--seed", "1", "--hand", dir / "bad.mg"}, dir);
    CHECK(r.status == 2);
    CHECK(r.out.empty());
    CHECK(r.err == (dir / "bad.mg") + ":2:21: error: unexpected byte 0x1B\n  dW2 = dZ2 * A1ᵀ + \\x1B[2J\n                    ^\n");
}

TEST_CASE("derive --format numpy: the generated module's gradients equal autodiff's to 1e-12 on every example") {
    if (std::string(MATGRAD_PYTHON).empty()) return;  // no interpreter configured (MATGRAD_PYTHON)
    ScratchDir dir("lang-derive-numpy");
    const std::vector<std::string> names{"slides", "tanh_mse", "softmax_regression", "l2_logistic", "gaussian_nll"};
    std::map<std::string, std::map<std::string, Matrix>> expected;  // autodiff's, per model
    for (const std::string& name : names) {
        // The values, drawn as derive draws them, written for Python; the truth recorded from the same.
        lang::Model model = example_model(name);
        lang::Values values;
        lang::BindOptions options;
        options.seed = 1;
        options.draw_unbound_dims = true;
        model.bind(values, options);
        fs::create_directories(dir / name);
        for (const auto& [input, value] : values) io::write_npy(dir / (name + "/" + input + ".npy"), value);
        Tape tape;
        const lang::Recording r = model.record(tape, values);
        tape.backward(r.output());
        expected[name][model.output()] = r.output().value();
        for (const auto& [param, var] : r.params()) expected[name]["d" + param] = var.grad();
        const RunResult derived = run_matgrad({"derive", model_path(name + ".mg"), "--inputs", dir / name, "--format",
                                               "numpy", "--out", dir / (name + "_grad.py")},
                                              dir);
        REQUIRE(derived.status == 0);
    }
    write_file(dir / "run.py",
               "import importlib.util, os, sys\nimport numpy as np\n"
               "d = sys.argv[1]\n"
               "for name in sys.argv[2:]:\n"
               "    spec = importlib.util.spec_from_file_location(name, os.path.join(d, name + '_grad.py'))\n"
               "    module = importlib.util.module_from_spec(spec)\n"
               "    spec.loader.exec_module(module)\n"
               "    values = {f[:-4]: np.load(os.path.join(d, name, f)) for f in os.listdir(os.path.join(d, name))}\n"
               "    os.makedirs(os.path.join(d, name + '_out'))\n"
               "    for key, value in module.gradients(values).items():\n"
               "        np.save(os.path.join(d, name + '_out', key + '.npy'), value)\n");
    std::string command = std::string(MATGRAD_PYTHON) + " '" + (dir / "run.py") + "' '" + dir.path().string() + "'";
    for (const std::string& name : names) command += " " + name;
    REQUIRE(std::system(command.c_str()) == 0);
    for (const auto& [name, gradients] : expected) {
        CHECK(entries(dir / (name + "_out")).size() == gradients.size());
        for (const auto& [key, truth] : gradients) {
            INFO(name << " " << key);
            const Matrix got = io::read_npy(dir / (name + "_out/" + key + ".npy"));
            REQUIRE(got.shape() == truth.shape());
            double scale = 1.0;
            for (const double x : truth) scale = std::max(scale, std::abs(x));
            CHECK(max_abs_diff(got, truth) <= 1e-12 * scale);
        }
    }
}

TEST_CASE("hessian MODEL: H.npy equals Model::hessian, its summary, --wrt order, bad --wrt exits 2") {
    ScratchDir dir("lang-hessian");
    const std::string model = model_path("l2_logistic.mg"), inputs = model_path("l2_logistic");
    const RunResult r = run_matgrad({"hessian", model, "--inputs", inputs, "--seed", "1", "--out", dir / "h"}, dir);
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(entries(dir / "h") == std::vector<std::string>{"H.npy"});
    const Matrix H = io::read_npy(dir / "h/H.npy");
    double asymmetry = 1.0;
    REQUIRE(std::sscanf(r.out.c_str(), ("H of J over w: " + std::to_string(H.shape(0)) + "x" + std::to_string(H.shape(0)) +
                                        ", symmetry error %lf").c_str(), &asymmetry) == 1);
    CHECK(asymmetry <= 1e-14);
    CHECK(max_abs_diff(H, Matrix(xt::transpose(H))) <= 1e-14 * xt::amax(xt::abs(H))());
    CHECK(r.out.find("(positive definite: convex here); wrote H.npy to " + (dir / "h")) != std::string::npos);

    // The slides' network over two of its params, in the order given: b2 (1x1) then W2 (1x64).
    const RunResult slides_h = run_matgrad({"hessian", slides, "--inputs", model_path("slides"), "--seed", "1", "--wrt",
                                            "b2", "--wrt", "W2", "--out", dir / "s", "--format", "json"}, dir);
    INFO(slides_h.err);
    REQUIRE(slides_h.status == 0);
    const nlohmann::json facts = nlohmann::json::parse(slides_h.out);
    CHECK(facts["size"] == 65);
    CHECK(facts["wrt"] == nlohmann::json({"b2", "W2"}));
    CHECK(io::read_npy(dir / "s/H.npy").shape(0) == 65);

    const RunResult bad = run_matgrad({"hessian", model, "--inputs", inputs, "--seed", "1", "--wrt", "X", "--out", dir / "x"}, dir);
    CHECK(bad.status == 2);
    CHECK(bad.err == model + ": error: hessian: 'X' is not a param (params: w)\n");
    CHECK(!fs::exists(dir / "x"));

    write_file(dir / "big.mg", "param W : 101 x 100\nJ = sum(W .* W)\n");
    const RunResult big = run_matgrad({"hessian", dir / "big.mg", "--seed", "1", "--out", dir / "b"}, dir);
    CHECK(big.status == 2);
    CHECK(big.err == "matgrad: error: hessian: 10100 parameters, more than the 10000 a dense H.npy is written for "
                     "(10100² doubles); pick fewer with --wrt\n");
    CHECK(!fs::exists(dir / "b"));
}

TEST_CASE("fit --optimizer newton: l2_logistic.mg reaches gradient norm <= 1e-8 in at most 20 steps") {
    ScratchDir dir("lang-newton");
    const std::string model = model_path("l2_logistic.mg"), inputs = model_path("l2_logistic");
    const RunResult r = run_matgrad({"fit", model, "--inputs", inputs, "--seed", "1", "--optimizer", "newton", "--steps",
                                     "20", "--out", dir / "fitted"}, dir);
    INFO(r.out << r.err);
    REQUIRE(r.status == 0);
    std::size_t steps = 0;
    double first = 0, last = 0;
    REQUIRE(std::sscanf(r.out.c_str(), "J %lf -> %lf in %zu steps", &first, &last, &steps) == 3);
    CHECK(steps <= 20);
    CHECK(last < first);
    CHECK(r.out.find(" <= 1e-08, ") != std::string::npos);  // converged
    // The gradient at the params it wrote is ~0.
    const lang::Values values{{"X", io::read_npy(inputs + "/X.npy")}, {"y", io::read_npy(inputs + "/y.npy")},
                              {"w", io::read_npy(dir / "fitted/w.npy")}};
    Tape tape;
    const lang::Model parsed = lang::Model::parse(read_file(model), model);
    const lang::Recording rec = parsed.record(tape, values);
    tape.backward(rec.output());
    CHECK(std::sqrt(xt::sum(rec.var("w").grad() * rec.var("w").grad())()) <= 1e-8);

    // Above 2000 params Newton is refused, naming the count and what to use instead; nothing written.
    write_file(dir / "big.mg", "param W : 50 x 41\nJ = sum(W .* W)\n");
    const RunResult big = run_matgrad({"fit", dir / "big.mg", "--seed", "1", "--optimizer", "newton", "--out", dir / "b"}, dir);
    CHECK(big.status == 2);
    CHECK(big.err == "matgrad: error: newton: 2050 parameters, more than the 2000 Newton's method takes (each step "
                     "builds and factors the dense n x n Hessian); use a first-order optimizer (adam, sgd)\n");
    CHECK(!fs::exists(dir / "b"));
}

TEST_CASE("sizes: --dim too large for memory is refused naming the declaration and the --dim, nothing written") {
    ScratchDir dir("lang-sizes");
    const std::string m = dir / "ov.mg";
    // Each of these once segfaulted, hung, or wrote a dW.npy whose header claimed 2^126 elements.
    for (const char* output : {"J = sum(W .* W)", "J = tr(W)", "J = sum(W)"}) {
        write_file(m, std::string("param W : n x n\n") + output + "\n");
        const RunResult r = run_matgrad({"grad", m, "--dim", "n=9223372036854775807", "--seed", "1", "--out", dir / "o"}, dir);
        INFO(r.err);
        CHECK(r.status == 2);
        CHECK(r.err.rfind(m + ":1:7: error: param W : n x n (n = 9223372036854775807 from --dim): "
                              "9223372036854775807x9223372036854775807 would need 6.81e+38 bytes, over the cap of "
                              "134217728 elements (1 GiB) per matrix\n", 0) == 0);
        CHECK(!fs::exists(dir / "o"));
    }
    const RunResult twice = run_matgrad({"grad", m, "--dim", "n=3", "--dim", "n=4", "--seed", "1", "--out", dir / "o"}, dir);
    CHECK(twice.status == 2);
    CHECK(twice.err == "matgrad: error: --dim: n is given twice (n=3, n=4); give each dimension once\n");
    const RunResult huge = run_matgrad({"grad", m, "--dim", "n=99999999999999999999", "--seed", "1", "--out", dir / "o"}, dir);
    CHECK(huge.status == 2);
    CHECK(huge.err == "matgrad: error: --dim: 'n=99999999999999999999' is not NAME=SIZE with a positive size (e.g. --dim n=7)\n");
    CHECK(!fs::exists(dir / "o"));
}

TEST_CASE("files: a failed command replaces nothing, and collisions and an output at an input's path are refused") {
    ScratchDir dir("lang-files");
    const std::string m = dir / "m.mg";
    auto refused = [&](const std::vector<std::string>& args, const std::string& expected) {
        const RunResult r = run_matgrad(args, dir);
        INFO(r.err);
        CHECK(r.status == 2);
        CHECK(r.err == "matgrad: error: " + expected + "\n");
    };
    // A node name too long for a file: d<name>.npy cannot be written, so J.npy keeps its old bytes.
    const std::string name(300, 'N');
    write_file(m, "param W : 2 x 2\n" + name + " = W .* W\nJ = sum(" + name + ")\n");
    fs::create_directories(dir / "keep");
    write_file(dir / "keep/J.npy", "old");
    const RunResult r = run_matgrad({"grad", m, "--seed", "1", "--out", dir / "keep", "--all"}, dir);
    CHECK(r.status == 2);
    CHECK(r.err.find("File name too long") != std::string::npos);
    CHECK(read_file(dir / "keep/J.npy") == "old");
    CHECK(entries(dir / "keep") == std::vector<std::string>{"J.npy"});

    // Two outputs at one path, named both.
    write_file(m, "param W : 1 x 1\ndW = sum(W)\n");
    refused({"grad", m, "--seed", "1", "--out", dir / "o"},
            (dir / "o/dW.npy") + ": would be written twice, as the output dW and as the gradient of param W; rename one");
    write_file(m, "param W : 1 x 1\nZ = W .* 2\ndZ = sum(Z)\n");
    refused({"grad", m, "--seed", "1", "--out", dir / "o", "--all"},
            (dir / "o/dZ.npy") + ": would be written twice, as the output dZ and as the gradient of node Z; rename one");
    CHECK(!fs::exists(dir / "o"));

    // An output at an input's path: refused, the input untouched.
    const std::string model = read_file(m);
    refused({"explain", m, "--seed", "1", "--out", m}, m + ": is the MODEL file, which the --out document would overwrite; write it elsewhere");
    refused({"graph", m, "--seed", "1", "--dot", m}, m + ": is the MODEL file, which the --dot file would overwrite; write it elsewhere");
    CHECK(read_file(m) == model);

    // fit whose --plot cannot be written leaves the params already in --out as they were.
    write_file(m, "param W : 2 x 2\nJ = sum(W .* W)\n");
    fs::create_directories(dir / "fitted");
    write_file(dir / "fitted/W.npy", "old");
    const RunResult fit = run_matgrad({"fit", m, "--seed", "1", "--steps", "2", "--out", dir / "fitted", "--plot", dir / (name + ".svg")}, dir);
    CHECK(fit.status == 2);
    CHECK(fit.err.find("File name too long") != std::string::npos);
    CHECK(read_file(dir / "fitted/W.npy") == "old");
    CHECK(entries(dir / "fitted") == std::vector<std::string>{"W.npy"});
}

TEST_CASE("non-finite values: the first op that made one, at its place with its operands' ranges, and nothing written") {
    ScratchDir dir("lang-nonfinite");
    const std::string m = dir / "m.mg";
    auto refused = [&](const std::string& output, const std::string& expected) {
        write_file(m, "param W : 2 x 2\nJ = " + output + "\n");
        const RunResult r = run_matgrad({"grad", m, "--seed", "1", "--out", dir / "o"}, dir);
        INFO(r.err);
        CHECK(r.status == 2);
        CHECK(r.err.rfind(m + ":2:" + expected, 0) == 0);
        CHECK(!fs::exists(dir / "o"));
    };
    refused("sum(log(W - W))", "9: error: log(W - W): log: the unnamed log result #2 (2x2) has -inf at (0,0) from input 0 = 0; "
                               "W - W is in [0, 0]\n");
    refused("sum(W/0)", "10: error: W/0: div: the unnamed div result #2 (2x2) has inf at (0,0) from input 0 = ");
    refused("sum(exp(W*1e6))", "9: error: exp(W*1e6): exp: the unnamed exp result #3 (2x2) has inf at (0,0) from input 0 = ");
    // A singular inv says where it is, not only "the unnamed sub result #1".
    refused("sum(inv(W - W))", "9: error: inv(W - W): inv: the unnamed sub result #1 (2x2) is singular (LU found a zero "
                               "pivot); its inverse does not exist; W - W is in [0, 0]\n");
    // A gradient the backward pass makes non-finite (sqrt' at 0) is named at the op that made it too.
    refused("sum(sqrt(W - W) .* 3)", "9: error: sqrt(W - W): sqrt backward: the gradient of input 0 (the unnamed sub "
                                     "result #1, 2x2) has inf at (0,0); input value there = 0\n");

    // explain --check: a NaN gradient never passes; a right gradient of size 2e6 is judged relative to its scale.
    write_file(m, "param W : 2 x 2\nJ = sum(sqrt(W .* 0))\n");
    const RunResult nan = run_matgrad({"explain", m, "--seed", "1", "--check"}, dir);
    CHECK(nan.status == 1);
    CHECK(nan.out.find("[finite differences: max |Δ| = inf]") != std::string::npos);
    write_file(m, "param W : 2 x 2\nJ = 1e6 * sum(W .* W)\n");
    const RunResult large = run_matgrad({"explain", m, "--seed", "1", "--check"}, dir);
    INFO(large.out);
    CHECK(large.status == 0);
}

TEST_CASE("sloppy arguments: --seed out of range, a fractional or huge axis, --samples 0, each refused saying what is allowed") {
    ScratchDir dir("lang-sloppy");
    const std::string m = dir / "m.mg";
    write_file(m, "param W : 2 x 3\nJ = sum(W)\n");
    for (const char* seed : {"-1", "99999999999999999999"}) {
        const RunResult r = run_matgrad({"grad", m, "--seed", seed, "--out", dir / "o"}, dir);
        CHECK(r.status == 2);
        CHECK(r.err.find("--seed: '" + std::string(seed) + "' is not a seed: give a whole number from 0 to 18446744073709551615") !=
              std::string::npos);
    }
    for (const char* axis : {"0.5", "1e300"}) {
        write_file(m, std::string("param W : 2 x 3\nJ = sum(sum(W, ") + axis + "))\n");
        const RunResult r = run_matgrad({"grad", m, "--seed", "1", "--out", dir / "o"}, dir);
        INFO(r.err);
        CHECK(r.status == 2);
        CHECK(r.err.rfind(m + ":2:9: error: sum(W, " + axis + "): sum(W, " + (axis[1] == '.' ? "0.5" : "1e+300") +
                              "): axis must be 0 (down each column, giving 1x3) or 1 (across each row, giving 2x1)\n", 0) == 0);
    }
    CHECK(!fs::exists(dir / "o"));
    const RunResult samples = run_matgrad({"explain", "--samples", "0"}, dir);
    CHECK(samples.status == 2);
    CHECK(samples.err == "matgrad: --samples: '0' is not a number of samples: give a whole number of at least 1 (run with --help for usage)\n");
    const RunResult sizes = run_matgrad({"explain", "--sizes", "100000,100000,1"}, dir);
    CHECK(sizes.status == 2);
    CHECK(sizes.err == "matgrad: error: W1 (sizes): 100000x100000 would need 8e+10 bytes, over the cap of "
                       "134217728 elements (1 GiB) per matrix\n");
}

TEST_CASE("reading: devices are refused, a model file is capped at 16 MiB, a pipe still works") {
    ScratchDir dir("lang-devices");
    const RunResult zero = run_matgrad({"grad", "/dev/zero", "--seed", "1", "--out", dir / "o"}, dir);
    CHECK(zero.status == 2);
    CHECK(zero.err == "matgrad: error: /dev/zero: is a device, not a file\n");
    const RunResult csv = run_matgrad({"train", "--csv", "/dev/zero"}, dir);
    CHECK(csv.status == 2);
    CHECK(csv.err == "matgrad: error: /dev/zero: is a device, not a file\n");
    // Through a pipe (as `--hand <(matgrad ...)` or `matgrad grad /dev/stdin` read it).
    auto piped = [&](const std::string& producer) {
        const std::string command = producer + " | '" + std::string(MATGRAD_EXE) + "' grad /dev/stdin --seed 1 --out '" +
                                    (dir / "o") + "' > '" + (dir / "out.txt") + "' 2> '" + (dir / "err.txt") + "'";
        const int raw = std::system(command.c_str());
        return std::make_pair(WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, read_file(dir / "err.txt"));
    };
    write_file(dir / "m.mg", "param W : 2 x 2\nJ = sum(W .* W)\n");
    CHECK(piped("cat '" + (dir / "m.mg") + "'").first == 0);
    CHECK(entries(dir / "o") == std::vector<std::string>{"J.npy", "dW.npy"});
    const auto [status, err] = piped("head -c 17000000 /dev/zero");
    CHECK(status == 2);
    CHECK(err == "matgrad: error: /dev/stdin: is larger than 16 MiB, the most a model file or other text file may hold\n");
}
