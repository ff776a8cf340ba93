#include <report/model_documents.hpp>

#include <lang/derivation.hpp>

#include <autodiff/inspect.hpp>

namespace matgrad::report {

LoadedModel bind_model(lang::Model model, lang::Values values, const std::string& files_text,
                       const lang::BindOptions& bind) {
    const std::size_t from_files = values.size();
    const std::map<std::string, std::size_t> dims = model.bind(values, bind);
    std::string text = files_text;
    if (values.size() > from_files)
        text += (text.empty() ? "" : " and ") + std::string("values drawn with seed ") + std::to_string(*bind.seed);
    if (bind.draw_unbound_dims && values.size() > from_files) {  // the sizes matter to a derivation: say them
        std::string sizes;
        for (const auto& [dim, size] : dims) sizes += (sizes.empty() ? "" : ", ") + dim + " = " + std::to_string(size);
        if (!sizes.empty()) text += " (" + sizes + ")";
    }
    return {std::move(model), std::move(values), text.empty() ? "no values" : text};
}

Explanation explain_model(const LoadedModel& m, bool check, const std::set<std::string>& variable_inputs) {
    Explanation e;
    e.doc.title = m.model.file() + ": output " + m.model.output() + ", on " + m.values_text + ".";
    e.doc.description = "Every equation and shape below is read from the recorded tape.";
    if (!variable_inputs.empty()) {  // verify's hand dX: the input gets its own Backward line
        e.lines = lang::explain_with_inputs(m.model, m.values, variable_inputs, &e.doc.dot);
        return e;
    }
    std::vector<Matrix> params;
    for (const std::string& name : m.model.param_names()) params.push_back(m.values.at(name));
    const GraphBuilder loss = m.model.loss(m.values);
    e.lines = explain(loss, params, m.model.param_names(), check);
    // Recorded as explain records it (the params' variables first, then the model), so DOT node
    // n<k> is ExplainLine::node k.
    Tape tape;
    std::vector<Var> vars;
    for (std::size_t k = 0; k < params.size(); ++k) vars.push_back(tape.variable(params[k], m.model.param_names()[k]));
    tape.backward(loss(tape, vars));
    e.doc.dot = tape.to_dot();
    return e;
}

std::string checked_against(const LoadedModel& m) {
    return "the model " + m.model.file() + ": output " + m.model.output() + ", on " + m.values_text;
}

VerifyReport verify_derivation(const LoadedModel& m, std::string_view hand_text, const std::string& hand_file,
                               double tol) {
    const lang::Derivation derivation = lang::Derivation::parse(hand_text, hand_file, m.model);
    VerifyOptions options;
    options.tol = tol;
    return derivation.verify(m.values, options);
}

ModelGradients model_gradients(const LoadedModel& m, bool all_nodes) {
    Tape tape;
    // The first op whose value or gradient is not finite is an error at its place in the model
    // (lang::Error for the forward pass), not a file of NaNs that matgrad's own reader refuses.
    tape.set_anomaly_detection(true);
    const lang::Recording r = m.model.record(tape, m.values);
    try {
        tape.backward(r.output());
    } catch (const NumericalError& e) {  // a non-finite gradient: at the op whose backward made it
        if (const std::optional<lang::Error> at = r.located(e)) throw *at;
        throw;
    }
    ModelGradients result;
    result.output = r.output().value();
    for (const auto& [name, var] : r.params())
        result.gradients.push_back({"d" + name, "the gradient of param " + name, var.grad()});
    if (all_nodes)
        for (const lang::Assignment& a : m.model.assignments())
            if (r.var(a.name).requires_grad())
                result.gradients.push_back({"d" + a.name, "the gradient of node " + a.name, r.var(a.name).grad()});
    return result;
}

nlohmann::ordered_json grad_facts(const LoadedModel& m, const ModelGradients& result) {
    return {{"model", m.model.file()}, {"output", m.model.output()}, {"value", result.output(0, 0)}, {"values", m.values_text}};
}

std::string derive_json(const LoadedModel& m) {
    return nlohmann::ordered_json{{"model", m.model.file()},
                                  {"output", m.model.output()},
                                  {"values", m.values_text},
                                  {"derivation", m.model.derive(m.values)}}
               .dump(2) +
           "\n";
}

}  // namespace matgrad::report
