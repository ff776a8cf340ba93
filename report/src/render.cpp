// The text, LaTeX and JSON renderers, and the format names.
#include <report/latex.hpp>
#include <report/render.hpp>

#include "html.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <map>
#include <stdexcept>

namespace matgrad::report {
namespace {

using Kind = ExplainLine::Kind;
using Json = nlohmann::ordered_json;

const char* kind_name(Kind kind) {
    switch (kind) {
        case Kind::input: return "input";
        case Kind::forward: return "forward";
        case Kind::backward: return "backward";
        case Kind::note: break;
    }
    return "note";
}

Json number_or_null(double x) { return std::isnan(x) ? Json(nullptr) : Json(x); }

std::string explanation_json(const std::vector<ExplainLine>& lines, const Document& doc) {
    Json out = Json::array();
    for (const ExplainLine& l : lines) {
        const bool equation = l.kind == Kind::forward || l.kind == Kind::backward;
        out.push_back({{"kind", kind_name(l.kind)},
                       {"lhs", l.lhs},
                       {"formula", l.formula},
                       {"latex", equation ? line_latex(l) : ""},
                       {"shape", {l.shape[0], l.shape[1]}},
                       {"shapes", l.shapes},
                       {"node", l.node},
                       {"layout", l.layout},
                       {"fd_error", number_or_null(l.fd_error)}});
    }
    return Json{{"title", doc.title}, {"description", doc.description}, {"lines", out}}.dump(2) + "\n";
}

/// One `aligned` block per section; `verdicts` annotates gradients by name ("dW1" -> "ok").
std::string explanation_latex(const std::vector<ExplainLine>& lines, const Document& doc,
                              const std::map<std::string, std::string>& verdicts = {}) {
    std::string out;
    if (!doc.title.empty()) out += "% " + doc.title + "\n";
    if (!doc.description.empty()) out += "% " + doc.description + "\n";
    std::string notes;
    for (Kind section : {Kind::input, Kind::forward, Kind::backward}) {
        std::string block, comments;  // a line's comments follow its "\\", which they would hide
        for (const ExplainLine& l : lines) {
            if (l.kind != section) continue;
            if (!block.empty()) block += " \\\\\n" + comments;
            comments.clear();
            if (section == Kind::input) {
                block += to_latex(l.lhs) + " &" + shape_latex(l.shape[0], l.shape[1]) + " && " + text_latex(l.formula);
                continue;
            }
            block += line_latex(l, "&");
            if (const auto v = verdicts.find(l.lhs); v != verdicts.end()) block += " && " + text_latex("yours: " + v->second);
            if (!l.layout.empty()) comments += "% layout: " + l.layout + "\n";
            if (!std::isnan(l.fd_error)) {
                char fd[64];
                std::snprintf(fd, sizeof fd, "%.3e", l.fd_error);
                comments += std::string("% finite differences: max |error| = ") + fd + "\n";
            }
        }
        if (!block.empty()) block += "\n" + comments;
        if (block.empty()) continue;
        const char* name = section == Kind::input ? "Inputs" : section == Kind::forward ? "Forward" : "Backward (dV = dJ/dV)";
        out += std::string("% ") + name + "\n$$\n\\begin{aligned}\n" + block + "\\end{aligned}\n$$\n";
    }
    for (const ExplainLine& l : lines)
        if (l.kind == Kind::note) notes += "% note: " + l.formula + "\n";
    return out + notes;
}

std::string verify_text(const std::vector<nn::GradientReport>& reports, double tol) {
    std::vector<std::vector<std::string>> rows{{"gradient", "expected", "yours", "max |error|", "diagnosis", "hint"}};
    std::size_t ok = 0;
    for (const nn::GradientReport& r : reports) {
        char error[32] = "-";
        if (!std::isnan(r.max_abs_error)) std::snprintf(error, sizeof error, "%.3g", r.max_abs_error);
        rows.push_back({r.param, shape_text(r.expected_shape[0], r.expected_shape[1]),
                        shape_text(r.given_shape[0], r.given_shape[1]), error, r.diagnosis_text(), r.hint});
        ok += r.ok();
    }
    char tolerance[32];
    std::snprintf(tolerance, sizeof tolerance, "%g", tol);
    return format_table(rows) + "\n" + std::to_string(reports.size()) + " hand gradient" +
           (reports.size() == 1 ? "" : "s") + " checked against autodiff (tolerance " + tolerance +
           " of each gradient's scale): " + std::to_string(ok) + " ok, " + std::to_string(reports.size() - ok) +
           " wrong\n";
}

std::string verify_json(const std::vector<nn::GradientReport>& reports) {
    const std::size_t first_wrong = first_wrong_step(reports);
    Json gradients = Json::array();
    for (std::size_t k = 0; k < reports.size(); ++k) {
        const nn::GradientReport& r = reports[k];
        Json also = Json::array();
        for (nn::Diagnosis d : r.also) also.push_back(nn::diagnosis_name(d));
        // NaN is not JSON: errors against the true gradient exist only when the shapes agree.
        gradients.push_back({{"param", r.param},
                             {"diagnosis", nn::diagnosis_name(r.diagnosis)},
                             {"also", also},
                             {"factor", r.factor},
                             {"max_abs_error", number_or_null(r.max_abs_error)},
                             {"max_rel_error", number_or_null(r.max_rel_error)},
                             {"worst_index", std::isnan(r.max_abs_error) ? Json(nullptr) : Json({r.worst_row, r.worst_col})},
                             {"expected_shape", r.expected_shape},
                             {"given_shape", r.given_shape},
                             {"hint", r.hint},
                             {"first_wrong_step", k == first_wrong}});
    }
    return Json{{"gradients", gradients}}.dump(2) + "\n";
}

}  // namespace

std::string line_latex(const ExplainLine& line, const char* align) {
    // In an aligned block the shapes get a column of their own ("&&").
    return to_latex(line.lhs) + " " + align + "= " + to_latex(line.formula) + (*align ? " && " : " \\quad ") +
           shape_latex(line.shape[0], line.shape[1]);
}

Format parse_format(std::string_view name) {
    if (name == "text") return Format::text;
    if (name == "latex") return Format::latex;
    if (name == "json") return Format::json;
    if (name == "html") return Format::html;
    throw std::invalid_argument("unknown format '" + std::string(name) + "' (formats: text, latex, json, html)");
}

std::size_t first_wrong_step(const std::vector<nn::GradientReport>& reports) {
    bool intermediates = false;
    for (const nn::GradientReport& r : reports)
        intermediates = intermediates || r.param.rfind("dZ", 0) == 0 || r.param.rfind("dA", 0) == 0;
    if (!intermediates) return std::string::npos;
    for (std::size_t k = 0; k < reports.size(); ++k)
        if (!reports[k].ok()) return k;
    return std::string::npos;
}

std::string render_explanation(const std::vector<ExplainLine>& lines, Format format, const Document& doc) {
    switch (format) {
        case Format::text: {
            std::string head = doc.title.empty() ? "" : doc.title + "\n";
            if (!doc.description.empty()) head += doc.description + "\n";
            return head + (head.empty() ? "" : "\n") + format_explanation(lines);
        }
        case Format::latex: return explanation_latex(lines, doc);
        case Format::json: return explanation_json(lines, doc);
        case Format::html: return render_html(lines, nullptr, 0.0, doc);
    }
    return {};
}

std::string render_verify(const std::vector<nn::GradientReport>& reports, double tol,
                          const std::vector<ExplainLine>& lines, Format format, const Document& doc) {
    switch (format) {
        case Format::text: return verify_text(reports, tol);
        case Format::json: return verify_json(reports);
        case Format::latex: {
            std::map<std::string, std::string> verdicts;
            const std::size_t first_wrong = first_wrong_step(reports);
            for (std::size_t k = 0; k < reports.size(); ++k)
                verdicts[reports[k].param] = reports[k].diagnosis_text() + (k == first_wrong ? " (first wrong step)" : "");
            std::string hints;
            for (const nn::GradientReport& r : reports)
                if (!r.ok()) hints += "% " + r.param + ": " + r.hint + "\n";
            return explanation_latex(lines, doc, verdicts) + hints;
        }
        case Format::html: return render_html(lines, &reports, tol, doc);
    }
    return {};
}

}  // namespace matgrad::report
