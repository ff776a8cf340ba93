// Tape::to_dot, Tape::trace and explain(): read-only views of a recorded tape, built only on the
// public inspection API (node(), op(), input(), name(), value(), grad()).
#include <autodiff/inspect.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>

namespace matgrad {

std::string shape_text(std::size_t rows, std::size_t cols) {
    return std::to_string(rows) + "×" + std::to_string(cols);
}

namespace {

std::string shape_of(const Var& v) { return shape_text(v.rows(), v.cols()); }

// Displayed characters of a UTF-8 string: every byte that does not continue a code point.
std::size_t display_width(const std::string& s) {
    return static_cast<std::size_t>(
        std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string padded(const std::string& s, std::size_t width) {
    const std::size_t w = display_width(s);
    return w >= width ? s : s + std::string(width - w, ' ');
}

std::string number_text(double x) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", x + 0.0);  // + 0.0: −0 prints as 0
    return buf;
}

double frobenius_norm(const Matrix& m) {
    double s = 0.0;
    for (double x : m) s += x * x;
    return std::sqrt(s);
}

// The node's gradient, or nullptr for a constant or before backward(). grad() is the public way to
// ask whether backward() has run since the node was recorded: it throws UsageError when not.
const Matrix* gradient_or_null(const Var& v) {
    if (!v.requires_grad()) return nullptr;
    try {
        return &v.grad();
    } catch (const UsageError&) {
        return nullptr;
    }
}

bool is_leaf(const Var& v) { return v.num_inputs() == 0; }
bool is_1x1(const Var& v) { return v.rows() == 1 && v.cols() == 1; }

// An unnamed 1x1 constant, as `1.0 - Y` records: written as its value, never given a line.
bool is_scalar_literal(const Var& v) {
    return std::string(v.op()) == "constant" && v.name().empty() && v.rows() == 1 && v.cols() == 1;
}

std::string dot_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}

}  // namespace

std::string format_table(const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> width;
    for (const auto& row : rows)
        for (std::size_t c = 0; c < row.size(); ++c) {
            if (c == width.size()) width.push_back(0);
            width[c] = std::max(width[c], display_width(row[c]));
        }
    std::string out;
    for (const auto& row : rows) {
        std::string line;
        for (std::size_t c = 0; c < row.size(); ++c)
            line += c + 1 == row.size() ? row[c] : padded(row[c], width[c]) + "  ";
        out += line + "\n";
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// DOT and trace

std::string Tape::to_dot() const { return to_dot(DotOptions{}); }

std::string Tape::to_dot(const DotOptions& options) const {
    std::ostringstream dot;
    dot << "digraph \"" << dot_escape(options.graph_name) << "\" {\n"
        << "  rankdir=LR;\n"
        << "  node [fontname=\"Helvetica\", fontsize=11];\n";
    for (std::size_t k = 0; k < size(); ++k) {
        const Var v = node(k);
        const std::string op = v.op();
        // Lines joined by DOT's "\\n" escape; the parts themselves are escaped.
        std::string label = is_scalar_literal(v) ? number_text(v.value()(0, 0))
                            : v.name().empty()   ? op
                                                 : dot_escape(v.name()) + "\\n" + op;
        label += "\\n" + shape_of(v);
        if (options.gradient_norms)
            if (const Matrix* g = gradient_or_null(v)) label += "\\n‖grad‖ = " + number_text(frobenius_norm(*g));
        // Leaves apart from ops: variables (what gradients are for) filled blue, constants grey.
        const char* style = op == "variable"   ? "shape=box, style=filled, fillcolor=\"#cfe2ff\""
                            : op == "constant" ? "shape=box, style=\"filled,dashed\", fillcolor=\"#eeeeee\""
                            : v.name().empty() ? "shape=ellipse"
                                               : "shape=ellipse, style=bold";
        dot << "  n" << k << " [label=\"" << label << "\", " << style << "];\n";
    }
    for (std::size_t k = 0; k < size(); ++k) {
        const Var v = node(k);
        for (std::size_t i = 0; i < v.num_inputs(); ++i) {
            dot << "  n" << v.input(i).index() << " -> n" << k;
            if (v.num_inputs() > 1) dot << " [label=\"" << i << "\"]";  // operand order matters (matmul, sub, div)
            dot << ";\n";
        }
    }
    dot << "}\n";
    return dot.str();
}

std::string Tape::trace() const {
    std::vector<std::vector<std::string>> rows{
        {"#", "op", "name", "shape", "min", "max", "mean", "‖grad‖", "fwd µs", "bwd µs"}};
    for (std::size_t k = 0; k < size(); ++k) {
        const Var v = node(k);
        const Matrix& value = v.value();
        const auto [lo, hi] = std::minmax_element(value.begin(), value.end());
        double total = 0.0;
        for (double x : value) total += x;
        const Matrix* g = gradient_or_null(v);
        rows.push_back({std::to_string(k), v.op(), v.name(), shape_of(v), number_text(*lo), number_text(*hi),
                        number_text(total / static_cast<double>(value.size())),
                        g ? number_text(frobenius_norm(*g)) : "-",
                        timing() ? number_text(forward_seconds(k) * 1e6) : "-",
                        timing() && g ? number_text(backward_seconds(k) * 1e6) : "-"});
    }
    return format_table(rows);
}

// ---------------------------------------------------------------------------------------------
// explain

namespace {

// Precedence of a formula's top-level operator, to put parentheses only where they are needed.
enum Prec { kSum = 0, kHadamard = 1, kProduct = 2, kAtom = 3 };

struct Expr {
    std::string text;
    int prec = kAtom;
};

std::string wrap(const Expr& e, int min_prec) { return e.prec >= min_prec ? e.text : "(" + e.text + ")"; }

// A gradient as a formula: coef · part, where an empty part means the scalar coef broadcast to the
// gradient's shape (as the 1/n of a mean reaches every element). Scalars are kept apart so that
// the −1 of a negation and the 1/n of a mean fold into one readable factor such as −(1/7).
struct Sym {
    double coef = 1.0;
    Expr part{"", kAtom};
};

// c = p/q with |p| ≤ 1000 and q ≤ 100000 to rounding (the 1/n of a mean, 3/2), as p and q.
bool small_fraction(double c, double& p, int& q) {
    for (q = 1; q <= 100000; ++q) {
        p = std::round(c * q);
        if (std::abs(p) > 1000) return false;  // a rational approximation, not an exact fraction
        if (p != 0 && std::abs(c * q - p) <= 1e-12 * std::abs(c * q)) return true;
    }
    return false;
}

// A coefficient as a person writes it: 7, (1/7), √3 and (1/√3) (as from / sqrt(3)), else a
// decimal with 6 significant digits -- never a rational approximation such as (7953/13775).
std::string coefficient_text(double c) {
    if (c == std::round(c)) return number_text(c);
    double p = 0;
    int q = 0;
    if (small_fraction(c, p, q)) return "(" + number_text(p) + "/" + std::to_string(q) + ")";
    if (c > 0 && small_fraction(c * c, p, q) && std::abs(p) <= 100 && q <= 100) {  // c = √(p/q): (1/√3), (2/√3)
        const double a = std::round(std::sqrt(p)), b = std::round(std::sqrt(q));
        const std::string top = a * a == p ? number_text(a) : "√" + number_text(p);
        const std::string bottom = b * b == q ? number_text(b) : "√" + std::to_string(q);
        return bottom == "1" ? top : "(" + top + "/" + bottom + ")";
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", c);
    return buf;
}

// A number in a formula: as written when 4 digits hold it exactly (0.5, 0.01), else as a
// coefficient (1.732... is √3).
std::string scalar_text(double x) {
    const std::string text = number_text(x);
    return std::strtod(text.c_str(), nullptr) == x ? text : coefficient_text(std::abs(x)).insert(0, x < 0 ? "-" : "");
}

Expr sym_text(const Sym& s) {
    const double c = std::abs(s.coef);
    const bool negative = s.coef < 0;
    if (s.part.text.empty()) return {(negative ? "−" : "") + coefficient_text(c), negative ? kSum : kAtom};
    if (c == 1.0 && !negative) return s.part;
    const std::string text = c == 1.0 ? wrap(s.part, kHadamard) : coefficient_text(c) + " " + wrap(s.part, kHadamard);
    return {negative ? "−" + text : text, negative ? kSum : kHadamard};
}

// The matrix the coefficient multiplies: 𝟙 (all ones) when the gradient is a broadcast scalar.
Expr matrix_part(const Sym& s) { return s.part.text.empty() ? Expr{"𝟙", kAtom} : s.part; }

void hadamard(Sym& s, const Expr& e) {
    s.part = s.part.text.empty() ? e : Expr{wrap(s.part, kHadamard) + " ⊙ " + wrap(e, kProduct), kHadamard};
}

void divide(Sym& s, const Expr& e) {
    s.part = {wrap(matrix_part(s), kHadamard) + " ⊘ " + wrap(e, kProduct), kHadamard};
}

std::string broadcast_text(std::size_t rows, std::size_t cols, std::size_t out_rows, std::size_t out_cols) {
    const std::string own = shape_text(rows, cols);
    if (rows == out_rows && cols == out_cols) return own;
    if (rows == out_rows) return "(" + own + " broadcast over " + std::to_string(out_cols) + " columns)";
    if (cols == out_cols) return "(" + own + " broadcast over " + std::to_string(out_rows) + " rows)";
    return "(" + own + " broadcast to " + shape_text(out_rows, out_cols) + ")";
}

// ---- rule templates (<autodiff/op.hpp>) ---------------------------------------------------------

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }
bool ends_with(const std::string& s, const char* suffix) {
    const std::size_t n = std::char_traits<char>::length(suffix);
    return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// A placeholder "{key}" at t[k] (key of letters, digits, '_' and ':'); its length, or 0.
std::size_t placeholder_at(const std::string& t, std::size_t k, std::string& key) {
    if (t[k] != '{') return 0;
    std::size_t end = k + 1;
    while (end < t.size() && (std::isalnum(static_cast<unsigned char>(t[end])) || t[end] == '_' || t[end] == ':')) ++end;
    if (end == k + 1 || end >= t.size() || t[end] != '}') return 0;
    key = t.substr(k + 1, end - k - 1);
    return end - k + 1;
}

// The precedence an operand needs between the template text L before it and R after it: an
// operand of ⊙ or juxtaposition is wrapped if it is a sum, one followed by ᵀ or ² or right after a
// tight / (1/{0}) unless it is an atom, one inside parentheses or between + signs never.
int needed_prec(const std::string& L, const std::string& R) {
    int need = kSum;
    if (starts_with(R, "ᵀ") || starts_with(R, "²") || starts_with(R, "⁻") || starts_with(R, "^") || starts_with(R, "("))
        need = kAtom;
    else if (starts_with(R, " ⊙ ") || starts_with(R, " ⊘ ") || starts_with(R, " / "))
        need = kHadamard;
    else if (starts_with(R, " ") && !starts_with(R, " + ") && !starts_with(R, " − "))
        need = kProduct;
    if (ends_with(L, " ⊙ ") || ends_with(L, " ⊘ ") || ends_with(L, " / "))
        need = std::max<int>(need, kProduct);
    else if (ends_with(L, "−") || ends_with(L, " − "))
        need = std::max<int>(need, kHadamard);
    else if (ends_with(L, " ") && !ends_with(L, " + "))
        need = std::max<int>(need, kProduct);
    else if (ends_with(L, "/"))
        need = kAtom;
    return need;
}

// The precedence of a template's top-level operator (placeholders count as atoms).
int template_prec(const std::string& t) {
    if (starts_with(t, "−")) return kSum;
    int depth = 0, prec = kAtom;
    std::string key;
    for (std::size_t k = 0; k < t.size(); ++k) {
        if (const std::size_t n = placeholder_at(t, k, key)) {
            k += n - 1;
            continue;
        }
        if (t[k] == '(' || t[k] == '[') ++depth;
        if (t[k] == ')' || t[k] == ']') --depth;
        if (depth != 0) continue;
        const std::string rest = t.substr(k);
        if (starts_with(rest, " + ") || starts_with(rest, " − ")) return kSum;
        if (starts_with(rest, " ⊙ ") || starts_with(rest, " ⊘ ") || starts_with(rest, " / "))
            prec = std::min<int>(prec, kHadamard);
        else if (t[k] == ' ')
            prec = std::min<int>(prec, kProduct);
    }
    return prec;
}

// An atom operand's superscript and the template's right after it, written as one: (Aᵀ)ᵀ = A,
// (A⁻¹)ᵀ = A⁻ᵀ, (A⁻ᵀ)ᵀ = A⁻¹, and with the operand transposed, (Aᵀ)⁻¹ = A⁻ᵀ, (Aᵀ)⁻ᵀ = A⁻¹.
// Longer endings first: A⁻ᵀ also ends in ᵀ.
struct SuperscriptJoin {
    const char* operand_ends;
    const char* template_goes_on;
    const char* written;
};
constexpr SuperscriptJoin kSuperscriptJoins[] = {
    {"⁻ᵀ", "ᵀ", "⁻¹"}, {"⁻¹", "ᵀ", "⁻ᵀ"}, {"ᵀ", "ᵀ", ""}, {"ᵀ", "⁻¹", "⁻ᵀ"}, {"ᵀ", "⁻ᵀ", "⁻¹"},
};

const SuperscriptJoin* superscript_join(const std::string& operand, const std::string& rest) {
    for (const SuperscriptJoin& j : kSuperscriptJoins)
        if (ends_with(operand, j.operand_ends) && starts_with(rest, j.template_goes_on)) return &j;
    return nullptr;
}

// The template text before a placeholder ends in the differential d ("d{0}", "/d{0}", "(d{out}").
bool after_differential(const std::string& L) {
    if (!ends_with(L, "d")) return false;
    if (L.size() == 1) return true;
    const char before = L[L.size() - 2];
    return before == ' ' || before == '(' || before == '/' || before == '[';
}

bool is_identifier(const std::string& s) {
    auto name_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
    return !s.empty() && std::all_of(s.begin(), s.end(), name_char);
}

// A number at s[i] as templates and number_text write it ("2", "-0.5", "−1"): its length, or 0.
std::size_t number_at(const std::string& s, std::size_t i, double& value) {
    const bool minus = s.compare(i, std::string("−").size(), "−") == 0;
    const std::size_t start = minus ? i + std::string("−").size() : i;
    if (start >= s.size() || !(std::isdigit(static_cast<unsigned char>(s[start])) || s[start] == '-')) return 0;
    char* end = nullptr;
    value = std::strtod(s.c_str() + start, &end);
    if (minus) value = -value;
    return static_cast<std::size_t>(end - s.c_str()) - i;
}

// A numeric exponent after s[i] = '^': "2", "(2 − 1)"; its value and length, or 0.
std::size_t numeric_exponent(const std::string& s, std::size_t i, double& value) {
    if (const std::size_t n = number_at(s, i, value)) return n;
    double a = 0.0, b = 0.0;
    const std::string minus = " − ";
    if (s.compare(i, 1, "(") != 0) return 0;
    const std::size_t na = number_at(s, i + 1, a);
    if (na == 0 || s.compare(i + 1 + na, minus.size(), minus) != 0) return 0;
    const std::size_t nb = number_at(s, i + 1 + na + minus.size(), b);
    const std::size_t close = i + 1 + na + minus.size() + nb;
    if (nb == 0 || s.compare(close, 1, ")") != 0) return 0;
    value = a - b;
    return close + 1 - i;
}

// Numeric exponents worked out as a person writes them: X^(3 − 1) is X², (P − T)^(2 − 1) is (P − T).
std::string fold_exponents(const std::string& s) {
    std::string out;
    for (std::size_t k = 0; k < s.size(); ++k) {
        double e = 0.0;
        const std::size_t n = s[k] == '^' ? numeric_exponent(s, k + 1, e) : 0;
        if (n == 0) {
            out += s[k];
            continue;
        }
        k += n;
        if (e == 2 || e == 3) out += e == 2 ? "²" : "³";
        else if (e != 1) out += "^" + std::string(e < 0 ? "−" : "") + number_text(std::abs(e));
    }
    return out;
}

// The top-level factors of a product "A Bᵀ" (split at spaces outside parentheses).
std::vector<std::string> product_factors(const std::string& t) {
    std::vector<std::string> factors(1);
    int depth = 0;
    for (char c : t) {
        if (c == '(' || c == '[') ++depth;
        if (c == ')' || c == ']') --depth;
        if (c == ' ' && depth == 0)
            factors.emplace_back();
        else
            factors.back() += c;
    }
    return factors;
}

// Transposes written in t; S⁻ᵀ is no more than S⁻¹, one spelling of an inverse.
std::size_t transposes_in(const std::string& t) {
    std::size_t n = 0;
    for (std::size_t k = t.find("ᵀ"); k != std::string::npos; k = t.find("ᵀ", k + 1)) n += !ends_with(t.substr(0, k), "⁻");
    return n;
}

// (A B)ᵀ written as Bᵀ Aᵀ (with Aᵀᵀ = A) when that removes a transpose: (dr Xᵀ)ᵀ is X drᵀ. Empty when
// it does not, or when a factor is not an atom.
std::string transposed_product(const std::string& product) {
    const std::vector<std::string> factors = product_factors(product);
    std::string out;
    for (auto f = factors.rbegin(); f != factors.rend(); ++f) {
        if (f->empty() || f->find(' ') != std::string::npos || starts_with(*f, "−")) return "";
        double x = 0.0;
        const bool number = number_at(*f, 0, x) == f->size() || (starts_with(*f, "(") && f->find('/') != std::string::npos &&
                                                                 f->find(' ') == std::string::npos);
        std::string factor = *f;
        if (!number) {
            const SuperscriptJoin* j = superscript_join(factor, "ᵀ");
            factor = j ? factor.substr(0, factor.size() - std::char_traits<char>::length(j->operand_ends)) + j->written
                       : factor + "ᵀ";
        }
        out += (out.empty() ? "" : " ") + factor;
    }
    return transposes_in(out) < transposes_in(product) + 1 ? out : "";
}

// Substitutes every placeholder by resolve(key), wrapped as its place in the template needs.
template <class Resolve>
std::string render(const std::string& t, Resolve&& resolve) {
    std::string out, key;
    for (std::size_t k = 0; k < t.size(); ++k) {
        const std::size_t n = placeholder_at(t, k, key);
        if (n == 0) {
            out += t[k];
            continue;
        }
        const Expr e = resolve(key);
        const std::string before = t.substr(0, k), rest = t.substr(k + n);
        k += n - 1;
        // An atom's superscript meets the template's: one combined superscript, not two.
        if (const SuperscriptJoin* j = e.prec == kAtom ? superscript_join(e.text, rest) : nullptr) {
            out += e.text.substr(0, e.text.size() - std::char_traits<char>::length(j->operand_ends)) + j->written;
            k += std::char_traits<char>::length(j->template_goes_on);
            continue;
        }
        // The differential d of an operand: dW1, but d(W1 X + b1), d(σ(Z)).
        if (after_differential(before) && !is_identifier(e.text)) {
            out += "(" + e.text + ")";
            continue;
        }
        if (e.prec == kProduct && starts_with(rest, "ᵀ"))
            if (const std::string pushed = transposed_product(e.text); !pushed.empty()) {
                out += needed_prec(before, rest.substr(std::string("ᵀ").size())) <= kProduct ? pushed : "(" + pushed + ")";
                k += std::string("ᵀ").size();
                continue;
            }
        out += wrap(e, needed_prec(before, rest));
    }
    return fold_exponents(out);
}

// Splits "A ⊙ B ⊘ C" at its top-level ⊙, ⊘ and / into (operator, factor) pairs; false when the text
// does not start with one of them (then the rule is not a chain of factors).
bool split_chain(const std::string& t, std::vector<std::pair<std::string, std::string>>& factors) {
    static const char* const kOps[] = {" ⊙ ", " ⊘ ", " / "};
    std::string key;
    for (std::size_t k = 0; k < t.size();) {
        const char* op = nullptr;
        for (const char* o : kOps)
            if (t.compare(k, std::char_traits<char>::length(o), o) == 0) op = o;
        if (op == nullptr) return false;
        std::size_t end = k + std::char_traits<char>::length(op);
        const std::size_t start = end;
        int depth = 0;
        for (; end < t.size(); ++end) {
            if (const std::size_t n = placeholder_at(t, end, key)) {
                end += n - 1;
                continue;
            }
            if (t[end] == '(' || t[end] == '[') ++depth;
            if (t[end] == ')' || t[end] == ']') --depth;
            bool at_op = false;
            for (const char* o : kOps) at_op = at_op || t.compare(end, std::char_traits<char>::length(o), o) == 0;
            if (depth == 0 && at_op) break;
        }
        factors.emplace_back(op, t.substr(start, end - start));
        k = end;
    }
    return true;
}

// "₃ₓ₄": a shape as a subscript.
std::string subscript_shape(std::size_t rows, std::size_t cols) {
    static const char* const kDigits[] = {"₀", "₁", "₂", "₃", "₄", "₅", "₆", "₇", "₈", "₉"};
    std::string out;
    for (const std::string& part : {std::to_string(rows), std::string("x"), std::to_string(cols)})
        for (char c : part) out += c == 'x' ? "ₓ" : kDigits[c - '0'];
    return out;
}

// An unnamed constant (a numpy array passed to an op) by its shape, C₃ₓ₄, not by its tape index:
// primes tell apart others of the same shape (C′₃ₓ₄), labels given so far are in `taken`.
std::string constant_label(const Var& v, const std::vector<std::string>& taken) {
    const std::string shape = subscript_shape(v.rows(), v.cols());
    for (const char* primes : {"", "′", "″", "‴"}) {
        const std::string label = "C" + std::string(primes) + shape;
        if (std::find(taken.begin(), taken.end(), label) == taken.end()) return label;
    }
    return "c" + std::to_string(v.index());
}

class Explainer {
public:
    Explainer(const Tape& tape, const Var& output);
    std::vector<ExplainLine> run();
    // explain_template(): a template at node v, {g} the gradient of v's output.
    std::string render_at(const Var& v, const std::string& text) const;

private:
    // One way a gradient reaches a node: its formula, how the last step's shapes combine, and
    // (through a matmul) the slides' layout step; `from` is the line node it came from.
    struct Term {
        Sym value;
        std::string shapes;
        std::string layout;
        std::size_t from = 0;
    };

    Expr forward_expr(const Var& v, bool top = false) const;
    Expr render_forward(const Var& v) const;
    // A placeholder of v's templates: operands, out, N, parameters, shapes; g is `g`.
    Expr resolve(const Var& v, const std::string& key, const Expr& g) const;
    bool number_key(const Var& v, const std::string& key, double& value) const;
    std::string forward_shapes(const Var& v) const;
    std::string shape_expr(const Var& v, bool top) const;
    void propagate(const Var& v, const Sym& g, std::size_t from);
    Term vjp(const Var& v, std::size_t i, const Sym& g) const;
    void reduce_to_input(Term& t, const Var& v, const Var& in) const;

    const Tape& tape_;
    Var out_;
    std::vector<bool> ancestor_;  // the output depends on this node
    std::vector<bool> has_line_;  // gets its own equation (and is referred to by its label)
    std::vector<std::string> label_;
    // Every ancestor's forward formula, rendered once when constructed: explain's lines and rules
    // and verify's hints (every mistake at every node) all refer to the same inline formulas.
    std::vector<std::optional<Expr>> formula_;
    std::vector<std::vector<Term>> terms_;
};

Explainer::Explainer(const Tape& tape, const Var& output)
    : tape_(tape), out_(output), ancestor_(tape.size(), false), has_line_(tape.size(), false),
      label_(tape.size()), terms_(tape.size()) {
    if (&output.tape() != &tape) throw UsageError("explain: the output belongs to a different tape");
    if (output.rows() != 1 || output.cols() != 1)
        throw ShapeError("explain: " + output.describe() + " is " + output.shape_string() +
                         " but the output must be 1x1");
    if (output.requires_grad()) output.grad();  // throws UsageError unless backward() has run

    std::vector<std::size_t> uses(tape.size(), 0);
    ancestor_[output.index()] = true;
    for (std::size_t k = output.index() + 1; k-- > 0;) {
        if (!ancestor_[k]) continue;
        const Var v = tape.node(k);
        for (std::size_t i = 0; i < v.num_inputs(); ++i) {
            ancestor_[v.input(i).index()] = true;
            ++uses[v.input(i).index()];
        }
    }
    bool name_J_taken = false;
    for (std::size_t k = 0; k < tape.size(); ++k) name_J_taken = name_J_taken || tape.node(k).name() == "J";
    for (std::size_t k = 0; k <= output.index(); ++k) {
        const Var v = tape.node(k);
        if (!ancestor_[k] || is_scalar_literal(v)) continue;
        // A node is written inline unless it has a name, is a leaf or the output, or is used twice
        // (inlining it twice would hide that it is one value with one gradient).
        has_line_[k] = !v.name().empty() || is_leaf(v) || k == output.index() || uses[k] > 1;
        if (!v.name().empty())
            label_[k] = v.name();
        else if (k == output.index())
            label_[k] = name_J_taken ? "out" : "J";
        else if (std::string(v.op()) == "constant")
            label_[k] = constant_label(v, label_);
        else
            label_[k] = (std::string(v.op()) == "variable" ? "v" : "t") + std::to_string(k);
    }
    formula_.resize(output.index() + 1);
    for (std::size_t k = 0; k <= output.index(); ++k)  // inputs first: each formula reuses theirs
        if (ancestor_[k] && !is_leaf(tape.node(k)) && !is_scalar_literal(tape.node(k)))
            formula_[k] = render_forward(tape.node(k));
}

bool Explainer::number_key(const Var& v, const std::string& key, double& value) const {
    if (key == "N") {
        value = static_cast<double>(v.input(0).rows() * v.input(0).cols()) / static_cast<double>(v.rows() * v.cols());
        return true;
    }
    if (const OpDef* def = v.def())
        for (std::size_t k = 0; k < def->params.size() && k < kMaxOpParams; ++k)
            if (key == def->params[k]) {
                value = v.params()[k];
                return true;
            }
    if (!key.empty() && std::isdigit(static_cast<unsigned char>(key[0]))) {
        const std::size_t i = static_cast<std::size_t>(std::stoul(key));
        if (i < v.num_inputs() && is_scalar_literal(v.input(i))) {
            value = v.input(i).value()(0, 0);
            return true;
        }
    }
    return false;
}

Expr Explainer::resolve(const Var& v, const std::string& key, const Expr& g) const {
    if (key == "g") return g;
    if (key == "out") return forward_expr(v);
    if (starts_with(key, "shape:") || starts_with(key, "shapeT:")) {
        const std::string which = key.substr(key.find(':') + 1);
        const Var m = which == "out" ? v : v.input(static_cast<std::size_t>(std::stoul(which)));
        return {starts_with(key, "shapeT:") ? shape_text(m.cols(), m.rows()) : shape_of(m), kAtom};
    }
    if (!key.empty() && std::isdigit(static_cast<unsigned char>(key[0])))
        return forward_expr(v.input(static_cast<std::size_t>(std::stoul(key))));
    double x = 0.0;
    if (number_key(v, key, x)) return {scalar_text(x), x < 0 ? kSum : kAtom};
    return {"{" + key + "}", kAtom};  // an unknown placeholder stays visible
}

std::string Explainer::render_at(const Var& v, const std::string& text) const {
    auto at_v = [&](const Expr& g) { return [&, g](const std::string& key) { return resolve(v, key, g); }; };
    const Expr g{render("d{out}", at_v(Expr{"g", kAtom})), kAtom};
    return render(text, at_v(g));
}

// The op's default notation: name(operands, parameters).
std::string default_forward(const Var& v) {
    std::string t = std::string(v.op()) + "(";
    for (std::size_t i = 0; i < v.num_inputs(); ++i) t += (i ? ", {" : "{") + std::to_string(i) + "}";
    if (const OpDef* def = v.def())
        for (const char* p : def->params) t += std::string(", {") + p + "}";
    return t + ")";
}

Expr Explainer::forward_expr(const Var& v, bool top) const {
    if (is_scalar_literal(v)) {
        const double x = v.value()(0, 0);
        return {scalar_text(x), x < 0 ? kSum : kAtom};
    }
    if (!top && has_line_[v.index()]) return {label_[v.index()], kAtom};
    if (v.index() < formula_.size() && formula_[v.index()]) return *formula_[v.index()];
    return render_forward(v);
}

// A product with a scalar is written as the slides do, a number first and without ⊙ or ⊘: 2 X,
// X / 2, and a 1×1 operand juxtaposed (sum(S ⊙ S) w). `times` joins the factors.
std::string scalar_product(const Var& v, const std::string& t, const std::string& times) {
    if (t == "{0} ⊙ {1}") {
        if (is_scalar_literal(v.input(1))) return "{1}" + times + "{0}";
        if (is_1x1(v.input(0)) || is_1x1(v.input(1))) return "{0}" + times + "{1}";
    }
    if (t == "{0} ⊘ {1}" && is_1x1(v.input(1))) return "{0} / {1}";
    return t;
}

// The op's forward template with each operand's label or inline formula.
Expr Explainer::render_forward(const Var& v) const {
    const OpDef* def = v.def();
    std::string t = def != nullptr && *def->forward.unicode ? def->forward.unicode : default_forward(v);
    t = scalar_product(v, t, " ");
    return {render(t, [&](const std::string& key) { return resolve(v, key, Expr{"g", kAtom}); }), template_prec(t)};
}

// Operand i's gradient is g summed back to its shape: every operand of a broadcasting op, and an
// operand whose rule is g itself but which is smaller than the output (affine's bias; a reduction's
// operand, larger than its output, gets g broadcast instead).
bool summed_back(const Var& v, std::size_t i) {
    const OpDef* def = v.def();
    if (def == nullptr) return false;
    if (def->kind == OpKind::broadcasting) return true;
    const Var in = v.input(i);
    return i < def->inputs.size() && std::string_view(def->inputs[i].rule.unicode) == "{g}" &&
           in.rows() <= v.rows() && in.cols() <= v.cols();
}

// The shape arithmetic of an inline tree of products and element-wise binary ops, e.g.
// "(64×10)(10×7) + (64×1 broadcast over 7 columns)": ops whose definition gives an expression-form
// shapes template (no {shape:out}) are expanded.
std::string Explainer::shape_expr(const Var& v, bool top) const {
    if (is_scalar_literal(v)) return "scalar";
    const OpDef* def = v.def();
    const bool expression_form = def != nullptr && *def->shapes && std::string(def->shapes).find("{shape:out}") == std::string::npos;
    if ((!top && has_line_[v.index()]) || !expression_form) return shape_of(v);
    return render(scalar_product(v, def->shapes, " · "), [&](const std::string& key) -> Expr {
        if (key.empty() || !std::isdigit(static_cast<unsigned char>(key[0]))) return resolve(v, key, Expr{"g", kAtom});
        const std::size_t i = static_cast<std::size_t>(std::stoul(key));
        const Var in = v.input(i);
        const bool broadcast = summed_back(v, i) && in.shape() != v.shape() && !is_scalar_literal(in);
        return {broadcast ? broadcast_text(in.rows(), in.cols(), v.rows(), v.cols()) : shape_expr(in, false), kAtom};
    });
}

std::string Explainer::forward_shapes(const Var& v) const {
    const OpDef* def = v.def();
    if (def != nullptr && *def->shapes) {
        if (std::string(def->shapes).find("{shape:out}") == std::string::npos) return shape_expr(v, true) + " = " + shape_of(v);
        return render(def->shapes, [&](const std::string& key) { return resolve(v, key, Expr{"g", kAtom}); });
    }
    if (def != nullptr && def->kind == OpKind::elementwise) {
        const Var in = v.input(0);
        // An element-wise op on an inline formula keeps its shape: show how that one was formed.
        if (!has_line_[in.index()] && !is_leaf(in)) return forward_shapes(in);
        return "element-wise on " + shape_of(v);
    }
    std::string args;
    for (std::size_t i = 0; i < v.num_inputs(); ++i) args += (i ? ", " : "") + shape_of(v.input(i));
    return std::string(v.op()) + ": " + args + " → " + shape_of(v);
}

// Sums a broadcast operand's gradient back to its shape (the slides' db = row sums of dZ).
void Explainer::reduce_to_input(Term& t, const Var& v, const Var& in) const {
    if (in.shape() == v.shape()) return;
    const bool rows_summed = in.rows() == 1 && v.rows() > 1, cols_summed = in.cols() == 1 && v.cols() > 1;
    if (t.value.part.text.empty()) {  // a broadcast scalar: the sum is the scalar times the count
        t.value.coef *= static_cast<double>((rows_summed ? v.rows() : 1) * (cols_summed ? v.cols() : 1));
    } else {
        // In functions the model language reads too: rowsum(dZ) is m×1, colsum(dZ) 1×n.
        const char* what = rows_summed && cols_summed ? "sum(" : cols_summed ? "rowsum(" : "colsum(";
        t.value.part = {what + sym_text(t.value).text + ")", kAtom};
        t.value.coef = 1.0;
    }
    t.shapes = shape_of(v) + " → " + shape_of(in) + " (broadcast reduction)";
}

// Input i's gradient from the rule in v's definition (see <autodiff/op.hpp> for the template form).
Explainer::Term Explainer::vjp(const Var& v, std::size_t i, const Sym& g) const {
    const OpDef* def = v.def();
    const Var in = v.input(i);
    Term t{g, "", "", 0};
    Sym& r = t.value;
    const bool scalar_g = g.part.text.empty() && is_1x1(v);
    const InputRule* rule = def != nullptr && i < def->inputs.size() && *def->inputs[i].rule.unicode ? &def->inputs[i] : nullptr;
    if (rule == nullptr) {  // an op without a rule: its vector-Jacobian product, named generically
        r = {1.0, {"vjp(" + std::string(v.op()) + ", input " + std::to_string(i) + ", " + sym_text(g).text + ")", kAtom}};
        t.shapes = shape_of(v) + " → " + shape_of(in);
        return t;
    }
    std::string text = rule->rule.unicode;
    if (starts_with(text, "−")) {
        r.coef = -r.coef;
        text = text.substr(std::string("−").size());
    }
    std::string key;
    double x = 0.0;
    // A leading number ("{p} {g} ...") is a coefficient.
    if (const std::size_t n = placeholder_at(text, 0, key); n && key != "g" && text.compare(n, 1, " ") == 0 &&
                                                            number_key(v, key, x)) {
        r.coef *= x;
        text = text.substr(n + 1);
    }
    std::vector<std::pair<std::string, std::string>> factors;
    if (starts_with(text, "{g}") && split_chain(text.substr(3), factors)) {
        for (const auto& [op, factor] : factors) {
            const bool times = op == " ⊙ ";
            if (placeholder_at(factor, 0, key) == factor.size() && number_key(v, key, x)) {
                r.coef = times ? r.coef * x : r.coef / x;  // a scalar folds into the coefficient
                continue;
            }
            const std::size_t n = placeholder_at(factor, 0, key);
            const Expr e = n == factor.size() ? resolve(v, key, matrix_part(r))
                                              : Expr{render(factor, [&](const std::string& k) { return resolve(v, k, matrix_part(r)); }),
                                                     template_prec(factor)};
            if (times)
                hadamard(r, e);
            else
                divide(r, e);
        }
    } else {
        // A 1x1 output's gradient is a scalar: with no matrix part it stays in the coefficient
        // (w'*w gives w twice, not w and w 𝟙).
        if (scalar_g && starts_with(text, "{g} ")) text = text.substr(4);
        if (scalar_g && ends_with(text, " {g}")) text.resize(text.size() - 4);
        const Expr gm = matrix_part(r);
        const std::string rendered = render(text, [&](const std::string& k) { return resolve(v, k, gm); });
        // The rendered text may bind looser than its template: {g}ᵀ of a product is Bᵀ Aᵀ.
        r.part = {rendered, std::min(template_prec(text), template_prec(rendered))};
    }
    if (summed_back(v, i)) reduce_to_input(t, v, in);
    auto remark = [&](const char* tmpl) {
        return render(tmpl, [&](const std::string& k) { return resolve(v, k, sym_text(g)); });
    };
    if (t.shapes.empty() && *rule->shapes) t.shapes = remark(rule->shapes);
    if (*rule->layout && !scalar_g) t.layout = remark(rule->layout);  // no layout to choose when scaling by a scalar
    if (t.shapes.empty())
        t.shapes = def->kind == OpKind::elementwise || def->kind == OpKind::broadcasting
                       ? "element-wise on " + shape_of(in)
                       : shape_of(v) + " → " + shape_of(in);
    return t;
}

void Explainer::propagate(const Var& v, const Sym& g, std::size_t from) {
    for (std::size_t i = 0; i < v.num_inputs(); ++i) {
        const Var in = v.input(i);
        if (!in.requires_grad()) continue;
        Term t = vjp(v, i, g);
        t.from = from;
        if (has_line_[in.index()])
            terms_[in.index()].push_back(std::move(t));
        else
            propagate(in, t.value, from);
    }
}

std::vector<ExplainLine> Explainer::run() {
    using Kind = ExplainLine::Kind;
    std::vector<ExplainLine> lines;
    const std::size_t n = out_.index() + 1;
    // Inputs first, then the forward equations: a graph builder may record constants (data) after
    // some ops, and each section is printed once.
    std::vector<std::size_t> line_nodes;
    for (std::size_t k = 0; k < n; ++k)
        if (has_line_[k] && is_leaf(tape_.node(k))) line_nodes.push_back(k);
    for (std::size_t k = 0; k < n; ++k)
        if (has_line_[k] && !is_leaf(tape_.node(k))) line_nodes.push_back(k);
    for (std::size_t k : line_nodes) {
        const Var v = tape_.node(k);
        ExplainLine line;
        line.lhs = label_[k];
        line.node = k;
        line.shape = v.shape();
        if (is_leaf(v)) {
            line.kind = Kind::input;
            line.formula = v.op();
            line.shapes = shape_of(v);
        } else {
            line.kind = Kind::forward;
            line.formula = forward_expr(v, true).text;
            line.shapes = forward_shapes(v);
        }
        lines.push_back(std::move(line));
    }

    // Reverse pass: each line node hands its gradient dM down through its inline formula.
    for (std::size_t k = n; k-- > 0;) {
        const Var v = tape_.node(k);
        if (!has_line_[k] || is_leaf(v) || !v.requires_grad()) continue;
        const Sym g = k == out_.index() ? Sym{} : Sym{1.0, {"d" + label_[k], kAtom}};
        propagate(v, g, k);
    }
    // Gradients in the order the reverse pass completes them (after their last consumer, i.e. the
    // one earliest on the tape); among those completed together, variables first.
    std::vector<std::size_t> order;
    for (std::size_t k = 0; k < n; ++k)
        if (!terms_[k].empty()) order.push_back(k);
    auto completed_at = [&](std::size_t k) {
        std::size_t m = terms_[k].front().from;
        for (const Term& t : terms_[k]) m = std::min(m, t.from);
        return m;
    };
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        const std::size_t ca = completed_at(a), cb = completed_at(b);
        if (ca != cb) return ca > cb;
        const bool la = is_leaf(tape_.node(a)), lb = is_leaf(tape_.node(b));
        return la != lb ? la : a < b;
    });
    for (std::size_t k : order) {
        const Var v = tape_.node(k);
        ExplainLine line;
        line.kind = Kind::backward;
        line.lhs = "d" + label_[k];
        line.node = k;
        line.shape = v.shape();
        // Paths that reach the same matrix are one term: R ⊙ R sends (1/20) R down twice, and a
        // person writes dR = (1/10) R.
        std::vector<Sym> like_terms;
        for (const Term& t : terms_[k]) {
            const auto same = std::find_if(like_terms.begin(), like_terms.end(),
                                           [&](const Sym& s) { return s.part.text == t.value.part.text; });
            if (same == like_terms.end())
                like_terms.push_back(t.value);
            else
                same->coef += t.value.coef;
            if (line.layout.empty()) line.layout = t.layout;
        }
        for (const Sym& term : like_terms) {
            if (term.coef == 0.0) continue;  // paths that cancel
            const std::string text = sym_text(term).text;
            if (line.formula.empty())
                line.formula = text;
            else if (text.rfind("−", 0) == 0)
                line.formula += " − " + text.substr(std::string("−").size());
            else
                line.formula += " + " + text;
        }
        if (line.formula.empty()) line.formula = "0";
        line.shapes = terms_[k].size() == 1 ? terms_[k].front().shapes
                                            : shape_of(v) + " (sum of " + std::to_string(terms_[k].size()) +
                                                  " paths)";
        lines.push_back(std::move(line));
    }

    for (std::size_t k = 0; k < tape_.size(); ++k) {
        const Var v = tape_.node(k);
        if (ancestor_[k] || std::string(v.op()) != "variable") continue;
        ExplainLine note;
        note.node = k;
        note.shape = v.shape();
        note.formula = v.describe() + " (" + shape_of(v) + ") does not affect " + label_[out_.index()] +
                       ": no path leads from it to " + label_[out_.index()] +
                       ", so its gradient is zero by structure";
        lines.push_back(std::move(note));
    }
    return lines;
}

}  // namespace

std::vector<ExplainLine> explain(const Tape& tape, const Var& output) { return Explainer(tape, output).run(); }

struct TemplateNames::Impl {
    Explainer explainer;
};

TemplateNames::TemplateNames(const Tape& tape, const Var& output)
    : impl_(std::make_unique<Impl>(Impl{Explainer(tape, output)})) {}
TemplateNames::~TemplateNames() = default;
TemplateNames::TemplateNames(TemplateNames&&) noexcept = default;
TemplateNames& TemplateNames::operator=(TemplateNames&&) noexcept = default;

std::string TemplateNames::operator()(const Var& at, const std::string& text) const {
    return impl_->explainer.render_at(at, text);
}

std::string explain_template(const Tape& tape, const Var& output, const Var& at, const std::string& text) {
    return TemplateNames(tape, output)(at, text);
}

std::vector<ExplainLine> explain(const GraphBuilder& f, const std::vector<Matrix>& inputs,
                                 const std::vector<std::string>& names, bool check) {
    if (names.size() != inputs.size())
        throw std::invalid_argument("explain: " + std::to_string(inputs.size()) + " inputs but " +
                                    std::to_string(names.size()) + " names");
    Tape tape;
    std::vector<Var> vars;
    for (std::size_t i = 0; i < inputs.size(); ++i) vars.push_back(tape.variable(inputs[i], names[i]));
    const Var out = f(tape, vars);
    tape.backward(out);
    std::vector<ExplainLine> lines = explain(tape, out);
    if (!check) return lines;
    for (ExplainLine& line : lines) {
        if (line.kind != ExplainLine::Kind::backward) continue;
        for (std::size_t i = 0; i < vars.size(); ++i) {
            if (vars[i].index() != line.node) continue;
            const Matrix fd = numerical_gradient(f, inputs, i);
            const Matrix& ad = vars[i].grad();
            // Relative to the gradient's scale (a gradient of 1e6 has central-difference errors of
            // ~1e-4), and a NaN or Inf on either side is an infinite error, never a pass.
            double worst = 0.0, scale = 1.0;
            for (std::size_t e = 0; e < fd.size(); ++e) {
                const double delta = std::abs(fd.data()[e] - ad.data()[e]);
                worst = std::isfinite(delta) ? std::max(worst, delta) : std::numeric_limits<double>::infinity();
                if (std::isfinite(fd.data()[e])) scale = std::max(scale, std::abs(fd.data()[e]));
            }
            line.fd_error = worst / scale;
        }
    }
    return lines;
}

std::string backward_heading(const std::vector<ExplainLine>& lines) {
    std::string output;  // the last forward equation is the output's
    for (const ExplainLine& l : lines)
        if (l.kind == ExplainLine::Kind::forward) output = l.lhs;
    return "Backward (d□ = ∂" + output + "/∂□, shaped like □)";
}

std::string format_explanation(const std::vector<ExplainLine>& lines) {
    using Kind = ExplainLine::Kind;
    // Equations longer than this do not push every other line's shapes further right.
    constexpr std::size_t kMaxAlign = 40;
    std::size_t align = 0;
    for (const ExplainLine& l : lines) {
        if (l.kind == Kind::forward || l.kind == Kind::backward)
            align = std::max(align, std::min(kMaxAlign, display_width(l.lhs + " = " + l.formula)));
    }
    std::string out;
    Kind section = Kind::note;
    bool first = true;
    for (const ExplainLine& l : lines) {
        if (first || l.kind != section) {
            section = l.kind;
            out += section == Kind::input      ? "Inputs\n"
                   : section == Kind::forward  ? "Forward\n"
                   : section == Kind::backward ? backward_heading(lines) + "\n"
                                               : "Notes\n";
            first = false;
        }
        if (l.kind == Kind::note) {
            out += "  " + l.formula + "\n";
            continue;
        }
        if (l.kind == Kind::input) {
            out += "  " + padded(l.lhs, 6) + " " + padded(l.formula, 9) + l.shapes + "\n";
            continue;
        }
        out += "  " + padded(l.lhs + " = " + l.formula, align) + "   " + l.shapes;
        if (!std::isnan(l.fd_error)) out += "   [finite differences: max |Δ| = " + number_text(l.fd_error) + "]";
        out += "\n";
        if (!l.layout.empty()) out += "      layout: " + l.layout + "\n";
    }
    return out;
}

}  // namespace matgrad
