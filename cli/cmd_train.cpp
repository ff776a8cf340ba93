// `matgrad train`: an MLP for a binary, multiclass or regression task from a numeric CSV. The work
// is nn::train (<nn/train.hpp>); this file parses the options, shows progress, and writes the
// model, metrics and loss plot atomically.
#include "commands.hpp"
#include "dataset.hpp"
#include "interrupt.hpp"
#include "progress.hpp"
#include "svg_plot.hpp"

#include <nn/csv_cache.hpp>
#include <nn/nn.hpp>

#include <nlohmann/json.hpp>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <sstream>

namespace matgrad::cli {
namespace {

struct TrainCommand {
    std::string csv, label, hidden = "32", activation = "relu", optimizer = "adam", task = "auto";
    std::string save, metrics, plot, memory;
    bool cache = false;
    long long epochs = 200, batch = 32, patience = 10, evaluate_every = 1;
    std::uint64_t seed = 1;
    double lr = 0.01, test_fraction = 0.2, validation_fraction = 0.1;
    double weight_decay = nn::default_weight_decay;
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
                                        "' is not a list of layer sizes from 1 to 100000, such as 64 or 32,16");
        sizes.push_back(static_cast<std::size_t>(size));
    }
    if (sizes.empty()) throw std::invalid_argument("--hidden: give at least one layer size, e.g. 32");
    return sizes;
}

nn::TrainOptions to_options(const TrainCommand& o) {
    auto require = [](bool ok, const std::string& message) {
        if (!ok) throw std::invalid_argument(message);
    };
    require(o.epochs > 0, "--epochs must be a positive integer (got " + std::to_string(o.epochs) + ")");
    require(o.batch > 0, "--batch must be a positive integer (got " + std::to_string(o.batch) + ")");
    require(std::isfinite(o.lr) && o.lr > 0, "--lr must be a positive number");
    require(o.test_fraction > 0 && o.test_fraction < 1,
            "--test-fraction must be strictly between 0 and 1 (e.g. 0.2)");
    require(o.validation_fraction >= 0 && o.validation_fraction < 1,
            "--validation-fraction must be at least 0 and below 1 (e.g. 0.1)");
    require(o.evaluate_every > 0,
            "--evaluate-every must be a positive integer (got " + std::to_string(o.evaluate_every) + ")");
    require(o.patience >= 0, "--patience must be a non-negative integer (0 turns early stopping off)");
    require(o.patience == 0 || o.validation_fraction > 0,
            "--patience " + std::to_string(o.patience) +
                " needs validation rows for early stopping: give --validation-fraction > 0, or --patience 0");
    require(std::isfinite(o.weight_decay) && o.weight_decay >= 0,
            "--weight-decay must be a non-negative number");
    if (!o.save.empty()) nn::check_model_destination(o.save);

    nn::TrainOptions options;
    if (o.task != "auto") options.task = nn::parse_task(o.task);
    options.hidden = parse_hidden_sizes(o.hidden);
    options.activation = nn::parse_activation(o.activation);
    options.optimizer = o.optimizer;
    options.learning_rate = o.lr;
    options.weight_decay = o.weight_decay;
    options.epochs = static_cast<std::size_t>(o.epochs);
    options.batch = static_cast<std::size_t>(o.batch);
    options.patience = static_cast<std::size_t>(o.patience);
    options.evaluate_every = static_cast<std::size_t>(o.evaluate_every);
    options.seed = o.seed;
    options.test_fraction = o.test_fraction;
    options.validation_fraction = o.validation_fraction;
    return options;
}

/// --memory: bytes, or a number with K, M, G or T (powers of 1024), e.g. 512M or 1.5G.
std::size_t parse_memory(const std::string& text) {
    std::size_t used = 0;
    double value = -1;
    try {
        value = std::stod(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    std::string unit = text.substr(used);
    for (char& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    const std::string units = "KMGT";
    double scale = 1;
    if (unit.size() == 1 && units.find(unit[0]) != std::string::npos)
        scale = std::pow(1024.0, static_cast<double>(units.find(unit[0]) + 1));
    else if (!unit.empty())
        used = 0;
    if (used == 0 || !std::isfinite(value) || value <= 0 || value * scale >= 1e18)
        throw std::invalid_argument("--memory: '" + text + "' is not a size such as 512M or 2G (K, M, G, T: powers of 1024)");
    return static_cast<std::size_t>(value * scale);
}

/// The metrics file: the task's results, the run, and one entry per epoch.
nlohmann::json metrics_json(const TrainCommand& o, const nn::TrainOptions& options, const nn::TrainResult& r) {
    const bool regression = r.model.target.task == nn::Task::regression;
    const char* metric = regression ? "test_r2" : "test_accuracy";
    nlohmann::json history = nlohmann::json::array();
    for (const nn::EpochRecord& e : r.fit.history)
        history.push_back({{"epoch", e.epoch}, {"train_loss", e.train_loss}, {"validation_loss", e.validation_loss},
                           {"test_loss", e.test_loss}, {metric, e.test_metric}});
    nlohmann::json m = {
        {"task", nn::task_name(r.model.target.task)}, {"task_reason", r.model.task_reason},
        {"final_loss", r.train.loss},                {"final_test_loss", r.test.loss},
        {"best_epoch", r.fit.best_epoch},             {"stopped_early", r.fit.stopped_early},
        {"epochs", r.fit.epochs},            {"steps", r.fit.steps},
        {"seconds", r.fit.seconds},                  {"interrupted", r.fit.interrupted},
        {"train_rows", r.split.train.size()},        {"validation_rows", r.split.validation.size()},
        {"test_rows", r.split.test.size()},          {"sizes", r.model.mlp.sizes()},
        {"hidden_activation", o.activation},         {"optimizer", o.optimizer},
        {"lr", o.lr},
        {"weight_decay", options.weight_decay},
        {"batch", std::min(options.batch, r.split.train.size())},
        {"patience", o.patience},                    {"evaluate_every", o.evaluate_every},
        {"validation_fraction", o.validation_fraction},
        {"seed", o.seed},                            {"history", history}};
    if (regression) {
        m["train_r2"] = r.train.r2;
        m["test_r2"] = r.test.r2;
        m["test_rmse"] = r.test.rmse;
    } else {
        m["train_accuracy"] = r.train.accuracy;
        m["test_accuracy"] = r.test.accuracy;
        m["classes"] = r.model.target.classes;
    }
    return m;
}

/// Validation (and test) loss per evaluated epoch, at its epoch, with the kept epoch marked.
std::string loss_plot(const TrainCommand& o, const nn::TrainResult& r) {
    // With --evaluate-every k only every k-th epoch has losses: the others stay NaN, which the
    // chart leaves out, so each line joins the evaluated epochs at their own x.
    const std::size_t last = r.fit.history.empty() ? 0 : r.fit.history.back().epoch;
    std::vector<double> train(last, NAN), validation(last, NAN), test(last, NAN);
    for (const nn::EpochRecord& e : r.fit.history) {
        train[e.epoch - 1] = e.train_loss;
        validation[e.epoch - 1] = e.validation_loss;
        test[e.epoch - 1] = e.test_loss;
    }
    const char* loss = r.model.target.task == nn::Task::binary       ? "mean binary cross-entropy"
                       : r.model.target.task == nn::Task::multiclass ? "mean softmax cross-entropy"
                                                                     : "mean squared error (standardized target)";
    return line_chart_svg("matgrad train: " + o.csv, "epoch", loss,
                          {{"train loss", "#1f77b4", train},
                           {"validation loss", "#2ca02c", validation},
                           {"test loss", "#d62728", test}},
                          PlotMark{r.fit.best_epoch, "best epoch " + std::to_string(r.fit.best_epoch)});
}

/// Prints the results of a training and writes its outputs; the exit status.
int report(const TrainCommand& o, const nn::TrainOptions& options, const nn::TrainResult& r, io::OutputSet& outputs) {
    if (r.fit.interrupted)
        std::fprintf(stderr, "matgrad train: interrupted after %zu full epoch(s) (%zu steps); saving that "
                     "model and its metrics\n", r.fit.epochs, r.fit.steps);
    if (r.fit.stopped_early || (options.patience > 0 && r.fit.best_epoch < r.fit.epochs))
        std::printf("%s after epoch %zu: the validation loss was lowest at epoch %zu, whose parameters are kept\n",
                    r.fit.stopped_early ? "stopped early" : "finished", r.fit.epochs, r.fit.best_epoch);
    if (r.model.target.task == nn::Task::regression)
        std::printf("train R2 %.4f (%zu rows), test R2 %.4f and RMSE %.4g (%zu rows), %zu epochs in %.2f s\n",
                    r.train.r2, r.split.train.size(), r.test.r2, r.test.rmse, r.split.test.size(),
                    r.fit.epochs, r.fit.seconds);
    else
        std::printf("train accuracy %.4f (%zu rows), test accuracy %.4f (%zu rows), loss %.4f, "
                    "%zu epochs in %.2f s\n",
                    r.train.accuracy, r.split.train.size(), r.test.accuracy, r.split.test.size(), r.train.loss,
                    r.fit.epochs, r.fit.seconds);
    if (!o.save.empty()) nn::write_model_files(outputs.stage_directory(o.save), r.model);
    if (!o.metrics.empty()) outputs.write(o.metrics, metrics_json(o, options, r).dump(2) + "\n");
    if (!o.plot.empty()) outputs.write(o.plot, loss_plot(o, r));
    outputs.commit();
    if (!o.save.empty()) std::printf("model saved to %s\n", o.save.c_str());
    return r.fit.interrupted ? 130 : 0;
}

/// The task line `train` prints before training.
void print_task(const nn::TaskChoice& choice, const nn::TrainOptions& options) {
    std::printf("task %s: %s%s\n", nn::task_name(choice.task), choice.reason.c_str(),
                options.task ? "" : "; --task overrides");
}

/// Runs `train(hooks)` -- nn::train from wherever the data is -- with a progress line per epoch and
/// Ctrl-C stopping it after the current step; errors name the label column of `csv`.
template <class Train>
nn::TrainResult train_with_progress(const nn::TaskChoice& choice, const nn::TrainOptions& options,
                                    const std::vector<std::string>& header, std::size_t label_column,
                                    const std::string& csv, Train&& train) {
    TrainingProgress progress(options.epochs, choice.task == nn::Task::regression ? "R2" : "acc");
    const InterruptGuard interrupt_guard;
    const nn::FitHooks hooks{
        [&](const nn::EpochRecord& e) { progress.epoch_done(e.epoch, e.train_loss, e.train_metric, e.test_metric); },
        [] { return interrupt_requested != 0; }};
    nn::TrainResult r = naming_the_file(header, label_column, csv, [&] { return train(hooks); });
    progress.finish();
    return r;
}

/// `train --memory` on a CSV too large for the budget: converted once to its cache, then trained
/// from the cache a block at a time (nn::train on an io::CacheFile).
int run_streamed(const TrainCommand& o, const nn::TrainOptions& options, std::size_t budget, io::OutputSet& outputs) {
    io::CacheUse use;
    {
        ReadingProgress converting(o.csv, "converting");
        use = io::convert_csv_to_cache(o.csv, [&](double fraction) { converting.update(fraction); });
    }
    const std::string cache = io::csv_cache_path(o.csv);
    const io::CacheFile data(o.csv);
    const std::vector<std::string>& header = data.header();
    const std::size_t label_column = o.label.empty() ? header.size() - 1 : find_column(header, o.label, o.csv);
    if (header.size() < 2)
        throw io::InputError(o.csv + ": has only the label column '" + header[label_column] +
                             "'; there are no features to learn from");
    if (!quiet())
        std::fprintf(stderr, "%s %s (%zu rows x %zu columns, %.0f MiB as doubles: more than half of --memory %s); "
                     "training from it a block at a time\n",
                     use == io::CacheUse::read ? "using the cache" : "converted the CSV to its cache", cache.c_str(),
                     data.rows(), header.size(), static_cast<double>(data.rows() * header.size() * 8) / 1048576.0,
                     o.memory.c_str());
    if (o.label.empty())
        std::printf("label column '%s': the last column, as no --label was given\n", header[label_column].c_str());
    const nn::TaskChoice choice =
        naming_the_file(header, label_column, o.csv, [&] { return nn::choose_task(data, label_column, options.task); });
    print_task(choice, options);

    const nn::TrainResult r =
        train_with_progress(choice, options, header, label_column, o.csv, [&](const nn::FitHooks& hooks) {
            return nn::train(data, label_column, options, budget, hooks);
        });
    if (!quiet()) std::fprintf(stderr, "shuffled in blocks of %zu rows\n", r.block_rows);
    return report(o, options, r, outputs);
}

int run_train(const TrainCommand& o) {
    const nn::TrainOptions options = to_options(o);
    // Every output is planned (a bad path refused) before training, and renamed into place together
    // only once all are written: a failed --plot leaves an existing model directory untouched.
    io::OutputSet outputs;
    outputs.input(o.csv, "the --csv file");
    if (o.cache || !o.memory.empty()) outputs.input(io::csv_cache_path(o.csv), "the cache of the --csv file");
    if (!o.save.empty()) outputs.plan_directory(o.save, "the --save model directory");
    if (!o.metrics.empty()) outputs.plan(o.metrics, "the --metrics file");
    if (!o.plot.empty()) outputs.plan(o.plot, "the --plot file");
    // --memory: a CSV whose values do not fit the budget (twice over, as the in-memory path may
    // need) is trained from its cache, a block of rows at a time.
    if (!o.memory.empty()) {
        const std::size_t budget = parse_memory(o.memory);
        const io::CsvSize size = io::csv_size(o.csv);
        if (!nn::fits_in_memory(budget, size.rows, size.header.size())) {
            // A budget too small even for one output is refused before the conversion.
            nn::plan_streaming(budget, size.rows, size.header.size() - 1, 1, options);
            return run_streamed(o, options, budget, outputs);
        }
    }
    // The columns are chosen from the header, before any row is read (from the CSV or its cache).
    std::vector<std::string> header, feature_names;
    std::size_t label_column = 0;
    Matrix X, y;
    const auto choose = [&](const std::vector<std::string>& names) {
        header = names;
        label_column = o.label.empty() ? header.size() - 1 : find_column(header, o.label, o.csv);
        std::vector<std::size_t> feature_columns;
        for (std::size_t c = 0; c < header.size(); ++c)
            if (c != label_column) {
                feature_columns.push_back(c);
                feature_names.push_back(header[c]);
            }
        if (feature_columns.empty())
            throw io::InputError(o.csv + ": has only the label column '" + header[label_column] +
                                 "'; there are no features to learn from");
        X = Matrix({feature_columns.size(), std::size_t{0}});
        y = Matrix({std::size_t{1}, std::size_t{0}});
        return feature_and_label_targets(header.size(), feature_columns, label_column, X, y);
    };
    std::optional<io::CacheUse> cache_use;
    {
        ReadingProgress reading(o.csv);
        const auto progress = [&](double fraction) { reading.update(fraction); };
        if (o.cache) {
            cache_use = io::read_csv_cached(o.csv, choose, progress);
        } else {
            io::CsvReader reader(o.csv);
            reader.read_all(choose(reader.header()), progress);
        }
    }
    if (cache_use && !quiet()) {
        const std::string cache = io::csv_cache_path(o.csv);
        if (*cache_use == io::CacheUse::read)
            std::fprintf(stderr, "read %s from its cache %s\n", o.csv.c_str(), cache.c_str());
        else
            std::fprintf(stderr, "%s the cache %s\n", *cache_use == io::CacheUse::written ? "wrote" : "could not write",
                         cache.c_str());
    }
    if (o.label.empty())
        std::printf("label column '%s': the last column, as no --label was given\n", header[label_column].c_str());
    const nn::TaskChoice choice = nn::choose_task(y, options.task);
    print_task(choice, options);

    const nn::TrainResult r =
        train_with_progress(choice, options, header, label_column, o.csv, [&](const nn::FitHooks& hooks) {
            return nn::train(std::move(X), y, feature_names, header[label_column], options, hooks);
        });
    return report(o, options, r, outputs);
}

}  // namespace

void add_train_command(CLI::App& app, int& status) {
    CLI::App* cmd = app.add_subcommand(
        "train", "Train an MLP classifier or regressor on a numeric CSV with a header line");
    cmd->footer(
        "The label column is the target; every other column is a feature. --task auto picks binary\n"
        "for 0/1 labels, multiclass for 3 to 20 distinct integer labels (mapped to classes 0..k-1\n"
        "in increasing order, so 1..3 works), and regression for any other numbers; the choice and\n"
        "why are printed and saved with the model. Features (and a regression target) are\n"
        "standardized with the training rows' mean and std. The rows are split with the seed into\n"
        "test, validation and training rows (per class for classification). Training stops once\n"
        "the validation loss has not improved for --patience epochs and keeps the parameters of\n"
        "the best epoch. Progress goes to stderr. Ctrl-C stops after the current step and still\n"
        "writes the outputs for the model trained so far (exit status 130). Outputs are written\n"
        "atomically: a failed run leaves existing files and an existing model directory untouched.\n\n"
        "Large files: with --memory 512M, a CSV whose values as doubles take more than half the\n"
        "budget is converted once to its cache FILE.npy and trained from it a block of rows at a\n"
        "time, read into one buffer: batches follow a block order (blocks sized from the budget,\n"
        "their order and the rows within each shuffled with --seed), and the rows are evaluated in\n"
        "passes over the file. The budget covers the labels, index lists, seen rows, batch buffers\n"
        "and the block buffer; the program itself (about 10 MB) comes on top.\n\n"
        "Example:\n"
        "  matgrad train --csv data/wine.csv --label cultivar --save model --metrics metrics.json \\\n"
        "      --plot loss.svg\n"
        "  matgrad predict --model model --csv data/wine.csv --out predictions.csv\n");
    auto o = std::make_shared<TrainCommand>();
    cmd->add_option("--csv", o->csv, "Training data: CSV with a header line")->required();
    cmd->add_option("--label", o->label, "Name of the label (target) column (default: the last column)");
    cmd->add_option("--task", o->task, "auto, binary, multiclass or regression")
        ->check(CLI::IsMember({"auto", "binary", "multiclass", "regression"}))->capture_default_str();
    cmd->add_option("--hidden", o->hidden, "Hidden layer sizes, e.g. 64 or 32,16")->capture_default_str();
    cmd->add_option("--activation", o->activation, "Hidden activation")
        ->check(CLI::IsMember({"relu", "tanh", "sigmoid"}))->capture_default_str();
    cmd->add_option("--epochs", o->epochs, "Most passes over the training rows")->capture_default_str();
    cmd->add_option("--lr", o->lr, "Learning rate")->capture_default_str();
    cmd->add_option("--batch", o->batch, "Mini-batch size (>= the training rows: full batch)")
        ->capture_default_str();
    cmd->add_option("--optimizer", o->optimizer, "adam (AdamW with --weight-decay) or sgd")
        ->check(CLI::IsMember({"adam", "sgd"}))->capture_default_str();
    cmd->add_option("--weight-decay", o->weight_decay,
                    "L2 weight decay, decoupled for adam (AdamW)")->capture_default_str();
    cmd->add_option("--test-fraction", o->test_fraction, "Share of the rows (of each class) held out for testing")
        ->capture_default_str();
    cmd->add_option("--validation-fraction", o->validation_fraction,
                    "Share of the remaining rows held out for early stopping")->capture_default_str();
    cmd->add_option("--patience", o->patience, "Epochs without a lower validation loss before stopping (0: off)")
        ->capture_default_str();
    cmd->add_option("--evaluate-every", o->evaluate_every,
                    "Evaluate the losses (history, plot, progress, early stopping) after every k-th epoch "
                    "and the last; patience still counts epochs")
        ->capture_default_str();
    cmd->add_option("--seed", o->seed, "Seed of the split, the initialization and the batch order")
        ->check(seed_number)
        ->capture_default_str();
    cmd->add_option("--save,--out", o->save, "Model directory to write (replaced atomically; --out as in fit)");
    cmd->add_flag("--cache", o->cache,
                  "Keep the CSV's values in FILE.npy beside it (numpy-readable) and read them from there "
                  "while the CSV's size and modification time are unchanged");
    cmd->add_option("--memory", o->memory,
                    "Memory budget (e.g. 512M, 2G): a CSV whose values as doubles take more than half of it is "
                    "trained from its cache FILE.npy, a block of rows at a time (see below)")
        ->type_name("SIZE");
    cmd->add_option("--metrics", o->metrics, "Metrics JSON file to write");
    cmd->add_option("--plot", o->plot, "SVG plot of the losses per epoch to write");
    cmd->callback([o, &status] { status = run_train(*o); });
}

}  // namespace matgrad::cli
