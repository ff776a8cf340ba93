// matgrad derive: the model's right derivation written in the model language. Reverse mode on the
// parsed expression trees: each operator or function contributes its operands' gradients by its
// op's rule in the language (InputRule::code, the op registry's one definition); shapes come from
// one recording, so a broadcast operand's gradient is summed back to its shape.
#include "program.hpp"

#include <autodiff/registry.hpp>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string_view>

namespace matgrad::lang {

namespace {

std::string number_text(double x) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", x);
    return buf;
}

/// "(1 - Y)" is already one operand; "(a) + (b)" is not.
bool parenthesized(const std::string& text) {
    if (text.size() < 2 || text.front() != '(' || text.back() != ')') return false;
    int depth = 0;
    for (std::size_t i = 0; i + 1 < text.size(); ++i) {
        depth += text[i] == '(' ? 1 : text[i] == ')' ? -1 : 0;
        if (depth == 0) return false;
    }
    return true;
}

/// The tail of the sum and mean rules in the language (InputRule::code in reduction_ops.cpp): it
/// broadcasts the gradient back to the operand's shape. Often a later element-wise op broadcasts it
/// anyway, and then the derivation reads better without it.
constexpr std::string_view broadcast_back = " + 0 * {0}";

/// The names a derivation's helpers must not take: the model's names and dimensions.
std::set<std::string> model_names(const Model::Impl& m) {
    std::set<std::string> taken(m.dims.begin(), m.dims.end());
    for (const auto& [name, slot] : m.slots) taken.insert(name);
    return taken;
}

/// The first helper name g<N> after g<number> that the model does not use; `number` moves to N.
std::string next_helper_name(std::size_t& number, const std::set<std::string>& taken) {
    std::string name;
    do name = "g" + std::to_string(++number);
    while (taken.count(name));
    return name;
}

/// One line of a derivation: name = formula; helpers are the g1, g2, ... of unnamed intermediates.
struct KeyLine {
    std::string name, formula;
    bool helper = false;
};

std::string key_text(const std::vector<KeyLine>& lines) {
    std::string text;
    for (const KeyLine& l : lines) text += l.name + " = " + l.formula + "\n";
    return text;
}

class Deriver {
public:
    /// `elided`: the nodes (a sum or a mean) whose gradient is written without broadcast_back.
    Deriver(const Model::Impl& m, const std::vector<NodeInfo>& info, const std::vector<Var>& slots,
            const std::set<std::uint32_t>& elided = {})
        : m_(m), info_(info), slots_(slots), elided_(elided), contributions_(slots.size()), taken_(model_names(m)) {}

    /// The nodes whose rule ends in broadcast_back, in the order run() met them.
    const std::vector<std::uint32_t>& broadcast_sites() const { return sites_; }

    std::vector<KeyLine> run() {
        const std::size_t decls = m_.declarations.size();
        const std::size_t out = m_.output_slot;
        if (!slots_[out].requires_grad()) {
            const Assignment& a = m_.assignments[out - decls];
            throw m_.error(a.line, a.column, "derive: the output " + a.name + " depends on no param: nothing to derive");
        }
        contributions_[out].push_back("1");
        for (std::size_t slot = out + 1; slot-- > decls;) {
            const std::uint32_t root = m_.roots[slot - decls];
            if (contributions_[slot].empty() || !slots_[slot].requires_grad()) continue;
            if (m_.nodes[root].kind == NodeKind::ref) {  // B = A: the same node, its gradient A's
                auto& to = contributions_[m_.nodes[root].slot];
                to.insert(to.end(), contributions_[slot].begin(), contributions_[slot].end());
                continue;
            }
            const std::string name = "d" + m_.slot_name(static_cast<std::uint32_t>(slot));
            line(name, sum(contributions_[slot]));
            backward(root, name, slot);
        }
        for (std::size_t slot = decls; slot-- > 0;)  // the params, last declared first
            if (m_.declarations[slot].kind == Declaration::Kind::param && !contributions_[slot].empty())
                line("d" + m_.declarations[slot].name, sum(contributions_[slot]));
        return lines_;
    }

private:
    void line(const std::string& name, const std::string& formula, bool helper = false) {
        lines_.push_back({name, formula, helper});
    }

    static std::string sum(const std::vector<std::string>& terms) {
        if (terms.size() == 1) return terms.front();
        std::string s;
        for (const std::string& t : terms) {
            // neg's rule gives "-g5": written as a subtraction, not "+ (-g5)".
            const std::string negated = t.size() > 1 && t[0] == '-' ? t.substr(1) : "";
            if (!s.empty() && (simple(negated) || parenthesized(negated))) s += " - " + negated;
            else s += (s.empty() ? "" : " + ") + (simple(t) ? t : "(" + t + ")");
        }
        return s;
    }



    /// A generated gradient's text that needs no helper line: a name or a number ("dZ1", "g3", "1").
    static bool simple(const std::string& text) {
        for (const char c : text)
            if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
        return !text.empty();
    }

    std::string fresh() { return next_helper_name(helpers_, taken_); }

    /// The text of node k as an operand: the assignment's name for a root, else as written.
    std::string operand(std::uint32_t k, std::size_t root_slot, std::uint32_t root) const {
        const Node& n = m_.nodes[k];
        if (k == root) return m_.slot_name(static_cast<std::uint32_t>(root_slot));
        if (n.kind == NodeKind::number) return n.number < 0 ? "(" + number_text(n.number) + ")" : number_text(n.number);
        const std::string text = m_.text(n);
        return n.kind == NodeKind::ref || n.kind == NodeKind::dim || n.kind == NodeKind::call || parenthesized(text)
                   ? text
                   : "(" + text + ")";
    }

    /// The op whose rule gives node n's operands' gradients.
    const OpDef* op_of(const Node& n) const {
        switch (n.kind) {
            case NodeKind::neg: return find_op("neg");
            case NodeKind::transpose: return find_op("transpose");
            case NodeKind::call: return n.function;
            case NodeKind::binary: break;
            default: return nullptr;
        }
        const NodeInfo &a = info_[n.children[0]], &b = info_[n.children[1]];
        auto scalar = [&](std::size_t i, const NodeInfo& x) {
            return m_.nodes[n.children[i]].kind == NodeKind::number || (x.rows == 1 && x.cols == 1);
        };
        switch (n.op) {
            case BinaryOp::add: return find_op("add");
            case BinaryOp::sub: return find_op("sub");
            case BinaryOp::mul: return find_op("mul");
            case BinaryOp::div:
            case BinaryOp::scalar_div: return find_op("div");
            case BinaryOp::product: return scalar(0, a) || scalar(1, b) ? find_op("mul") : find_op("matmul");
            case BinaryOp::matmul: return find_op("matmul");
            default: return find_op("pow");
        }
    }

    /// Gives node k (of the assignment in root_slot) the gradient named g, and its operands theirs.
    void backward(std::uint32_t k, const std::string& g, std::size_t root_slot) {
        const std::uint32_t root = m_.roots[root_slot - m_.declarations.size()];
        const Node& n = m_.nodes[k];
        if (n.kind == NodeKind::ref) {
            contributions_[n.slot].push_back(g);
            return;
        }
        const OpDef* def = op_of(n);
        if (def == nullptr) return;  // a number or a dimension: no gradient
        for (std::size_t i = 0; i < n.children.size(); ++i) {
            const std::uint32_t child = n.children[i];
            const Node& c = m_.nodes[child];
            if (c.kind == NodeKind::number || c.kind == NodeKind::dim || !info_[child].requires_grad) continue;
            const std::size_t input = i;  // operands as written (.^'s exponent is a number, skipped)
            std::string_view code = input < def->inputs.size() ? def->inputs[input].code : "";
            if (code.empty())
                throw m_.error(n.line, n.column, "derive: the op " + std::string(def->name) +
                                                     " has no rule in the model language (InputRule::code)");
            if (code.size() > broadcast_back.size() && code.substr(code.size() - broadcast_back.size()) == broadcast_back) {
                sites_.push_back(k);
                if (elided_.count(k)) code.remove_suffix(broadcast_back.size());
            }
            std::string text = substitute(std::string(code), n, k, g, root_slot, root);
            const NodeInfo &in = info_[child], &out = info_[k];
            if (def->kind == OpKind::broadcasting && (in.rows != out.rows || in.cols != out.cols)) {
                // As a teacher writes it: db = rowsum(dZ) for a bias broadcast over the columns.
                const bool rows_kept = in.rows == out.rows, cols_kept = in.cols == out.cols;
                text = (rows_kept ? "rowsum(" : cols_kept ? "colsum(" : "sum(") + text + ")";
            }
            if (c.kind == NodeKind::ref) {
                contributions_[c.slot].push_back(text);
                continue;
            }
            std::string name = text;
            if (!simple(text)) {
                name = fresh();
                line(name, text, true);
            }
            backward(child, name, root_slot);
        }
    }

    std::string substitute(const std::string& code, const Node& n, std::uint32_t k, const std::string& g,
                           std::size_t root_slot, std::uint32_t root) const {
        std::string out;
        for (std::size_t i = 0; i < code.size(); ++i) {
            const std::size_t close = code[i] == '{' ? code.find('}', i) : std::string::npos;
            if (close == std::string::npos) {
                out += code[i];
                continue;
            }
            const std::string key = code.substr(i + 1, close - i - 1);
            i = close;
            if (key == "g") {
                out += g;
            } else if (key == "out") {
                out += operand(k, root_slot, root);
            } else if (key == "N") {
                const NodeInfo &x = info_[n.children[0]], &y = info_[k];
                out += std::to_string((x.rows * x.cols) / (y.rows * y.cols));
            } else if (key == "0" || key == "1") {
                const std::size_t which = static_cast<std::size_t>(key[0] - '0');
                // A binary operator's operands are its children; a number operand is one of them.
                out += operand(n.children.at(which), root_slot, root);
            } else {  // a numeric parameter by name: pow's p (the exponent of .^)
                const OpDef* def = op_of(n);
                std::size_t p = 0;
                while (p < def->params.size() && key != def->params[p]) ++p;
                const double value = n.kind == NodeKind::binary ? n.numbers.at(0) : n.numbers.at(p);
                out += value < 0 ? "(" + number_text(value) + ")" : number_text(value);
            }
        }
        return out;
    }

    const Model::Impl& m_;
    const std::vector<NodeInfo>& info_;
    const std::vector<Var>& slots_;
    const std::set<std::uint32_t> elided_;
    std::vector<std::uint32_t> sites_;
    std::vector<std::vector<std::string>> contributions_;  // per slot: the terms of its gradient
    std::set<std::string> taken_;
    std::size_t helpers_ = 0;
    std::vector<KeyLine> lines_;
};

/// A byte of a name (ASCII letters, digits, _, and any byte of a UTF-8 letter).
bool name_byte(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || (c & 0x80) != 0; }

/// Calls visit(begin, end) for each whole name (or number) in `text`.
template <class Visit>
void for_each_name(const std::string& text, Visit&& visit) {
    for (std::size_t i = 0; i < text.size();) {
        if (!name_byte(text[i])) {
            ++i;
            continue;
        }
        std::size_t end = i;
        while (end < text.size() && name_byte(text[end])) ++end;
        visit(i, end);
        i = end;
    }
}

/// `text` with every whole name that `to` maps replaced by its image, all at once.
std::string rename(const std::string& text, const std::map<std::string, std::string>& to) {
    std::string out;
    std::size_t copied = 0;
    for_each_name(text, [&](std::size_t begin, std::size_t end) {
        const auto it = to.find(text.substr(begin, end - begin));
        if (it == to.end()) return;
        out += text.substr(copied, begin - copied) + it->second;
        copied = end;
    });
    return out + text.substr(copied);
}

/// A helper whose formula is at most this long is written into its one use.
constexpr std::size_t inline_length = 40;

/// The lines with each short helper that one later line uses once written into that use (in
/// parentheses), and the remaining helpers numbered g1, g2, ... again.
std::vector<KeyLine> inline_helpers(std::vector<KeyLine> lines, const std::set<std::string>& taken) {
    for (std::size_t h = 0; h < lines.size(); ++h) {
        if (!lines[h].helper || lines[h].formula.size() > inline_length) continue;
        std::size_t uses = 0, user = 0;
        for (std::size_t k = h + 1; k < lines.size(); ++k)
            for_each_name(lines[k].formula, [&](std::size_t begin, std::size_t end) {
                if (lines[k].formula.compare(begin, end - begin, lines[h].name) == 0) ++uses, user = k;
            });
        if (uses != 1) continue;
        const std::string& f = lines[h].formula;
        lines[user].formula = rename(lines[user].formula, {{lines[h].name, parenthesized(f) ? f : "(" + f + ")"}});
        lines[h].name.clear();  // written into its use
    }
    std::vector<KeyLine> kept;
    std::map<std::string, std::string> renamed;
    std::size_t number = 0;
    for (KeyLine& l : lines) {
        if (l.name.empty()) continue;
        l.formula = rename(l.formula, renamed);  // a helper is defined before its uses
        if (l.helper) {
            const std::string name = next_helper_name(number, taken);
            renamed[l.name] = name;
            l.name = name;
        }
        kept.push_back(std::move(l));
    }
    return kept;
}

/// One program's expressions in numpy (@ for a matrix product, * for element-wise and scaling).
class NumpyWriter {
public:
    NumpyWriter(const Model::Impl& p, const std::vector<NodeInfo>& info) : p_(p), info_(info) {}

    /// The expression of assignment k, without outer parentheses.
    std::string assignment(std::size_t k) const {
        const std::uint32_t root = p_.roots[k];
        const Node& n = p_.nodes[root];
        if (n.kind == NodeKind::number)  // dJ = 1: an array, not a Python float
            return "np.full((" + std::to_string(info_[root].rows) + ", " + std::to_string(info_[root].cols) + "), " +
                   number_text(n.number) + ", dtype=float)";
        std::string text = expr(root);
        if (parenthesized(text)) text = text.substr(1, text.size() - 2);
        return text;
    }

private:
    std::string expr(std::uint32_t k) const {
        const Node& n = p_.nodes[k];
        switch (n.kind) {
            case NodeKind::number: return n.number < 0 ? "(" + number_text(n.number) + ")" : number_text(n.number);
            case NodeKind::ref: return p_.slot_name(n.slot);
            case NodeKind::dim: return p_.dims[n.slot];
            case NodeKind::neg: return "(-" + expr(n.children[0]) + ")";
            case NodeKind::transpose: return expr(n.children[0]) + ".T";
            case NodeKind::binary: return binary(n);
            case NodeKind::call: break;
        }
        const char* code = n.function->forward.numpy;
        if (n.derivative || *code == '\0')
            throw p_.error(n.line, n.column, "derive: " + std::string(n.function->name) + (n.derivative ? "'" : "") +
                                                 " has no numpy form (Notation::numpy)");
        std::string out;
        for (const char* c = code; *c != '\0'; ++c) {
            const char* close = *c == '{' ? std::strchr(c, '}') : nullptr;
            if (close == nullptr) {
                out += *c;
                continue;
            }
            const std::string key(c + 1, close);
            c = close;
            if (key == "0" || key == "1") {
                out += expr(n.children.at(static_cast<std::size_t>(key[0] - '0')));
                continue;
            }
            std::size_t param = 0;
            while (param < n.function->params.size() && key != n.function->params[param]) ++param;
            out += param < n.numbers.size() ? number_text(n.numbers[param]) : "None";
        }
        return "(" + out + ")";
    }

    std::string binary(const Node& n) const {
        const std::uint32_t a = n.children[0], b = n.children[1];
        auto scalar = [&](std::uint32_t k) {
            return p_.nodes[k].kind == NodeKind::number || (info_[k].rows == 1 && info_[k].cols == 1);
        };
        const char* op = "+";
        switch (n.op) {
            case BinaryOp::add: op = "+"; break;
            case BinaryOp::sub: op = "-"; break;
            case BinaryOp::mul: op = "*"; break;
            case BinaryOp::div:
            case BinaryOp::scalar_div: op = "/"; break;
            case BinaryOp::product: op = scalar(a) || scalar(b) ? "*" : "@"; break;
            case BinaryOp::matmul: op = "@"; break;
            case BinaryOp::power:
            case BinaryOp::scalar_power: op = "**"; break;
        }
        return "(" + expr(a) + " " + op + " " + expr(b) + ")";
    }

    const Model::Impl& p_;
    const std::vector<NodeInfo>& info_;
};

std::string shape_comment(const NodeInfo& i) { return "  # " + std::to_string(i.rows) + "×" + std::to_string(i.cols); }

}  // namespace

std::string numpy_module(const Model& model, const Model::Impl& m, const std::vector<NodeInfo>& info,
                         std::vector<Var> slots, Tape& tape, const std::string& key) {
    const std::unique_ptr<Derivation::Impl> d = parse_derivation(key, "derive", model);
    const Model::Impl& p = d->program;
    // The derivation's shapes: its lines evaluated on the model's values.
    std::vector<Var> values;
    for (std::size_t k = 0; k < m.declarations.size() + m.assignments.size(); ++k) values.push_back(slots.at(k));
    std::vector<NodeInfo> key_info(p.nodes.size());
    for (const std::uint32_t root : p.roots) values.push_back(evaluate(p, tape, values, root, &key_info));

    const std::string output = m.slot_name(m.output_slot);
    std::string py = "\"\"\"The gradients of " + m.file + ", written by matgrad derive --format numpy.\n\n"
                     "gradients(values) takes a dict name -> 2-D ndarray for the model's inputs and params and returns\n"
                     "the output " + output + " and d<param> for every param, computed line by line as below (numpy only).\n"
                     "\"\"\"\nimport numpy as np\n\n\ndef gradients(values):\n    # the inputs and params\n";
    for (std::size_t k = 0; k < m.declarations.size(); ++k)
        py += "    " + m.declarations[k].name + " = np.asarray(values[\"" + m.declarations[k].name + "\"], dtype=float)" +
              shape_comment({slots[k].rows(), slots[k].cols(), false}) + "\n";
    if (!m.dims.empty()) py += "    # the dimensions, from the shapes\n";
    for (const std::string& dim : m.dims)
        for (const Declaration& decl : m.declarations)
            if (decl.shape && ((*decl.shape)[0].name == dim || (*decl.shape)[1].name == dim)) {
                py += "    " + dim + " = " + decl.name + ".shape[" + ((*decl.shape)[0].name == dim ? "0" : "1") + "]\n";
                break;
            }
    py += "    # forward\n";
    const NumpyWriter forward(m, info);
    for (std::size_t k = 0; k < m.assignments.size(); ++k)
        py += "    " + m.assignments[k].name + " = " + forward.assignment(k) + shape_comment(info[m.roots[k]]) + "\n";
    py += "    # backward: dV = d" + output + "/dV, shaped like V\n";
    const NumpyWriter backward(p, key_info);
    for (std::size_t k = 0; k < p.assignments.size(); ++k)
        py += "    " + p.assignments[k].name + " = " + backward.assignment(k) + shape_comment(key_info[p.roots[k]]) + "\n";
    py += "    return {\"" + output + "\": " + output;
    for (const DerivationLine& line : d->lines)  // the params' lines (a param the output ignores has none)
        if (const Declaration* decl = model.find_declaration(line.of); decl != nullptr)
            py += ", \"" + line.name + "\": " + line.name;
    return py + "}\n";
}

std::string derive_text(const Model::Impl& impl, const std::vector<NodeInfo>& info, const std::vector<Var>& slots,
                        const std::function<bool(const std::string&)>& right) {
    Deriver full(impl, info, slots);
    std::vector<KeyLine> key = full.run();
    // Every broadcast_back left out at once (usually right), else each one that can be, in turn.
    const std::vector<std::uint32_t>& sites = full.broadcast_sites();
    std::set<std::uint32_t> elided(sites.begin(), sites.end());
    if (!sites.empty()) {
        std::vector<KeyLine> brief = Deriver(impl, info, slots, elided).run();
        if (right(key_text(brief))) {
            key = std::move(brief);
        } else {
            elided.clear();
            for (const std::uint32_t site : sites) {
                elided.insert(site);
                brief = Deriver(impl, info, slots, elided).run();
                if (right(key_text(brief))) key = std::move(brief);
                else elided.erase(site);
            }
        }
    }
    const std::string text = key_text(key), inlined = key_text(inline_helpers(key, model_names(impl)));
    return inlined != text && right(inlined) ? inlined : text;
}

}  // namespace matgrad::lang
