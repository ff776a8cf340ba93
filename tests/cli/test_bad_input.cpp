// The bad-input suite: each case writes a bad file or passes a bad option, then checks exit status
// 2, one line on stderr that names the problem (and the file), and that no output file appeared.
#include "cli_test_util.hpp"

#include <doctest/doctest.h>

using namespace matgrad::test;

namespace {

const std::string good_csv = "x1,x2,y\n0,1,0\n1,0,1\n2,1,0\n3,0,1\n4,1,0\n5,0,1\n6,1,0\n7,0,1\n";

/// Runs matgrad with `args` ("{dir}" is replaced by the scratch directory) after writing `files`
/// into a fresh directory, and checks the failure: status 2, one stderr line containing every
/// string of `expected`, and no new entry in the directory.
void expect_refusal(const std::vector<std::pair<std::string, std::string>>& files,
                    std::vector<std::string> args, const std::vector<std::string>& expected) {
    ScratchDir dir("bad");
    for (const auto& [name, bytes] : files) {
        fs::create_directories(fs::path(dir / name).parent_path());
        write_file(dir / name, bytes);
    }
    for (std::string& a : args)
        if (const std::size_t at = a.find("{dir}"); at != std::string::npos) a.replace(at, 5, dir.path().string());
    const std::vector<std::string> before = dir.entries();
    const RunResult r = run_matgrad(args, dir);
    INFO("stderr: " << r.err);
    CHECK(r.status == 2);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    for (const std::string& text : expected) CHECK(r.err.find(text) != std::string::npos);
    CHECK(dir.entries() == before);
}

/// `matgrad train` on dir/d.csv holding `csv`, with every output requested.
void expect_train_refusal(const std::string& csv, const std::vector<std::string>& extra,
                          const std::vector<std::string>& expected) {
    std::vector<std::string> args{"train", "--csv", "{dir}/d.csv", "--save", "{dir}/model",
                                  "--metrics", "{dir}/m.json", "--plot", "{dir}/loss.svg"};
    args.insert(args.end(), extra.begin(), extra.end());
    expect_refusal({{"d.csv", csv}}, args, expected);
}

}  // namespace

TEST_CASE("train refuses bad CSV files, naming the file, line and column") {
    expect_train_refusal("", {}, {"d.csv: is empty"});
    expect_train_refusal("x1,x2,y\n", {}, {"d.csv: has a header line but no data rows"});
    expect_train_refusal("x1,x2,y\n0,1,0\n1,0\n", {}, {"d.csv: line 3: has 2 fields but the header has 3"});
    expect_train_refusal("x1,x2,y\n0,1,0\n1,,1\n", {}, {"d.csv: line 3, column 2 (x2): empty cell"});
    expect_train_refusal("x1,x2,y\n0,1,0\n1,abc,1\n", {}, {"d.csv: line 3, column 2 (x2): 'abc' is not a number"});
    expect_train_refusal("x1,x2,y\n0,NaN,0\n1,0,1\n", {}, {"d.csv: line 2, column 2 (x2): 'NaN' is not finite"});
    expect_train_refusal("x1,x2,y\n0,1,0\ninf,0,1\n", {}, {"d.csv: line 3, column 1 (x1): 'inf' is not finite"});
    expect_train_refusal(good_csv, {"--label", "target"}, {"d.csv: has no column 'target' (its columns: x1, x2, y)"});
    expect_train_refusal("x1,x2,y\n0,1,0\n1,0,2\n", {"--task", "binary"},
                         {"d.csv: line 3, column 3 (y): the label is 2; labels must be 0 or 1"});
    expect_train_refusal("x1,x2,y\n0,1,0.5\n", {"--task", "binary"}, {"d.csv: line 2, column 3 (y): the label is 0.5"});
    expect_train_refusal("x1,x2,y\n0,1,1\n1,0,2\n2,2,2.5\n", {"--task", "multiclass"},
                         {"d.csv: line 4, column 3 (y): the label is 2.5; class labels must be integers"});
    expect_train_refusal("x1,x2,y\n0,1,0\n1,0,cat\n", {}, {"d.csv: line 3, column 3 (y): 'cat' is not a number"});
    expect_train_refusal("x1,x2,y\n0,1,0.5\n", {}, {"d.csv: has 1 row; the train/test split needs at least 2"});
    expect_train_refusal("x1,x2,y\n0,1,0.5\n1,1,1.5\n", {},
                         {"d.csv: too few rows to hold out a validation share for early stopping"});
    expect_train_refusal("x1,x2,y\n0,1,1\n1,0,1\n2,2,1\n", {}, {"d.csv: every label is 1; a classifier needs rows of both classes"});
    expect_train_refusal("x1,x2,y\n0,1,1\n1,0,1\n2,2,0\n", {}, {"d.csv: class 0 has only 1 row"});
    expect_train_refusal("y\n0\n1\n", {}, {"d.csv: has only the label column 'y'"});
    expect_train_refusal("x1,y\n0,2.5\n1,2.5\n2,2.5\n3,2.5\n4,2.5\n5,2.5\n6,2.5\n7,2.5\n", {},
                         {"d.csv: every target value is 2.5; a regressor needs a target that varies (R2 is undefined for a constant one)"});
    expect_train_refusal("1,2,3\n0,1,0\n", {}, {"d.csv: line 1 holds numbers, not column names"});
}

TEST_CASE("train refuses a missing or unreadable CSV") {
    expect_refusal({}, {"train", "--csv", "{dir}/nope.csv", "--save", "{dir}/model"},
                   {"nope.csv: cannot open: No such file or directory"});
    expect_refusal({{"sub/x", ""}}, {"train", "--csv", "{dir}/sub", "--metrics", "{dir}/m.json"},
                   {"sub: is a directory, not a file"});
}

TEST_CASE("train refuses bad option values and unknown options with one line") {
    expect_train_refusal(good_csv, {"--epochs", "0"}, {"--epochs must be a positive integer (got 0)"});
    expect_train_refusal(good_csv, {"--epochs", "-5"}, {"--epochs must be a positive integer (got -5)"});
    expect_train_refusal(good_csv, {"--epochs", "many"}, {"--epochs"});
    expect_train_refusal(good_csv, {"--lr", "0"}, {"--lr must be a positive number"});
    expect_train_refusal(good_csv, {"--lr", "-0.1"}, {"--lr must be a positive number"});
    expect_train_refusal(good_csv, {"--batch", "0"}, {"--batch must be a positive integer (got 0)"});
    expect_train_refusal(good_csv, {"--batch", "-3"}, {"--batch must be a positive integer"});
    for (const char* fraction : {"0", "1", "1.5", "-0.2"})
        expect_train_refusal(good_csv, {"--test-fraction", fraction}, {"--test-fraction must be strictly between 0 and 1"});
    expect_train_refusal(good_csv, {"--hidden", "0"}, {"--hidden: '0' is not a list of layer sizes from 1 to 100000"});
    expect_train_refusal(good_csv, {"--hidden", "100000000"},
                         {"--hidden: '100000000' is not a list of layer sizes from 1 to 100000, such as 64 or 32,16"});
    expect_train_refusal(good_csv, {"--hidden", "32,x"}, {"--hidden: '32,x' is not a list"});
    expect_train_refusal(good_csv, {"--optimizer", "rmsprop"}, {"--optimizer", "rmsprop"});
    expect_train_refusal(good_csv, {"--activation", "gelu"}, {"--activation", "gelu"});
    // Neither wrapped (-1) nor saturated (2^64 and more) to 18446744073709551615.
    for (const char* seed : {"-1", "99999999999999999999", "1.5", "0x10"})
        expect_train_refusal(good_csv, {"--seed", seed},
                             {"--seed: '" + std::string(seed) + "' is not a seed: give a whole number from 0 to 18446744073709551615"});
    expect_train_refusal(good_csv, {"--task", "ranking"}, {"--task", "ranking"});
    expect_train_refusal(good_csv, {"--patience", "-1"}, {"--patience must be a non-negative integer"});
    expect_train_refusal(good_csv, {"--validation-fraction", "1"}, {"--validation-fraction must be at least 0 and below 1"});
    expect_train_refusal(good_csv, {"--validation-fraction", "0"},
                         {"--patience 10 needs validation rows for early stopping: give --validation-fraction > 0, or --patience 0"});
    expect_train_refusal(good_csv, {"--weight-decay", "-0.1"}, {"--weight-decay must be a non-negative number"});
    for (const char* size : {"lots", "0", "-5M", "5Q", "M", "1e30"})
        expect_train_refusal(good_csv, {"--memory", size},
                             {"--memory: '" + std::string(size) + "' is not a size such as 512M or 2G (K, M, G, T: powers of 1024)"});
    // 300 bytes: less than twice the data (8 rows x 3 columns as doubles), so the CSV would be
    // streamed from its cache, and too little for that: refused before the conversion.
    expect_train_refusal(good_csv, {"--memory", "300"},
                         {"a memory budget of 300 bytes is too small to train on 8 rows of 2 features (labels, index "
                          "lists and batch buffers take "});
    expect_train_refusal(good_csv, {"--bogus"}, {"--bogus"});
    expect_refusal({}, {"train", "--epochs", "3"}, {"--csv is required"});
    expect_refusal({}, {"frobnicate"}, {"unknown command 'frobnicate'", "commands: seed, grad, train"});
}

TEST_CASE("train refuses output paths it could not write before training") {
    expect_refusal({{"d.csv", good_csv}}, {"train", "--csv", "{dir}/d.csv", "--metrics", "{dir}/no/m.json"},
                   {"no/m.json: cannot write there: the directory", "does not exist"});
    expect_refusal({{"d.csv", good_csv}}, {"train", "--csv", "{dir}/d.csv", "--plot", "{dir}"},
                   {"is a directory; expected a file name"});
    expect_refusal({{"d.csv", good_csv}, {"precious/notes.txt", "keep me"}},
                   {"train", "--csv", "{dir}/d.csv", "--save", "{dir}/precious"},
                   {"precious: exists and is not a matgrad model directory (no model.json); refusing to replace it"});
}

TEST_CASE("a failed train run leaves an existing model and metrics untouched") {
    ScratchDir dir("keep-model");
    write_file(dir / "d.csv", good_csv);
    REQUIRE(run_matgrad({"train", "--csv", dir / "d.csv", "--epochs", "2", "--test-fraction", "0.25",
                         "--save", dir / "model", "--metrics", dir / "m.json"}, dir).status == 0);
    const std::string W1 = read_file(dir / "model/W1.npy"), metrics = read_file(dir / "m.json");
    write_file(dir / "bad.csv", "x1,x2,y\n0,1,0\n1,x,1\n");
    const RunResult r = run_matgrad({"train", "--csv", dir / "bad.csv", "--save", dir / "model", "--metrics", dir / "m.json"}, dir);
    CHECK(r.status == 2);
    CHECK(read_file(dir / "model/W1.npy") == W1);
    CHECK(read_file(dir / "m.json") == metrics);
    CHECK(dir.entries() == std::vector<std::string>{"bad.csv", "d.csv", "m.json", "model"});
}

TEST_CASE("train and predict: an output at an input's path is refused, and a failed --plot leaves the model directory") {
    expect_refusal({{"d.csv", good_csv}}, {"train", "--csv", "{dir}/d.csv", "--metrics", "{dir}/d.csv"},
                   {"d.csv: is the --csv file, which the --metrics file would overwrite; write it elsewhere"});
    expect_refusal({{"d.csv", good_csv}}, {"train", "--csv", "{dir}/d.csv", "--metrics", "{dir}/m.json", "--plot", "{dir}/m.json"},
                   {"m.json: would be written twice, as the --metrics file and as the --plot file; rename one"});
    ScratchDir dir("keep-model-plot");
    write_file(dir / "d.csv", good_csv);
    REQUIRE(run_matgrad({"train", "--csv", dir / "d.csv", "--epochs", "2", "--test-fraction", "0.25", "--save", dir / "model"}, dir).status == 0);
    const std::string W1 = read_file(dir / "model/W1.npy");
    const std::string plot = dir / (std::string(300, 'p') + ".svg");  // "File name too long" only when written
    const RunResult r = run_matgrad({"train", "--csv", dir / "d.csv", "--epochs", "2", "--test-fraction", "0.25", "--seed", "2",
                                     "--save", dir / "model", "--plot", plot}, dir);
    CHECK(r.status == 2);
    CHECK(r.err.find("File name too long") != std::string::npos);
    CHECK(read_file(dir / "model/W1.npy") == W1);
    CHECK(dir.entries() == std::vector<std::string>{"d.csv", "model"});
    const RunResult p = run_matgrad({"predict", "--model", dir / "model", "--csv", dir / "d.csv", "--out", dir / "d.csv"}, dir);
    CHECK(p.status == 2);
    CHECK(p.err == "matgrad: error: " + (dir / "d.csv") + ": is the --csv file, which the --out predictions would overwrite; write it elsewhere\n");
    CHECK(read_file(dir / "d.csv") == good_csv);
}

TEST_CASE("predict refuses bad models and CSVs, naming the file") {
    ScratchDir dir("predict-bad");
    write_file(dir / "d.csv", good_csv);
    REQUIRE(run_matgrad({"train", "--csv", dir / "d.csv", "--epochs", "2", "--test-fraction", "0.25", "--save", dir / "model"}, dir).status == 0);
    std::vector<std::pair<std::string, std::string>> model;
    for (const auto& e : fs::directory_iterator(dir / "model"))
        model.emplace_back("model/" + e.path().filename().string(), read_file(e.path().string()));
    auto with = [&](const std::string& name, const std::string& bytes) {
        auto files = model;
        files.emplace_back("d.csv", good_csv);
        for (auto& f : files)
            if (f.first == name) f.second = bytes;
        if (std::none_of(files.begin(), files.end(), [&](const auto& f) { return f.first == name; }))
            files.emplace_back(name, bytes);
        return files;
    };
    const std::vector<std::string> predict{"predict", "--model", "{dir}/model", "--csv", "{dir}/d.csv", "--out", "{dir}/p.csv"};
    const std::string W1 = read_file(dir / "model/W1.npy");

    expect_refusal({{"d.csv", good_csv}}, predict, {"model: no such model directory"});
    expect_refusal(with("model/model.json", ""), predict, {"model/model.json: [json.exception.parse_error"});
    expect_refusal(with("model/model.json", "{\"format\": \"matgrad-mlp\""), predict, {"model/model.json: [json.exception.parse_error"});
    expect_refusal(with("model/model.json", "{\"format\": \"other\", \"version\": 1}"), predict, {"model/model.json: not a matgrad-mlp model"});
    expect_refusal(with("model/model.json", "{\"format\": \"matgrad-mlp\", \"version\": 3}"), predict,
                   {"model/model.json: model format version 3 is not supported (this matgrad reads versions 1 to 2"});
    expect_refusal(with("model/W1.npy", W1.substr(0, W1.size() - 5)), predict, {"model/W1.npy: truncated: header says 32x2 float64 (512 bytes of data) but the file has 507"});
    expect_refusal(with("model/W1.npy", "not numpy at all"), predict, {"model/W1.npy: not a .npy file"});
    expect_refusal(with("model/W1.npy", npy_bytes(npy_header("<f8", false, "(2, 32)"), std::string(512, '\0'))), predict,
                   {"model/W1.npy: is 2x32 but model.json's sizes need 32x2"});
    expect_refusal(with("model/W1.npy", npy_bytes(npy_header("<f8", false, "(64,)"), std::string(512, '\0'))), predict,
                   {"model/W1.npy: is 1-D with 64 values", "a column 64x1 (a.reshape(-1, 1), e.g. a bias) or a row 1x64"});
    expect_refusal(with("model/W1.npy", npy_bytes(npy_header("<f8", false, "(2, 4, 8)"), std::string(512, '\0'))), predict,
                   {"model/W1.npy: is 3-D (2x4x8)"});
    expect_refusal(with("model/W1.npy", npy_bytes(npy_header("<c16", false, "(32, 2)"), std::string(1024, '\0'))), predict,
                   {"model/W1.npy: dtype '<c16' (complex) cannot be converted"});
    expect_refusal(with("model/std.npy", npy_bytes(npy_header("<f8", false, "(2, 1)"), std::string(16, '\0'))), predict,
                   {"model/std.npy: element (0,0) is not positive"});
    expect_refusal(with("d.csv", "x2,y\n1,0\n"), predict, {"d.csv: has no column 'x1' (its columns: x2, y)"});
    expect_refusal(with("d.csv", "x1,x2\n1,\n"), predict, {"d.csv: line 2, column 2 (x2): empty cell"});
    expect_refusal(with("d.csv", "x1,x2,y\n1,2,3\n"), predict, {"d.csv: line 2, column 3 (y): the label is 3"});
    expect_refusal(with("d.csv", good_csv), {"predict", "--model", "{dir}/model", "--csv", "{dir}/d.csv", "--out", "{dir}/none/p.csv"},
                   {"none/p.csv: cannot write there"});
    expect_refusal({}, {"predict", "--csv", "x.csv"}, {"--model is required"});
}
