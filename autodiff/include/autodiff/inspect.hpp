// Looking at a recorded tape: Graphviz DOT (Tape::to_dot), a per-node table (Tape::trace), and
// explain(), which reads the graph back as named matrix equations in the slides' notation -- the
// forward pass, then every gradient as a formula with the shapes that make it work.
//
// Everything here goes through the tape's public inspection API (node(), op(), input(), name(),
// shape(), grad()), so it works on any graph, built-in ops or user-defined ones.
#pragma once

#include <autodiff/gradcheck.hpp>
#include <autodiff/tape.hpp>

#include <array>
#include <cstddef>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace matgrad {

/// Options of Tape::to_dot.
struct DotOptions {
    /// Adds ‖grad‖ (Frobenius norm) to every node that has a gradient (after backward()).
    bool gradient_norms = false;
    /// The `digraph` name in the DOT text.
    std::string graph_name = "matgrad";
};

/// One line of explain(): an input, a forward equation, a gradient equation, or a note.
struct ExplainLine {
    /// What a line is: an input, a forward or a gradient (backward) equation, or a note.
    enum class Kind { input, forward, backward, note };
    /// This line's kind.
    Kind kind = Kind::note;
    std::string lhs;      ///< "Z1", "dW1" (empty for notes)
    std::string formula;  ///< "W1 X + b1", "dZ1 Xᵀ"; for inputs "variable"/"constant"; for notes the text
    std::string shapes;   ///< how the shapes combine: "(64×7)(7×10) = 64×10"
    std::string layout;   ///< backward through a matmul: the layout step the slides make; else empty
    std::size_t node = 0; ///< the tape node the line is about
    std::array<std::size_t, 2> shape{};  ///< that node's (and, for gradients, its gradient's) shape
    /// explain(f, ...) with check: max |autodiff - central finite differences| of this gradient
    /// over max(1, max |finite differences|), its scale (variables only); +Inf when either side
    /// has a NaN or Inf; NaN when not checked.
    double fd_error = std::numeric_limits<double>::quiet_NaN();
};

/// Explains the graph that produced `output` (1x1), after tape.backward(output): the inputs, one
/// forward equation per named node (unnamed single-use intermediates are written inline, so the
/// slides' loss reads as one formula), one gradient equation per named node and variable that
/// `output` depends on -- ordered as the reverse pass completes them -- and a note naming each
/// variable `output` does not depend on. Each gradient is written from the rule in its op's
/// definition (OpDef::inputs, <autodiff/op.hpp>: matmul's layouts, broadcast reductions,
/// σ' = A(1 − A), ...); an op without a rule is written generically as vjp(op, input i, g). Throws UsageError if backward(output) has not run.
std::vector<ExplainLine> explain(const Tape& tape, const Var& output);

/// Builds f on a fresh tape from variables named `names` with the values `inputs` (as gradcheck
/// does), runs backward() and explains it. With `check`, every variable's gradient line also gets
/// fd_error from numerical_gradient.
std::vector<ExplainLine> explain(const GraphBuilder& f, const std::vector<Matrix>& inputs,
                                 const std::vector<std::string>& names, bool check = false);

/// Templates of ops in <autodiff/op.hpp>'s notation (a rule, a mistake's description) in the names
/// explain(tape, output) gives: each operand and {out} by its label or, written inline, its
/// formula; parameters and {N} by value; {g} as the gradient of the node's output ("dH", or
/// "d(W1 X + b1)" for an inline node); an operand after the differential d as dW1 or d(W1 X + b1).
/// "tanh' = 1 − {out}² left out: d{0} = {g}" at H = tanh(W1 X + b1) reads
/// "tanh' = 1 − H² left out: d(W1 X + b1) = dH". Text without placeholders comes back unchanged.
/// The graph's names are read once, when constructed: keep one to render many templates (verify
/// renders every mistake at every node).
class TemplateNames {
public:
    /// Reads the names of the graph behind `output`; throws as explain() does.
    TemplateNames(const Tape& tape, const Var& output);
    ~TemplateNames();
    /// Movable, not copyable.
    TemplateNames(TemplateNames&&) noexcept;
    /// Movable, not copyable.
    TemplateNames& operator=(TemplateNames&&) noexcept;
    /// `text` as a template of the op at node `at`.
    std::string operator()(const Var& at, const std::string& text) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// One template: TemplateNames(tape, output)(at, text).
std::string explain_template(const Tape& tape, const Var& output, const Var& at, const std::string& text);

/// The Backward section's heading, in the output's name and a box for "any node" that no model's
/// own names can collide with: "Backward (d□ = ∂J/∂□, shaped like □)".
std::string backward_heading(const std::vector<ExplainLine>& lines);

/// The lines as aligned text: "Forward", "Backward" and "Notes" sections, one equation per line.
std::string format_explanation(const std::vector<ExplainLine>& lines);

/// "64×10" (with the multiplication sign the slides use).
std::string shape_text(std::size_t rows, std::size_t cols);

/// Rows of cells as an aligned text table (columns padded by displayed width, so UTF-8 cells such
/// as "64×10" line up), two spaces between columns, one line per row.
std::string format_table(const std::vector<std::vector<std::string>>& rows);

}  // namespace matgrad
