// Two user-defined ops, defined exactly as the built-ins are (autodiff/src/*_ops.cpp): one OpDef
// each, holding the VJP, the explain rule of every input in the slides' notation, and the classic
// hand-derivation mistakes (wrong VJPs a mutated backward can run; their descriptions are templates
// too, so verify's hints name the user's own matrices). Each also gives its second-order rule --
// the JVP and the tangent of its VJP -- so Tape::hvp and hessian() differentiate through it twice.
//
//   leaky_relu(x, alpha)   element-wise with a parameter: max(x, alpha x); d/dx = 1 (x > 0) else alpha
//   frobenius_dot(a, b)    a general op: <a, b> = Σ a ⊙ b (1x1); da = g b, db = g a
#pragma once

#include <autodiff/autodiff.hpp>
#include <autodiff/registry.hpp>

// The scalar rule of an element-wise op; the parameters arrive as the last argument (p[0] = alpha).
struct LeakyRelu {
    static constexpr const char* name = "leaky_relu";
    static double forward(double x, const matgrad::OpParams& p) { return x > 0 ? x : p[0] * x; }
    static double backward(double g, double x, double, const matgrad::OpParams& p) { return x > 0 ? g : p[0] * g; }
    // Second order: the second derivative (piecewise linear: 0); unary_jvp / unary_vjp_tangent do the rest.
    static double second(double, double, const matgrad::OpParams&) { return 0.0; }
};

matgrad::Var leaky_relu(const matgrad::Var& x, double alpha);

inline const matgrad::OpDef leaky_relu_def{
    "leaky_relu", "leaky_relu(x, alpha)", 1, {"alpha"}, 0,
    {"leaky_relu({0}, {alpha})", "\\mathrm{leaky\\_relu}({0}, {alpha})"}, "",
    {{{"{g} ⊙ [{0} > 0 ? 1 : {alpha}]", "{g} \\odot [{0} > 0 ? 1 : {alpha}]"}}},
    {{"missing_activation_derivative", "the slope left out: d{0} = {g}", 0, &matgrad::passthrough_vjp}},
    &matgrad::unary_vjp<LeakyRelu>, matgrad::OpKind::elementwise,
    [](const std::vector<matgrad::Var>& a, const std::vector<double>& n) { return leaky_relu(a[0], n[0]); }, "",
    &matgrad::unary_jvp<LeakyRelu>, &matgrad::unary_vjp_tangent<LeakyRelu>};

inline matgrad::Var leaky_relu(const matgrad::Var& x, double alpha) {
    return matgrad::elementwise<LeakyRelu>(leaky_relu_def, x, matgrad::OpParams{alpha});
}

// A general op: forward fills the 1x1 output, the VJP adds into the operands' gradients.
// Its mistake: each operand's gradient taken from the operand itself (da = g a), a classic slip.
template <bool Swapped>
void frobenius_dot_vjp(const matgrad::BackwardContext& ctx) {
    const double g = ctx.grad_output()(0, 0);
    if (ctx.needs_grad(0)) xt::noalias(ctx.grad_input(0)) += g * ctx.input(Swapped ? 0 : 1);
    if (ctx.needs_grad(1)) xt::noalias(ctx.grad_input(1)) += g * ctx.input(Swapped ? 1 : 0);
}

// Second order. The JVP: d⟨a, b⟩ = ⟨ȧ, b⟩ + ⟨a, ḃ⟩ (an operand without a tangent is a constant).
inline void frobenius_dot_jvp(const matgrad::BackwardContext& ctx) {
    double total = 0.0;
    if (ctx.needs_grad(0)) total += xt::sum(ctx.input_tangent(0) * ctx.input(1))();
    if (ctx.needs_grad(1)) total += xt::sum(ctx.input(0) * ctx.input_tangent(1))();
    ctx.output_tangent()(0, 0) = total;
}
// The tangent of the VJP (da = g b, db = g a): dȧ = ġ b + g ḃ, dḃ = ġ a + g ȧ. The ġ terms are the VJP
// itself run on the tangents; the g terms are the cross terms.
inline void frobenius_dot_vjp_tangent(const matgrad::BackwardContext& ctx) {
    frobenius_dot_vjp<false>(ctx.tangents());
    const double g = ctx.grad_output()(0, 0);
    if (ctx.needs_grad(0) && ctx.needs_grad(1)) {
        xt::noalias(ctx.tangents().grad_input(0)) += g * ctx.input_tangent(1);
        xt::noalias(ctx.tangents().grad_input(1)) += g * ctx.input_tangent(0);
    }
}

matgrad::Var frobenius_dot(const matgrad::Var& a, const matgrad::Var& b);

inline const matgrad::OpDef frobenius_dot_def{
    "frobenius_dot", "frobenius_dot(a, b)", 2, {}, 0, {"⟨{0}, {1}⟩", "\\langle {0}, {1} \\rangle"}, "",
    {{{"{g} {1}", "{g}\\, {1}"}, "1×1 → {shape:0}"}, {{"{g} {0}", "{g}\\, {0}"}, "1×1 → {shape:1}"}},
    {{"own_operand", "each operand's gradient taken from itself: d{0} = {g} {0}, not {g} {1}", 0,
      &frobenius_dot_vjp<true>}},
    &frobenius_dot_vjp<false>, matgrad::OpKind::other,
    [](const std::vector<matgrad::Var>& a, const std::vector<double>&) { return frobenius_dot(a[0], a[1]); }, "",
    &frobenius_dot_jvp, &frobenius_dot_vjp_tangent};

inline matgrad::Var frobenius_dot(const matgrad::Var& a, const matgrad::Var& b) {
    if (a.shape() != b.shape())
        throw matgrad::ShapeError("frobenius_dot: " + a.describe() + " is " + a.shape_string() + " but " +
                                  b.describe() + " is " + b.shape_string());
    return a.tape().record(frobenius_dot_def, {a, b}, 1, 1,
                           [&](matgrad::Matrix& out) { out(0, 0) = xt::sum(a.value() * b.value())(); });
}
