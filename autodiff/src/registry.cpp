// The op registry (built-in definitions, gathered from the file of each family, and registered user
// ops) and the documentation generated from the definitions.
#include <autodiff/registry.hpp>

#include "builtin_ops.hpp"

#include <algorithm>
#include <cctype>
#include <mutex>

namespace matgrad {

namespace {

const std::vector<const OpDef*>& builtins() {
    static const std::vector<const OpDef*> defs = [] {
        std::vector<const OpDef*> d;
        append_linalg_ops(d);
        append_elementwise_ops(d);
        append_reduction_ops(d);
        return d;
    }();
    return defs;
}

struct UserOps {
    std::mutex mutex;
    std::vector<const OpDef*> defs;
};
UserOps& user_ops() {
    static UserOps ops;
    return ops;
}

std::string plural(std::size_t n, const char* word) {
    return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

// The operand names of a signature: identifiers in order, without a leading function name.
std::vector<std::string> signature_names(const OpDef& def) {
    std::vector<std::string> names;
    const std::string s = def.signature;
    for (std::size_t k = 0; k < s.size();) {
        if (!std::isalpha(static_cast<unsigned char>(s[k]))) {
            ++k;
            continue;
        }
        std::size_t end = k;
        while (end < s.size() && (std::isalnum(static_cast<unsigned char>(s[end])) || s[end] == '_')) ++end;
        if (end >= s.size() || s[end] != '(') names.push_back(s.substr(k, end - k));
        k = end;
    }
    return names;
}

}  // namespace

const OpDef* find_op(std::string_view name) {
    for (const OpDef* d : builtins())
        if (name == d->name) return d;
    UserOps& u = user_ops();
    std::lock_guard<std::mutex> lock(u.mutex);
    for (const OpDef* d : u.defs)
        if (name == d->name) return d;
    return nullptr;
}

std::vector<std::string> op_names() {
    std::vector<std::string> names;
    for (const OpDef* d : all_op_definitions())
        if (d->apply != nullptr && std::find(names.begin(), names.end(), d->name) == names.end())
            names.push_back(d->name);
    std::sort(names.begin(), names.end());
    return names;
}

std::vector<const OpDef*> all_op_definitions() {
    std::vector<const OpDef*> defs = builtins();
    UserOps& u = user_ops();
    std::lock_guard<std::mutex> lock(u.mutex);
    defs.insert(defs.end(), u.defs.begin(), u.defs.end());
    return defs;
}

void register_op(const OpDef& def) {
    if (def.apply == nullptr)
        throw UsageError(std::string("register_op: ") + def.name + " has no apply function (OpDef::apply)");
    if (find_op(def.name) != nullptr)
        throw UsageError(std::string("register_op: an op named '") + def.name + "' already exists");
    UserOps& u = user_ops();
    std::lock_guard<std::mutex> lock(u.mutex);
    u.defs.push_back(&def);
}

Var apply_op(std::string_view name, const std::vector<Var>& args, const std::vector<double>& numbers) {
    const OpDef* def = find_op(name);
    if (def == nullptr || def->apply == nullptr) {
        std::string known;
        for (const std::string& n : op_names()) known += (known.empty() ? "" : ", ") + n;
        throw ShapeError("unknown op '" + std::string(name) + "' (known: " + known + ")");
    }
    return apply_op(*def, args, numbers);
}

Var apply_op(const OpDef& def, const std::vector<Var>& args, const std::vector<double>& numbers) {
    if (def.apply == nullptr) throw ShapeError(std::string("op '") + def.name + "' is not callable by name");
    const std::size_t most = def.params.size(), least = most - def.optional_params;
    if (args.size() != def.arity || numbers.size() < least || numbers.size() > most) {
        const std::string expected_numbers = least == most ? plural(most, "number")
                                                           : std::to_string(least) + " to " + plural(most, "number");
        throw ShapeError(std::string(def.name) + ": expects " + plural(def.arity, "matrix operand") + " and " +
                         expected_numbers + " (" + def.signature + (def.optional_params ? ", axis optional" : "") +
                         "), got " + plural(args.size(), "operand") + " and " + plural(numbers.size(), "number"));
    }
    return def.apply(args, numbers);
}

// ---------------------------------------------------------------------------------------------
// Generated documentation

std::string generic_rule_text(const OpDef& def, const char* rule) {
    const std::vector<std::string> names = signature_names(def);
    std::string out;
    const std::string t = rule;
    for (std::size_t k = 0; k < t.size(); ++k) {
        const std::size_t close = t.find('}', k);
        if (t[k] != '{' || close == std::string::npos || (k + 1 < t.size() && t[k + 1] == '{')) {
            out += t[k];
            continue;
        }
        const std::string key = t.substr(k + 1, close - k - 1);
        if (key == "g")
            out += "g";
        else if (key == "out")
            out += "out";
        else if (key == "N")
            out += "N";
        else if (key.size() == 1 && std::isdigit(static_cast<unsigned char>(key[0])) &&
                 static_cast<std::size_t>(key[0] - '0') < names.size())
            out += names[static_cast<std::size_t>(key[0] - '0')];
        else if (std::find_if(def.params.begin(), def.params.end(), [&](const char* p) { return key == p; }) !=
                 def.params.end())
            out += key;  // a parameter by its name
        else {
            out += t[k];  // not a placeholder: LaTeX braces such as \mathrm{sign}
            continue;
        }
        k = close;
    }
    return out;
}

namespace {

std::string cell(const std::string& s) {  // a markdown table cell: | escaped
    std::string out;
    for (char c : s) {
        if (c == '|') out += '\\';
        out += c;
    }
    return out;
}

std::string forward_text(const OpDef& d, bool latex) {
    const char* t = latex ? d.forward.latex : d.forward.unicode;
    return generic_rule_text(d, *t ? t : d.signature);
}

std::string gradients_text(const OpDef& d, bool latex) {
    const std::vector<std::string> names = signature_names(d);
    std::string out;
    for (std::size_t i = 0; i < d.arity; ++i) {
        const InputRule* r = i < d.inputs.size() ? &d.inputs[i] : nullptr;
        const char* rule = r == nullptr ? "" : latex ? r->rule.latex : r->rule.unicode;
        if (!out.empty()) out += latex ? ",\\quad " : ";  ";
        const std::string name = i < names.size() ? names[i] : "x" + std::to_string(i);
        std::string text = *rule ? generic_rule_text(d, rule) : "vjp(" + std::string(d.name) + ", " + name + ", g)";
        if (d.kind == OpKind::broadcasting) text = (latex ? "\\mathrm{sum\\_to}(" : "sum_to(") + text + ")";
        out += (latex ? "\\bar{" + name + "} = " : "d" + name + " = ") + text;
    }
    return out;
}

// "`code`: description" per mistake, the description in the signature's names.
std::string mistakes_text(const OpDef& d) {
    std::string out;
    for (const Mistake& m : d.mistakes)
        out += (out.empty() ? "" : "<br>") + std::string("`") + m.code + "`: " +
               cell(generic_rule_text(d, m.description));
    return out;
}

}  // namespace

std::string readme_op_table() {
    std::string out = "| op | forward | gradient of each operand (g = gradient of the output) |\n|---|---|---|\n";
    for (const OpDef* d : all_op_definitions())  // registered ops too (a generator may register nn's)
        out += "| `" + cell(d->signature) + "` | " + cell(forward_text(*d, false)) + " | " +
               cell(gradients_text(*d, false)) + " |\n";
    return out;
}

std::string derivative_table_markdown() {
    std::string out =
        "# matgrad's derivative table\n\n"
        "<!-- Generated from the op definitions (OpDef: autodiff/src/*_ops.cpp, nn/src/losses.cpp) by "
        "`matgrad_opdocs --write .`; the test generated_op_docs fails when this file differs. -->\n\n"
        "Every built-in op's vector-Jacobian product, in the spirit of PyTorch's `derivatives.yaml`: one\n"
        "definition per op (`<autodiff/op.hpp>`) holds its VJP, these rules (which `explain` also reads)\n"
        "and its classic hand-derivation mistakes (wrong VJPs a mutated reverse pass can run).\n"
        "`g` is the gradient of the op's output (shaped like the output), `dx` the gradient of operand\n"
        "`x` (shaped like `x`), `⊙`/`⊘` element-wise product and division, `out` the op's output, `N` the\n"
        "number of entries reduced into one output entry. `sum_to` sums a broadcast operand's gradient\n"
        "over every axis along which it was broadcast (extent 1), so a bias `b` (m×1) added to every\n"
        "column of an m×n matrix gets the row sums of `g` -- the slides' `db = sum(dZ, 1)`.\n\n"
        "| op | forward | gradient of each operand | LaTeX | mistakes | notes |\n|---|---|---|---|---|---|\n";
    for (const OpDef* d : all_op_definitions())  // registered ops too (a generator may register nn's)
        out += "| `" + cell(d->signature) + "` | " + cell(forward_text(*d, false)) + " | " +
               cell(gradients_text(*d, false)) + " | $" + cell(gradients_text(*d, true)) + "$ | " +
               mistakes_text(*d) + " | " + cell(d->note) + " |\n";
    out +=
        "\nA `double` operand (`2.0 * a`, `1.0 - Y`) becomes a 1×1 constant that broadcasts; constants get no\n"
        "gradient work at all. Broadcasting follows numpy on 2-D shapes: along each axis the extents must be\n"
        "equal or one of them 1; so m×n combines with m×n, m×1, 1×n and 1×1, and m×1 with 1×n gives m×n.\n";
    return out;
}

}  // namespace matgrad
