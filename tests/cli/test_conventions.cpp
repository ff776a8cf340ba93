// The CLI's conventions, each run on the real binary: --version / version, usage lines that say
// `matgrad`, --quiet, data on stdout and progress on stderr, --format json summaries. (The CSV
// reader's pandas-index hint and RFC 4180 quoting are tested in test_io.cpp.)
#include "cli_test_util.hpp"

#include <nn/io.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cmath>

using namespace matgrad;
using namespace matgrad::test;

#ifdef MATGRAD_EXE
TEST_CASE("matgrad --version and matgrad version print the project version") {
    ScratchDir dir("version");
    const RunResult flag = run_matgrad({"--version"}, dir);
    const RunResult command = run_matgrad({"version"}, dir);
    CHECK(flag.status == 0);
    CHECK(command.status == 0);
    CHECK(flag.out == "matgrad " MATGRAD_PROJECT_VERSION "\n");
    CHECK(command.out == flag.out);
}

TEST_CASE("usage lines say `matgrad`, not the path the binary was run from") {
    ScratchDir dir("usage");
    for (const std::vector<std::string>& args : {std::vector<std::string>{"--help"}, {"train", "--help"}, {"explain", "--help"}}) {
        const RunResult r = run_matgrad(args, dir);
        CAPTURE(r.out);
        CHECK(r.status == 0);
        CHECK(r.out.find("Usage: matgrad") != std::string::npos);
        CHECK(r.out.find(MATGRAD_EXE) == std::string::npos);
    }
    const RunResult bad = run_matgrad({"seed", "--nope"}, dir);
    CHECK(bad.status == 2);
    CHECK(bad.err.find(MATGRAD_EXE) == std::string::npos);
}

TEST_CASE("the quiet flag: no progress on stderr, the data stays on stdout") {
    ScratchDir dir("quiet");
    const std::vector<std::string> train{"train", "--csv", data_file("breast_cancer.csv"), "--epochs", "3"};
    const RunResult loud = run_matgrad(train, dir);
    CHECK(loud.status == 0);
    CHECK(loud.err.find("epoch 3/3") != std::string::npos);  // progress goes to stderr ...
    CHECK(loud.out.find("epoch 3/3") == std::string::npos);  // ... never into the data
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"--quiet"}, std::vector<std::string>{}}) {
        std::vector<std::string> argv = args;
        argv.insert(argv.end(), train.begin(), train.end());
        if (args.empty()) argv.push_back("--quiet");  // also after the command's own options
        const RunResult quiet = run_matgrad(argv, dir);
        CAPTURE(quiet.err);
        CHECK(quiet.status == 0);
        CHECK(quiet.err.find("epoch") == std::string::npos);
        CHECK(quiet.out.substr(0, quiet.out.find(" in ")) == loud.out.substr(0, loud.out.find(" in ")));  // the time differs
    }
}

TEST_CASE("seed and grad --format json: the summary as JSON, nothing else on stdout") {
    ScratchDir dir("json_summaries");
    const RunResult seed = run_matgrad({"seed", "--format", "json"}, dir);
    REQUIRE(seed.status == 0);
    const nlohmann::json s = nlohmann::json::parse(seed.out);
    CHECK(s["ok"] == true);
    CHECK(s["seed"] == 1);
    REQUIRE(s["gradients"].size() == 8);
    CHECK(s["gradients"][2]["name"] == "dW2");
    CHECK(s["gradients"][2]["shape"] == "1×64");
    CHECK(s["gradients"][2]["autodiff_vs_fd"].get<double>() < 1e-6);
    CHECK(s["gradients"][0]["autodiff_vs_fd"].is_null());  // dA2: no finite differences for intermediates
    CHECK(std::abs(s["J"]["autodiff"].get<double>() - s["J"]["hand"].get<double>()) < 1e-12);
    CHECK(run_matgrad({"seed", "--format", "yaml"}, dir).status == 2);

    // grad on files written by the tool itself (the slides' network from `matgrad explain`'s seed is
    // not on disk, so write a 2-2-1 network by hand).
    fs::create_directories(dir.path() / "data");
    fs::create_directories(dir.path() / "params");
    io::write_npy(dir / "data/X.npy", Matrix{{0.5, -1.0, 2.0}, {1.0, 0.0, -0.5}});
    io::write_npy(dir / "data/Y.npy", Matrix{{1.0, 0.0, 1.0}});
    io::write_npy(dir / "params/W1.npy", Matrix{{0.1, -0.2}, {0.3, 0.4}});
    io::write_npy(dir / "params/b1.npy", Matrix{{0.0}, {0.1}});
    io::write_npy(dir / "params/W2.npy", Matrix{{0.5, -0.5}});
    io::write_npy(dir / "params/b2.npy", Matrix{{0.2}});
    const RunResult grad = run_matgrad({"grad", "--data", dir / "data", "--params", dir / "params", "--out",
                                        dir / "grads", "--format", "json"}, dir);
    CAPTURE(grad.err);
    REQUIRE(grad.status == 0);
    const nlohmann::json g = nlohmann::json::parse(grad.out);
    CHECK(g["layers"] == 2);
    CHECK(g["samples"] == 3);
    CHECK(g["files"] == nlohmann::json::array({"J.npy", "dW1.npy", "db1.npy", "dW2.npy", "db2.npy"}));
    CHECK(g["J"].get<double>() == io::read_npy(dir / "grads/J.npy")(0, 0));
}
#endif
