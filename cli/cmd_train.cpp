// `matgrad train`: a binary classifier MLP from a numeric CSV, with standardization, a stratified
// train/test split, progress on stderr, and atomically written model, metrics and loss plot.
#include "commands.hpp"
#include "dataset.hpp"
#include "interrupt.hpp"
#include "model_dir.hpp"
#include "progress.hpp"
#include "svg_plot.hpp"

#include <nn/nn.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <sstream>

namespace matgrad::cli {
namespace {

struct TrainOptions {
    std::string csv, label, hidden = "32", activation = "relu", optimizer = "adam";
    std::string save, metrics, plot;
    long long epochs = 100, batch = 32, seed = 1;
    double lr = 0.01, test_fraction = 0.2;
};

std::vector<std::size_t> parse_hidden_sizes(const std::string& text) {
    std::vector<std::size_t> sizes;
    std::stringstream in(text);
    for (std::string item; std::getline(in, item, ',');) {
        std::size_t used = 0;
        long long size = 0;
        try {
            size = std::stoll(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != item.size() || size <= 0 || size > 100000)
            throw std::invalid_argument("--hidden: '" + text +
                                        "' is not a list of positive layer sizes such as 64 or 32,16");
        sizes.push_back(static_cast<std::size_t>(size));
    }
    if (sizes.empty()) throw std::invalid_argument("--hidden: give at least one layer size, e.g. 32");
    return sizes;
}

void validate(const TrainOptions& o) {
    auto require = [](bool ok, const std::string& message) {
        if (!ok) throw std::invalid_argument(message);
    };
    require(o.epochs > 0, "--epochs must be a positive integer (got " + std::to_string(o.epochs) + ")");
    require(o.batch > 0, "--batch must be a positive integer (got " + std::to_string(o.batch) + ")");
    require(std::isfinite(o.lr) && o.lr > 0, "--lr must be a positive number");
    require(o.test_fraction > 0 && o.test_fraction < 1,
            "--test-fraction must be strictly between 0 and 1 (e.g. 0.2)");
    require(o.seed >= 0, "--seed must be a non-negative integer");
    for (const std::string* path : {&o.metrics, &o.plot})
        if (!path->empty()) io::check_output_path(*path);
    if (!o.save.empty()) check_model_destination(o.save);
}

/// Rows of each class shuffled with the seed; round(fraction * count) of each class (at least one,
/// and at least one left for training) go to the test set.
void stratified_split(const Matrix& Y, double test_fraction, nn::Rng& rng, const std::string& file,
                      std::vector<std::size_t>& train, std::vector<std::size_t>& test) {
    for (const double label : {0.0, 1.0}) {
        std::vector<std::size_t> rows;
        for (std::size_t r = 0; r < Y.shape(1); ++r)
            if (Y(0, r) == label) rows.push_back(r);
        if (rows.empty())
            throw io::InputError(file + ": every label is " + std::to_string(1 - int(label)) +
                                 "; a classifier needs rows of both classes 0 and 1");
        if (rows.size() < 2)
            throw io::InputError(file + ": class " + std::to_string(int(label)) +
                                 " has only 1 row; the stratified train/test split needs at least 2 "
                                 "rows of each class");
        for (std::size_t i = rows.size() - 1; i > 0; --i)  // Fisher-Yates with the portable Rng
            std::swap(rows[i], rows[static_cast<std::size_t>(rng.uniform() * (i + 1))]);
        const auto wanted = static_cast<std::size_t>(std::llround(test_fraction * rows.size()));
        const std::size_t n_test = std::clamp<std::size_t>(wanted, 1, rows.size() - 1);
        test.insert(test.end(), rows.begin(), rows.begin() + n_test);
        train.insert(train.end(), rows.begin() + n_test, rows.end());
    }
}

/// Mean and standard deviation of each feature (row) over the training samples (columns). A
/// constant feature gets std 1, so it standardizes to 0 instead of dividing by zero.
void feature_statistics(const Matrix& X, Matrix& mean, Matrix& std) {
    const std::size_t d = X.shape(0), n = X.shape(1);
    mean = Matrix({d, std::size_t{1}});
    std = Matrix({d, std::size_t{1}});
    for (std::size_t f = 0; f < d; ++f) {
        double sum = 0.0, squares = 0.0;
        for (std::size_t i = 0; i < n; ++i) sum += X(f, i);
        const double mu = sum / static_cast<double>(n);
        for (std::size_t i = 0; i < n; ++i) squares += (X(f, i) - mu) * (X(f, i) - mu);
        const double sigma = std::sqrt(squares / static_cast<double>(n));
        mean(f, 0) = mu;
        std(f, 0) = sigma > 1e-12 * std::max(1.0, std::abs(mu)) ? sigma : 1.0;
    }
}

struct Evaluation {
    double loss, accuracy;
};

/// Mean stable BCE and accuracy of the model on (X, Y), computed from the logits on `tape`.
Evaluation evaluate(nn::MLP& model, Tape& tape, const Matrix& X, const Matrix& Y) {
    tape.clear();
    const Var Z = model.logits(tape.constant(X, "X"));
    const Var J = nn::binary_cross_entropy_with_logits(Z, tape.constant(Y, "Y"));
    return {J.value()(0, 0), nn::accuracy(Z.value(), Y, 0.0)};  // z >= 0 <=> sigmoid(z) >= 0.5
}

std::unique_ptr<nn::Optimizer> make_optimizer(const TrainOptions& o) {
    if (o.optimizer == "sgd") return std::make_unique<nn::SGD>(o.lr);
    return std::make_unique<nn::Adam>(o.lr);
}

int run_train(const TrainOptions& o) {
    validate(o);
    const std::vector<std::size_t> hidden = parse_hidden_sizes(o.hidden);
    const nn::Activation activation = nn::parse_activation(o.activation);

    const io::CsvTable table = io::read_csv(o.csv);
    const std::size_t label_column =
        o.label.empty() ? table.header.size() - 1 : find_column(table, o.label, o.csv);
    std::vector<std::size_t> feature_columns;
    for (std::size_t c = 0; c < table.header.size(); ++c)
        if (c != label_column) feature_columns.push_back(c);
    if (feature_columns.empty())
        throw io::InputError(o.csv + ": has only the label column '" + table.header[label_column] +
                             "'; there are no features to learn from");
    const Matrix Y_all = binary_labels(table, label_column, o.csv);
    const Matrix X_all = features_by_column(table, feature_columns);

    nn::Rng rng(static_cast<std::uint64_t>(o.seed));
    std::vector<std::size_t> train_rows, test_rows;
    stratified_split(Y_all, o.test_fraction, rng, o.csv, train_rows, test_rows);

    Matrix mean, std;
    feature_statistics(take_columns(X_all, train_rows), mean, std);
    const Matrix X_standard = standardize(X_all, mean, std);
    const Matrix X_train = take_columns(X_standard, train_rows), Y_train = take_columns(Y_all, train_rows);
    const Matrix X_test = take_columns(X_standard, test_rows), Y_test = take_columns(Y_all, test_rows);

    std::vector<std::size_t> sizes{feature_columns.size()};
    sizes.insert(sizes.end(), hidden.begin(), hidden.end());
    sizes.push_back(1);
    nn::MLP model(sizes, activation, nn::Activation::sigmoid);
    model.init(static_cast<std::uint64_t>(o.seed));
    const std::unique_ptr<nn::Optimizer> optimizer = make_optimizer(o);

    const std::size_t n_train = train_rows.size();
    const std::size_t batch = std::min<std::size_t>(static_cast<std::size_t>(o.batch), n_train);
    std::vector<std::size_t> order(n_train);
    for (std::size_t i = 0; i < n_train; ++i) order[i] = i;
    Matrix X_batch, Y_batch;
    Tape tape, eval_tape;
    std::vector<double> train_losses, test_losses;
    Evaluation train_eval{0, 0}, test_eval{0, 0};
    std::size_t epochs_done = 0, steps = 0;
    TrainingProgress progress(static_cast<std::size_t>(o.epochs));

    const InterruptGuard interrupt_guard;
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t epoch = 1; epoch <= static_cast<std::size_t>(o.epochs) && !interrupt_requested;
         ++epoch) {
        if (batch < n_train)
            for (std::size_t i = n_train - 1; i > 0; --i)
                std::swap(order[i], order[static_cast<std::size_t>(rng.uniform() * (i + 1))]);
        for (std::size_t first = 0; first < n_train && !interrupt_requested; first += batch) {
            const std::vector<std::size_t> rows(order.begin() + first,
                                                order.begin() + std::min(first + batch, n_train));
            const bool full = rows.size() == n_train;
            if (!full) {
                X_batch = take_columns(X_train, rows);
                Y_batch = take_columns(Y_train, rows);
            }
            tape.clear();
            const Var Z = model.logits(tape.constant(full ? X_train : X_batch, "X"));
            const Var J = nn::binary_cross_entropy_with_logits(Z, tape.constant(full ? Y_train : Y_batch, "Y"));
            tape.backward(J);
            optimizer->step(model.parameters(), model.gradients());
            ++steps;
        }
        if (interrupt_requested) break;
        train_eval = evaluate(model, eval_tape, X_train, Y_train);
        test_eval = evaluate(model, eval_tape, X_test, Y_test);
        if (!std::isfinite(train_eval.loss))
            throw std::runtime_error("training diverged in epoch " + std::to_string(epoch) +
                                     " (the loss is not finite); try a smaller --lr. Nothing was saved");
        train_losses.push_back(train_eval.loss);
        test_losses.push_back(test_eval.loss);
        epochs_done = epoch;
        progress.epoch_done(epoch, train_eval.loss, train_eval.accuracy, test_eval.accuracy);
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    progress.finish();

    const bool interrupted = interrupt_requested != 0;
    if (interrupted && steps == 0) {
        std::fprintf(stderr, "matgrad train: interrupted before the first step; nothing was saved\n");
        return 130;
    }
    if (interrupted) {  // the model after the last finished step: evaluate that one
        train_eval = evaluate(model, eval_tape, X_train, Y_train);
        test_eval = evaluate(model, eval_tape, X_test, Y_test);
        std::fprintf(stderr,
                     "matgrad train: interrupted after %zu full epoch(s) (%zu steps); saving that "
                     "model and its metrics\n", epochs_done, steps);
    }

    std::printf("train accuracy %.4f (%zu rows), test accuracy %.4f (%zu rows), loss %.4f, "
                "%zu epochs in %.2f s\n",
                train_eval.accuracy, n_train, test_eval.accuracy, test_rows.size(),
                train_eval.loss, epochs_done, seconds);
    if (!o.save.empty()) {
        std::vector<std::string> features;
        for (const std::size_t c : feature_columns) features.push_back(table.header[c]);
        save_model(o.save, SavedModel{model, mean, std, features, table.header[label_column]});
        std::printf("model saved to %s\n", o.save.c_str());
    }
    if (!o.metrics.empty()) {
        const nlohmann::json metrics = {
            {"train_accuracy", train_eval.accuracy}, {"test_accuracy", test_eval.accuracy},
            {"final_loss", train_eval.loss},         {"final_test_loss", test_eval.loss},
            {"epochs", epochs_done},                 {"steps", steps},
            {"seconds", seconds},                    {"interrupted", interrupted},
            {"train_rows", n_train},                 {"test_rows", test_rows.size()},
            {"sizes", sizes},                        {"hidden_activation", o.activation},
            {"optimizer", o.optimizer},              {"lr", o.lr},
            {"batch", batch},                        {"seed", o.seed}};
        io::write_text_file(o.metrics, metrics.dump(2) + "\n");
    }
    if (!o.plot.empty())
        io::write_text_file(o.plot, line_chart_svg("matgrad train: " + o.csv, "epoch",
                                                   "mean binary cross-entropy",
                                                   {{"train loss", "#1f77b4", train_losses},
                                                    {"test loss", "#d62728", test_losses}}));
    return interrupted ? 130 : 0;
}

}  // namespace

void add_train_command(CLI::App& app, int& status) {
    CLI::App* cmd = app.add_subcommand(
        "train", "Train a binary classifier (an MLP) on a numeric CSV with a header line");
    cmd->footer(
        "The label column holds 0/1; every other column is a feature. Features are standardized\n"
        "with the training rows' mean and std (saved with the model). The rows are split into\n"
        "train and test sets per class (stratified) with the seed. Progress goes to stderr.\n"
        "Ctrl-C stops after the current step and still writes the outputs for the model trained so\n"
        "far (exit status 130). Outputs are written atomically: a failed run leaves existing files\n"
        "and an existing model directory untouched.\n\n"
        "Example:\n"
        "  matgrad train --csv data/breast_cancer.csv --save model --metrics metrics.json \\\n"
        "      --plot loss.svg\n"
        "  matgrad predict --model model --csv data/breast_cancer.csv --out predictions.csv\n");
    auto o = std::make_shared<TrainOptions>();
    cmd->add_option("--csv", o->csv, "Training data: CSV with a header line")->required();
    cmd->add_option("--label", o->label, "Name of the 0/1 label column (default: the last column)");
    cmd->add_option("--hidden", o->hidden, "Hidden layer sizes, e.g. 64 or 32,16")->capture_default_str();
    cmd->add_option("--activation", o->activation, "Hidden activation")
        ->check(CLI::IsMember({"relu", "tanh", "sigmoid"}))->capture_default_str();
    cmd->add_option("--epochs", o->epochs, "Passes over the training rows")->capture_default_str();
    cmd->add_option("--lr", o->lr, "Learning rate")->capture_default_str();
    cmd->add_option("--batch", o->batch, "Mini-batch size (>= the training rows: full batch)")
        ->capture_default_str();
    cmd->add_option("--optimizer", o->optimizer, "adam or sgd")
        ->check(CLI::IsMember({"adam", "sgd"}))->capture_default_str();
    cmd->add_option("--test-fraction", o->test_fraction, "Share of each class held out for testing")
        ->capture_default_str();
    cmd->add_option("--seed", o->seed, "Seed of the split, the initialization and the batch order")
        ->capture_default_str();
    cmd->add_option("--save", o->save, "Model directory to write (replaced atomically)");
    cmd->add_option("--metrics", o->metrics, "Metrics JSON file to write");
    cmd->add_option("--plot", o->plot, "SVG plot of train and test loss per epoch to write");
    cmd->callback([o, &status] { status = run_train(*o); });
}

}  // namespace matgrad::cli
