// The text, LaTeX and JSON renderers, and the format names.
#include <report/latex.hpp>
#include <report/render.hpp>

#include "html.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
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

/// One `aligned` block per section; `verdicts` annotates gradients by name, in LaTeX
/// ("dW1" -> "\\text{yours: ok}").
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
            if (const auto v = verdicts.find(l.lhs); v != verdicts.end()) block += " && " + v->second;
            if (!l.layout.empty()) comments += "% layout: " + l.layout + "\n";
            if (!std::isnan(l.fd_error)) {
                char fd[64];
                std::snprintf(fd, sizeof fd, "%.3e", l.fd_error);
                comments += std::string("% finite differences: max |error| = ") + fd + "\n";
            }
        }
        if (!block.empty()) block += "\n" + comments;
        if (block.empty()) continue;
        const std::string name = section == Kind::input ? "Inputs" : section == Kind::forward ? "Forward" : backward_heading(lines);
        out += "% " + name + "\n$$\n\\begin{aligned}\n" + block + "\\end{aligned}\n$$\n";
    }
    for (const ExplainLine& l : lines)
        if (l.kind == Kind::note) notes += "% note: " + l.formula + "\n";
    return out + notes;
}

// The verdicts' table: what they were checked against, the rows, the count of `what` checked, and the
// first wrong step with `why` after it.
std::string verdict_table(const VerifyReport& report, const std::string& model, double tol,
                          const std::vector<std::vector<std::string>>& rows, std::size_t ok, const std::string& what,
                          const std::string& why) {
    const std::size_t n = report.gradients.size();
    char tolerance[32];
    std::snprintf(tolerance, sizeof tolerance, "%g", tol);
    std::string out = (model.empty() ? "" : "checking against " + model + "\n\n") + format_table(rows) + "\n" +
                      std::to_string(n) + " " + what + (n == 1 ? "" : "s") +
                      " checked against autodiff (tolerance " + tolerance + " of each gradient's scale): " +
                      std::to_string(ok) + " ok, " + std::to_string(n - ok) + " wrong\n";
    if (!report.first_wrong_step.empty()) out += "first wrong step: " + report.first_wrong_step + why + "\n";
    return out;
}

// A derivation file's lines in file order, helpers too: the formula as written, the value's verdict
// and the step's, an arrow at the first wrong step.
std::string derivation_text(const VerifyReport& report, const std::string& model, double tol) {
    std::vector<std::pair<std::size_t, std::vector<std::string>>> by_line;  // gradient and helper rows
    std::size_t ok = 0;
    std::string first_line;
    for (const HelperReport& h : report.helpers)
        by_line.push_back({h.line, {"", std::to_string(h.line), h.name + " = " + h.formula, helper_verdict(h), "", h.error}});
    for (const GradientReport& r : report.gradients) {
        std::string mark = r.ok() ? "✓" : "✗";
        if (r.name == report.first_wrong_step) {
            mark = "→ ✗";
            first_line = std::to_string(r.line);
        }
        std::string value = r.diagnosis_text();
        if (!r.node.empty()) value += " at " + r.node;
        std::string step = r.step;
        if (!r.consequence_of.empty()) step += " (follows from " + r.consequence_of + ")";
        by_line.push_back({r.line, {mark, std::to_string(r.line), r.name + " = " + r.formula, value, step, r.ok() ? "" : r.hint}});
        ok += r.ok();
    }
    std::stable_sort(by_line.begin(), by_line.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::vector<std::string>> rows{{"", "line", "yours", "value", "step", "hint"}};
    for (auto& [line, row] : by_line) rows.push_back(std::move(row));
    return verdict_table(report, model, tol, rows, ok, "gradient line",
                         " (line " + first_line + "), the first line that is wrong given the true values of the "
                                                  "gradients it uses");
}

// The derivation's lines in reverse-pass order, ✓ or ✗, and an arrow at the first wrong step.
std::string verify_text(const VerifyReport& report, const std::string& model, double tol) {
    if (!report.helpers.empty() || (!report.gradients.empty() && report.gradients.front().line > 0))
        return derivation_text(report, model, tol);
    std::vector<std::vector<std::string>> rows{{"", "gradient", "expected", "yours", "max |error|", "diagnosis", "hint"}};
    std::size_t ok = 0;
    for (const GradientReport& r : report.gradients) {
        char error[32] = "-";
        if (!std::isnan(r.max_abs_error)) std::snprintf(error, sizeof error, "%.3g", r.max_abs_error);
        std::string mark = r.ok() ? "✓" : "✗";
        if (r.name == report.first_wrong_step) mark = "→ ✗";
        std::string diagnosis = r.diagnosis_text();
        if (!r.node.empty()) diagnosis += " at " + r.node;
        if (!r.consequence_of.empty()) diagnosis += " (follows from " + r.consequence_of + ")";
        rows.push_back({mark, r.name, shape_text(r.expected_shape[0], r.expected_shape[1]),
                        shape_text(r.given_shape[0], r.given_shape[1]), error, diagnosis, r.hint});
        ok += r.ok();
    }
    return verdict_table(report, model, tol, rows, ok, "hand gradient",
                         " (the earliest line of the derivation whose own inputs are right)");
}

std::string verify_json(const VerifyReport& report) {
    auto string_or_null = [](const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); };
    Json gradients = Json::array();
    for (const GradientReport& r : report.gradients) {
        // NaN is not JSON: errors against the true gradient exist only when the shapes agree.
        Json g = {{"name", r.name},
                             {"diagnosis", r.diagnosis},
                             {"also", r.also},
                             {"node", string_or_null(r.node)},
                             {"op", string_or_null(r.op)},
                             {"factor", r.factor},
                             {"max_abs_error", number_or_null(r.max_abs_error)},
                             {"expected_shape", r.expected_shape},
                             {"given_shape", r.given_shape},
                             {"hint", r.hint},
                             {"consequence_of", string_or_null(r.consequence_of)},
                             // kept for scripts written against the first version:
                             {"param", r.name},
                             {"max_rel_error", number_or_null(r.max_rel_error)},
                             {"worst_index", std::isnan(r.max_abs_error) ? Json(nullptr) : Json({r.worst_row, r.worst_col})}};
        if (r.line > 0) {  // a line of a derivation file
            g["line"] = r.line;
            g["formula"] = r.formula;
            g["step"] = r.step;
        }
        gradients.push_back(std::move(g));
    }
    Json json{{"gradients", gradients}, {"first_wrong_step", string_or_null(report.first_wrong_step)}};
    if (!report.helpers.empty()) {  // a derivation's helper lines
        Json helpers = Json::array();
        for (const HelperReport& h : report.helpers)
            helpers.push_back({{"name", h.name},
                               {"line", h.line},
                               {"formula", h.formula},
                               {"verdict", "helper"},
                               {"shape", h.shape[0] == 0 ? Json(nullptr) : Json(h.shape)},
                               {"error", string_or_null(h.error)}});
        json["helpers"] = std::move(helpers);
    }
    return json.dump(2) + "\n";
}

}  // namespace

std::string helper_verdict(const HelperReport& h) {
    return h.shape[0] == 0 ? "helper, not evaluated" : "helper, " + shape_text(h.shape[0], h.shape[1]);
}

std::string helper_latex(const HelperReport& h, const char* align) {
    return to_latex(h.name) + " " + align + "= " + to_latex(h.formula) + (*align ? " && " : " \\quad ") +
           (h.shape[0] == 0 ? "" : shape_latex(h.shape[0], h.shape[1]) + (*align ? " && " : " \\quad ")) +
           text_latex("helper (line " + std::to_string(h.line) + ")" + (h.shape[0] == 0 ? ", not evaluated" : ""));
}

std::string line_latex(const ExplainLine& line, const char* align) {
    // In an aligned block the shapes get a column of their own ("&&").
    return to_latex(line.lhs) + " " + align + "= " + to_latex(line.formula) + (*align ? " && " : " \\quad ") +
           shape_latex(line.shape[0], line.shape[1]);
}

std::string xml_escape(std::string_view text) {
    std::string out;
    for (const char c : text) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&apos;"; break;
            default: out += c;
        }
    }
    return out;
}

Format parse_format(std::string_view name) {
    if (name == "text") return Format::text;
    if (name == "latex") return Format::latex;
    if (name == "json") return Format::json;
    if (name == "html") return Format::html;
    throw std::invalid_argument("unknown format '" + std::string(name) + "' (formats: text, latex, json, html)");
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

std::string render_verify(const VerifyReport& report, const std::string& model, double tol,
                          const std::vector<ExplainLine>& lines, Format format, const Document& doc) {
    switch (format) {
        case Format::text: return verify_text(report, model, tol);
        case Format::json: return verify_json(report);
        case Format::latex: {
            std::map<std::string, std::string> verdicts;
            for (const GradientReport& r : report.gradients) {
                const std::string mark = r.name == report.first_wrong_step ? " (first wrong step)" : "";
                // A derivation's line: your formula typeset beside the right one, the value's and the step's verdicts.
                verdicts[r.name] = r.line == 0 ? text_latex("yours: " + r.diagnosis_text() + mark)
                                               : text_latex("yours (line " + std::to_string(r.line) + "): ") +
                                                     to_latex(r.name + " = " + r.formula) + " \\quad " +
                                                     text_latex(r.diagnosis_text() + ", step " + r.step + mark);
            }
            std::string hints;
            for (const GradientReport& r : report.gradients)
                if (!r.ok()) hints += "% " + r.name + ": " + r.hint + "\n";
            std::string helpers;  // a derivation's helper lines, typeset as written
            for (const HelperReport& h : report.helpers) {
                helpers += (helpers.empty() ? "" : " \\\\\n") + helper_latex(h, "&");
                if (!h.error.empty()) hints += "% " + h.name + ": " + h.error + "\n";
            }
            if (!helpers.empty()) helpers = "% Your helper lines\n$$\n\\begin{aligned}\n" + helpers + "\n\\end{aligned}\n$$\n";
            return explanation_latex(lines, doc, verdicts) + helpers + hints;
        }
        case Format::html: return render_html(lines, &report, tol, doc);
    }
    return {};
}

}  // namespace matgrad::report
