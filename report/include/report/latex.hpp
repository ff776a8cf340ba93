// LaTeX from the explainer's plain-text notation: the slides' Unicode (ᵀ, ⊙, ⊘, σ, 𝟙, Σ, −, ×)
// becomes math that KaTeX and LaTeX typeset. It works on the text, not on op types, so formulas of
// user-defined ops convert too.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace matgrad::report {

/// Converts one formula in the explainer's notation to LaTeX math (no surrounding $):
/// "dZ1 Xᵀ" -> `dZ_{1} X^{\top}`, "(1/7) Y ⊘ A2" -> `\frac{1}{7} Y \oslash A_{2}`,
/// "σ(Z1)" -> `\sigma (Z_{1})`, "row-sum of dZ1" -> `\text{row-sum of}\ dZ_{1}`.
/// Names -- one letter, or "d" and a letter, with an optional number ("W1", "dZ1", "x", "dx") --
/// are typeset as math with the number as a subscript; other words ("mean", "logits", "of") as
/// upright text; log and exp
/// as `\log` and `\exp`; LaTeX's special characters are escaped; a character without a rule is
/// kept inside `\text{}`.
std::string to_latex(std::string_view formula);

/// Plain words as `\text{...}`, with LaTeX's special characters escaped.
std::string text_latex(std::string_view words);

/// `\in \mathbb{R}^{64\times 7}`.
std::string shape_latex(std::size_t rows, std::size_t cols);

}  // namespace matgrad::report
