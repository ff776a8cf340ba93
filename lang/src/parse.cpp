// The model language's lexer and parser: one statement per line, expressions by precedence
// climbing (Pratt), names resolved while parsing so every error points at the token behind it.
#include "program.hpp"

#include <autodiff/registry.hpp>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

namespace matgrad::lang {

namespace {

enum class TokenKind { ident, number, op, end };

struct Token {
    TokenKind kind = TokenKind::end;
    std::string text;
    double number = 0.0;
    std::size_t begin = 0, end = 0;  // byte offsets in the line
};

bool ascii_ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool digit(char c) { return c >= '0' && c <= '9'; }

/// The code point of the UTF-8 sequence at s[i] and its length in bytes (length 0: not valid UTF-8).
std::pair<char32_t, std::size_t> decode_utf8(const std::string& s, std::size_t i) {
    const auto b = static_cast<unsigned char>(s[i]);
    const std::size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return {0, 0};
    char32_t c = n == 1 ? b : n == 2 ? (b & 0x1F) : n == 3 ? (b & 0x0F) : (b & 0x07);
    for (std::size_t k = 1; k < n; ++k) {
        const auto t = static_cast<unsigned char>(s[i + k]);
        if ((t >> 6) != 0x2) return {0, 0};
        c = (c << 6) | (t & 0x3F);
    }
    return {c, n};
}

/// The letters a name may hold beyond ASCII: the Latin, Greek, Cyrillic, Hebrew, Arabic, Hangul and
/// CJK letter blocks (λ, Σ, α, é). Not symbols: × ÷, the operators ⊙ ⊘ − and the superscript ᵀ.
bool unicode_letter(char32_t c) {
    return c == 0xAA || c == 0xB5 || c == 0xBA || (c >= 0xC0 && c <= 0x2AF && c != 0xD7 && c != 0xF7) ||
           (c >= 0x370 && c <= 0x3FF && c != 0x375 && c != 0x37E && c != 0x384 && c != 0x385 && c != 0x387) ||
           (c >= 0x400 && c <= 0x52F) || (c >= 0x5D0 && c <= 0x5EA) || (c >= 0x620 && c <= 0x64A) ||
           (c >= 0x1F00 && c <= 0x1FFF && c != 0x1FBD && c < 0x1FFD) || (c >= 0x3040 && c <= 0x30FF) ||
           (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xAC00 && c <= 0xD7AF);
}

/// The length of the name character at s[i] (0: none): an ASCII letter, digit or _, or a Unicode letter.
std::size_t name_char(const std::string& s, std::size_t i, bool first) {
    if (ascii_ident_start(s[i]) || (!first && digit(s[i]))) return 1;
    const auto [c, n] = decode_utf8(s, i);
    return n > 1 && unicode_letter(c) ? n : 0;
}

/// The end of the name that starts at s[i] (i itself when none starts there).
std::size_t name_end(const std::string& s, std::size_t i) {
    for (std::size_t n = 0; i < s.size() && (n = name_char(s, i, false)) > 0;) i += n;
    return i;
}

/// "unexpected character '$'", "unexpected character '∑' (U+2211)", or for a control or invalid byte
/// "unexpected byte 0x1B": never the raw byte, which could drive the terminal.
std::string unexpected_character(const std::string& line, std::size_t i) {
    const auto byte = static_cast<unsigned char>(line[i]);
    char text[64];
    if (byte >= 0x20 && byte < 0x7f) {
        std::snprintf(text, sizeof text, "unexpected character '%c'", line[i]);
        return text;
    }
    const auto [c, n] = decode_utf8(line, i);
    if (n > 1 && c >= 0xA0) {
        std::snprintf(text, sizeof text, " (U+%04X)", static_cast<unsigned>(c));
        return "unexpected character '" + line.substr(i, n) + "'" + text;
    }
    std::snprintf(text, sizeof text, "unexpected byte 0x%02X", byte);
    return text;
}

/// The slides' notation, read as the ASCII operators: ⊙ .*, ⊘ ./, ᵀ ', − (minus sign) -, and the
/// postfix superscripts of explain's formulas: ² (.^2, element-wise as in 1 − H²), ⁻¹ (inv), ⁻ᵀ (inv, then ').
const std::pair<const char*, const char*> kOperatorAliases[] = {
    {"\xE2\x8A\x99", ".*"}, {"\xE2\x8A\x98", "./"}, {"\xE1\xB5\x80", "'"}, {"\xE2\x88\x92", "-"},
    {"\xC2\xB2", "\xC2\xB2"}, {"\xE2\x81\xBB\xC2\xB9", "\xE2\x81\xBB\xC2\xB9"}, {"\xE2\x81\xBB\xE1\xB5\x80", "\xE2\x81\xBB\xE1\xB5\x80"}};
constexpr const char* kSquared = "\xC2\xB2";
constexpr const char* kInverse = "\xE2\x81\xBB\xC2\xB9";
constexpr const char* kInverseTranspose = "\xE2\x81\xBB\xE1\xB5\x80";
/// 𝟙, explain's matrix of ones, reads as the number 1: it only stands where broadcasting gives it
/// its shape (𝟙 ⊘ A is 1 ./ A).
constexpr const char* kOnes = "\xF0\x9D\x9F\x99";

/// Function names of the slides' and explain's notation, with the numeric parameters they imply:
/// σ(Z) is sigmoid(Z) (σ alone stays a name: a model may call its standard deviation σ); rowsum(X)
/// is sum(X, 1) (m×1, the slides' db = row sums of dZ) and colsum(X) is sum(X, 0) (1×n).
struct FunctionAlias {
    const char* alias;
    const char* function;
    std::vector<double> numbers;
};
const FunctionAlias kFunctionAliases[] = {{"\xCF\x83", "sigmoid", {}}, {"rowsum", "sum", {1}}, {"colsum", "sum", {0}}};

const FunctionAlias* function_alias(const std::string& name) {
    for (const FunctionAlias& a : kFunctionAliases)
        if (name == a.alias) return &a;
    return nullptr;
}

/// Levenshtein distance, for "did you mean" suggestions.
std::size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

/// The closest candidate within 2 edits (ties: the first), or "".
std::string closest(const std::string& name, const std::vector<std::string>& candidates) {
    std::string best;
    std::size_t best_distance = 3;
    for (const std::string& c : candidates) {
        const std::size_t d = edit_distance(name, c);
        if (d < best_distance && d < name.size() && d <= (name.size() <= 3 ? 1u : 2u)) {  // Q is no typo of J
            best = c;
            best_distance = d;
        }
    }
    return best;
}

// How tightly juxtaposition binds (see Parser::infix): above * and ⊙ (20), below unary minus (30).
constexpr int kJuxtaposition = 25;

// Deeper expressions are refused so that neither parsing nor recording can exhaust the stack.
constexpr std::size_t kMaxDepth = 500;

class Parser {
public:
    explicit Parser(Model::Impl& m) : m_(m) {}

    void run() {
        split_lines();
        find_definitions();
        for (line_ = 1; line_ <= m_.lines.size(); ++line_) {
            tokens_ = lex(m_.lines[line_ - 1]);
            pos_ = 0;
            chain_ = 0;
            if (peek().kind == TokenKind::end) continue;
            statement();
        }
        if (m_.assignments.empty())
            throw m_.error(0, 0, m_.derivation ? "the derivation has no line (dNAME = expression: your gradient of NAME)"
                                               : "the model has no assignment: its last NAME = expression is the output");
        number_node_slots();
        m_.output_slot = static_cast<std::uint32_t>(m_.declarations.size() + m_.assignments.size() - 1);
    }

private:
    // A Recording holds every declaration before every named node, but a model may declare a name
    // after an equation: while parsing, a named node's slot is its assignment's index tagged with
    // kNodeSlot, and becomes declarations + index once all declarations are known.
    static constexpr std::uint32_t kNodeSlot = std::uint32_t{1} << 31;

    void number_node_slots() {
        const auto number = [&](std::uint32_t& slot) {
            if (slot & kNodeSlot) slot = static_cast<std::uint32_t>(m_.declarations.size()) + (slot & ~kNodeSlot);
        };
        for (auto& entry : m_.slots) number(entry.second);
        for (Node& n : m_.nodes)
            if (n.kind == NodeKind::ref) number(n.slot);
    }

    // ---- lines and tokens

    void split_lines() {
        const std::string& s = m_.source;
        std::size_t start = s.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;  // a UTF-8 byte-order mark
        while (start <= s.size()) {
            std::size_t stop = s.find('\n', start);
            if (stop == std::string::npos) stop = s.size();
            std::string line = s.substr(start, stop - start);
            if (!line.empty() && line.back() == '\r') line.pop_back();  // CRLF files
            m_.lines.push_back(std::move(line));
            start = stop + 1;
        }
    }

    std::vector<Token> lex(const std::string& line) const {
        std::vector<Token> tokens;
        std::size_t i = 0;
        while (i < line.size()) {
            const char c = line[i];
            if (c == ' ' || c == '\t') {
                ++i;
            } else if (c == '#') {
                break;
            } else if (name_char(line, i, true) > 0) {
                const std::size_t start = i;
                i = name_end(line, i);
                tokens.push_back({TokenKind::ident, line.substr(start, i - start), 0.0, start, i});
            } else if (digit(c) || (c == '.' && i + 1 < line.size() && digit(line[i + 1]))) {
                tokens.push_back(lex_number(line, i));
            } else if (line.compare(i, std::strlen(kOnes), kOnes) == 0) {
                tokens.push_back({TokenKind::number, kOnes, 1.0, i, i + std::strlen(kOnes)});
                i += std::strlen(kOnes);
            } else {
                static const char* const two[] = {".*", "./", ".^"};
                std::string op;
                std::size_t length = 0;
                for (const char* t : two)
                    if (line.compare(i, 2, t) == 0) op = t, length = 2;
                for (const auto& [alias, ascii] : kOperatorAliases)
                    if (line.compare(i, std::strlen(alias), alias) == 0) op = ascii, length = std::strlen(alias);
                if (op.empty() && std::string_view("+-*@/^'(),=:").find(c) != std::string_view::npos) op = std::string(1, c), length = 1;
                if (op.empty()) throw m_.error(line_, i + 1, unexpected_character(line, i));
                tokens.push_back({TokenKind::op, op, 0.0, i, i + length});
                i += length;
            }
        }
        tokens.push_back({TokenKind::end, "", 0.0, line.size(), line.size()});
        return tokens;
    }

    // digits [. digits] [e [+-] digits]; a '.' not followed by a digit is left for `.*` and friends.
    Token lex_number(const std::string& line, std::size_t& i) const {
        const std::size_t start = i;
        while (i < line.size() && digit(line[i])) ++i;
        if (i + 1 < line.size() && line[i] == '.' && digit(line[i + 1])) {
            ++i;
            while (i < line.size() && digit(line[i])) ++i;
        }
        if (i < line.size() && (line[i] == 'e' || line[i] == 'E')) {
            std::size_t k = i + 1;
            if (k < line.size() && (line[k] == '+' || line[k] == '-')) ++k;
            if (k < line.size() && digit(line[k])) {
                i = k;
                while (i < line.size() && digit(line[i])) ++i;
            }
        }
        const std::string text = line.substr(start, i - start);
        const double value = std::strtod(text.c_str(), nullptr);
        if (!std::isfinite(value)) throw m_.error(line_, start + 1, "the number " + text + " is too large");
        return {TokenKind::number, text, value, start, i};
    }

    const Token& peek(std::size_t ahead = 0) const { return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)]; }
    const Token& next() {
        const Token& t = tokens_[pos_];
        if (pos_ + 1 < tokens_.size()) ++pos_;
        return t;
    }
    bool is_op(const Token& t, const char* op) const { return t.kind == TokenKind::op && t.text == op; }
    Error error_at(const Token& t, const std::string& message) const { return m_.error(line_, t.begin + 1, message); }
    static std::string quoted(const Token& t) { return "'" + t.text + "'"; }

    // ---- statements

    /// Every name's defining line, read ahead so that a use before the definition can say where it is.
    void find_definitions() {
        for (std::size_t l = 0; l < m_.lines.size(); ++l) {
            const std::string& s = m_.lines[l];
            std::size_t i = s.find_first_not_of(" \t");
            auto word = [&] {
                const std::size_t start = i;
                i = name_end(s, i);
                return s.substr(start, i - start);
            };
            if (i == std::string::npos || name_char(s, i, true) == 0) continue;
            std::string name = word();
            if (name == "input" || name == "param") {
                i = s.find_first_not_of(" \t", i);
                if (i == std::string::npos || name_char(s, i, true) == 0) continue;
                name = word();
            } else {
                i = s.find_first_not_of(" \t", i);
                if (i == std::string::npos || s[i] != '=') continue;
            }
            later_.emplace(name, l + 1);  // keeps the first definition
        }
    }

    void statement() {
        const Token& first = next();
        if (m_.derivation && !(first.kind == TokenKind::ident && is_op(peek(), "="))) {
            throw error_at(first, "expected NAME = expression (dNAME: your gradient of NAME; any other name: a "
                                  "helper), got " + quoted(first) + (first.text == "input" || first.text == "param"
                                                                        ? ": the model declares the names" : ""));
        }
        if (first.kind == TokenKind::ident && (first.text == "input" || first.text == "param")) {
            declaration(first.text == "input" ? Declaration::Kind::input : Declaration::Kind::param);
        } else if (first.kind == TokenKind::ident && is_op(peek(), "=")) {
            assignment(first);
        } else {
            throw error_at(first, "expected a declaration (input NAME : R x C, param NAME : R x C) or an "
                                  "assignment (NAME = expression), got " + quoted(first));
        }
    }

    void check_new_name(const Token& name) const {
        if (name.text == "input" || name.text == "param")
            throw error_at(name, "'" + name.text + "' is a keyword and cannot be a name");
        if (const auto it = m_.slots.find(name.text); it != m_.slots.end() && it->second < m_.presets) {
            const std::string gradient = m_.declarations[it->second].kind == Declaration::Kind::param ||
                                                 it->second >= m_.presets - m_.preset_nodes
                                             ? "; your gradient of it is d" + name.text
                                             : "";
            throw error_at(name, "'" + name.text + "' is a name of the model (" + m_.preset_file + " line " +
                                     std::to_string(m_.declarations[it->second].line) + ")" + gradient);
        }
        if (const auto it = m_.slots.find(name.text); it != m_.slots.end()) {
            const std::uint32_t slot = it->second;
            const std::size_t line = slot & kNodeSlot ? m_.assignments[slot & ~kNodeSlot].line : m_.declarations[slot].line;
            throw error_at(name, "'" + name.text + "' is already defined on line " + std::to_string(line) +
                                     " (a name is assigned once)");
        }
    }

    void declaration(Declaration::Kind kind) {
        const Token& name = next();
        if (name.kind != TokenKind::ident)
            throw error_at(name, std::string("expected a name after '") + (kind == Declaration::Kind::input ? "input" : "param") +
                                     "', got " + (name.kind == TokenKind::end ? "the end of the line" : quoted(name)));
        check_new_name(name);
        Declaration d;
        d.kind = kind;
        d.name = name.text;
        d.line = line_;
        d.column = name.begin + 1;
        if (is_op(peek(), ":")) {
            next();
            d.shape = shape();
        }
        if (peek().kind != TokenKind::end)
            throw error_at(peek(), "unexpected " + quoted(peek()) + " after the declaration of " + d.name +
                                       " (expected NAME : R x C)");
        m_.declare(std::move(d));
    }

    Dim dim_from(const std::string& text, std::size_t begin) const {
        Dim dim;
        dim.line = line_;
        dim.column = begin + 1;
        if (digit(text[0])) {
            const bool whole = std::all_of(text.begin(), text.end(), digit);
            if (!whole || text.size() > 9 || std::stoul(text) == 0)
                throw m_.error(line_, begin + 1, "a dimension is a positive whole number or a name, not " + text);
            dim.value = std::stoul(text);
        } else {
            dim.name = text;
        }
        return dim;
    }

    Dim dim() {
        const Token& t = next();
        if (t.kind != TokenKind::number && t.kind != TokenKind::ident)
            throw error_at(t, "expected a dimension (a number or a name) in the shape R x C, got " +
                                  (t.kind == TokenKind::end ? std::string("the end of the line") : quoted(t)));
        return dim_from(t.text, t.begin);
    }

    // R x C, also written RxC: "10x7" lexes as 10 and x7, "d x n" as d, x, n.
    std::array<Dim, 2> shape() {
        const Dim rows = dim();
        const Token& x = next();
        if (x.kind == TokenKind::ident && x.text == "x") return {rows, dim()};
        if (x.kind == TokenKind::ident && x.text.size() > 1 && x.text[0] == 'x')
            return {rows, dim_from(x.text.substr(1), x.begin + 1)};
        throw error_at(x, "expected 'x' between the dimensions of the shape (e.g. 10 x 7), got " +
                              (x.kind == TokenKind::end ? std::string("the end of the line") : quoted(x)));
    }

    void assignment(const Token& name) {
        check_new_name(name);
        const Token& equals = next();
        if (peek().kind == TokenKind::end) throw m_.error(line_, equals.end + 1, "missing expression after '='");
        const std::uint32_t root = expression(0);
        if (peek().kind != TokenKind::end) throw unexpected(peek(), "");
        Assignment a;
        a.name = name.text;
        a.line = line_;
        a.column = name.begin + 1;
        const std::string& line = m_.lines[line_ - 1];
        a.expression = line.substr(m_.nodes[root].begin, m_.nodes[root].end - m_.nodes[root].begin);
        m_.slots.emplace(a.name, kNodeSlot | static_cast<std::uint32_t>(m_.assignments.size()));
        m_.assignments.push_back(std::move(a));
        m_.roots.push_back(root);
    }

    /// A token where an expression should have ended: `also` names what else was allowed there.
    Error unexpected(const Token& t, const std::string& also) const {
        if (t.kind != TokenKind::op || is_op(t, "(")) return error_at(t, "missing operator before " + quoted(t));
        return error_at(t, (also.empty() ? "unexpected " : "expected " + also + ", got ") + quoted(t));
    }

    // ---- expressions

    std::uint32_t add(Node n) {
        m_.nodes.push_back(std::move(n));
        return static_cast<std::uint32_t>(m_.nodes.size() - 1);
    }

    Node& node(std::uint32_t i) { return m_.nodes[i]; }

    /// Binding powers (left, right) of the infix operators; right = left + 1 is left-associative.
    static bool infix(const Token& t, int& left, int& right, BinaryOp& op) {
        if (t.kind != TokenKind::op) return false;
        static const std::unordered_map<std::string, std::pair<int, BinaryOp>> table{
            {"+", {10, BinaryOp::add}},      {"-", {10, BinaryOp::sub}},         {"*", {20, BinaryOp::product}},
            {"@", {20, BinaryOp::matmul}},   {".*", {20, BinaryOp::mul}},        {"./", {20, BinaryOp::div}},
            {"/", {20, BinaryOp::scalar_div}}, {".^", {40, BinaryOp::power}},    {"^", {40, BinaryOp::scalar_power}}};
        const auto it = table.find(t.text);
        if (it == table.end()) return false;
        left = it->second.first;
        op = it->second.second;
        right = (op == BinaryOp::power || op == BinaryOp::scalar_power) ? left : left + 1;  // x.^a.^b = x.^(a.^b)
        return true;
    }

    struct DepthGuard {
        explicit DepthGuard(Parser& p) : p_(p) {
            if (++p_.depth_ > kMaxDepth)
                throw p_.error_at(p_.peek(), "expression nested too deeply (more than " + std::to_string(kMaxDepth) + " levels)");
        }
        ~DepthGuard() { --p_.depth_; }
        Parser& p_;
    };

    std::uint32_t expression(int min_power) {
        const DepthGuard guard(*this);
        std::uint32_t lhs = prefix();
        for (;;) {
            const Token& t = peek();
            int left = 0, right = 0;
            BinaryOp op{};
            if (is_op(t, "'")) {  // postfix transpose binds tightest
                next();
                lhs = unary(NodeKind::transpose, t, lhs, node(lhs).begin, t.end);
                continue;
            }
            if (is_op(t, kSquared)) {  // H² is H .^ 2
                next();
                Node two;
                two.number = 2.0;
                lhs = binary(BinaryOp::power, t, lhs, add(located(std::move(two), t, t.begin, t.end)));
                continue;
            }
            if (is_op(t, kInverse) || is_op(t, kInverseTranspose)) {  // S⁻¹ is inv(S), S⁻ᵀ is inv(S)'
                next();
                lhs = inverse(t, lhs);
                if (is_op(t, kInverseTranspose)) lhs = unary(NodeKind::transpose, t, lhs, node(lhs).begin, t.end);
                continue;
            }
            const bool operand = t.kind == TokenKind::ident || is_op(t, "(") || t.text == kOnes;  // not 2: X 2 is a typo
            if (operand && kJuxtaposition >= min_power) {
                // Juxtaposition is the product *, binding tighter than * and ⊙ as explain writes it:
                // dA ⊙ W2ᵀ dZ2 is dA ⊙ (W2ᵀ dZ2), and (1/7) Y scales Y.
                if (++chain_ > kMaxDepth)
                    throw error_at(t, "expression too long (more than " + std::to_string(kMaxDepth) + " operators)");
                lhs = binary(BinaryOp::product, t, lhs, expression(kJuxtaposition + 1));
                continue;
            }
            if (!infix(t, left, right, op) || left < min_power) return lhs;
            const Token& op_token = next();
            if (peek().kind == TokenKind::end)
                throw m_.error(line_, op_token.end + 1, "incomplete expression: the line ends after " + quoted(op_token));
            if (++chain_ > kMaxDepth)  // long left-associative chains make deep trees too
                throw error_at(op_token, "expression too long (more than " + std::to_string(kMaxDepth) + " operators)");
            lhs = binary(op, op_token, lhs, expression(right));
        }
    }

    std::uint32_t prefix() {
        const Token& t = next();
        if (t.kind == TokenKind::number) {
            Node n;
            n.number = t.number;
            return add(located(std::move(n), t, t.begin, t.end));
        }
        if (t.kind == TokenKind::ident) {
            if (is_op(peek(), "'") && is_op(peek(1), "(") && m_.slots.count(t.text) == 0) {  // σ'(Z1): f's derivative
                next();
                return call(t, true);
            }
            // NAME( is a call when NAME is a function or no name at all (an unknown function's error);
            // a name of the model followed by ( is a product by juxtaposition: A1(1 − A1).
            const bool name = m_.slots.count(t.text) > 0 || later_.count(t.text) > 0 ||
                              std::find(m_.dims.begin(), m_.dims.end(), t.text) != m_.dims.end();
            const bool function = find_op(t.text) != nullptr || function_alias(t.text) != nullptr;
            return is_op(peek(), "(") && (function || !name) ? call(t, false) : reference(t);
        }
        if (is_op(t, "(")) {
            const std::uint32_t inner = expression(0);
            const Token& close = next();
            if (!is_op(close, ")"))
                throw close.kind == TokenKind::end
                    ? error_at(t, "'(' is not closed on this line")
                    : unexpected(close, "')' to close the '(' at column " + std::to_string(t.begin + 1));
            node(inner).begin = t.begin;  // the operand as written includes its parentheses
            node(inner).end = close.end;
            return inner;
        }
        if (is_op(t, "*") && pos_ >= 2 && is_op(tokens_[pos_ - 2], "*") && tokens_[pos_ - 2].end == t.begin)
            throw error_at(tokens_[pos_ - 2], "'**' is not an operator: use .^ (element-wise) or ^ (1×1)");
        if (is_op(t, "-")) {
            if (peek().kind == TokenKind::end)
                throw m_.error(line_, t.end + 1, "incomplete expression: the line ends after '-'");
            const std::uint32_t operand = expression(30);  // tighter than * and /, looser than .^ and '
            return unary(NodeKind::neg, t, operand, t.begin, node(operand).end);
        }
        if (t.kind == TokenKind::end)
            throw error_at(t, pos_ > 0 ? "incomplete expression: the line ends after " + quoted(tokens_[pos_ - 1])
                                       : std::string("incomplete expression"));
        throw error_at(t, "expected an operand (a name, a number, a function call or '('), got " + quoted(t));
    }

    Node located(Node n, const Token& t, std::size_t begin, std::size_t end) const {
        n.line = line_;
        n.column = t.begin + 1;
        n.begin = begin;
        n.end = end;
        return n;
    }

    std::uint32_t unary(NodeKind kind, const Token& t, std::uint32_t operand, std::size_t begin, std::size_t end) {
        if (node(operand).kind == NodeKind::number) {  // fold: -2, 3'
            if (kind == NodeKind::neg) node(operand).number = -node(operand).number;
            node(operand).begin = begin;
            node(operand).end = end;
            return operand;
        }
        Node n;
        n.kind = kind;
        n.children = {operand};
        return add(located(std::move(n), t, begin, end));
    }

    static double fold(BinaryOp op, double a, double b) {
        switch (op) {
            case BinaryOp::add: return a + b;
            case BinaryOp::sub: return a - b;
            case BinaryOp::div:
            case BinaryOp::scalar_div: return a / b;
            case BinaryOp::power:
            case BinaryOp::scalar_power: return std::pow(a, b);
            default: return a * b;
        }
    }

    std::uint32_t binary(BinaryOp op, const Token& t, std::uint32_t lhs, std::uint32_t rhs) {
        const Node &a = node(lhs), &b = node(rhs);
        const std::size_t begin = a.begin, end = b.end;
        if (op == BinaryOp::matmul && (a.kind == NodeKind::number || b.kind == NodeKind::number))
            throw error_at(t, "'@' is the matrix product of two matrices; scale by a number with *");
        if (op == BinaryOp::power || op == BinaryOp::scalar_power) {
            if (b.kind != NodeKind::number)
                throw m_.error(line_, b.begin + 1, "the exponent of " + quoted(t) + " must be a number, not '" +
                                                       m_.text(b) + "'");
        }
        if (a.kind == NodeKind::number && b.kind == NodeKind::number) {
            const double value = fold(op, a.number, b.number);
            if (!std::isfinite(value)) throw error_at(t, "'" + m_.lines[line_ - 1].substr(begin, end - begin) + "' is not a finite number");
            Node n;
            n.number = value;
            return add(located(std::move(n), t, begin, end));
        }
        Node n;
        n.kind = NodeKind::binary;
        n.op = op;
        n.children = {lhs, rhs};
        if (op == BinaryOp::power || op == BinaryOp::scalar_power) {  // x.^p is the op pow(x, p)
            n.numbers = {b.number};
            n.function = find_op("pow");
            n.call_depth = call_depth_;
            m_.max_call_depth = std::max(m_.max_call_depth, call_depth_ + 1);
        }
        return add(located(std::move(n), t, begin, end));
    }

    std::uint32_t reference(const Token& t) {
        if (const auto it = m_.slots.find(t.text); it != m_.slots.end()) {
            Node n;
            n.kind = NodeKind::ref;
            n.slot = it->second;
            return add(located(std::move(n), t, t.begin, t.end));
        }
        if (const auto it = std::find(m_.dims.begin(), m_.dims.end(), t.text); it != m_.dims.end()) {
            Node n;  // a dimension's size, a 1x1 known when the values are: sum(R .* R) / (2*n)
            n.kind = NodeKind::dim;
            n.slot = static_cast<std::uint32_t>(it - m_.dims.begin());
            return add(located(std::move(n), t, t.begin, t.end));
        }
        if (const auto it = later_.find(t.text); it != later_.end())
            throw error_at(t, it->second == line_ ? "'" + t.text + "' is used in its own definition"
                                                  : "'" + t.text + "' is used before it is defined (on line " +
                                                        std::to_string(it->second) + ")");
        if (find_op(t.text) != nullptr) throw error_at(t, "'" + t.text + "' is a function: call it as " + t.text + "(...)");
        std::vector<std::string> names(m_.dims);
        for (const auto& [name, line] : later_) names.push_back(name);
        for (const auto& [name, slot] : m_.slots) names.push_back(name);
        std::sort(names.begin(), names.end());
        const std::string suggestion = closest(t.text, names);
        throw error_at(t, "unknown name '" + t.text + "'" + (suggestion.empty() ? "" : " (did you mean " + suggestion + "?)"));
    }

    /// S⁻¹: the call inv(S) on the operand already parsed.
    std::uint32_t inverse(const Token& t, std::uint32_t operand) {
        Node n;
        n.kind = NodeKind::call;
        n.function = find_op("inv");
        n.children = {operand};
        n.call_depth = call_depth_;  // its one operand is evaluated before its buffer is used
        m_.max_call_depth = std::max(m_.max_call_depth, call_depth_ + 1);
        return add(located(std::move(n), t, node(operand).begin, t.end));
    }

    std::uint32_t call(const Token& name, bool derivative) {
        const FunctionAlias* alias = function_alias(name.text);
        const std::string op_name = alias != nullptr ? alias->function : name.text;
        const OpDef* function = find_op(op_name);
        if (function == nullptr) {
            const std::vector<std::string> known = op_names();
            const std::string suggestion = closest(name.text, known);
            std::string list;
            for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
            throw error_at(name, "unknown function '" + name.text + "' (" +
                                     (suggestion.empty() ? "functions: " + list : "did you mean " + suggestion + "?") + ")");
        }
        if (derivative && !m_.derivation)
            throw error_at(name, "'" + name.text + "'(...)' is a derivative, written only in a derivation file; in a "
                                 "model, write the function itself and let autodiff differentiate it");
        if (derivative && (function->kind != OpKind::elementwise || function->arity != 1))
            throw error_at(name, "'" + name.text + "'' is not defined: a derivative f'(x) is written for a function of one "
                                 "matrix applied element-wise (sigmoid, tanh, exp, ...), not for " + op_name);
        const Token& open = next();
        Node n;
        n.kind = NodeKind::call;
        n.function = function;
        n.derivative = derivative;
        n.call_depth = call_depth_;
        m_.max_call_depth = std::max(m_.max_call_depth, call_depth_ + 1);
        ++call_depth_;
        if (!is_op(peek(), ")")) {
            for (;;) {
                const std::uint32_t arg = expression(0);
                if (node(arg).kind == NodeKind::number)  // numeric parameters: sum(x, 0), pow(x, 2)
                    n.numbers.push_back(node(arg).number);
                else
                    n.children.push_back(arg);
                if (!is_op(peek(), ",")) break;
                next();
            }
        }
        --call_depth_;
        if (alias != nullptr) n.numbers.insert(n.numbers.end(), alias->numbers.begin(), alias->numbers.end());
        const Token& close = next();
        if (!is_op(close, ")"))
            throw close.kind == TokenKind::end
                      ? error_at(open, "'" + name.text + "(' is not closed on this line")
                      : unexpected(close, "',' or ')' in the arguments of " + name.text);
        const std::size_t params = n.numbers.size() - 1;  // if the first number is the operand
        if (n.children.empty() && function->arity == 1 && !n.numbers.empty() && params <= function->params.size() &&
            params + function->optional_params >= function->params.size())
            return number_call(n, name, close);
        return add(located(std::move(n), name, name.begin, close.end));
    }

    /// A function of numbers is a number (sqrt(3), exp(-1)): the op applied to a 1x1 constant.
    std::uint32_t number_call(Node& n, const Token& name, const Token& close) {
        const std::string text = m_.lines[line_ - 1].substr(name.begin, close.end - name.begin);
        Matrix value;
        try {
            Tape tape;
            value = apply_op(*n.function, {tape.constant(n.numbers.front())},
                             std::vector<double>(n.numbers.begin() + 1, n.numbers.end()))
                        .value();
        } catch (const std::exception& e) {  // a parameter out of range, a numerical failure
            throw error_at(name, text + ": " + e.what());
        }
        if (value.size() != 1 || !std::isfinite(value(0, 0))) throw error_at(name, "'" + text + "' is not a finite number");
        Node number;
        number.number = value(0, 0);
        return add(located(std::move(number), name, name.begin, close.end));
    }

    Model::Impl& m_;
    std::size_t line_ = 0;
    std::vector<Token> tokens_;
    std::size_t pos_ = 0;
    std::size_t depth_ = 0;   // expression() recursion
    std::size_t chain_ = 0;   // binary operators on the current line
    std::uint32_t call_depth_ = 0;
    std::unordered_map<std::string, std::size_t> later_;  // name -> line of its definition
};

}  // namespace

void parse_program(Model::Impl& impl) { Parser(impl).run(); }

}  // namespace matgrad::lang
