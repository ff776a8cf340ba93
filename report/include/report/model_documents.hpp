// A model file's documents -- its explanation, the verdicts on a derivation, its gradients and its
// right derivation -- as `matgrad explain / verify / grad / derive MODEL` give them and
// `matgrad serve` answers them: both call these functions, so the CLI's --format json and the
// server's API say the same for the same model, values and derivation.
#pragma once

#include <lang/model.hpp>
#include <report/render.hpp>

#include <nlohmann/json.hpp>

#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace matgrad::report {

/// A parsed model with every declared name's value, and where the values came from.
struct LoadedModel {
    lang::Model model;        ///< the parsed model (its file name as given to parse)
    lang::Values values;      ///< every declared name's value
    std::string values_text;  ///< "the .npy files in DIR", "values drawn with seed 1", or both
};

/// Binds `values` (those read from files, `files_text` saying which, e.g. "the .npy files in DIR";
/// empty when none) to the model with `bind`, drawing the missing ones from its seed. Throws
/// lang::Error as Model::bind does.
LoadedModel bind_model(lang::Model model, lang::Values values, const std::string& files_text,
                       const lang::BindOptions& bind);

/// An explanation with what its document says besides the lines (title, graph).
struct Explanation {
    std::vector<ExplainLine> lines;  ///< matgrad::explain's lines
    Document doc;                    ///< title, description and the graph as DOT
};

/// `matgrad explain MODEL` (and verify's documents): the recorded model as equations, titled with
/// the file, its output and where the values came from; `check` adds finite differences. The
/// inputs in `variable_inputs` (verify's hand dX) are recorded as variables and get their own
/// Backward line.
Explanation explain_model(const LoadedModel& loaded, bool check, const std::set<std::string>& variable_inputs = {});

/// "the model FILE: output J, on VALUES": what verify's verdicts were checked against.
std::string checked_against(const LoadedModel& loaded);

/// `matgrad verify MODEL --hand FILE.mg`: the derivation `hand_text` (named `hand_file` in errors)
/// parsed against the model and checked line by line. Throws lang::Error at the derivation's line.
VerifyReport verify_derivation(const LoadedModel& loaded, std::string_view hand_text, const std::string& hand_file,
                               double tol);

/// One gradient of a recording: "dW1", what it is ("the gradient of param W1"), its value.
struct NamedGradient {
    std::string name;  ///< "dW1"
    std::string what;  ///< "the gradient of param W1"
    Matrix value;      ///< the gradient, shaped like its node
};
/// The output's value and gradients of one recording (anomaly detection on: the first value or
/// gradient that is not finite is a lang::Error at its place in the model).
struct ModelGradients {
    Matrix output;                         ///< the output's value (1x1)
    std::vector<NamedGradient> gradients;  ///< d<param> for every param; with all_nodes, d<node> too
};
/// d<param> for every param, and with `all_nodes` d<node> for every named node that depends on a
/// param, in declaration and then source order.
ModelGradients model_gradients(const LoadedModel& loaded, bool all_nodes);
/// `matgrad grad MODEL --format json`'s facts about the result: {"model", "output", "value", "values"}
/// (the CLI adds the files it wrote, the server the gradients' values).
nlohmann::ordered_json grad_facts(const LoadedModel& loaded, const ModelGradients& result);

/// `matgrad derive MODEL --format json`: {"model", "output", "values", "derivation"}, the derivation
/// as `--format mg` writes it.
std::string derive_json(const LoadedModel& loaded);

}  // namespace matgrad::report
