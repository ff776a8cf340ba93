// `matgrad predict`: applies a model directory written by `matgrad train` to the rows of a CSV.
#include "commands.hpp"
#include "dataset.hpp"
#include "model_dir.hpp"

#include <nn/losses.hpp>

#include <algorithm>
#include <cstdio>
#include <memory>

namespace matgrad::cli {
namespace {

struct PredictOptions {
    std::string model, csv, out;
};

int run_predict(const PredictOptions& o) {
    if (!o.out.empty()) io::check_output_path(o.out);
    const SavedModel model = load_model(o.model);
    const io::CsvTable table = io::read_csv(o.csv);

    // Features by name, so the column order may differ from the training CSV; the label column
    // may be present (then accuracy is reported) or absent. Anything else is refused.
    std::vector<std::size_t> feature_columns;
    for (const std::string& name : model.features)
        feature_columns.push_back(find_column(table, name, o.csv));
    std::size_t label_column = table.header.size();
    for (std::size_t c = 0; c < table.header.size(); ++c) {
        if (table.header[c] == model.label) {
            label_column = c;
        } else if (std::find(model.features.begin(), model.features.end(), table.header[c]) ==
                   model.features.end()) {
            throw io::InputError(o.csv + ": column " + std::to_string(c + 1) + " '" +
                                 table.header[c] + "' is neither a feature of the model in " +
                                 o.model + " nor its label '" + model.label + "'");
        }
    }

    const bool labelled = label_column < table.header.size();
    const Matrix Y = labelled ? binary_labels(table, label_column, o.csv) : Matrix();
    const Matrix X = standardize(features_by_column(table, feature_columns), model.mean, model.std);
    const Matrix probabilities = model.mlp.predict(X);  // 1 x rows

    std::string csv = "probability,prediction\n";
    char line[64];
    for (std::size_t r = 0; r < probabilities.shape(1); ++r) {
        const double p = probabilities(0, r);
        std::snprintf(line, sizeof line, "%.17g,%d\n", p, p >= 0.5 ? 1 : 0);
        csv += line;
    }
    if (o.out.empty()) {
        std::fputs(csv.c_str(), stdout);
    } else {
        io::write_text_file(o.out, csv);
        std::fprintf(stderr, "wrote %zu predictions to %s\n", probabilities.shape(1), o.out.c_str());
    }
    if (labelled)
        std::fprintf(stderr, "accuracy %.4f on the %zu labelled rows of %s\n",
                     nn::accuracy(probabilities, Y), probabilities.shape(1), o.csv.c_str());
    return 0;
}

}  // namespace

void add_predict_command(CLI::App& app, int& status) {
    CLI::App* cmd = app.add_subcommand(
        "predict", "Apply a model saved by `matgrad train --save` to the rows of a CSV");
    cmd->footer(
        "Writes one line per CSV row: the probability of class 1 and the 0/1 prediction\n"
        "(probability >= 0.5), under the header \"probability,prediction\". The CSV needs the\n"
        "model's feature columns by name (in any order); its label column may be present (then the\n"
        "accuracy is printed on stderr) or absent.\n\n"
        "Example:\n"
        "  matgrad train --csv data/breast_cancer.csv --save model\n"
        "  matgrad predict --model model --csv data/breast_cancer.csv --out predictions.csv\n");
    auto o = std::make_shared<PredictOptions>();
    cmd->add_option("--model", o->model, "Model directory written by matgrad train --save")->required();
    cmd->add_option("--csv", o->csv, "Rows to predict: CSV with a header line")->required();
    cmd->add_option("--out", o->out, "CSV file to write (default: standard output)");
    cmd->callback([o, &status] { status = run_predict(*o); });
}

}  // namespace matgrad::cli
