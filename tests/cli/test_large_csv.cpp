// Peak memory of `matgrad train` and `matgrad predict` on a 300,000 x 30 CSV, measured on the
// real executable (each run's own peak RSS, from wait4). Skipped under AddressSanitizer, whose
// allocator makes RSS say nothing about ours. The file is written into the test's scratch folder.
// Also what a model trained from a CSV's cache (`train --memory`) records, on a file large enough
// to be streamed.
#include "../rss_meaningful.hpp"
#include "cli_test_util.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <charconv>
#include <filesystem>
#include <random>
#include <utility>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>

using namespace matgrad::test;

namespace {

struct Measured {
    int status;
    long peak_kib;
};

/// Runs matgrad with `args`, its output discarded, and returns its exit status and peak RSS.
Measured run_measured(std::vector<std::string> args) {
    args.insert(args.begin(), MATGRAD_EXE);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
        const int null = ::open("/dev/null", O_WRONLY);
        ::dup2(null, 1);
        ::dup2(null, 2);
        ::execv(MATGRAD_EXE, argv.data());
        ::_exit(127);
    }
    int status = 0;
    rusage usage{};
    ::wait4(pid, &status, 0, &usage);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, usage.ru_maxrss};
}

/// `rows` rows of `features` normal values (6 digits, like a typical export) and a 0/1 label.
void write_big_csv(const std::string& path, std::size_t rows, std::size_t features) {
    std::mt19937_64 rng(22);
    std::normal_distribution<double> normal;
    std::string text;
    for (std::size_t f = 0; f < features; ++f) text += "x" + std::to_string(f) + ",";
    text += "label\n";
    char cell[32];
    for (std::size_t r = 0; r < rows; ++r) {
        double score = 0;
        for (std::size_t f = 0; f < features; ++f) {
            const double x = normal(rng);
            score += f < 3 ? x : 0.0;
            text.append(cell, std::to_chars(cell, cell + sizeof cell, x, std::chars_format::general, 6).ptr);
            text += ',';
        }
        text += score > 0 ? "1\n" : "0\n";
    }
    write_file(path, text);
}

}  // namespace

TEST_CASE("train on 300,000 rows peaks under 2x the data and predict streams") {
    if (!kRssMeaningful) {
        MESSAGE("skipped: RSS means nothing under AddressSanitizer");
        return;
    }
    ScratchDir dir("large");
    const std::size_t rows = 300000, columns = 30;
    write_big_csv(dir / "big.csv", rows, columns - 1);
    const double data_kib = static_cast<double>(rows * columns * sizeof(double)) / 1024.0;

    const Measured train = run_measured({"train", "--csv", dir / "big.csv", "--epochs", "1", "--save", dir / "model"});
    REQUIRE(train.status == 0);
    MESSAGE("train: peak RSS ", train.peak_kib / 1024, " MiB, ", train.peak_kib / data_kib, "x the data");
    CHECK(train.peak_kib <= 2.0 * data_kib);

    const Measured predict = run_measured({"predict", "--model", dir / "model", "--csv", dir / "big.csv", "--out",
                                           dir / "p.csv"});
    REQUIRE(predict.status == 0);
    MESSAGE("predict: peak RSS ", predict.peak_kib / 1024, " MiB, ", predict.peak_kib / data_kib, "x the data");
    CHECK(predict.peak_kib <= 0.6 * data_kib);  // a block at a time: far below the data
}

TEST_CASE("train --memory on 200,000 rows trains from the cache within the budget plus the program, also with small blocks") {
    if (!kRssMeaningful) {
        MESSAGE("skipped: RSS means nothing under AddressSanitizer");
        return;
    }
    ScratchDir dir("streamed");
    const std::size_t rows = 200000, columns = 30;
    write_big_csv(dir / "big.csv", rows, columns - 1);
    write_big_csv(dir / "small.csv", 300, columns - 1);
    const double data_kib = static_cast<double>(rows * columns * sizeof(double)) / 1024.0;  // 45.8 MiB
    // The overhead the budget does not cover: the program itself (code, libraries, OpenBLAS), as
    // the peak of a training on 300 rows.
    const Measured program = run_measured({"train", "--csv", dir / "small.csv", "--epochs", "1"});
    REQUIRE(program.status == 0);
    // 32M: blocks of 11,723 rows, first converting the CSV, then from the cache. 30M, about the
    // least that fits: blocks of 2,683 rows (16 kB of each column), where reading the blocks through
    // a mapping held far more than the block of each column (the kernel maps pages around each one
    // touched): 44 MiB, over the bound.
    const std::pair<const char*, long> runs[] = {{"32M", 32}, {"32M", 32}, {"30M", 30}};
    for (const auto& [budget, budget_mib] : runs) {
        const bool converting = !std::filesystem::exists(dir / "big.csv.npy");
        const Measured train = run_measured({"train", "--csv", dir / "big.csv", "--epochs", "1", "--memory", budget,
                                             "--save", dir / "model"});
        REQUIRE(train.status == 0);
        CHECK(std::filesystem::exists(dir / "big.csv.npy"));  // streamed from the cache
        const std::string run = std::string(budget) + (converting ? ", converting" : ", cached");
        MESSAGE(run, ": peak RSS ", train.peak_kib / 1024,
                " MiB for a budget of ", budget_mib, " MiB, the program alone ", program.peak_kib / 1024,
                " MiB, the data ", data_kib / 1024, " MiB");
        CHECK(train.peak_kib <= budget_mib * 1024 + program.peak_kib);
        CHECK(static_cast<double>(train.peak_kib) < data_kib);
    }
}

TEST_CASE("a model trained from the cache records the rows it learnt from, and predict on the training CSV says so") {
    ScratchDir dir("streamed-seen");
    // 60,000 rows x 30 columns: 13.7 MiB as doubles, more than half of --memory 25M, so streamed.
    write_big_csv(dir / "big.csv", 60000, 29);
    const RunResult trained = run_matgrad({"train", "--csv", dir / "big.csv", "--epochs", "1", "--memory", "25M",
                                           "--save", dir / "model", "--metrics", dir / "metrics.json"}, dir);
    INFO(trained.err);
    REQUIRE(trained.status == 0);
    REQUIRE(trained.err.find("shuffled in blocks of") != std::string::npos);  // from the cache
    const nlohmann::json m = nlohmann::json::parse(read_file(dir / "metrics.json"));
    const int learnt = m.at("train_rows").get<int>() + m.at("validation_rows").get<int>();
    char test_accuracy[32];
    std::snprintf(test_accuracy, sizeof test_accuracy, "%.4f", m.at("test_accuracy").get<double>());
    // As for a model trained in memory: the rows not learnt from are train's test rows (the
    // random rows are distinct), so their accuracy is train's test accuracy.
    const RunResult predicted = run_matgrad({"predict", "--model", dir / "model", "--csv", dir / "big.csv", "--out",
                                             dir / "p.csv"}, dir);
    INFO(predicted.err);
    REQUIRE(predicted.status == 0);
    CHECK(predicted.err.find("note: the model was fitted or validated on " + std::to_string(learnt) +
                             " of these rows, so this overstates how it does on new data; on the other " +
                             std::to_string(m.at("test_rows").get<int>()) + " rows: accuracy " + test_accuracy +
                             "\n") != std::string::npos);
}
