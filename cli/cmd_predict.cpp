// `matgrad predict`: applies a model directory written by `matgrad train` to the rows of a CSV.
#include "commands.hpp"
#include "dataset.hpp"

#include <nn/train.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace matgrad::cli {
namespace {

struct PredictOptions {
    std::string model, csv, out;
    bool probabilities = false;
};

/// The shortest text that reads back as the same double ("2", "0.1", "151.234...").
std::string exact_text(double v) {
    char text[32];
    for (int digits = 1; digits <= 17; ++digits) {
        std::snprintf(text, sizeof text, "%.*g", digits, v);
        if (std::strtod(text, nullptr) == v) break;
    }
    return text;
}

/// The header line: the probability of each class (with --probabilities) and the prediction.
std::string predictions_header(const nn::Model& model, bool probabilities) {
    std::string csv;
    if (probabilities)
        for (const double c : model.target.classes) csv += "probability_" + exact_text(c) + ",";
    return csv + "prediction\n";
}

/// Appends to `numbers` one line's values per sample: the probability of each class (with
/// --probabilities), then the prediction.
void append_predictions(const nn::Prediction& p, bool probabilities, std::vector<double>& numbers) {
    for (std::size_t j = 0; j < p.values.shape(1); ++j) {
        if (probabilities)
            for (std::size_t i = 0; i < p.probabilities.shape(0); ++i) numbers.push_back(p.probabilities(i, j));
        numbers.push_back(p.values(0, j));
    }
}

/// Calls write(text) with the CSV lines of `numbers`, `per_line` values a line, a block of lines at
/// a time.
template <class Write>
void write_lines(const std::vector<double>& numbers, std::size_t per_line, Write&& write) {
    constexpr std::size_t lines_at_a_time = 8192;
    std::string csv;
    for (std::size_t k = 0; k < numbers.size(); ++k) {
        csv += exact_text(numbers[k]);
        csv += (k + 1) % per_line == 0 ? '\n' : ',';
        if ((k + 1) % (per_line * lines_at_a_time) == 0 || k + 1 == numbers.size()) {
            write(csv);
            csv.clear();
        }
    }
}

/// The first `n` columns of `m`.
Matrix first_columns(const Matrix& m, std::size_t n) {
    Matrix out({m.shape(0), n});
    for (std::size_t r = 0; r < m.shape(0); ++r) std::copy_n(m.data() + r * m.shape(1), n, out.data() + r * n);
    return out;
}

int run_predict(const PredictOptions& o) {
    io::OutputSet outputs;
    outputs.input(o.csv, "the --csv file");
    std::error_code ignored;  // a missing --model is load_model's error, below
    for (const auto& entry : std::filesystem::directory_iterator(o.model, ignored))
        outputs.input(entry.path().string(), "a file of the --model directory");
    if (!o.out.empty()) outputs.plan(o.out, "the --out predictions");
    const nn::Model model = nn::load_model(o.model);
    if (o.probabilities && model.target.task == nn::Task::regression)
        throw std::invalid_argument("--probabilities: the model in " + o.model +
                                    " is a regression model; it predicts numbers, not classes");
    io::CsvReader reader(o.csv);
    const std::vector<std::string>& header = reader.header();

    // Features by name, so the column order may differ from the training CSV; the label column
    // may be present (then accuracy or R² is reported) or absent. Any other column (an id, a name)
    // is skipped unread, so it may hold text; one note names them, as a misspelt feature lands here.
    std::vector<std::size_t> feature_columns;
    for (const std::string& name : model.feature_names) feature_columns.push_back(find_column(header, name, o.csv));
    std::size_t label_column = header.size();
    std::vector<std::size_t> ignored_columns;
    for (std::size_t c = 0; c < header.size(); ++c) {
        if (header[c] == model.label)
            label_column = c;
        else if (std::find(model.feature_names.begin(), model.feature_names.end(), header[c]) == model.feature_names.end())
            ignored_columns.push_back(c);
    }
    if (!ignored_columns.empty()) {
        std::string names;
        for (const std::size_t c : ignored_columns) names += (names.empty() ? "'" : ", '") + header[c] + "'";
        const bool one = ignored_columns.size() == 1;
        std::fprintf(stderr, "matgrad predict: %s: ignored column%s %s (not %s of the model)\n", o.csv.c_str(),
                     one ? "" : "s", names.c_str(), one ? "a feature" : "features");
    }
    // A block of rows at a time: read, evaluated, predicted and written, so memory stays small
    // whatever the size of the file.
    const bool labelled = label_column < header.size();
    constexpr std::size_t block = 8192;
    Matrix X({feature_columns.size(), block}), y({std::size_t{1}, block});
    std::vector<io::ColumnTarget> targets =
        feature_and_label_targets(header.size(), feature_columns, label_column, X, y);
    for (const std::size_t c : ignored_columns) targets[c].skip = true;
    // To a file: streamed to a temporary, published only once every row is written (outputs only
    // checked the path: it holds no whole file in memory). To stdout: nothing is printed before
    // every row is read, so a row refused near the end leaves no predictions half printed; they
    // are kept as numbers meanwhile (8 bytes a value, less than the text they come from).
    std::optional<io::AtomicFileWriter> file;
    if (!o.out.empty()) file.emplace(o.out);
    const auto write = [&](const std::string& text) { file ? file->write(text) : (void)std::fputs(text.c_str(), stdout); };
    const std::size_t per_line = o.probabilities ? model.target.classes.size() + 1 : 1;
    std::vector<double> predictions;
    if (file) write(predictions_header(model, o.probabilities));
    // The labelled rows the model never learnt from are evaluated on their own as well: on rows it
    // was fitted or validated on, the metric overstates how it does on new data.
    nn::Evaluator evaluator(model), unseen_evaluator(model);
    Matrix unseen_X({feature_columns.size(), block}), unseen_y({std::size_t{1}, block});
    std::size_t seen = 0;
    std::size_t rows = 0;
    while (const std::size_t got = reader.read(targets, 0, X.shape(1))) {
        if (got < X.shape(1)) {  // the last block
            X = first_columns(X, got);
            y = first_columns(y, got);
        }
        if (labelled) {
            naming_the_file(header, label_column, o.csv, [&] { evaluator.add(X, y); }, rows);
            const std::vector<bool> saw = model.saw(X);
            std::size_t unseen = 0;
            for (std::size_t j = 0; j < got; ++j) {
                if (saw[j]) continue;
                for (std::size_t i = 0; i < X.shape(0); ++i) unseen_X(i, unseen) = X(i, j);
                unseen_y(0, unseen++) = y(0, j);
            }
            seen += got - unseen;
            if (unseen > 0) unseen_evaluator.add(first_columns(unseen_X, unseen), first_columns(unseen_y, unseen));
        }
        append_predictions(model.predict(X), o.probabilities, predictions);
        if (file) {
            write_lines(predictions, per_line, write);
            predictions.clear();
        }
        rows += got;
    }
    if (!file) {
        write(predictions_header(model, o.probabilities));
        write_lines(predictions, per_line, write);
    }
    const nn::Evaluation evaluation = evaluator.result();
    if (file) {
        file->commit();
        std::fprintf(stderr, "wrote %zu predictions to %s\n", rows, o.out.c_str());
    }
    if (!labelled) return 0;
    const bool regression = model.target.task == nn::Task::regression;
    const auto metric = [&](const nn::Evaluation& e) {
        char text[64];
        if (regression)
            std::snprintf(text, sizeof text, "R2 %.4f, RMSE %.4g", e.r2, e.rmse);
        else
            std::snprintf(text, sizeof text, "accuracy %.4f", e.accuracy);
        return std::string(text);
    };
    std::fprintf(stderr, "%s on the %zu labelled rows of %s\n", metric(evaluation).c_str(), rows, o.csv.c_str());
    if (seen == rows)
        std::fprintf(stderr, "note: the model was fitted or validated on every one of these rows, so this is no "
                             "estimate of how it does on new data\n");
    else if (seen > 0)
        std::fprintf(stderr, "note: the model was fitted or validated on %zu of these rows, so this overstates how "
                             "it does on new data; on the other %zu rows: %s\n",
                     seen, rows - seen, metric(unseen_evaluator.result()).c_str());
    return 0;
}

}  // namespace

void add_predict_command(CLI::App& app, int& status) {
    CLI::App* cmd = app.add_subcommand(
        "predict", "Apply a model saved by `matgrad train --save` to the rows of a CSV");
    cmd->footer(
        "Writes one line per CSV row under the header \"prediction\": the predicted class label (as\n"
        "in the training CSV) or the predicted target (in its units). With --probabilities a\n"
        "classifier's lines start with the probability of each class, in columns\n"
        "probability_<label>. The CSV needs the model's feature columns by name (in any order); its\n"
        "label column may be present (then the accuracy, or R2 and RMSE, is printed on stderr) or\n"
        "absent; any other column is skipped unread (it may hold text), with a note on stderr.\n"
        "Rows the model was fitted or validated on (known by their fingerprints in the model\n"
        "directory's seen_rows.npy) are counted in a note, with the metric on the other rows alone.\n"
        "Rows are read and predicted a block at a time, so the file may be larger than memory;\n"
        "--out is written atomically, while on standard output the lines of the blocks before a bad\n"
        "row have already been printed when it is refused.\n\n"
        "Example:\n"
        "  matgrad train --csv data/wine.csv --save model\n"
        "  matgrad predict --model model --csv data/wine.csv --probabilities --out predictions.csv\n");
    auto o = std::make_shared<PredictOptions>();
    cmd->add_option("--model", o->model, "Model directory written by matgrad train --save")->required();
    cmd->add_option("--csv", o->csv, "Rows to predict: CSV with a header line")->required();
    cmd->add_option("--out", o->out, "CSV file to write (default: standard output)");
    cmd->add_flag("--probabilities", o->probabilities, "Also write each class's probability (classifiers)");
    cmd->callback([o, &status] { status = run_predict(*o); });
}

}  // namespace matgrad::cli
