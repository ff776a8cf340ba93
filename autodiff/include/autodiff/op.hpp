// An op definition (OpDef): everything matgrad knows about one op, in one static object -- its
// name and signature, its forward notation, its vector-Jacobian product (VJP), the rule of each
// input's gradient in the slides' notation (read by explain() and the generated derivative table),
// and its classic hand-derivation mistakes, each a wrong VJP that a mutated reverse pass
// (Tape::backward(out, mutations)) runs in place of the right one.
//
// Built-in ops are defined this way (autodiff/src/*_ops.cpp) and so can user ops be
// (examples/custom_op). <autodiff/registry.hpp> finds definitions by name.
//
// Second order (Tape::jvp, Tape::hvp, <autodiff/second_order.hpp>) is forward-over-reverse: a
// tangent beside every value and every gradient. Each definition gives its JVP (the output's
// tangent from the inputs') and the tangent of its VJP; an op without them cannot be
// differentiated twice, and Tape::hvp says so, naming it.
//
// Rule templates. OpDef::forward, InputRule::rule, ::shapes, ::layout and Mistake::description are
// small templates in Unicode (and LaTeX for forward and rule) with these placeholders:
//   {g}         the upstream gradient (the gradient of the op's output)
//   {0}, {1}    operand 0, 1, ... (in explain: its formula or label; in tables: its signature name)
//   {out}       the op's output
//   {N}         entries of operand 0 per output entry (mean's N: all of them, or one column's)
//   {<param>}   a numeric parameter by its name in OpDef::params, e.g. {p} of pow(x, p)
//   {shape:out}, {shape:i}, {shapeT:i}   (shapes templates only) "64×7", or transposed "7×64"
// Right after the differential d, an operand that is not a bare name gets parentheses: d{0} reads
// dW1, or d(W1 X + b1). A superscript meeting an operand's own is written once: {0}ᵀ of Aᵀ is A,
// of S⁻¹ is S⁻ᵀ, and of S⁻ᵀ is S⁻¹ ({0}⁻¹ of Aᵀ likewise is A⁻ᵀ).
// explain() reads a rule of the form "[−]{g} ⊙ A ⊘ B / {N} ..." as a chain of element-wise factors
// applied to the gradient (scalar operands and numbers fold into one coefficient, as the slides'
// 1/n); any other form (e.g. "{g} {1}ᵀ") is substituted as written. Operands get parentheses only
// where the surrounding notation needs them.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <vector>

namespace matgrad {

class BackwardContext;
class Var;

/// An op's vector-Jacobian product: reads the output's gradient from the context and adds
/// (+=) each input's share into ctx.grad_input(i) for the inputs with ctx.needs_grad(i).
/// Parameters (ctx.param(k)) and a saved matrix (ctx.saved()) are stored in the node, so a
/// function pointer suffices and the reverse pass allocates nothing.
using BackwardFn = void (*)(const BackwardContext&);

/// An op's tangent rule (forward mode: its Jacobian-vector product): writes (=) the output's
/// tangent ctx.output_tangent() from the tangents ctx.input_tangent(i) of the inputs with
/// ctx.needs_grad(i) (the other inputs are constants: tangent 0). It sees the same context as
/// the VJP; gradients are not available yet.
using JvpFn = void (*)(const BackwardContext&);

/// Numeric parameters of one op application (alpha, axis, p), stored inline in its node.
inline constexpr std::size_t kMaxOpParams = 4;
/// The parameter block of one node: OpDef::params in order, unused entries 0.
using OpParams = std::array<double, kMaxOpParams>;

/// Calls the op by name (apply_op): its matrix operands and its numeric parameters, both already
/// checked against OpDef::arity and OpDef::params.
using ApplyFn = Var (*)(const std::vector<Var>& args, const std::vector<double>& numbers);

/// One notation in two spellings: Unicode (explain, README) and LaTeX (docs/derivatives.md).
struct Notation {
    const char* unicode = "";  ///< "{g} ⊙ {out} ⊙ (1 − {out})"
    const char* latex = "";    ///< "{g} \\odot {out} \\odot (1 - {out})"
    /// (OpDef::forward only) the op in numpy on 2-D arrays, for `matgrad derive --format numpy`:
    /// "1 / (1 + np.exp(-{0}))"; a missing numeric parameter reads None. Empty: not exported.
    const char* numpy = "";
};

/// How one input's gradient is written.
struct InputRule {
    Notation rule;            ///< "{g} ⊙ {out} ⊙ (1 − {out})" -- d input = this (summed to its shape)
    const char* shapes = "";  ///< explain's shape remark; empty: "element-wise on 64×7" / "a → b"
    const char* layout = "";  ///< explain's layout remark (matmul's numerator/denominator step)
    /// The same rule in the model language, for `matgrad derive` (lang): "{g} .* {out} .* (1 - {out})".
    /// Placeholders as in `rule`; its value has the input's shape or (broadcasting ops) the output's.
    /// Empty: the op cannot be derived as text.
    const char* code = "";
};

/// A classic hand-derivation mistake: a wrong VJP with the same contract as OpDef::vjp (it
/// computes every input's gradient, wrong only for `input`). A wrong gradient whose shape differs
/// from the input's (a bias gradient left per sample, a transposed non-square gradient) is
/// written with ctx.replace_grad_input(i, rows, cols).
struct Mistake {
    const char* code;         ///< "missing_activation_derivative", "not_summed", "transposed", ...
    /// One line: what the hand derivation got wrong, a template as the rules are. verify's hints
    /// write it at the node in the model's names ("tanh' = 1 − {out}² left out: d{0} = {g}" at
    /// H = tanh(W1 X + b1): "tanh' = 1 − H² left out: d(W1 X + b1) = dH"), the derivative table
    /// with the signature's names ("dx = g"). Text without placeholders is shown as written.
    const char* description;
    std::size_t input;        ///< the operand whose gradient is wrong
    BackwardFn vjp;           ///< the wrong VJP, run by a mutated reverse pass
};

/// How explain treats the op's shapes.
enum class OpKind {
    leaf,          ///< variable, constant
    elementwise,   ///< unary, output shaped like the input ("element-wise on 64×7")
    broadcasting,  ///< binary element-wise with numpy broadcasting: gradients summed back (sum_to)
    other,         ///< anything else (matmul, reductions, softmax, matrix functions, user ops)
};

/// The one definition of an op. Define it once as a static object (never destroyed while tapes
/// use it: nodes keep a pointer to it).
struct OpDef {
    const char* name = "";       ///< "pow": Var::op(), the registry key, error messages
    const char* signature = "";  ///< "pow(x, p)": operands then numeric parameters
    std::size_t arity = 0;       ///< number of matrix operands
    std::vector<const char*> params;  ///< names of the numeric parameters, in order: {"p"}
    std::size_t optional_params = 0;  ///< how many trailing params apply_op may omit (sum's axis)
    Notation forward;            ///< "{0}^{p}"; empty: "name({0}, {1})"
    /// explain's forward shape arithmetic: "({0})({1})" for matmul, "{0} + {1}" for add ({i} is
    /// then operand i's shape expression, and " = 64×7" is appended); a template containing
    /// {shape:out} is the whole remark ("sum over {shape:0} → {shape:out}"). Empty: default.
    const char* shapes = "";
    std::vector<InputRule> inputs;   ///< one per operand (missing or empty: generic vjp(...) line)
    std::vector<Mistake> mistakes;   ///< the classic hand-derivation mistakes (verify tries each)
    BackwardFn vjp = nullptr;        ///< the true vector-Jacobian product
    OpKind kind = OpKind::other;     ///< how explain treats its shapes
    ApplyFn apply = nullptr;     ///< for apply_op(name, ...); nullptr: not callable by name
    const char* note = "";       ///< a remark for the derivative table (stability, conventions)
    /// Second order: the JVP (see JvpFn). nullptr: Tape::jvp / Tape::hvp through this op throw
    /// UsageError naming it.
    JvpFn jvp = nullptr;
    /// Second order: the tangent of `vjp` -- how each input's gradient moves when the inputs move
    /// along their tangents and the upstream gradient g along its tangent ġ. It adds into
    /// ctx.tangents().grad_input(i) (or grad_input_target), reading ġ as
    /// ctx.tangents().grad_output() and g, the values and their tangents as the JVP does. For a
    /// VJP linear in g that reads no value (add, sum, transpose) it is the VJP itself run on the
    /// tangents: &vjp_of_tangents<&the_vjp>. nullptr: Tape::hvp through this op throws UsageError.
    BackwardFn vjp_tangent = nullptr;
};

}  // namespace matgrad
