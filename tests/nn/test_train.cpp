// The training pipeline (<nn/train.hpp>) and model directories (<nn/model.hpp>): task detection,
// label mapping, splits, early stopping against a closed-form trajectory, the defaults on the real
// data sets against independent baselines, and saving/loading (also the version 1 format).
#include "test_util.hpp"

#include <nn/csv_cache.hpp>
#include <nn/nn.hpp>

#include <xtensor/xview.hpp>

#include <doctest/doctest.h>

#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <string_view>

#include <unistd.h>

using namespace matgrad;
using matgrad::test::max_abs_diff;

namespace {

namespace fs = std::filesystem;

Matrix row(const std::vector<double>& values) {
    Matrix m({std::size_t{1}, values.size()});
    for (std::size_t j = 0; j < values.size(); ++j) m(0, j) = values[j];
    return m;
}

struct Table {
    Matrix X, y;
    std::vector<std::string> names;
};

/// A data set of data/, the last column as the target.
Table load(const std::string& name) {
    const io::CsvTable t = io::read_csv(std::string(MATGRAD_DATA_DIR) + "/" + name);
    const std::size_t d = t.header.size() - 1;
    return {xt::view(t.values, xt::range(0, d), xt::all()), xt::view(t.values, xt::range(d, d + 1), xt::all()),
            {t.header.begin(), t.header.end() - 1}};
}

/// Test R² of least-squares linear regression (with intercept) fitted on the `train` columns, by the
/// normal equations solved with Gauss-Jordan elimination -- nothing shared with nn.
double least_squares_r2(const Matrix& X, const Matrix& y, const std::vector<std::size_t>& train,
                        const std::vector<std::size_t>& test) {
    const std::size_t p = X.shape(0) + 1;
    auto feature = [&](std::size_t f, std::size_t j) { return f < X.shape(0) ? X(f, j) : 1.0; };
    std::vector<std::vector<double>> a(p, std::vector<double>(p + 1, 0.0));
    for (const std::size_t j : train)
        for (std::size_t r = 0; r < p; ++r) {
            for (std::size_t c = 0; c < p; ++c) a[r][c] += feature(r, j) * feature(c, j);
            a[r][p] += feature(r, j) * y(0, j);
        }
    for (std::size_t k = 0; k < p; ++k) {
        std::size_t pivot = k;
        for (std::size_t r = k + 1; r < p; ++r)
            if (std::abs(a[r][k]) > std::abs(a[pivot][k])) pivot = r;
        std::swap(a[k], a[pivot]);
        for (std::size_t r = 0; r < p; ++r)
            if (r != k) {
                const double factor = a[r][k] / a[k][k];
                for (std::size_t c = k; c <= p; ++c) a[r][c] -= factor * a[k][c];
            }
    }
    double mean = 0.0, residual = 0.0, total = 0.0;
    for (const std::size_t j : test) mean += y(0, j) / static_cast<double>(test.size());
    for (const std::size_t j : test) {
        double predicted = 0.0;
        for (std::size_t f = 0; f < p; ++f) predicted += a[f][p] / a[f][f] * feature(f, j);
        residual += (predicted - y(0, j)) * (predicted - y(0, j));
        total += (y(0, j) - mean) * (y(0, j) - mean);
    }
    return 1.0 - residual / total;
}

}  // namespace

TEST_CASE("detect_task: 0/1 is binary, 3..20 distinct integers multiclass, any other number regression") {
    CHECK(nn::detect_task(row({0, 1, 1, 0})).task == nn::Task::binary);
    const nn::TaskChoice three = nn::detect_task(row({3, 1, 2, 1}));
    CHECK(three.task == nn::Task::multiclass);
    CHECK(three.reason == "3 distinct integer labels (1, 2, 3)");
    std::vector<double> labels;
    for (int i = 0; i < 20; ++i) labels.push_back(i);
    CHECK(nn::detect_task(row(labels)).task == nn::Task::multiclass);
    labels.push_back(20);
    CHECK(nn::detect_task(row(labels)).reason == "the target has more than 20 distinct integer values");
    CHECK(nn::detect_task(row({0, 1, 0.5})).reason == "the target has non-integer values");
    const nn::TaskChoice two = nn::detect_task(row({1, 2, 2}));
    CHECK(two.task == nn::Task::regression);
    CHECK(two.reason.find("--task multiclass treats them as classes") != std::string::npos);
    CHECK(nn::detect_task(load("diabetes.csv").y).task == nn::Task::regression);  // 214 distinct integers
    CHECK(nn::choose_task(row({0, 1}), nn::Task::regression).reason == "given with --task");
}

TEST_CASE("label mapping: classes in increasing order, one-hot columns, errors at the bad sample") {
    const nn::TargetCoding coding = nn::make_target_coding(nn::Task::multiclass, row({3, 1, 2, 1}));
    CHECK(coding.classes == std::vector<double>{1, 2, 3});
    CHECK(coding.encode(row({3, 1, 2, 1})) == Matrix{{0, 1, 0, 1}, {0, 0, 1, 0}, {1, 0, 0, 0}});
    const auto unknown = [&] { coding.class_indices(row({1, 7})); };
    CHECK_THROWS_WITH_AS(unknown(), "the label is 7; the classes are 1, 2, 3", nn::TargetError);
    try {
        nn::make_target_coding(nn::Task::multiclass, row({1, 2, 2.5}));
        FAIL("no error");
    } catch (const nn::TargetError& e) {
        CHECK(e.sample == 2);
        CHECK(std::string(e.what()) == "the label is 2.5; class labels must be integers");
    }
    CHECK_THROWS_WITH_AS(nn::make_target_coding(nn::Task::binary, row({0, 2})),
                         "the label is 2; labels must be 0 or 1", nn::TargetError);
    CHECK_THROWS_WITH_AS(nn::make_target_coding(nn::Task::binary, row({1, 1})),
                         "every label is 1; a classifier needs rows of both classes 0 and 1", std::invalid_argument);
    CHECK(nn::make_target_coding(nn::Task::binary, row({1, 0})).classes == std::vector<double>{0, 1});
}

TEST_CASE("split: stratified per class, disjoint, covering, seeded, validation never from the test rows") {
    const Table wine = load("wine.csv");  // classes 59/71/48
    const nn::TargetCoding coding = nn::make_target_coding(nn::Task::multiclass, wine.y);
    const nn::Split a = nn::split_samples(coding, wine.y, 0.2, 0.1, 7), b = nn::split_samples(coding, wine.y, 0.2, 0.1, 7);
    CHECK(a.test == b.test);
    CHECK(a.test != nn::split_samples(coding, wine.y, 0.2, 0.1, 8).test);
    // test: round(0.2 * 59, 71, 48) = 12 + 14 + 10; validation: round(0.1 * 47, 57, 38) = 5 + 6 + 4.
    CHECK(a.test.size() == 36);
    CHECK(a.validation.size() == 15);
    CHECK(a.train.size() == 178 - 36 - 15);
    std::set<std::size_t> all(a.train.begin(), a.train.end());
    all.insert(a.validation.begin(), a.validation.end());
    all.insert(a.test.begin(), a.test.end());
    CHECK(all.size() == 178);
    std::size_t class_two_in_test = 0;
    for (const std::size_t j : a.test) class_two_in_test += wine.y(0, j) == 2.0;
    CHECK(class_two_in_test == 10);

    const nn::TargetCoding one_row_class = nn::make_target_coding(nn::Task::binary, row({0, 1, 1}));
    CHECK_THROWS_WITH_AS(nn::split_samples(one_row_class, row({0, 1, 1}), 0.2, 0.1, 1),
                         "class 0 has only 1 row; the stratified train/test split needs at least 2 rows of each class",
                         std::invalid_argument);
}

TEST_CASE("early stopping restores the parameters of the epoch with the lowest validation loss") {
    // One linear unit z = w x + b trained by full-batch SGD on t = 2x while validated on t = x. With
    // mean(x) = 0 the bias gradient is 0, and dJ/dw = 2 (w - 2) mean(x²) = 5 (w - 2), so from w = 0
    // with lr 0.02: w_t = 2 (1 - 0.9^t). The validation loss 2.5 (w - 1)² falls until w passes 1 and
    // then rises: lowest at t = 7 (w = 1.043 against 0.937 at t = 6), so patience 3 stops at 10.
    const Matrix x{{1.0, -1.0, 2.0, -2.0}};
    nn::FitData data{{x, 2.0 * x}, {x, x}, {}};
    nn::MLP model({1, 1}, nn::Activation::identity, nn::Activation::identity);
    nn::FitOptions options;
    options.optimizer = "sgd";
    options.learning_rate = 0.02;
    options.weight_decay = 0.0;  // not the default: the formula below is plain gradient descent
    options.batch = 4;
    options.patience = 3;
    const nn::FitResult r = nn::fit(model, nn::Task::regression, data, options);
    CHECK(r.best_epoch == 7);
    CHECK(r.stopped_early);
    REQUIRE(r.history.size() == 10);
    const auto w = [](int t) { return 2.0 * (1.0 - std::pow(0.9, t)); };
    CHECK(std::abs(model.layer(1).W(0, 0) - w(7)) <= 1e-12);
    CHECK(std::abs(model.layer(1).W(0, 0) - w(10)) > 0.2);  // not the last epoch's
    for (int t = 1; t <= 10; ++t)
        CHECK(std::abs(r.history[t - 1].validation_loss - 2.5 * (w(t) - 1) * (w(t) - 1)) <= 1e-12);

    options.patience = 0;  // off: every epoch, the last parameters
    nn::MLP plain({1, 1}, nn::Activation::identity, nn::Activation::identity);
    const nn::FitResult all = nn::fit(plain, nn::Task::regression, data, options);
    CHECK(all.history.size() == options.epochs);
    CHECK(all.best_epoch == options.epochs);
    CHECK_FALSE(all.stopped_early);
    CHECK(std::abs(plain.layer(1).W(0, 0) - w(static_cast<int>(options.epochs))) <= 1e-12);
}

TEST_CASE("evaluate_every k: the same training, records and early stopping at every k-th epoch and the last") {
    // The model of the test above: w_t = 2 (1 - 0.9^t), validation loss lowest at t = 7.
    const Matrix x{{1.0, -1.0, 2.0, -2.0}};
    nn::FitData data{{x, 2.0 * x}, {x, x}, {}};
    const auto w = [](int t) { return 2.0 * (1.0 - std::pow(0.9, t)); };
    nn::FitOptions options;
    options.optimizer = "sgd";
    options.learning_rate = 0.02;
    options.weight_decay = 0.0;
    options.batch = 4;
    options.patience = 3;
    options.evaluate_every = 3;  // evaluated at 3, 6 (best of these), 9: 3 epochs without improvement
    nn::MLP model({1, 1}, nn::Activation::identity, nn::Activation::identity);
    const nn::FitResult r = nn::fit(model, nn::Task::regression, data, options);
    REQUIRE(r.history.size() == 3);
    CHECK(r.history[2].epoch == 9);
    CHECK(r.best_epoch == 6);
    CHECK(r.stopped_early);
    CHECK(std::abs(model.layer(1).W(0, 0) - w(6)) <= 1e-12);

    options.patience = 0;
    options.epochs = 10;
    options.evaluate_every = 4;  // 4, 8 and the last epoch
    nn::MLP plain({1, 1}, nn::Activation::identity, nn::Activation::identity);
    const nn::FitResult all = nn::fit(plain, nn::Task::regression, data, options);
    REQUIRE(all.history.size() == 3);
    CHECK(all.history[2].epoch == 10);
    CHECK(std::abs(all.history[2].validation_loss - 2.5 * (w(10) - 1) * (w(10) - 1)) <= 1e-12);
    CHECK(std::abs(plain.layer(1).W(0, 0) - w(10)) <= 1e-12);
    options.evaluate_every = 0;
    CHECK_THROWS_AS(nn::fit(plain, nn::Task::regression, data, options), std::invalid_argument);
}

TEST_CASE("fit moves the parameters onto the tape for each step and back: a step that throws leaves the model whole") {
    nn::MLP model({3, 4, 1}, nn::Activation::sigmoid, nn::Activation::sigmoid);
    model.init(5);
    const nn::MLP before = model;
    const Matrix X{{1.0, -1.0, 0.5, 2.0}, {0.0, 1.0, -1.0, 0.5}, {2.0, 0.0, 1.0, -2.0}};
    nn::FitOptions options;
    options.patience = 0;
    options.epochs = 2;
    // Y with two rows: the loss refuses it after the forward pass (the parameters are on the tape).
    const nn::FitData wrong_targets{{X, Matrix({std::size_t{2}, std::size_t{4}}, 0.0)}, {}, {}};
    CHECK_THROWS_AS(nn::fit(model, nn::Task::binary, wrong_targets, options), ShapeError);
    // X with two rows: the first layer refuses it while the later layers' parameters are not lent yet.
    const nn::FitData wrong_features{{xt::view(X, xt::range(0, 2), xt::all()), Matrix({std::size_t{1}, std::size_t{4}}, 1.0)}, {}, {}};
    CHECK_THROWS_AS(nn::fit(model, nn::Task::binary, wrong_features, options), ShapeError);
    for (std::size_t l = 1; l <= 2; ++l) {
        CHECK(model.layer(l).W == before.layer(l).W);
        CHECK(model.layer(l).b == before.layer(l).b);
    }
    CHECK(model.predict(X) == before.predict(X));
    // And a fit that works trains the parameters it got back (and gives them back again).
    const nn::FitData data{{X, Matrix{{1.0, 0.0, 1.0, 0.0}}}, {}, {}};
    nn::fit(model, nn::Task::binary, data, options);
    CHECK(model.layer(1).W.shape() == before.layer(1).W.shape());
    CHECK(max_abs_diff(model.layer(1).W, before.layer(1).W) > 0.0);
}

TEST_CASE("defaults: wine with labels 1..3 >= 0.94, diabetes >= least squares on the same split") {
    Table wine = load("wine.csv");
    wine.y += 1.0;  // cultivars 1, 2, 3: mapped to classes and back
    const nn::TrainOptions defaults;  // a named object: GCC 12 misreads the temporary's string as uninitialized
    const nn::TrainResult w = nn::train(wine.X, wine.y, wine.names, "cultivar", defaults);
    CHECK(w.model.target.classes == std::vector<double>{1, 2, 3});
    CHECK(w.test.accuracy >= 0.94);
    const Matrix predicted = w.model.predict(nn::take_columns(wine.X, w.split.test)).values;
    for (const double label : predicted) CHECK((label == 1 || label == 2 || label == 3));

    // The default seed 1. Over seeds 1-10 the MLP reaches least squares only on 1, 3, 4, 5 and 9 (the
    // README's table): this guards the default run, it does not show the bar holds on every split.
    const Table diabetes = load("diabetes.csv");
    const nn::TrainResult d = nn::train(diabetes.X, diabetes.y, diabetes.names, "progression", defaults);
    CHECK(d.model.target.task == nn::Task::regression);
    const double baseline = least_squares_r2(diabetes.X, diabetes.y, d.split.train, d.split.test);
    INFO("least squares R2 " << baseline << ", matgrad " << d.test.r2);
    CHECK(baseline == doctest::Approx(0.4054).epsilon(1e-3));  // numpy.linalg.lstsq on this split: 0.40539
    CHECK(d.test.r2 >= baseline);
    // RMSE in the target's units: sqrt((1 - R²) × the test rows' variance), computed from the rows.
    double mean = 0.0, variance = 0.0;
    for (const std::size_t j : d.split.test) mean += diabetes.y(0, j) / static_cast<double>(d.split.test.size());
    for (const std::size_t j : d.split.test)
        variance += (diabetes.y(0, j) - mean) * (diabetes.y(0, j) - mean) / static_cast<double>(d.split.test.size());
    CHECK(d.test.rmse == doctest::Approx(std::sqrt((1.0 - d.test.r2) * variance)).epsilon(1e-12));
}

TEST_CASE("model directories: round trip of each task, version 1 still read, a newer version refused") {
    const fs::path dir = fs::temp_directory_path() / ("matgrad-nn-model-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    nn::TrainOptions options;
    options.epochs = 3;
    for (const char* name : {"wine.csv", "diabetes.csv", "breast_cancer.csv"}) {
        const Table t = load(name);
        const nn::TrainResult r = nn::train(t.X, t.y, t.names, "target", options);
        nn::save_model((dir / name).string(), r.model);
        const nn::Model loaded = nn::load_model((dir / name).string());
        CHECK(loaded.target.task == r.model.target.task);
        CHECK(loaded.target.classes == r.model.target.classes);
        CHECK(loaded.task_reason == r.model.task_reason);
        const nn::Prediction before = r.model.predict(t.X), after = loaded.predict(t.X);
        CHECK(max_abs_diff(before.values, after.values) == 0.0);
        if (r.model.target.task != nn::Task::regression) {
            CHECK(max_abs_diff(before.probabilities, after.probabilities) == 0.0);
            // Both sides 1 x n (a 1-D expression assigned to a Matrix reads a second extent that is
            // not there: AddressSanitizer saw a garbage allocation size).
            const Matrix column_sums = xt::sum(after.probabilities, {0}, xt::keep_dims);
            CHECK(max_abs_diff(column_sums, xt::ones<double>({std::size_t{1}, t.y.size()})) <= 1e-12);
        }
    }
    // A version 1 model.json, as matgrad wrote it before tasks existed: a binary classifier of 0/1.
    const fs::path v1 = dir / "breast_cancer.csv";
    const Table cancer = load("breast_cancer.csv");
    std::string json = "{\"format\": \"matgrad-mlp\", \"version\": 1, \"sizes\": [30, 32, 1], "
                       "\"hidden_activation\": \"relu\", \"output_activation\": \"sigmoid\", \"features\": [";
    for (std::size_t f = 0; f < cancer.names.size(); ++f) json += (f ? ", \"" : "\"") + cancer.names[f] + "\"";
    json += "], \"label\": \"benign\"}";
    const Matrix v2_probabilities = nn::load_model(v1.string()).predict(cancer.X).probabilities;
    std::ofstream(v1 / "model.json") << json;
    const nn::Model old = nn::load_model(v1.string());
    CHECK(old.target.task == nn::Task::binary);
    CHECK(old.target.classes == std::vector<double>{0, 1});
    CHECK(max_abs_diff(old.predict(cancer.X).probabilities, v2_probabilities) == 0.0);  // same arrays
    const auto replace = [&](const std::string& from, const std::string& to) {
        const std::size_t at = json.find(from);
        REQUIRE(at != std::string::npos);
        json.replace(at, from.size(), to);
    };
    replace("\"version\": 1", "\"version\": 3");
    std::ofstream(v1 / "model.json") << json;
    CHECK_THROWS_WITH_AS(nn::load_model(v1.string()),
                         doctest::Contains("model format version 3 is not supported (this matgrad reads versions 1 to 2"),
                         io::InputError);
    fs::remove_all(dir);
}

TEST_CASE("a streamed training from the CSV's cache equals the in-memory one with the same block size bit for bit") {
    const fs::path dir = fs::temp_directory_path() / ("matgrad-streamed-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const std::string csv = (dir / "d.csv").string();
    // 700 rows of 4 features and 3 classes from a noisy rule, in the shortest text that reads back
    // exactly (so the CSV and the matrix in memory hold the same doubles).
    const std::size_t rows = 700, features = 4;
    {
        std::ofstream out(csv);
        out << "a,b,c,d,y\n";
        nn::Rng rng(5);
        char cell[32];
        for (std::size_t r = 0; r < rows; ++r) {
            double score = 0;
            for (std::size_t f = 0; f < features; ++f) {
                const double x = 10 * rng.uniform() - 3;
                score += (f + 1.0) * x;
                out << std::string_view(cell, std::to_chars(cell, cell + sizeof cell, x).ptr - cell) << ',';
            }
            out << (score + 4 * rng.uniform() < 15 ? 0 : score < 30 ? 1 : 2) << '\n';
        }
    }
    REQUIRE(io::convert_csv_to_cache(csv) == io::CacheUse::written);
    const io::CacheFile data(csv);
    REQUIRE(data.rows() == rows);

    nn::TrainOptions options;
    options.epochs = 8;
    options.batch = 16;
    options.hidden = {8};
    options.seed = 7;
    options.patience = 3;
    // A budget with room for blocks of 97 rows (of the fixed part plan_streaming states): 8 blocks.
    const nn::StreamingPlan roomy = nn::plan_streaming(std::size_t{1} << 40, rows, features, 3, options);
    const std::size_t block_bytes = sizeof(double) * features;
    const std::size_t budget = roomy.fixed_bytes + 1 + 97 * block_bytes + block_bytes / 2;
    nn::TrainResult streamed = nn::train(data, features, options, budget);
    REQUIRE(streamed.block_rows == 97);

    const io::CsvTable table = io::read_csv(csv);
    const Matrix X = xt::view(table.values, xt::range(0, features), xt::all());
    const Matrix y = xt::view(table.values, xt::range(features, features + 1), xt::all());
    nn::TrainOptions same_blocks = options;
    same_blocks.block = 97;
    nn::TrainResult in_memory = nn::train(X, y, {"a", "b", "c", "d"}, "y", same_blocks);

    CHECK(streamed.split.train == in_memory.split.train);
    CHECK(streamed.split.test == in_memory.split.test);
    CHECK(streamed.model.features.mean == in_memory.model.features.mean);
    CHECK(streamed.model.features.std == in_memory.model.features.std);
    // Both record every row they were fitted or validated on (the rows are distinct).
    CHECK(in_memory.model.seen_rows.size() == in_memory.split.train.size() + in_memory.split.validation.size());
    CHECK(streamed.model.seen_rows == in_memory.model.seen_rows);
    REQUIRE(streamed.fit.history.size() == in_memory.fit.history.size());
    for (std::size_t e = 0; e < streamed.fit.history.size(); ++e) {
        CHECK(streamed.fit.history[e].train_loss == in_memory.fit.history[e].train_loss);
        CHECK(streamed.fit.history[e].validation_loss == in_memory.fit.history[e].validation_loss);
        CHECK(streamed.fit.history[e].test_loss == in_memory.fit.history[e].test_loss);
    }
    CHECK(streamed.fit.best_epoch == in_memory.fit.best_epoch);
    const std::vector<Matrix*>& streamed_parameters = streamed.model.mlp.parameters();
    const std::vector<Matrix*>& in_memory_parameters = in_memory.model.mlp.parameters();
    REQUIRE(streamed_parameters.size() == in_memory_parameters.size());
    for (std::size_t i = 0; i < streamed_parameters.size(); ++i)
        CHECK(*streamed_parameters[i] == *in_memory_parameters[i]);  // every bit
    CHECK(streamed.test.loss == in_memory.test.loss);
    CHECK(streamed.test.accuracy == in_memory.test.accuracy);

    // The comparison sees the order: in memory without blocks (one shuffle of every sample) the
    // weights differ.
    nn::TrainResult shuffled = nn::train(X, y, {"a", "b", "c", "d"}, "y", options);
    CHECK(*shuffled.model.mlp.parameters()[0] != *streamed_parameters[0]);
    fs::remove_all(dir);
}

TEST_CASE("plan_streaming gives what the fixed part leaves of the budget to one block and names the least budget") {
    nn::TrainOptions options;  // batch 32, hidden {32}
    const nn::StreamingPlan plan = nn::plan_streaming(std::size_t{1} << 40, 1000000, 10, 1, options);
    // Labels and targets, the split's lists, the order and the seen rows' fingerprints:
    // 8 * (5 + outputs) bytes a row; buffers of 4 batches and 2 evaluation chunks of 8192 samples
    // at 8 * (10 + 4 + 3 * 32) bytes; 4 MiB of headroom.
    CHECK(plan.fixed_bytes == 8 * 6 * 1000000 + 8 * (10 + 4 + 96) * (4 * 32 + 2 * 8192) + (4 << 20));
    CHECK(plan.block_rows == 1000000);  // no more than the rows
    const std::size_t budget = plan.fixed_bytes + 1 + 12345 * 8 * 10;  // the block buffer: 8 bytes a feature
    CHECK(nn::plan_streaming(budget, 1000000, 10, 1, options).block_rows == 12345);
    CHECK_THROWS_WITH_AS(nn::plan_streaming(20000000, 1000000, 10, 1, options),
                         "a memory budget of 20 MiB is too small to train on 1000000 rows of 10 features (labels, "
                         "index lists and batch buffers take 64 MiB); give at least 64 MiB",
                         std::invalid_argument);
    CHECK(nn::fits_in_memory(2 * 8 * 100 * 10, 100, 10));
    CHECK(!nn::fits_in_memory(2 * 8 * 100 * 10 - 1, 100, 10));
}
