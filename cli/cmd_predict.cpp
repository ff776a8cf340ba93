// `matgrad predict`: applies a model directory written by `matgrad train` to the rows of a CSV.
#include "commands.hpp"
#include "dataset.hpp"

#include <nn/train.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>

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

/// One line per sample: the probability of each class (with --probabilities) and the prediction.
std::string predictions_csv(const nn::Model& model, const nn::Prediction& p, bool probabilities) {
    std::string csv;
    if (probabilities)
        for (const double c : model.target.classes) csv += "probability_" + exact_text(c) + ",";
    csv += "prediction\n";
    for (std::size_t j = 0; j < p.values.shape(1); ++j) {
        if (probabilities)
            for (std::size_t i = 0; i < p.probabilities.shape(0); ++i) csv += exact_text(p.probabilities(i, j)) + ",";
        csv += exact_text(p.values(0, j)) + "\n";
    }
    return csv;
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
    const io::CsvTable table = io::read_csv(o.csv);

    // Features by name, so the column order may differ from the training CSV; the label column
    // may be present (then accuracy or R² is reported) or absent. Anything else is refused.
    std::vector<std::size_t> feature_columns;
    for (const std::string& name : model.feature_names)
        feature_columns.push_back(find_column(table, name, o.csv));
    std::size_t label_column = table.header.size();
    for (std::size_t c = 0; c < table.header.size(); ++c) {
        if (table.header[c] == model.label) {
            label_column = c;
        } else if (std::find(model.feature_names.begin(), model.feature_names.end(), table.header[c]) ==
                   model.feature_names.end()) {
            throw io::InputError(o.csv + ": column " + std::to_string(c + 1) + " '" +
                                 table.header[c] + "' is neither a feature of the model in " +
                                 o.model + " nor its label '" + model.label + "'");
        }
    }
    const Matrix X = features_by_column(table, feature_columns);
    const bool labelled = label_column < table.header.size();
    const nn::Evaluation evaluation = labelled ? naming_the_file(table, label_column, o.csv, [&] {
        return nn::evaluate(model, X, features_by_column(table, {label_column}));
    }) : nn::Evaluation{};
    const nn::Prediction prediction = model.predict(X);

    const std::string csv = predictions_csv(model, prediction, o.probabilities);
    if (o.out.empty()) {
        std::fputs(csv.c_str(), stdout);
    } else {
        outputs.write(o.out, csv);
        outputs.commit();
        std::fprintf(stderr, "wrote %zu predictions to %s\n", prediction.values.shape(1), o.out.c_str());
    }
    if (labelled && model.target.task == nn::Task::regression)
        std::fprintf(stderr, "R2 %.4f, RMSE %.4g on the %zu labelled rows of %s\n", evaluation.r2,
                     evaluation.rmse, prediction.values.shape(1), o.csv.c_str());
    else if (labelled)
        std::fprintf(stderr, "accuracy %.4f on the %zu labelled rows of %s\n", evaluation.accuracy,
                     prediction.values.shape(1), o.csv.c_str());
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
        "absent.\n\n"
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
