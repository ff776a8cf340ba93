// The text-to-LaTeX converter: one pass over UTF-8 tokens (words, numbers, symbols).
#include <report/latex.hpp>

#include <array>
#include <cctype>
#include <utility>
#include <vector>

namespace matgrad::report {
namespace {

// Symbols of the slides' notation (and a few more the explainer may print) and their LaTeX.
constexpr std::array<std::pair<std::string_view, std::string_view>, 35> kSymbols{{
    {"ᵀ", "^{\\top}"},   {"⊙", "\\odot "},    {"⊘", "\\oslash "}, {"−", "-"},
    {"×", "\\times "},   {"·", "\\cdot "},    {"Σ", "\\sum "},    {"∑", "\\sum "},
    {"𝟙", "\\mathbf{1}"}, {"∂", "\\partial "}, {"‖", "\\|"},       {"→", "\\to "},
    {"≤", "\\le "},      {"≥", "\\ge "},      {"≠", "\\ne "},     {"√", "\\sqrt "},
    {"²", "^{2}"},       {"⁻¹", "^{-1}"},     {"⁻ᵀ", "^{-\\top}"}, {"σ", "\\sigma "},
    {"α", "\\alpha "},   {"β", "\\beta "},    {"γ", "\\gamma "},  {"δ", "\\delta "},
    {"ε", "\\varepsilon "}, {"η", "\\eta "},   {"λ", "\\lambda "}, {"μ", "\\mu "},
    {"π", "\\pi "},      {"τ", "\\tau "},     {"∞", "\\infty "},    {"³", "^{3}"},
    {"′", "'"},           {"″", "''"},          {"‴", "'''"},
}};

bool is_letter(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }
bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

/// Bytes of the UTF-8 character starting at s[i].
std::size_t char_length(std::string_view s, std::size_t i) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    return std::min(n, s.size() - i);
}

/// A word for \text{}: words hold only letters, digits, '-' and '_', and only '_' needs escaping.
std::string text_escape(std::string_view word) {
    std::string out;
    for (char c : word) out += c == '_' ? std::string("\\_") : std::string(1, c);
    return out;
}

/// A word of letters, digits, '_' and inner '-' ("row-sum"): a math name (one letter, or "d" and a
/// letter, with an optional number as subscript) or upright text.
std::string word_latex(std::string_view word, bool& text) {
    text = false;
    if (word == "log" || word == "exp" || word == "tanh" || word == "sin" || word == "cos" || word == "max" ||
        word == "min")
        return "\\" + std::string(word) + " ";
    std::size_t letters = 0;
    while (letters < word.size() && is_letter(word[letters])) ++letters;
    bool digits_only = letters < word.size();
    for (std::size_t i = letters; i < word.size(); ++i) digits_only = digits_only && is_digit(word[i]);
    // x, W1, dZ1, dx: math names; "of", "mean", "logits": words.
    const bool name = letters == 1 || (letters == 2 && (word[0] == 'd' || digits_only));
    if (name && (letters == word.size() || digits_only)) {
        std::string name(word.substr(0, letters));
        return letters == word.size() ? name : name + "_{" + std::string(word.substr(letters)) + "}";
    }
    text = true;
    return "\\text{" + text_escape(word) + "}";
}

/// "(1/7)" or "(1/n)" at s[i] -> \frac{1}{7}; `end` is set past the ')'.
bool fraction_at(std::string_view s, std::size_t i, std::size_t& end, std::string& latex) {
    std::size_t j = i + 1;
    while (j < s.size() && is_digit(s[j])) ++j;
    const std::size_t slash = j;
    if (slash == i + 1 || slash >= s.size() || s[slash] != '/') return false;
    for (j = slash + 1; j < s.size() && (is_digit(s[j]) || is_letter(s[j]));) ++j;
    if (j == slash + 1 || j >= s.size() || s[j] != ')') return false;
    latex = "\\frac{" + std::string(s.substr(i + 1, slash - i - 1)) + "}{" +
            std::string(s.substr(slash + 1, j - slash - 1)) + "}";
    end = j + 1;
    return true;
}

/// A run of subscript digits and ₓ at s[i] (explain's C₃ₓ₄) -> _{3\times 4}; `end` is set past it.
bool subscript_at(std::string_view s, std::size_t i, std::size_t& end, std::string& latex) {
    std::string inner;
    std::size_t j = i;
    for (; j + 3 <= s.size() && s.substr(j, 2) == "\xE2\x82"; j += 3) {
        const auto c = static_cast<unsigned char>(s[j + 2]);
        if (c >= 0x80 && c <= 0x89) inner += static_cast<char>('0' + (c - 0x80));
        else if (c == 0x93) inner += "\\times ";
        else break;
    }
    if (inner.empty()) return false;
    latex = "_{" + inner + "}";
    end = j;
    return true;
}

/// A numeric exponent at s[i] = '^' (explain's X^4, X^−0.5) -> ^{4}, ^{-0.5}; `end` is set past it.
bool exponent_at(std::string_view s, std::size_t i, std::size_t& end, std::string& latex) {
    const std::string_view minus = "−";
    const bool negative = s.substr(i + 1, minus.size()) == minus;
    std::size_t j = i + 1 + (negative ? minus.size() : 0);
    const std::size_t digits = j;
    while (j < s.size() && (is_digit(s[j]) || s[j] == '.')) ++j;
    if (j == digits) return false;
    latex = "^{" + std::string(negative ? "-" : "") + std::string(s.substr(digits, j - digits)) + "}";
    end = j;
    return true;
}

}  // namespace

std::string to_latex(std::string_view s) {
    // Tokens first, then the joins: words of text next to each other share one \text{} (so their
    // spaces show), a space between text and math becomes "\ ", and math ignores the others.
    struct Token {
        std::string latex;
        bool text = false;
        bool space_before = false;
    };
    std::vector<Token> tokens;
    bool space = false;
    for (std::size_t i = 0; i < s.size();) {
        const char c = s[i];
        Token t;
        t.space_before = space;
        space = false;
        std::size_t j = i + 1;
        if (c == ' ') {
            space = !tokens.empty();
            i = j;
            continue;
        } else if (c == '(' && fraction_at(s, i, j, t.latex)) {
        } else if (subscript_at(s, i, j, t.latex)) {
        } else if (is_letter(c)) {
            j = i;
            while (j < s.size() && (is_letter(s[j]) || is_digit(s[j]) || s[j] == '_' ||
                                    (s[j] == '-' && j > i && j + 1 < s.size() && is_letter(s[j + 1]))))
                ++j;
            t.latex = word_latex(s.substr(i, j - i), t.text);
        } else if (is_digit(c) || c == '.') {
            j = i;
            while (j < s.size() && (is_digit(s[j]) || s[j] == '.')) ++j;
            if (j + 1 < s.size() && (s[j] == 'e' || s[j] == 'E') && (is_digit(s[j + 1]) || s[j + 1] == '-')) {
                j += 2;
                while (j < s.size() && is_digit(s[j])) ++j;
            }
            t.latex = s.substr(i, j - i);
        } else if (std::string_view("{}#%&$_").find(c) != std::string_view::npos) {
            t.latex = std::string("\\") + c;
        } else if (c == '\\') {
            t.latex = "\\backslash ";
        } else if (c == '^' && exponent_at(s, i, j, t.latex)) {
        } else if (s.substr(i, std::string_view("√").size()) == "√" && i + 3 < s.size() && is_digit(s[i + 3])) {
            for (j = i + 3; j < s.size() && is_digit(s[j]);) ++j;  // √12 is \sqrt{12}: \sqrt 12 roots only the 1
            t.latex = "\\sqrt{" + std::string(s.substr(i + 3, j - i - 3)) + "}";
        } else if (c == '^' || c == '~') {
            t.latex = c == '^' ? "\\wedge " : "\\sim ";
        } else {
            j = i + char_length(s, i);
            t.latex = c & 0x80 ? "\\text{" + std::string(s.substr(i, j - i)) + "}" : std::string(1, c);
            for (const auto& [symbol, latex] : kSymbols) {
                if (s.substr(i, symbol.size()) != symbol) continue;
                t.latex = latex;
                j = i + symbol.size();
                break;
            }
        }
        tokens.push_back(std::move(t));
        i = j;
    }
    std::string out;
    for (std::size_t k = 0; k < tokens.size(); ++k) {
        const Token& t = tokens[k];
        const bool after_text = k > 0 && tokens[k - 1].text;
        if (t.text && after_text && t.space_before) {
            out.pop_back();  // "\text{row-sum" + " of}": one text run
            out += " " + t.latex.substr(6);
            continue;
        }
        if (t.space_before && (t.text || after_text)) out += "\\ ";
        else if (t.space_before && !out.empty() && out.back() != ' ') out += ' ';
        out += t.latex;
    }
    while (!out.empty() && out.back() == ' ' && !(out.size() >= 2 && out[out.size() - 2] == '\\')) out.pop_back();
    return out;
}

std::string text_latex(std::string_view words) {
    std::string out = "\\text{";
    for (char c : words) {
        if (std::string_view("{}#%&$_").find(c) != std::string_view::npos) out += '\\';
        if (c == '\\' || c == '^' || c == '~') out += '?';  // no text-mode spelling KaTeX and LaTeX share
        else out += c;
    }
    return out + "}";
}

std::string shape_latex(std::size_t rows, std::size_t cols) {
    return "\\in \\mathbb{R}^{" + std::to_string(rows) + "\\times " + std::to_string(cols) + "}";
}

}  // namespace matgrad::report
