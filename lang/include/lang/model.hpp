// Models as text: the forward equations of a matrix program, written as on paper, parsed once and
// recorded on a Tape as often as needed.
//
//     # the slides' network; samples are columns
//     input X : 10 x 7          # data: no gradient
//     input Y : 1 x 7
//     param W1 : 64 x 10        # gets a gradient dW1
//     ...
//     Z1 = W1*X + b1
//     A1 = sigmoid(Z1)
//     ...
//     J = -mean(Y .* log(A2) + (1 - Y) .* log(1 - A2))
//
// One statement per line, `#` starts a comment. `input NAME : R x C` / `param NAME : R x C`
// declare leaves (R, C numbers or dimension names; the shape may be omitted). `NAME = expr` names
// a node; the last assignment is the output and must be 1x1. Operators, loosest first: `+ -`
// (element-wise, broadcasting); `*` `@` matrix product (`*` scales when a side is a number or
// 1x1), `.*` `./` element-wise, `/` by a number or 1x1; unary `-`; `.^` element-wise power by a
// number (`^` the same on a 1x1); postfix `'` transpose. Functions are the engine's ops by name
// (the op registry), numeric arguments passed as parameters: sum(x, 0). A dimension name is a
// number in an expression: sum(R .* R) / (2*n).
//
// The slides' notation is read as the ASCII operators: ⊙ (.*), ⊘ (./), ᵀ ('), − (-), σ(…)
// (sigmoid). Names may hold Unicode letters (λ, Σ, α); a UTF-8 byte-order mark is skipped.
//
// Every problem -- syntax, unknown name, redefinition, use before definition, shape mismatch,
// non-1x1 output, missing or mismatched value, unbound dimension -- throws lang::Error with the
// file, line and column of the offending token.
#pragma once

#include <autodiff/gradcheck.hpp>
#include <autodiff/inspect.hpp>
#include <autodiff/tape.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace matgrad::lang {

/// A problem in a model or its values, at a place in the model file (line 0: the file as a whole).
/// what() is the first line of formatted().
class Error : public std::runtime_error {
public:
    /// `source_line` is the model's line `line` as written (for the caret), empty for line 0.
    Error(std::string file, std::size_t line, std::size_t column, std::string message,
          std::string source_line);
    const std::string& file() const { return file_; }  ///< the model's file name, as given to parse()
    std::size_t line() const { return line_; }      ///< 1-based; 0 when about no line
    std::size_t column() const { return column_; }  ///< 1-based byte column
    const std::string& message() const { return message_; }          ///< the message alone
    const std::string& source_line() const { return source_line_; }  ///< the offending line
    /// "FILE:LINE:COL: error: MESSAGE", then the source line (control bytes escaped, as `\\x1B`) and a
    /// caret under the column's character.
    std::string formatted() const;

private:
    std::string file_;
    std::size_t line_, column_;
    std::string message_, source_line_;
};

/// One side of a declared shape: a number, or a dimension name bound from the values.
struct Dim {
    std::string name;       ///< empty for a number
    std::size_t value = 0;  ///< the number (when name is empty)
    std::size_t line = 0;    ///< where it is written (1-based)
    std::size_t column = 0;  ///< (1-based byte column)
    /// As written: "7" or "n".
    std::string text() const { return name.empty() ? std::to_string(value) : name; }
};

/// A leaf: `input NAME : R x C` (data, no gradient) or `param NAME : R x C` (gets a gradient).
struct Declaration {
    /// input: recorded as a constant; param: as a variable.
    enum class Kind { input, param };
    Kind kind = Kind::input;                   ///< input or param
    std::string name;                          ///< the declared name
    std::optional<std::array<Dim, 2>> shape;  ///< empty: taken from the value
    std::size_t line = 0;                      ///< of the name (1-based)
    std::size_t column = 0;                    ///< of the name (1-based byte column)
};

/// A named node: NAME = expression.
struct Assignment {
    std::string name;        ///< NAME
    std::string expression;  ///< the right-hand side as written
    std::size_t line = 0;    ///< of the name (1-based)
    std::size_t column = 0;  ///< of the name (1-based byte column)
};

/// A name -> value map: the leaves' values (and, in a Recording, nothing else).
using Values = std::map<std::string, Matrix>;

/// How Model::bind treats the values.
struct BindOptions {
    /// Dimension sizes given outright (`--dim n=7`); a value that disagrees is an error.
    std::map<std::string, std::size_t> dims;
    /// With a seed, every declared name without a value gets one drawn from it: inputs
    /// U(0, 1), params N(0, 1/C) for a param of C columns. Without one, a missing value is an error.
    std::optional<std::uint64_t> seed;
    /// With a seed: a dimension that neither `dims` nor a value binds gets a size instead of being
    /// an error -- the smallest from 2 up that no other dimension (named or a number) has, so that
    /// distinct dimensions differ and a transposed non-square gradient is never a coincidence.
    bool draw_unbound_dims = false;
    /// How errors name a value, e.g. "inputs/X.npy" (default: "the value of X").
    std::function<std::string(const std::string& name)> describe_value;
    /// Appended to the message for a missing value (e.g. how to get one drawn).
    std::string missing_hint = "a seed draws missing values at random";
    /// How errors name a dimension given in `dims`, e.g. "--dim n=7" (default: "n = 7 (given)").
    std::function<std::string(const std::string& dim, std::size_t size)> describe_dim;
};

class Model;

/// One recording of a model on a tape: the Var of every declared name and named node, and the
/// output. Valid until the tape is cleared.
class Recording {
public:
    const Var& output() const { return output_; }  ///< the output node (1x1)
    /// The node of a declared name or named node; throws std::out_of_range for other names.
    const Var& var(const std::string& name) const;
    /// (name, Var) of every param in declaration order: the leaves that get a gradient.
    std::vector<std::pair<std::string, Var>> params() const;
    /// The node of Model::index_of(name), without a lookup by name (for loops that run each step).
    const Var& operator[](std::size_t index) const { return slots_.at(index); }
    /// For a NumericalError from this recording's tape with anomaly detection on (its backward:
    /// `sqrt backward: the gradient of input 0 ... has inf`), the Error at the op's place in the
    /// model file (FILE:LINE:COL); nullopt for a node this recording did not make, or when
    /// anomaly detection was off while recording.
    std::optional<Error> located(const NumericalError& e) const;

private:
    friend class Model;
    const Model* model_ = nullptr;
    std::vector<Var> slots_;  // declarations, then assignments, in source order
    Var output_;
    std::vector<std::pair<std::size_t, std::uint32_t>> op_nodes_;  // (tape node, model node), anomaly detection on
};

/// A parsed model file: its declarations and named nodes, checked once; record() puts it on a tape
/// as often as needed.
class Model {
public:
    /// Parses a model; `file` names it in errors. Throws Error for syntax, unknown or
    /// redefined names, use before definition, unknown functions and a missing output.
    static Model parse(std::string_view source, std::string file = "<model>");

    Model(Model&&) noexcept;             ///< movable, not copyable
    Model& operator=(Model&&) noexcept;  ///< movable, not copyable
    ~Model();

    const std::string& file() const;                         ///< the name given to parse()
    const std::string& source() const;                       ///< the text given to parse()
    const std::vector<Declaration>& declarations() const;    ///< in source order
    const std::vector<Assignment>& assignments() const;      ///< in source order
    const Declaration* find_declaration(const std::string& name) const;  ///< nullptr if none
    /// The inputs X among hand gradients named `gradients` ("dX"; other names are ignored): record
    /// them as variables (record()'s variable_inputs) so that a hand dX is judged like a param's.
    std::set<std::string> inputs_with_gradients(const std::vector<std::string>& gradients) const;
    /// The index of a declared name or named node in every Recording (Recording::operator[]);
    /// throws std::out_of_range for other names.
    std::size_t index_of(const std::string& name) const;
    /// The output node's name: the last assignment unless set_output picked another.
    const std::string& output() const;
    /// Makes another named node the output (it must be 1x1 when recorded); throws Error for a
    /// name that is not an assignment.
    void set_output(const std::string& name);

    /// Checks `values` against the declarations, binding dimension names consistently (from
    /// options.dims and then from the values in declaration order) and, with options.seed,
    /// drawing the missing ones. Returns every dimension's size. Throws Error at the declaration
    /// for a missing value, a shape that disagrees, a value for an undeclared name and an unbound
    /// dimension.
    std::map<std::string, std::size_t> bind(Values& values, const BindOptions& options = {}) const;

    /// Records the model on `tape` from values of every declared name (checked by bind, or of the
    /// declared shapes): inputs as constants, params as variables, each copied into the tape's
    /// kept buffers, and every named node named. Throws Error at the operator or function for
    /// shapes that do not fit, and at the output's name if it is not 1x1.
    Recording record(Tape& tape, const Values& values) const;
    /// The same with the params taken from `params` -- Vars on `tape`, one per param in
    /// declaration order; empty: from `values` -- and the inputs named in `variable_inputs` recorded
    /// as variables, so that they get a gradient too (a derivation's dX). Throws
    /// std::invalid_argument for a name in `variable_inputs` that is not an input.
    Recording record(Tape& tape, const Values& values, const std::vector<Var>& params,
                     const std::set<std::string>& variable_inputs = {}) const;

    /// How derive() writes the derivation.
    enum class DeriveFormat {
        mg,     ///< a derivation file in the model language
        numpy,  ///< a Python module using numpy alone: gradients(values) -> {output, d<param>...}
    };
    /// The right derivation of the output as a derivation file (lang/derivation.hpp) that
    /// Derivation::verify finds all right: `dNAME = ...` for every named node and param that needs a
    /// gradient, in reverse order, unnamed intermediates' gradients as helpers (g1, g2, ...), each
    /// written with the rule of its op (InputRule::code). `values` as for record(), which gives the
    /// shapes (a broadcast operand's gradient is summed back to its shape). With DeriveFormat::numpy,
    /// the same lines as a readable Python module (numpy alone, the shapes as comments) defining
    /// gradients(values): a dict of the output's value under its name and d<param> for every param.
    /// Throws Error at a function whose op has no rule in the language (InputRule::code) or no numpy
    /// form (Notation::numpy), and at the output when it depends on no param.
    std::string derive(const Values& values, DeriveFormat format = DeriveFormat::mg) const;

    /// The params' names in declaration order.
    std::vector<std::string> param_names() const;
    /// The output as a function of the params (in param_names() order) with the inputs fixed to
    /// `values`: for gradcheck, numerical_gradient and explain. The Model must outlive it.
    GraphBuilder loss(Values values) const;

    /// The exact Hessian of the output (<autodiff/second_order.hpp>) at `values` (as record()'s)
    /// over the params `wrt` in the order given -- default: every param in declaration order --
    /// each flattened row-major. Throws Error for a name that is not a param or is given twice.
    Matrix hessian(const Values& values, const std::vector<std::string>& wrt = {}) const;
    /// H·v at `values`: `directions` maps params to directions shaped like them (a param not in it
    /// stays fixed); returns every param's block of H·v, shaped like the param. Throws Error for a
    /// name that is not a param, ShapeError for a direction of the wrong shape.
    Values hvp(const Values& values, const Values& directions) const;

    struct Impl;  // the parsed program (lang/src/program.hpp)

private:
    explicit Model(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
    friend class Recording;
};

/// explain(tape, output) of `model` recorded at `values` with the inputs in `variable_inputs` as
/// variables too, so that a hand dX (Model::inputs_with_gradients) has a Backward line to be judged
/// beside; `dot`, when given, receives the same tape's Graphviz DOT (node n<k> is ExplainLine::node k).
std::vector<ExplainLine> explain_with_inputs(const Model& model, const Values& values,
                                             const std::set<std::string>& variable_inputs, std::string* dot = nullptr);

}  // namespace matgrad::lang
