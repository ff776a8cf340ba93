// The MODEL forms of grad, explain and verify (graph's is in cmd_graph.cpp): a model file recorded
// on a tape from its values, then the same outputs as for the slides' network.
#include "model_input.hpp"

#include <autodiff/inspect.hpp>
#include <autodiff/verify.hpp>
#include <nn/io.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>

namespace matgrad::cli {

namespace fs = std::filesystem;

int run_model_grad(const ModelOptions& o, const std::string& out, bool all, bool json, const std::string& save_values) {
    if (fs::exists(out) && !fs::is_directory(out))
        throw io::InputError(out + ": exists and is not a directory (--out)");
    io::OutputSet outputs;
    const LoadedModel m = load_model(o, &outputs);
    // Everything is computed before the first file is written, and all are renamed into place together.
    const report::ModelGradients result = report::model_gradients(m, all);
    std::vector<NpyOutput> files{{m.model.output(), "the output " + m.model.output(), &result.output}};
    for (const report::NamedGradient& g : result.gradients) files.push_back({g.name, g.what, &g.value});
    const std::vector<std::string> written = plan_npy_files(outputs, out, files);
    // --save-values: every value used, drawn or read, for the user to compute with (and --inputs);
    // planned and committed with the gradients, all or nothing.
    std::vector<NpyOutput> values;
    for (const lang::Declaration& d : m.model.declarations())
        values.push_back({d.name, "the value of " + d.name, &m.values.at(d.name)});
    const std::vector<std::string> saved =
        save_values.empty() ? std::vector<std::string>{} : plan_npy_files(outputs, save_values, values);
    write_npy_files(outputs, out, files);
    if (!save_values.empty()) write_npy_files(outputs, save_values, values);
    outputs.commit();
    char number[32];
    std::snprintf(number, sizeof number, "%.17g", result.output(0, 0));
    nlohmann::ordered_json facts = report::grad_facts(m, result);
    std::string head = m.model.output() + " = " + number + " (" + o.model + " on " + m.values_text + ")";
    if (!save_values.empty()) {
        facts["saved_values"] = {{"out", save_values}, {"files", saved}};
        head += "; wrote the values " + comma_list(saved) + " to " + save_values;
    }
    print_written(json, facts, head, out, written);
    return 0;
}

VerifyReport verify_model(const LoadedModel& m, const std::string& hand_dir, const std::map<std::string, Matrix>& hand,
                          double tol, const std::set<std::string>& one_dimensional) {
    std::vector<std::string> names;
    for (const auto& [file, value] : hand) names.push_back(file);
    Tape tape;  // an input with a dX file is a variable of this recording, so it has a true gradient
    const lang::Recording r = m.model.record(tape, m.values, {}, m.model.inputs_with_gradients(names));
    try {
        tape.backward(r.output());
    } catch (const NumericalError& e) {
        if (const std::optional<lang::Error> at = r.located(e)) throw *at;
        throw;
    }

    // Validate every file's name before judging any: d<param>, d<input> or d<named node> that has a gradient.
    for (const auto& [file, value] : hand) {
        const std::string path = (fs::path(hand_dir) / (file + ".npy")).string();
        std::string name;
        try {
            name = hand_gradient_node(file);
        } catch (const UsageError& e) {
            throw io::InputError(path + ": " + e.what());
        }
        const lang::Declaration* d = m.model.find_declaration(name);
        bool node = false;
        for (const lang::Assignment& a : m.model.assignments()) node = node || a.name == name;
        if (d == nullptr && !node)
            throw io::InputError(path + ": the model has no param, input or named node '" + name +
                                 "' (hand gradients are d<name>.npy for a param, an input or a named node)");
        if (node && !r.var(name).requires_grad())
            throw io::InputError(path + ": " + name + " does not depend on any param, so it has no gradient");
    }
    // The engine's diagnosis on this tape: the true gradients, the mutated passes of every op's
    // declared mistakes, and the first wrong step (formulas for the hints come from explain).
    VerifyOptions options;
    options.tol = tol;
    options.one_dimensional = one_dimensional;
    return verify(tape, r.output(), hand, options);
}

}  // namespace matgrad::cli
