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
#include <report/render.hpp>

#include <csignal>
#include <iterator>

#include <sys/wait.h>
#include <unistd.h>

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

TEST_CASE("matgrad verify: a right gradient saved as float32 agrees to float32's precision, a mistake still shows") {
    const fs::path dir = scratch("verify_float32");
    const nn::MlpProblem p = write_problem(dir);
    const nn::ForwardBackward ref = nn::reference_pass(p.W, p.b, p.X, p.Y);
    xt::dump_npy((dir / "hand/dW1.npy").string(), xt::xarray<float>(xt::cast<float>(ref.dW[1])));
    xt::dump_npy((dir / "hand/dW2.npy").string(), xt::xarray<float>(xt::cast<float>(ref.dW[2] * 7.0)));  // the 1/n left out
    const Run r = run(dir, verify_args(dir));
    CAPTURE(r.out);
    CHECK(r.status == 1);
    CHECK(r.err == "matgrad verify: dW1.npy, dW2.npy hold float32 values: judged at float32's precision (tolerance 1e-06, "
                   "not 1e-08)\n");
    CHECK(r.out.find("✓    dW1 ") != std::string::npos);  // was unexplained at 3e-8
    CHECK(r.out.find("missing_mean_factor") != std::string::npos);
    CHECK(r.out.find("(tolerance 1e-06 of each gradient's scale)") != std::string::npos);
}

TEST_CASE("matgrad verify: a 1-D file stands for the column or row of its length, and only for that") {
    const fs::path dir = scratch("verify_1d");
    const nn::MlpProblem p = write_problem(dir);
    const nn::ForwardBackward ref = nn::reference_pass(p.W, p.b, p.X, p.Y);
    const auto write_1d = [&](const std::string& name, const Matrix& m) {
        xt::dump_npy((dir / "hand" / (name + ".npy")).string(), xt::xarray<double>(xt::flatten(m)));
    };
    write_1d("db1", ref.db[1]);  // a bias: a column
    write_1d("dA2", ref.dA[2]);  // the output's gradient: a row, 1 x n
    write_hand(dir, "dW1", ref.dW[1]);
    const Run r = run(dir, verify_args(dir));
    CAPTURE(r.out);
    CAPTURE(r.err);
    CHECK(r.status == 0);
    CHECK(r.out.find("3 ok, 0 wrong") != std::string::npos);

    // A mistake in a 1-D file is still diagnosed; a length that is no vector's is the wrong shape.
    write_1d("dA2", xt::eval(-ref.dA[2]));
    write_1d("dW1", ref.dW[1]);
    const Run wrong = run(dir, verify_args(dir) + " --json");
    CAPTURE(wrong.out);
    CAPTURE(wrong.err);
    CHECK(wrong.status == 1);
    CHECK(wrong.out.find("sign_flipped") != std::string::npos);
    CHECK(wrong.out.find("wrong_shape") != std::string::npos);
    CHECK(wrong.out.find("(a 1-D file of 640 values, which stands only for a column or row of that length)") !=
          std::string::npos);
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
    // --trace without --dot: the trace on stderr, so stdout stays DOT (graph > g.dot | dot works).
    const Run traced = run(dir, "graph " + network_args(dir) + " --trace");
    CHECK(traced.status == 0);
    CHECK(traced.out.rfind("digraph", 0) == 0);
    CHECK(traced.out.find("Trace") == std::string::npos);
    CHECK(traced.out.substr(traced.out.size() - 2) == "}\n");
    CHECK(traced.err.rfind("\nTrace (one row per tape node; times in microseconds)\n", 0) == 0);

    CHECK(run(dir, "explain --sizes 10").status == 2);
    CHECK(run(dir, "explain --data " + (dir / "data").string()).status == 2);  // --params missing
    CHECK(run(dir, "graph " + network_args(dir) + " --sizes 3,1").status == 2);  // files or sizes, not both
}

// ---- Derivations as documents: --format latex|json|html and --out (matgrad::report) ----

namespace {

std::string slurp(const fs::path& p) {
    std::stringstream s;
    s << std::ifstream(p).rdbuf();
    return s.str();
}

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
    return n;
}

// The slides' hand gradients with two mistakes: dZ1 without σ' (the first wrong step of the reverse
// pass, which then spoils dW1) -- written as the true dA1 -- and dW1 from that wrong dZ1.
void write_wrong_backward_pass(const fs::path& dir, const nn::MlpProblem& p) {
    const nn::ForwardBackward ref = nn::reference_pass(p.W, p.b, p.X, p.Y);
    const nn::ForwardBackward bad = nn::without_activation_derivative(p, ref.A);
    write_hand(dir, "dZ2", ref.dZ[2]);
    write_hand(dir, "dW2", ref.dW[2]);
    write_hand(dir, "dZ1", bad.dZ[1]);
    write_hand(dir, "dW1", bad.dW[1]);
}

}  // namespace

TEST_CASE("matgrad explain --format json: every line with stable keys, the LaTeX of each equation") {
    const fs::path dir = scratch("explain_json");
    fs::create_directories(dir);
    const Run r = run(dir, "explain --format json");
    CAPTURE(r.err);
    REQUIRE(r.status == 0);
    const nlohmann::json j = nlohmann::json::parse(r.out);
    CHECK(j.at("title").get<std::string>().find("10-64-1") != std::string::npos);
    const auto& lines = j.at("lines");
    std::size_t forward = 0, backward = 0;
    for (const auto& l : lines) {
        for (const char* key : {"kind", "lhs", "formula", "latex", "shape", "shapes", "node", "layout", "fd_error"})
            CHECK_MESSAGE(l.contains(key), key);
        forward += l["kind"] == "forward";
        backward += l["kind"] == "backward";
        if (l["lhs"] == "dW1") {
            CHECK(l["formula"] == "dZ1 Xᵀ");
            CHECK(l["latex"] == "dW_{1} = dZ_{1} X^{\\top} \\quad \\in \\mathbb{R}^{64\\times 10}");
            CHECK(l["shape"] == nlohmann::json::array({64, 10}));
            CHECK(l["layout"].get<std::string>().find("Xᵀ on the right") != std::string::npos);
            CHECK(l["fd_error"].is_null());  // no --check
        }
    }
    CHECK(forward == 5);   // Z1 A1 Z2 A2 J
    CHECK(backward == 8);  // dA2 dZ2 dW2 db2 dA1 dZ1 dW1 db1

    const Run checked = run(dir, "explain --format json --check");
    const nlohmann::json checked_json = nlohmann::json::parse(checked.out);  // kept alive for the loop
    for (const auto& l : checked_json.at("lines"))
        if (l["lhs"] == "dW1") CHECK(l["fd_error"].get<double>() < 1e-6);
}

// The Gaussian model's dS and dD meet logdet's rule (S⁻ᵀ) and inv's rule on S⁻¹ (its transpose):
// both are written S⁻ᵀ, in LaTeX S^{-\top} -- not S⁻¹ᵀ, not the double superscript S^{-1}^{\top}.
TEST_CASE("matgrad explain on the Gaussian model: one spelling of the inverse transposed in every format") {
    const fs::path dir = scratch("explain_gaussian");
    fs::create_directories(dir);
    const std::string model = std::string(MATGRAD_MODELS_DIR) + "/gaussian_nll.mg --inputs " +
                              std::string(MATGRAD_MODELS_DIR) + "/gaussian_nll --seed 1";
    const std::string dS = "(1/2) S⁻ᵀ − (1/60) S⁻ᵀ D Dᵀ S⁻ᵀ", dD = "(1/60) S⁻¹ D + (1/60) S⁻ᵀ D";
    const std::string dS_latex = "dS &= \\frac{1}{2} S^{-\\top} - \\frac{1}{60} S^{-\\top} D D^{\\top} S^{-\\top} && "
                                 "\\in \\mathbb{R}^{3\\times 3}";
    const std::string dD_latex = "dD &= \\frac{1}{60} S^{-1} D + \\frac{1}{60} S^{-\\top} D && \\in \\mathbb{R}^{3\\times 30}";

    const Run text = run(dir, "explain " + model);
    CAPTURE(text.err);
    REQUIRE(text.status == 0);
    auto line = [&](const std::string& lhs) {  // the equation's line, its shapes after the padding
        const std::size_t at = text.out.find("\n  " + lhs + " = ");
        return at == std::string::npos ? std::string() : text.out.substr(at + 1, text.out.find('\n', at + 1) - at - 1);
    };
    CHECK(line("dS").rfind("  dS = " + dS + "   ", 0) == 0);
    CHECK(line("dS").find("   3×3 (sum of 2 paths)") != std::string::npos);
    CHECK(line("dD").rfind("  dD = " + dD + "   ", 0) == 0);
    CHECK(line("dD").find("   3×30 (sum of 2 paths)") != std::string::npos);
    CHECK(text.out.find("S⁻ᵀ ((1/60) D)\n") != std::string::npos);  // matmul's layout remark
    CHECK(text.out.find("⁻¹ᵀ") == std::string::npos);

    const Run tex = run(dir, "explain " + model + " --format latex");
    REQUIRE(tex.status == 0);
    CHECK(tex.out.find(dS_latex) != std::string::npos);
    CHECK(tex.out.find(dD_latex) != std::string::npos);
    CHECK(tex.out.find("^{-1}^") == std::string::npos);

    const Run json = run(dir, "explain " + model + " --format json");
    REQUIRE(json.status == 0);
    std::size_t found = 0;
    const nlohmann::json explanation = nlohmann::json::parse(json.out);  // kept alive for the loop
    for (const auto& l : explanation.at("lines")) {
        const std::string lhs = l["lhs"];
        if (lhs != "dS" && lhs != "dD") continue;
        ++found;
        CHECK(l["formula"] == (lhs == "dS" ? dS : dD));
        // the JSON's latex is the aligned line without "&" ("\quad" before the shape)
        std::string want = lhs == "dS" ? dS_latex : dD_latex;
        want.replace(want.find(" &= "), 4, " = ");
        want.replace(want.find(" && "), 4, " \\quad ");
        CHECK(l["latex"] == want);
    }
    CHECK(found == 2);

    const Run html = run(dir, "explain " + model + " --format html --out " + (dir / "g.html").string());
    REQUIRE(html.status == 0);
    const std::string page = slurp(dir / "g.html");
    CHECK(page.find("S^{-\\top} D D^{\\top} S^{-\\top}") != std::string::npos);
    CHECK(page.find("⁻¹ᵀ") == std::string::npos);
    CHECK(page.find("^{-1}^") == std::string::npos);
}

TEST_CASE("matgrad explain --format latex: aligned blocks per section, --out writes the file") {
    const fs::path dir = scratch("explain_latex");
    fs::create_directories(dir);
    const Run r = run(dir, "explain --format latex --out " + (dir / "e.tex").string());
    CAPTURE(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out == "wrote " + (dir / "e.tex").string() + " (latex, 19 lines)\n");  // the document went to the file
    const std::string tex = slurp(dir / "e.tex");
    CHECK(count(tex, "\\begin{aligned}") == 3);  // inputs, forward, backward
    CHECK(count(tex, "\\end{aligned}") == 3);
    CHECK(tex.find("Z_{1} &= W_{1} X + b_{1} && \\in \\mathbb{R}^{64\\times 7}") != std::string::npos);
    CHECK(tex.find("dA_{2} &= -\\frac{1}{7} Y \\oslash A_{2} + \\frac{1}{7} (1 - Y) \\oslash (1 - A_{2})") != std::string::npos);
    CHECK(tex.find("dZ_{1} &= dA_{1} \\odot A_{1} \\odot (1 - A_{1})") != std::string::npos);
    CHECK(tex.find("dA_{1} &= W_{2}^{\\top} dZ_{2}") != std::string::npos);
    CHECK(tex.find("db_{1} &= \\text{rowsum}(dZ_{1})") != std::string::npos);
    std::istringstream tex_lines(tex);
    for (std::string line; std::getline(tex_lines, line);)
        if (line.rfind("%", 0) != 0)  // the Unicode notation may stay in comments only
            for (const char* unicode : {"×", "ᵀ", "⊙", "⊘", "σ", "−", "𝟙"}) CHECK_MESSAGE(line.find(unicode) == std::string::npos, line);

    const Run dash = run(dir, "explain --format latex --out -");
    CHECK(dash.out == tex);  // '-' is stdout
    CHECK(run(dir, "explain --format pdf").status == 2);
    CHECK(run(dir, "explain --format latex --trace").status == 2);
    CHECK(run(dir, "explain --format latex --out " + (dir / "missing/e.tex").string()).status == 2);
}

TEST_CASE("matgrad verify --format latex|json: verdicts on the equations, the first wrong step named") {
    const fs::path dir = scratch("verify_formats");
    write_wrong_backward_pass(dir, write_problem(dir));
    const Run json = run(dir, verify_args(dir) + " --format json");
    CHECK(json.status == 1);
    const auto g = nlohmann::json::parse(json.out).at("gradients");
    REQUIRE(g.size() == 4);
    CHECK(g[2]["param"] == "dZ1");
    CHECK(g[2]["diagnosis"] == "missing_activation_derivative");
    CHECK(nlohmann::json::parse(json.out).at("first_wrong_step") == "dZ1");
    CHECK(g[3]["consequence_of"] == "dZ1");
    const Run tex = run(dir, verify_args(dir) + " --format latex");
    CHECK(tex.status == 1);
    CHECK(tex.out.find("\\text{yours: missing\\_activation\\_derivative (first wrong step)}") != std::string::npos);
    CHECK(tex.out.find("\\text{yours: ok}") != std::string::npos);
}

// The page in a real browser: headless Chromium loads the file, KaTeX runs, and the DOM it leaves
// must hold one typeset formula per equation and no KaTeX error. Screenshots go to the scratch dir.
TEST_CASE("matgrad explain/verify --format html: typeset in Chromium, graph linked, offline") {
#ifndef MATGRAD_CHROMIUM
    MESSAGE("SKIPPED: chromium not found at configure time (apt-get install chromium); the HTML report is not browser-tested");
#else
    const fs::path dir = scratch("html");
    write_wrong_backward_pass(dir, write_problem(dir));
    const Run json = run(dir, "explain " + network_args(dir) + " --format json");
    std::size_t equations = 0, inputs = 0;
    const nlohmann::json explanation = nlohmann::json::parse(json.out);
    for (const auto& l : explanation.at("lines")) {
        equations += l["kind"] == "forward" || l["kind"] == "backward";
        inputs += l["kind"] == "input";
    }
    REQUIRE(equations == 13);

    auto browse = [&](const std::string& page, const std::string& png, const std::string& hash = "") {
        const std::string flags = " --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,1050 ";
        const std::string url = "'file://" + (dir / page).string() + hash + "'";
        const std::string quiet = " 2>" + (dir / "chromium.log").string();
        std::system((std::string(MATGRAD_CHROMIUM) + flags + "--screenshot=" + (dir / png).string() + " " + url + quiet).c_str());
        std::system((std::string(MATGRAD_CHROMIUM) + flags + "--dump-dom " + url + " > " + (dir / (page + ".dom")).string() + quiet).c_str());
        return slurp(dir / (page + ".dom"));
    };

    REQUIRE(run(dir, "explain " + network_args(dir) + " --check --format html --out " + (dir / "explain.html").string()).status == 0);
    const std::string html = slurp(dir / "explain.html");
    // Offline: nothing fetched -- no <link>, no http(s) source, fonts inlined.
    CHECK(html.find("<link") == std::string::npos);
    CHECK(html.find("src=\"http") == std::string::npos);
    CHECK(html.find("url(http") == std::string::npos);
    CHECK(html.find("url(fonts/") == std::string::npos);
    CHECK(count(html, "url(data:font/woff2;base64,") >= 20);

    // #node=7 highlights node 7 (Z1) as a hover would: its graph node and its two equations.
    const std::string dom = browse("explain.html", "explain.png", "#node=7");
    REQUIRE(dom.find("</html>") != std::string::npos);
    // KaTeX's own error spans, and the page's mark for an equation KaTeX refused.
    CHECK(count(dom, "class=\"katex-error\"") + count(dom, " katex-error\"") == 0);
    CHECK(count(dom, "<div class=\"eq\"") + count(dom, "<div class=\"eq hl\"") == equations);
    CHECK(count(dom, "<span class=\"katex\">") == equations + inputs);  // inputs are typeset too
    CHECK(dom.find("id=\"no-katex\"") == std::string::npos);
    CHECK(dom.find("<svg") != std::string::npos);
    // The script tied every graph node to its index, the key equations highlight by.
    const std::string dot = run(dir, "graph " + network_args(dir)).out;
    CHECK(count(dom, "class=\"node\" data-node=\"") + count(dom, "class=\"node hl\" data-node=\"") == count(dot, "shape="));
    CHECK(count(dom, "<g id=\"node8\" class=\"node hl\" data-node=\"7\">") == 1);  // Graphviz numbers from 1
    CHECK(count(dom, "<div class=\"eq hl\" data-node=\"7\"") == 2);                   // Z1 = ..., dZ1 = ...
    CHECK(count(dom, " hl\"") == 3);

    REQUIRE(run(dir, verify_args(dir) + " --format html --out " + (dir / "verify.html").string()).status == 1);
    const std::string vdom = browse("verify.html", "verify.png");
    CHECK(count(vdom, "class=\"katex-error\"") + count(vdom, " katex-error\"") == 0);
    CHECK(count(vdom, "class=\"eq v-wrong\"") == 2);  // dZ1, dW1
    CHECK(count(vdom, "class=\"eq v-ok\"") == 2);     // dZ2, dW2
    CHECK(count(vdom, "first wrong step") == 2);     // in the table and on dZ1's equation
    CHECK(vdom.find("missing_activation_derivative") != std::string::npos);
#endif
}

TEST_CASE("matgrad explain --format html without Graphviz or KaTeX: a note instead, equations as source") {
    const fs::path dir = scratch("html_fallback");
    fs::create_directories(dir);
    const std::string out = (dir / "e.html").string();
    // No `dot` on PATH (the CLI itself is started by absolute path), and KaTeX pointed nowhere.
    const Run r = run(dir, "version > /dev/null; PATH=/nonexistent MATGRAD_KATEX_DIR=/nonexistent " +
                               std::string(MATGRAD_CLI) + " explain --format html --out " + out);
    CAPTURE(r.err);
    REQUIRE(r.status == 0);
    const std::string html = slurp(out);
    CHECK(html.find("id=\"no-graph\"") != std::string::npos);
    CHECK(html.find("Graphviz (the dot program) was not found") != std::string::npos);
    CHECK(html.find("id=\"no-katex\"") != std::string::npos);
    CHECK(html.find("<svg") == std::string::npos);
    CHECK(html.find("Z_{1} = W_{1} X + b_{1}") != std::string::npos);  // the LaTeX source is shown
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

namespace {

/// A fake `dot` in dir/bin that writes its pid to dir/dot.pid and then sleeps: a Graphviz that never finishes.
std::string hanging_dot(const fs::path& dir) {
    fs::create_directories(dir / "bin");
    const fs::path script = dir / "bin/dot";
    std::ofstream(script) << "#!/bin/sh\necho $$ > " << (dir / "dot.pid").string() << "\nexec sleep 60\n";
    fs::permissions(script, fs::perms::owner_all);
    return (dir / "bin").string();
}

/// Whether process `pid` still runs (a zombie waiting for its new parent to reap it has ended).
bool running(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), {});
    const std::size_t close = text.rfind(')');
    return close != std::string::npos && close + 2 < text.size() && text[close + 2] != 'Z';
}

/// The pid the fake dot wrote, waiting up to 10 s for it.
pid_t wait_for_dot(const fs::path& dir) {
    for (int k = 0; k < 1000 && !fs::exists(dir / "dot.pid"); ++k) ::usleep(10000);
    ::usleep(20000);  // the line is written
    pid_t pid = 0;
    std::ifstream(dir / "dot.pid") >> pid;
    return pid;
}

std::vector<std::string> graph_temporaries() {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(fs::temp_directory_path()))
        if (e.path().filename().string().rfind("matgrad-graph-", 0) == 0) names.push_back(e.path().string());
    return names;
}

}  // namespace

TEST_CASE("explain --format html: a graph over the node cap is left out, and a killed explain leaves no dot and no temporary") {
    const fs::path dir = scratch("html_bounded");
    fs::remove_all(dir);
    fs::create_directories(dir);
    // 3 x 401 additions: more nodes than kMaxGraphNodes, so Graphviz is not even started.
    std::string model = "param W : 2 x 2\n", sum;
    for (int line = 1; line <= 3; ++line) {
        model += "S" + std::to_string(line) + " = W";
        for (int k = 0; k < 400; ++k) model += " + W";
        model += "\n";
        sum += (sum.empty() ? "" : " + ") + std::string("sum(S") + std::to_string(line) + ")";
    }
    std::ofstream(dir / "big.mg") << model << "J = " << sum << "\n";
    const std::string page = (dir / "big.html").string();
    REQUIRE(run(dir, "explain " + (dir / "big.mg").string() + " --seed 1 --format html --out " + page).status == 0);
    std::stringstream html;
    html << std::ifstream(page).rdbuf();
    CHECK(html.str().find("nodes, more than the 1000 drawn on a page") != std::string::npos);
    CHECK(html.str().find("id=\"no-graph\"") != std::string::npos);

    // Killed while Graphviz runs: dot dies with it, and nothing temporary is left.
    const std::vector<std::string> before = graph_temporaries();
    const std::string path = hanging_dot(dir) + ":/usr/bin:/bin";
    const pid_t matgrad = ::fork();
    if (matgrad == 0) {
        ::setenv("PATH", path.c_str(), 1);
        const std::string out = (dir / "e.html").string();
        ::execl(MATGRAD_CLI, MATGRAD_CLI, "explain", "--format", "html", "--out", out.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    const pid_t dot = wait_for_dot(dir);
    REQUIRE(dot > 0);
    CHECK(running(dot));
    ::kill(matgrad, SIGKILL);
    int status = 0;
    ::waitpid(matgrad, &status, 0);
    for (int k = 0; k < 500 && running(dot); ++k) ::usleep(10000);
    CHECK(!running(dot));
    CHECK(!fs::exists(dir / "e.html"));
    for (const auto& e : fs::directory_iterator(dir)) CHECK(e.path().filename().string().find(".tmp-") == std::string::npos);
    CHECK(graph_temporaries() == before);
}

TEST_CASE("render_html: dot is stopped after Document::graph_timeout and the page says so") {
    const fs::path dir = scratch("html_timeout");
    fs::remove_all(dir);
    fs::create_directories(dir);
    const std::string saved = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
    ::setenv("PATH", (hanging_dot(dir) + ":/usr/bin:/bin").c_str(), 1);
    report::Document doc;
    doc.title = "t";
    doc.dot = "digraph \"matgrad\" {\n  n0 [label=\"x\"];\n}\n";
    doc.graph_timeout = 0.5;
    const std::string html = report::render_explanation({}, report::Format::html, doc);
    ::setenv("PATH", saved.c_str(), 1);
    CHECK(html.find("dot took more than 0.5 s on the graph and was stopped") != std::string::npos);
    const pid_t dot = wait_for_dot(dir);
    REQUIRE(dot > 0);
    CHECK(!running(dot));  // killed and reaped
}
