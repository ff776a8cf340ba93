// A derivation file parsed against a model and judged line by line: each gradient line's value
// (from your own earlier lines) by matgrad::verify, and its step (the same formula on the true
// values of the gradients it uses).
#include "program.hpp"

#include <lang/derivation.hpp>

#include <algorithm>
#include <set>

namespace matgrad::lang {

namespace {

/// The derivation lines (indices) that the expression `root` names directly.
std::vector<std::size_t> lines_used(const Model::Impl& p, std::uint32_t root) {
    std::vector<std::size_t> used;
    std::vector<std::uint32_t> stack{root};
    while (!stack.empty()) {
        const Node& n = p.nodes[stack.back()];
        stack.pop_back();
        if (n.kind == NodeKind::ref && n.slot >= p.declarations.size()) used.push_back(n.slot - p.declarations.size());
        stack.insert(stack.end(), n.children.begin(), n.children.end());
    }
    std::sort(used.begin(), used.end());
    used.erase(std::unique(used.begin(), used.end()), used.end());
    return used;
}

}  // namespace

Derivation::Derivation(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Derivation::Derivation(Derivation&&) noexcept = default;
Derivation& Derivation::operator=(Derivation&&) noexcept = default;
Derivation::~Derivation() = default;

const std::string& Derivation::file() const { return impl_->program.file; }
const std::vector<DerivationLine>& Derivation::lines() const { return impl_->lines; }
const Model& Derivation::model() const { return *impl_->model; }

Derivation Derivation::parse(std::string_view source, std::string file, const Model& model) {
    return Derivation(parse_derivation(source, std::move(file), model));
}

std::unique_ptr<Derivation::Impl> parse_derivation(std::string_view source, std::string file, const Model& model) {
    auto impl = std::make_unique<Derivation::Impl>();
    impl->model = &model;
    Model::Impl& p = impl->program;
    p.file = std::move(file);
    p.source = std::string(source);
    p.derivation = true;
    p.preset_file = model.file();
    // The model's names, in the order of its Recording's slots: declarations (with their shapes,
    // which give the dimensions' sizes), then named nodes (values only).
    std::vector<Declaration> names = model.declarations();
    for (const Assignment& a : model.assignments()) {
        Declaration d;
        d.name = a.name;
        d.line = a.line;
        d.column = a.column;
        names.push_back(d);
    }
    for (Declaration& d : names) p.declare(std::move(d));
    p.presets = p.declarations.size();
    p.preset_nodes = model.assignments().size();
    parse_program(p);

    for (std::size_t k = 0; k < p.assignments.size(); ++k) {
        const Assignment& a = p.assignments[k];
        DerivationLine line{a.name, "", a.expression, a.line, a.column};
        const auto of = a.name.size() > 1 && a.name[0] == 'd' ? p.slots.find(a.name.substr(1)) : p.slots.end();
        if (of != p.slots.end() && of->second < p.presets) line.of = a.name.substr(1);
        impl->lines.push_back(std::move(line));
        impl->uses.push_back(lines_used(p, p.roots[k]));
    }
    return impl;
}

VerifyReport Derivation::verify(const Values& values, const VerifyOptions& options) const {
    const Model::Impl& p = impl_->program;
    const std::vector<DerivationLine>& lines = impl_->lines;
    const std::size_t n = lines.size();
    // The inputs the derivation differentiates are variables of this recording only: their true
    // gradients come from the same backward() as the params'.
    std::vector<std::string> gradients;
    for (const DerivationLine& l : lines)
        if (!l.of.empty()) gradients.push_back(l.name);
    Tape tape;
    const Recording r = impl_->model->record(tape, values, {}, impl_->model->inputs_with_gradients(gradients));
    tape.backward(r.output());
    for (const DerivationLine& l : lines)
        if (!l.of.empty() && !r[impl_->model->index_of(l.of)].requires_grad())
            throw p.error(l.line, l.column, "'" + l.of + "' does not depend on any param of the model (nor on an "
                                             "input with a d line here), so it has no gradient to check");

    // The lines evaluated twice on one tape of constants: on your values (mine) and, for the step,
    // on the true gradients of the gradient lines (truth).
    Tape work;
    std::vector<Var> mine, truth;
    for (std::size_t k = 0; k < p.presets; ++k) mine.push_back(work.constant(r[k].value()));
    truth = mine;
    std::vector<std::string> error(n), step_error(n);
    std::vector<std::ptrdiff_t> cause(n, -1);  // the line whose own evaluation failed, on your values
    std::vector<Matrix> step_value(n);
    std::vector<Matrix> true_gradient(n);
    std::map<std::string, Matrix> hand;
    for (std::size_t i = 0; i < n; ++i) {
        const DerivationLine& l = lines[i];
        for (const std::size_t j : impl_->uses[i])
            if (cause[j] >= 0 && cause[i] < 0) cause[i] = cause[j];
        if (cause[i] < 0) {
            try {
                mine.push_back(evaluate(p, work, mine, p.roots[i]));
                if (!l.of.empty()) hand.emplace(l.name, mine.back().value());
            } catch (const Error& e) {
                error[i] = e.message();
                cause[i] = static_cast<std::ptrdiff_t>(i);
            }
        }
        if (cause[i] >= 0) mine.emplace_back();
        // A helper whose step failed has no value on the true gradients: the lines using it have none either.
        for (const std::size_t j : impl_->uses[i])
            if (!step_error[j].empty() && step_error[i].empty() && lines[j].of.empty())
                step_error[i] = lines[j].name + " (line " + std::to_string(lines[j].line) + "): " + step_error[j];
        Var step;
        if (step_error[i].empty()) {
            try {
                step = evaluate(p, work, truth, p.roots[i]);
            } catch (const Error& e) {
                step_error[i] = e.message();
            }
        }
        if (l.of.empty()) {
            truth.push_back(step);  // a helper that failed here fails every line that uses it
            continue;
        }
        true_gradient[i] = r[impl_->model->index_of(l.of)].grad();
        if (step_error[i].empty()) step_value[i] = step.value();
        truth.push_back(work.constant(true_gradient[i]));
    }
    VerifyReport values_report;
    if (!hand.empty()) values_report = matgrad::verify(tape, r.output(), hand, options);

    // The gradient lines each uses, through helpers.
    std::vector<std::vector<std::size_t>> inputs(n);
    for (std::size_t i = 0; i < n; ++i)
        for (const std::size_t j : impl_->uses[i]) {
            if (!lines[j].of.empty()) inputs[i].push_back(j);
            else inputs[i].insert(inputs[i].end(), inputs[j].begin(), inputs[j].end());
        }

    VerifyReport report;
    report.reverse_passes = values_report.reverse_passes;
    for (std::size_t i = 0; i < n; ++i) {
        const DerivationLine& l = lines[i];
        if (!l.of.empty()) continue;
        HelperReport h{l.name, l.line, l.formula, {}, ""};
        if (cause[i] < 0) {
            h.shape = {mine[p.presets + i].rows(), mine[p.presets + i].cols()};
            if (!step_error[i].empty()) h.error = "on the true gradients it uses: " + step_error[i];
        } else {
            const std::size_t c = static_cast<std::size_t>(cause[i]);
            h.error = c == i ? error[i] : "uses " + lines[c].name + " (line " + std::to_string(lines[c].line) +
                                              "), which cannot be evaluated";
        }
        report.helpers.push_back(std::move(h));
    }
    std::vector<bool> wrong(n, false);
    for (std::size_t i = 0; i < n; ++i) {
        const DerivationLine& l = lines[i];
        if (l.of.empty()) continue;
        GradientReport g;
        const auto found = std::find_if(values_report.gradients.begin(), values_report.gradients.end(),
                                        [&](const GradientReport& v) { return v.name == l.name; });
        if (found != values_report.gradients.end()) {
            g = *found;
        } else {
            g.name = l.name;
            g.expected_shape = {true_gradient[i].shape(0), true_gradient[i].shape(1)};
            const std::size_t c = static_cast<std::size_t>(cause[i]);
            if (c == i || lines[c].of.empty()) {
                g.diagnosis = "shape_mismatch";
                g.hint = c == i ? error[i] : lines[c].name + " (line " + std::to_string(lines[c].line) + "): " + error[c];
            } else {
                g.diagnosis = "not_evaluated";
                g.hint = l.name + " uses " + lines[c].name + " (line " + std::to_string(lines[c].line) +
                         "), which cannot be evaluated";
            }
        }
        g.consequence_of.clear();
        g.line = l.line;
        g.formula = l.formula;
        const bool step_ok = step_error[i].empty() &&
                             diagnose_gradient(l.name, "", step_value[i], true_gradient[i], {}, {}, options.tol).ok();
        g.step = step_ok ? "ok" : "wrong";
        if (!step_error[i].empty() && g.diagnosis != "shape_mismatch")
            g.hint += (g.hint.empty() ? "" : "; ") + std::string("on the true gradients it uses: ") + step_error[i];
        wrong[i] = !g.ok();
        if (step_ok && !g.ok()) {  // right given its inputs: the wrong value comes from them
            std::vector<std::size_t> from = inputs[i];
            std::sort(from.begin(), from.end());
            from.erase(std::unique(from.begin(), from.end()), from.end());
            for (const std::size_t j : from)
                if (wrong[j]) g.consequence_of += (g.consequence_of.empty() ? "" : ", ") + lines[j].name;
        }
        if (!step_ok && report.first_wrong_step.empty()) report.first_wrong_step = l.name;
        report.gradients.push_back(std::move(g));
    }
    return report;
}

}  // namespace matgrad::lang
