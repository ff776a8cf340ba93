// A derivation as formulas: a file in the model language whose lines are your gradients of a
// model's names and helpers, checked line by line against autodiff.
//
//     # the slides' backward pass (no 1/n)
//     dA2 = −Y ⊘ A2 + (1 − Y) ⊘ (1 − A2)
//     dZ2 = dA2 ⊙ σ'(Z2)
//     dW2 = dZ2 * A1ᵀ
//
// `dNAME = expr` is your gradient of NAME, a param, an input or a named node of the model; any other
// assignment is a helper. Lines may use the model's names (their values), its dimension names,
// numbers, earlier lines, and f'(x), the derivative of an element-wise function
// (σ'(Z1) = σ(Z1) ⊙ (1 − σ(Z1))). Errors are lang::Error at FILE:LINE:COL, as for models.
#pragma once

#include <autodiff/verify.hpp>
#include <lang/model.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace matgrad::lang {

/// One line of a derivation.
struct DerivationLine {
    std::string name;      ///< "dW1", or a helper's name
    std::string of;        ///< the model's name whose gradient the line is ("W1"); empty for a helper
    std::string formula;   ///< the right-hand side as written
    std::size_t line = 0;  ///< 1-based
    std::size_t column = 0;  ///< of the name (1-based byte column)
};

/// A parsed derivation file, its names resolved against one model (which must outlive it).
class Derivation {
public:
    /// Parses `source` (named `file` in errors) against `model`. Throws Error for syntax, unknown
    /// names, a line that redefines a name (the model's or an earlier line's),
    /// f'(x) of a function that is not element-wise, and a file without lines.
    static Derivation parse(std::string_view source, std::string file, const Model& model);

    Derivation(Derivation&&) noexcept;             ///< movable, not copyable
    Derivation& operator=(Derivation&&) noexcept;  ///< movable, not copyable
    ~Derivation();

    const std::string& file() const;                 ///< the name given to parse()
    const std::vector<DerivationLine>& lines() const;  ///< in file order
    const Model& model() const;                      ///< the model it was parsed against

    /// Judges every gradient line of the derivation on the model's `values` (bound, every declared
    /// name), twice:
    /// - its value, evaluated from your own earlier lines, against autodiff by matgrad::verify
    ///   (ok, transposed, missing_mean_factor, not_summed, ...), or "shape_mismatch" when the line
    ///   cannot be evaluated (the hint names the operands' shapes as written) -- a line that uses
    ///   such a line cannot be evaluated either ("not_evaluated", consequence_of names it);
    /// - its step: the same formula on the true values of the gradients it uses (through helpers
    ///   too): "ok" (a wrong value then comes from its inputs, named in consequence_of) or "wrong".
    /// The gradients come in file order, each with its line, formula and step; first_wrong_step is
    /// the first line whose step is wrong (empty when none); helpers come in VerifyReport::helpers
    /// (their shape, or why they cannot be evaluated). An input's true gradient comes from
    /// recording the inputs that lines differentiate as variables. Throws Error at a line whose
    /// NAME does not depend on any param or such input (it has no gradient).
    VerifyReport verify(const Values& values, const VerifyOptions& options = {}) const;

    struct Impl;

private:
    explicit Derivation(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace matgrad::lang
