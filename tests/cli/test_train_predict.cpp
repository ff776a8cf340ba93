// `matgrad train` and `matgrad predict` end to end on the real data: breast cancer (binary), wine
// (multiclass), diabetes (regression).
#include "cli_test_util.hpp"

#include <nn/io.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <csignal>
#include <numeric>
#include <cstdio>
#include <sstream>

using namespace matgrad;
using namespace matgrad::test;

namespace {

/// Trains with default settings into dir/model; returns the parsed metrics.
nlohmann::json train_default(const ScratchDir& dir) {
    const RunResult r = run_matgrad({"train", "--csv", data_file("breast_cancer.csv"), "--save", dir / "model",
                                     "--metrics", dir / "metrics.json", "--plot", dir / "loss.svg"}, dir);
    INFO(r.err);
    REQUIRE(r.status == 0);
    return nlohmann::json::parse(read_file(dir / "metrics.json"));
}

/// The CSV without column `drop` and with the remaining columns in reverse order.
std::string reversed_without(const io::CsvTable& t, std::size_t drop) {
    std::string text;
    for (std::size_t r = 0; r <= t.values.shape(1); ++r) {
        bool first = true;
        for (std::size_t c = t.header.size(); c-- > 0;) {
            if (c == drop) continue;
            text += first ? "" : ",";
            first = false;
            text += r == 0 ? t.header[c] : nlohmann::json(t.values(c, r - 1)).dump();  // shortest exact form
        }
        text += "\n";
    }
    return text;
}

/// The labels of `predict --probabilities` output for a binary model, checking each line.
std::vector<int> predictions_of(const std::string& csv) {
    std::vector<int> out;
    std::istringstream in(csv);
    std::string line;
    std::getline(in, line);
    CHECK(line == "probability_0,probability_1,prediction");
    while (std::getline(in, line)) {
        const std::size_t first = line.find(','), second = line.find(',', first + 1);
        const double p0 = std::stod(line.substr(0, first)), p1 = std::stod(line.substr(first + 1, second));
        const int label = std::stoi(line.substr(second + 1));
        CHECK(p1 >= 0.0);
        CHECK(p1 <= 1.0);
        CHECK(p0 + p1 == doctest::Approx(1.0).epsilon(1e-15));
        CHECK(label == (p1 >= 0.5 ? 1 : 0));
        out.push_back(label);
    }
    return out;
}

/// The numbers of one CSV column (`column` 0-based) below its header, which must be `header`.
std::vector<double> column_of(const std::string& csv, std::size_t column, const std::string& header) {
    const io::CsvTable t = io::parse_csv(csv, "predictions");
    CHECK(t.header[column] == header);
    std::vector<double> out;
    for (std::size_t r = 0; r < t.values.shape(1); ++r) out.push_back(t.values(column, r));
    return out;
}

}  // namespace

TEST_CASE("train with defaults reaches >= 0.96 test accuracy on breast_cancer.csv and writes its outputs") {
    ScratchDir dir("train");
    const nlohmann::json m = train_default(dir);
    CHECK(m.at("task") == "binary");
    CHECK(m.at("task_reason") == "every label is 0 or 1");
    CHECK(m.at("test_accuracy").get<double>() >= 0.96);
    CHECK(m.at("train_accuracy").get<double>() >= 0.95);
    CHECK(m.at("final_loss").get<double>() < 0.2);
    CHECK(m.at("seconds").get<double>() > 0);
    CHECK(m.at("train_rows").get<int>() + m.at("validation_rows").get<int>() + m.at("test_rows").get<int>() == 569);
    CHECK(m.at("test_rows").get<int>() == 113);  // per class: round(0.2 * 212) + round(0.2 * 357) = 42 + 71
    CHECK(m.at("validation_rows").get<int>() == 46);  // round(0.1 * 170) + round(0.1 * 286) = 17 + 29
    // Early stopping: the run ends `patience` epochs after the best one, whose validation loss is the lowest.
    const nlohmann::json& history = m.at("history");
    const int epochs = m.at("epochs").get<int>(), best = m.at("best_epoch").get<int>();
    REQUIRE(history.size() == static_cast<std::size_t>(epochs));
    CHECK(m.at("stopped_early") == true);
    CHECK(epochs == best + 10);
    for (const nlohmann::json& e : history) {
        CHECK(e.at("validation_loss").get<double>() >= history.at(best - 1).at("validation_loss").get<double>());
        CHECK(e.at("test_accuracy").get<double>() >= 0.0);
        CHECK(e.contains("train_loss"));
        CHECK(e.contains("test_loss"));
    }
    CHECK(history.at(best - 1).at("epoch") == best);

    const nlohmann::json model = nlohmann::json::parse(read_file(dir / "model/model.json"));
    CHECK(model.at("sizes") == nlohmann::json::array({30, 32, 1}));
    CHECK(model.at("task") == "binary");
    CHECK(model.at("classes") == nlohmann::json::array({0, 1}));
    CHECK(model.at("label") == "benign");
    CHECK(model.at("features").size() == 30);
    CHECK(io::read_npy(dir / "model/W1.npy").shape(0) == 32);
    CHECK(io::read_npy(dir / "model/mean.npy").shape(0) == 30);
    const std::string svg = read_file(dir / "loss.svg");
    CHECK(svg.rfind("<svg", 0) == 0);
    CHECK(svg.find("train loss") != std::string::npos);
    CHECK(svg.find("test loss") != std::string::npos);
    CHECK(svg.find("validation loss") != std::string::npos);
    CHECK(svg.find("best epoch " + std::to_string(best)) != std::string::npos);
    CHECK(dir.entries() == std::vector<std::string>{"loss.svg", "metrics.json", "model"});
}

namespace {

/// The point lists of the loss plot's polylines (train, validation, test), each as "x,y" strings.
std::vector<std::vector<std::string>> plot_points(const std::string& svg) {
    std::vector<std::vector<std::string>> lines;
    for (std::size_t at = svg.find("points=\""); at != std::string::npos; at = svg.find("points=\"", at + 1)) {
        const std::size_t start = at + 8, end = svg.find('"', start);
        std::istringstream in(svg.substr(start, end - start));
        lines.emplace_back();
        for (std::string point; in >> point;) lines.back().push_back(point);
    }
    return lines;
}

}  // namespace

TEST_CASE("train --evaluate-every k: history, plot and early stopping at every k-th epoch, as a full run says") {
    ScratchDir dir("evaluate-every");
    const std::string csv = data_file("breast_cancer.csv");
    const auto train = [&](const std::string& name, std::vector<std::string> extra) {
        std::vector<std::string> args{"train", "--csv", csv, "--metrics", dir / (name + ".json"), "--plot", dir / (name + ".svg")};
        args.insert(args.end(), extra.begin(), extra.end());
        const RunResult r = run_matgrad(args, dir);
        INFO(r.err);
        REQUIRE(r.status == 0);
        return std::make_pair(nlohmann::json::parse(read_file(dir / (name + ".json"))), r.out);
    };
    // The oracle: every epoch evaluated, no early stopping. Evaluating changes nothing in training,
    // so the k-run's records are this run's records at its epochs, bit for bit.
    const nlohmann::json all = train("all", {"--epochs", "100", "--patience", "0"}).first.at("history");
    REQUIRE(all.size() == 100);
    const int k = 3, patience = 10;
    int best = 0, last = 0, without_improvement = 0;
    double best_loss = INFINITY;
    for (int epoch = k; epoch <= 100; epoch += k) {  // early stopping on the evaluated epochs only
        last = epoch;
        const double loss = all.at(epoch - 1).at("validation_loss").get<double>();
        if (loss < best_loss) {
            best_loss = loss;
            best = epoch;
            without_improvement = 0;
        } else if ((without_improvement += k) >= patience) {
            break;
        }
    }
    REQUIRE(last < 99);  // the data stops early (the test would not test that otherwise)

    const auto [m, out] = train("every3", {"--epochs", "100", "--evaluate-every", std::to_string(k)});
    CHECK(m.at("evaluate_every") == k);
    CHECK(m.at("best_epoch") == best);
    CHECK(m.at("epochs") == last);
    CHECK(m.at("stopped_early") == true);
    CHECK(out.find("stopped early after epoch " + std::to_string(last) + ": the validation loss was lowest at epoch " +
                   std::to_string(best)) != std::string::npos);
    CHECK(out.find(std::to_string(last) + " epochs in") != std::string::npos);
    const nlohmann::json& history = m.at("history");
    REQUIRE(history.size() == static_cast<std::size_t>(last / k));
    for (std::size_t i = 0; i < history.size(); ++i) {
        const int epoch = history.at(i).at("epoch").get<int>();
        CHECK(epoch == k * static_cast<int>(i + 1));
        CHECK(history.at(i) == all.at(epoch - 1));
    }

    // The plot puts each evaluated epoch at its own x: the points of a 10-epoch run evaluated at 4, 8
    // and 10 lie at the x of the fully evaluated run's epochs 4, 8 and 10 (y scales differ: the
    // full run has the higher losses of the first epochs).
    train("full10", {"--epochs", "10", "--patience", "0"});
    const nlohmann::json m4 = train("every4", {"--epochs", "10", "--patience", "0", "--evaluate-every", "4"}).first;
    CHECK(m4.at("epochs") == 10);
    CHECK(m4.at("history").size() == 3);
    const auto full = plot_points(read_file(dir / "full10.svg")), sparse = plot_points(read_file(dir / "every4.svg"));
    REQUIRE(full.size() == 3);
    REQUIRE(sparse.size() == 3);
    for (std::size_t s = 0; s < 3; ++s) {
        REQUIRE(full[s].size() == 10);
        const auto x = [](const std::string& point) { return point.substr(0, point.find(',')); };
        REQUIRE(sparse[s].size() == 3);
        CHECK(x(sparse[s][0]) == x(full[s][3]));
        CHECK(x(sparse[s][1]) == x(full[s][7]));
        CHECK(x(sparse[s][2]) == x(full[s][9]));
    }

    const RunResult bad = run_matgrad({"train", "--csv", csv, "--evaluate-every", "0"}, dir);
    CHECK(bad.status == 2);
    CHECK(bad.err.find("--evaluate-every must be a positive integer (got 0)") != std::string::npos);
}

TEST_CASE("the same seed gives the same model, another seed another split") {
    ScratchDir dir("seed");
    const std::string csv = data_file("breast_cancer.csv");
    for (const char* name : {"a", "b"})
        REQUIRE(run_matgrad({"train", "--csv", csv, "--epochs", "3", "--save", dir / name}, dir).status == 0);
    REQUIRE(run_matgrad({"train", "--csv", csv, "--epochs", "3", "--seed", "2", "--save", dir / "c"}, dir).status == 0);
    CHECK(read_file(dir / "a/W1.npy") == read_file(dir / "b/W1.npy"));
    CHECK(read_file(dir / "a/mean.npy") != read_file(dir / "c/mean.npy"));
}

TEST_CASE("train without --label says which column it took, and --out is --save (as in fit)") {
    ScratchDir dir("train-out");
    const RunResult r = run_matgrad({"train", "--csv", data_file("breast_cancer.csv"), "--epochs", "2", "--out", dir / "m"}, dir);
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out.rfind("label column 'benign': the last column, as no --label was given\n", 0) == 0);
    CHECK(r.out.find("model saved to " + (dir / "m")) != std::string::npos);
    CHECK(dir.entries() == std::vector<std::string>{"m"});
    const RunResult named = run_matgrad({"train", "--csv", data_file("breast_cancer.csv"), "--epochs", "1", "--label", "benign"}, dir);
    CHECK(named.out.find("label column") == std::string::npos);
}

TEST_CASE("predict applies the saved standardization and model, with or without the label column") {
    ScratchDir dir("predict");
    train_default(dir);
    const io::CsvTable table = io::read_csv(data_file("breast_cancer.csv"));
    const std::size_t label = table.header.size() - 1;

    const RunResult with_labels = run_matgrad({"predict", "--model", dir / "model", "--csv",
                                               data_file("breast_cancer.csv"), "--probabilities", "--out", dir / "p.csv"}, dir);
    INFO(with_labels.err);
    REQUIRE(with_labels.status == 0);
    CHECK(with_labels.err.find("accuracy") != std::string::npos);
    const std::vector<int> predicted = predictions_of(read_file(dir / "p.csv"));
    REQUIRE(predicted.size() == 569);
    std::size_t correct = 0;
    for (std::size_t r = 0; r < predicted.size(); ++r) correct += predicted[r] == table.values(label, r);
    CHECK(static_cast<double>(correct) / 569.0 >= 0.95);

    // Columns by name: reordered and without the label, the predictions are the same.
    write_file(dir / "unlabelled.csv", reversed_without(table, label));
    const RunResult unlabelled = run_matgrad({"predict", "--model", dir / "model", "--csv", dir / "unlabelled.csv",
                                              "--probabilities"}, dir);
    INFO(unlabelled.err);
    REQUIRE(unlabelled.status == 0);
    CHECK(unlabelled.out == read_file(dir / "p.csv"));  // printed on stdout without --out
    CHECK(unlabelled.err.find("accuracy") == std::string::npos);
}

TEST_CASE("predict on rows the model was fitted or validated on says so, and scores the other rows apart") {
    ScratchDir dir("predict-seen");
    const nlohmann::json m = train_default(dir);
    const int learnt = m.at("train_rows").get<int>() + m.at("validation_rows").get<int>();
    const int test_rows = m.at("test_rows").get<int>();
    char test_accuracy[32];
    std::snprintf(test_accuracy, sizeof test_accuracy, "%.4f", m.at("test_accuracy").get<double>());
    // The training CSV itself: the rows it did not learn from are exactly train's test rows, so their
    // accuracy is train's test accuracy (breast_cancer.csv has no two rows with equal features).
    const RunResult r = run_matgrad({"predict", "--model", dir / "model", "--csv", data_file("breast_cancer.csv")}, dir);
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.err.find("note: the model was fitted or validated on " + std::to_string(learnt) +
                     " of these rows, so this overstates how it does on new data; on the other " +
                     std::to_string(test_rows) + " rows: accuracy " + test_accuracy + "\n") != std::string::npos);
    // A model saved before seen_rows.npy existed: nothing is known, nothing is said.
    std::filesystem::remove(dir / "model/seen_rows.npy");
    const RunResult old = run_matgrad({"predict", "--model", dir / "model", "--csv", data_file("breast_cancer.csv")}, dir);
    REQUIRE(old.status == 0);
    CHECK(old.err.find("note:") == std::string::npos);
    // A damaged one is refused by name.
    io::write_npy(dir / "model/seen_rows.npy", Matrix{{3.0, 2.0}});
    const RunResult bad = run_matgrad({"predict", "--model", dir / "model", "--csv", data_file("breast_cancer.csv")}, dir);
    CHECK(bad.status == 2);
    CHECK(bad.err.find("seen_rows.npy: element (0,1) is not a row fingerprint (increasing integers below 2^52)") !=
          std::string::npos);
}

TEST_CASE("predict ignores a column that is neither a feature nor the label, with one note, even of text") {
    ScratchDir dir("predict-extra");
    const std::string csv = data_file("breast_cancer.csv");
    REQUIRE(run_matgrad({"train", "--csv", csv, "--epochs", "2", "--save", dir / "model"}, dir).status == 0);
    const RunResult plain = run_matgrad({"predict", "--model", dir / "model", "--csv", csv, "--probabilities"}, dir);
    REQUIRE(plain.status == 0);

    // A first column of names: words, a quoted comma, an empty cell, a number; none is read.
    const std::vector<std::string> names{"Ann", "\"Doe, Jane\"", "", "12", "n/a"};
    std::istringstream in(read_file(csv));
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    std::string text = "name," + lines[0] + "\n";
    for (std::size_t r = 1; r < lines.size(); ++r) text += names[r % names.size()] + "," + lines[r] + "\n";
    write_file(dir / "named.csv", text);
    const RunResult named = run_matgrad({"predict", "--model", dir / "model", "--csv", dir / "named.csv", "--probabilities"}, dir);
    INFO(named.err);
    REQUIRE(named.status == 0);
    CHECK(named.out == plain.out);
    CHECK(named.err.find("matgrad predict: " + (dir / "named.csv") + ": ignored column 'name' (not a feature of the model)\n") == 0);
    CHECK(named.err.find("accuracy") != std::string::npos);  // the label is still used

    // The features' cells are still numbers: a word there is refused as before.
    write_file(dir / "bad.csv", "name," + lines[0] + "\nAnn,x" + lines[1].substr(lines[1].find(',')) + "\n");
    const RunResult bad = run_matgrad({"predict", "--model", dir / "model", "--csv", dir / "bad.csv"}, dir);
    CHECK(bad.status == 2);
    CHECK(bad.err.find("line 2, column 2 (mean_radius): 'x' is not a number") != std::string::npos);
}

TEST_CASE("predict reads a model whose arrays were re-saved big-endian, in Fortran order or as float32") {
    ScratchDir dir("predict-dtypes");
    train_default(dir);
    const std::string csv = data_file("breast_cancer.csv");
    REQUIRE(run_matgrad({"predict", "--model", dir / "model", "--csv", csv, "--out", dir / "p.csv"}, dir).status == 0);

    // W2 as big-endian Fortran-order float64: exactly the same values, so the same probabilities.
    const Matrix W2 = io::read_npy(dir / "model/W2.npy");
    std::vector<double> column_major;
    for (std::size_t c = 0; c < W2.shape(1); ++c)
        for (std::size_t r = 0; r < W2.shape(0); ++r) column_major.push_back(W2(r, c));
    write_file(dir / "model/W2.npy", npy_bytes(npy_header(">f8", true, "(1, 32)"), raw_bytes(column_major, true)));
    REQUIRE(run_matgrad({"predict", "--model", dir / "model", "--csv", csv, "--out", dir / "q.csv"}, dir).status == 0);
    CHECK(read_file(dir / "q.csv") == read_file(dir / "p.csv"));

    // b1 as float32 zeros / int8 values: accepted and converted.
    write_file(dir / "model/b1.npy", npy_bytes(npy_header("<f4", false, "(32, 1)"), std::string(32 * 4, '\0')));
    CHECK(run_matgrad({"predict", "--model", dir / "model", "--csv", csv}, dir).status == 0);
    write_file(dir / "model/b1.npy", npy_bytes(npy_header("|i1", false, "(32, 1)"), std::string(32, '\0')));
    CHECK(run_matgrad({"predict", "--model", dir / "model", "--csv", csv}, dir).status == 0);
}

TEST_CASE("retraining replaces a model directory whole, and --help shows an example") {
    ScratchDir dir("retrain");
    const std::string csv = data_file("breast_cancer.csv");
    REQUIRE(run_matgrad({"train", "--csv", csv, "--epochs", "2", "--hidden", "4,3", "--save", dir / "model"}, dir).status == 0);
    CHECK(fs::exists(dir / "model/W3.npy"));
    REQUIRE(run_matgrad({"train", "--csv", csv, "--epochs", "2", "--hidden", "5", "--save", dir / "model"}, dir).status == 0);
    CHECK_FALSE(fs::exists(dir / "model/W3.npy"));  // nothing of the old model is mixed in
    CHECK(io::read_npy(dir / "model/W1.npy").shape(0) == 5);
    CHECK(dir.entries() == std::vector<std::string>{"model"});

    for (const char* command : {"train", "predict"}) {
        const RunResult help = run_matgrad({command, "--help"}, dir);
        CHECK(help.status == 0);
        CHECK(help.out.find("Example:") != std::string::npos);
    }
}

TEST_CASE("Ctrl-C stops training after the current step and still writes the outputs (exit 130)") {
    ScratchDir dir("sigint");
    const std::string err = dir / "stderr.txt";
    std::fflush(nullptr);  // or the child's freopen would write the parent's buffered output again
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {  // child: matgrad with stderr to a file, so the parent sees the first epoch
        if (!std::freopen(err.c_str(), "w", stderr) || !std::freopen("/dev/null", "w", stdout)) ::_exit(99);
        const std::string csv = data_file("breast_cancer.csv"), model = dir / "model", metrics = dir / "m.json";
        ::execl(MATGRAD_EXE, MATGRAD_EXE, "train", "--csv", csv.c_str(), "--epochs", "1000000", "--patience", "0", "--save",
                model.c_str(), "--metrics", metrics.c_str(), static_cast<char*>(nullptr));
        ::_exit(98);
    }
    for (int waited = 0; waited < 3000 && read_file(err).find("epoch 1/") == std::string::npos; ++waited)
        ::usleep(10000);
    ::kill(pid, SIGINT);
    int raw = 0;
    REQUIRE(::waitpid(pid, &raw, 0) == pid);
    REQUIRE(WIFEXITED(raw));
    CHECK(WEXITSTATUS(raw) == 130);
    CHECK(read_file(err).find("interrupted after") != std::string::npos);
    const nlohmann::json m = nlohmann::json::parse(read_file(dir / "m.json"));
    CHECK(m.at("interrupted") == true);
    CHECK(m.at("epochs").get<int>() >= 1);
    CHECK(m.at("epochs").get<int>() < 1000000);
    CHECK(io::read_npy(dir / "model/W1.npy").shape(0) == 32);
}

TEST_CASE("wine with cultivars 1..3: auto multiclass, labels mapped and predicted in their own values") {
    ScratchDir dir("wine");
    const io::CsvTable wine = io::read_csv(data_file("wine.csv"));
    std::string csv;
    for (std::size_t r = 0; r <= wine.values.shape(1); ++r)
        for (std::size_t c = 0; c < wine.header.size(); ++c) {
            const bool label = c + 1 == wine.header.size();
            csv += r == 0 ? wine.header[c] : nlohmann::json(wine.values(c, r - 1) + (label ? 1.0 : 0.0)).dump();
            csv += label ? "\n" : ",";
        }
    write_file(dir / "wine.csv", csv);
    const RunResult r = run_matgrad({"train", "--csv", dir / "wine.csv", "--label", "cultivar", "--save", dir / "model",
                                     "--metrics", dir / "m.json"}, dir);
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out.find("task multiclass: 3 distinct integer labels (1, 2, 3); --task overrides\n") == 0);
    const nlohmann::json m = nlohmann::json::parse(read_file(dir / "m.json"));
    CHECK(m.at("task") == "multiclass");
    CHECK(m.at("test_accuracy").get<double>() >= 0.94);
    const nlohmann::json model = nlohmann::json::parse(read_file(dir / "model/model.json"));
    CHECK(model.at("classes") == nlohmann::json::array({1, 2, 3}));
    CHECK(model.at("sizes") == nlohmann::json::array({13, 32, 3}));

    const RunResult p = run_matgrad({"predict", "--model", dir / "model", "--csv", dir / "wine.csv", "--probabilities"}, dir);
    INFO(p.err);
    REQUIRE(p.status == 0);
    const std::vector<double> predicted = column_of(p.out, 3, "prediction");
    std::size_t correct = 0;
    for (std::size_t row = 0; row < predicted.size(); ++row) {
        CHECK((predicted[row] == 1 || predicted[row] == 2 || predicted[row] == 3));
        correct += predicted[row] == wine.values(13, row) + 1;
    }
    CHECK(static_cast<double>(correct) / 178.0 >= 0.94);
    const std::vector<double> p1 = column_of(p.out, 0, "probability_1"), p2 = column_of(p.out, 1, "probability_2"),
                              p3 = column_of(p.out, 2, "probability_3");
    for (std::size_t row = 0; row < p1.size(); ++row) CHECK(p1[row] + p2[row] + p3[row] == doctest::Approx(1.0).epsilon(1e-12));
    CHECK(p.err.find("accuracy") != std::string::npos);
}

TEST_CASE("diabetes: auto regression, metrics and predictions in the target's units") {
    ScratchDir dir("diabetes");
    const RunResult r = run_matgrad({"train", "--csv", data_file("diabetes.csv"), "--save", dir / "model",
                                     "--metrics", dir / "m.json", "--plot", dir / "loss.svg"}, dir);
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out.find("label column 'progression': the last column, as no --label was given\n"
                     "task regression: the target has more than 20 distinct integer values") == 0);
    const nlohmann::json m = nlohmann::json::parse(read_file(dir / "m.json"));
    CHECK(m.at("task") == "regression");
    CHECK(m.at("test_r2").get<double>() > 0.4);  // least squares on this split: 0.405 (see tests/nn)
    CHECK(m.at("test_rmse").get<double>() > 30);  // in progression units (std of the target: 77)
    CHECK(m.at("test_rmse").get<double>() < 70);
    CHECK(m.at("weight_decay") == 1.0);
    CHECK(m.at("history").at(0).contains("test_r2"));
    // The progress lines name the regression metric, as the result line does.
    CHECK(r.err.find("train R2 ") != std::string::npos);
    CHECK(r.err.find(" acc ") == std::string::npos);
    CHECK_FALSE(m.contains("test_accuracy"));

    const RunResult p = run_matgrad({"predict", "--model", dir / "model", "--csv", data_file("diabetes.csv")}, dir);
    REQUIRE(p.status == 0);
    const std::vector<double> predicted = column_of(p.out, 0, "prediction");
    REQUIRE(predicted.size() == 442);
    const double mean = std::accumulate(predicted.begin(), predicted.end(), 0.0) / 442.0;
    CHECK(mean > 120);  // the target's units (mean 152), not standardized ones
    CHECK(mean < 185);
    CHECK(p.err.find("R2 ") != std::string::npos);
    const RunResult probabilities =
        run_matgrad({"predict", "--model", dir / "model", "--csv", data_file("diabetes.csv"), "--probabilities"}, dir);
    CHECK(probabilities.status == 2);
    CHECK(probabilities.err.find("is a regression model; it predicts numbers, not classes") != std::string::npos);
}

TEST_CASE("--task overrides the detection, and a version 1 model directory still predicts") {
    ScratchDir dir("override");
    const std::string csv = data_file("breast_cancer.csv");
    const RunResult r = run_matgrad({"train", "--csv", csv, "--task", "multiclass", "--epochs", "3", "--save", dir / "m"}, dir);
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out.find("label column 'benign': the last column, as no --label was given\ntask multiclass: given with --task\n") == 0);
    CHECK(nlohmann::json::parse(read_file(dir / "m/model.json")).at("sizes") == nlohmann::json::array({30, 32, 2}));

    // A binary model rewritten as matgrad wrote version 1 (no task fields): same predictions.
    REQUIRE(run_matgrad({"train", "--csv", csv, "--epochs", "3", "--save", dir / "b"}, dir).status == 0);
    const RunResult v2 = run_matgrad({"predict", "--model", dir / "b", "--csv", csv}, dir);
    nlohmann::json model = nlohmann::json::parse(read_file(dir / "b/model.json"));
    for (const char* key : {"task", "task_reason", "classes"}) model.erase(key);
    model["version"] = 1;
    write_file(dir / "b/model.json", model.dump(2));
    const RunResult v1 = run_matgrad({"predict", "--model", dir / "b", "--csv", csv}, dir);
    CHECK(v1.status == 0);
    CHECK(v1.out == v2.out);
}

TEST_CASE("train --cache writes FILE.npy beside the CSV, then trains from it with the same result") {
    ScratchDir dir("cache");
    write_file(dir / "d.csv", read_file(data_file("wine.csv")));
    const std::vector<std::string> args{"train", "--csv", dir / "d.csv", "--epochs", "3", "--cache", "--save"};
    const auto first = [&] { auto a = args; a.push_back(dir / "a"); return a; }();
    const auto second = [&] { auto a = args; a.push_back(dir / "b"); return a; }();
    const RunResult made = run_matgrad(first, dir);
    REQUIRE(made.status == 0);
    CHECK(made.err.find("wrote the cache " + dir / "d.csv.npy") != std::string::npos);
    const RunResult reused = run_matgrad(second, dir);
    REQUIRE(reused.status == 0);
    CHECK(reused.err.find("read " + dir / "d.csv" + " from its cache " + dir / "d.csv.npy") != std::string::npos);
    CHECK(read_file(dir / "a/W1.npy") == read_file(dir / "b/W1.npy"));
}

TEST_CASE("predict to stdout prints nothing when a row after the first block is refused") {
    ScratchDir dir("predict-refused");
    std::string train = "a,b,y\n";
    for (int r = 0; r < 40; ++r) train += std::to_string(r) + "," + std::to_string(r % 7) + "," + std::to_string(r % 2) + "\n";
    write_file(dir / "train.csv", train);
    REQUIRE(run_matgrad({"train", "--csv", dir / "train.csv", "--epochs", "1", "--save", dir / "model"}, dir).status == 0);
    // 9,000 rows: predict reads 8,192 at a time, so the bad cell is in the second block.
    std::string rows = "a,b\n";
    for (int r = 0; r < 9000; ++r) rows += std::to_string(r) + "," + (r == 8990 ? "x" : std::to_string(r % 7)) + "\n";
    write_file(dir / "rows.csv", rows);
    const RunResult r = run_matgrad({"predict", "--model", dir / "model", "--csv", dir / "rows.csv"}, dir);
    CHECK(r.status == 2);
    CHECK(r.err.find("rows.csv: line 8992, column 2 (b): 'x' is not a number") != std::string::npos);
    CHECK(r.out.empty());  // not the first block's 8,192 predictions
    // Without the bad cell every prediction is printed, after the header, as with --out.
    rows.replace(rows.find("\n8990,x\n"), 8, "\n8990,3\n");
    write_file(dir / "rows.csv", rows);
    const RunResult good = run_matgrad({"predict", "--model", dir / "model", "--csv", dir / "rows.csv", "--probabilities"}, dir);
    REQUIRE(good.status == 0);
    REQUIRE(run_matgrad({"predict", "--model", dir / "model", "--csv", dir / "rows.csv", "--probabilities", "--out",
                         dir / "p.csv"}, dir).status == 0);
    CHECK(good.out == read_file(dir / "p.csv"));
    CHECK(good.out.rfind("probability_0,probability_1,prediction\n", 0) == 0);
    CHECK(std::count(good.out.begin(), good.out.end(), '\n') == 9001);
}
