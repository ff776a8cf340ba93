// Element-wise ops with numpy-style broadcasting among m x n, m x 1, 1 x n and 1 x 1, and the
// reduction that sums a broadcast operand's gradient back to its shape (sum_to).
//
// An element-wise op is a struct with a name, its scalar forward and its scalar vector-Jacobian
// product -- the same form the built-in ops use:
//
//     struct Cube {
//         static constexpr const char* name = "cube";
//         static double forward(double x) { return x * x * x; }
//         static double backward(double grad, double x, double /*out*/) { return grad * 3 * x * x; }
//     };
//     Var cube(const Var& x) { return matgrad::elementwise<Cube>(x); }
//
// A unary op may also give `static void forward_array(const double* in, double* out, std::size_t n)`:
// the forward of n contiguous elements at once (in and out never overlap), e.g. a vectorized kernel
// as sigmoid, exp and softplus have. The forward pass then calls it instead of the scalar loop;
// forward(x) stays the op's definition, and forward_array must agree with it to within a few ulps.
// A binary op gives forward(x, y) and the two partial VJPs grad_x(g, x, y, out), grad_y(g, x, y, out).
// With an OpDef (<autodiff/op.hpp>) the op also has explain rules and mistakes: its vjp is
// unary_vjp<Op> / binary_vjp<Op>, and elementwise<Op>(def, x, params) records it; the scalar rules
// may then take the parameters as a last argument: forward(x, p), backward(g, x, out, p).
//
// Second order (OpDef::jvp, OpDef::vjp_tangent): a unary Op gives its second derivative
// `static double second(double x, double out)` (or second(x, out, p)), e.g. σ'' = σ(1 − σ)(1 − 2σ);
// unary_jvp<Op> and unary_vjp_tangent<Op> build both rules from it and backward. A binary Op gives
// `static Second second(double x, double y, double out)`: its second partials {xx, xy, yy}.
#pragma once

#include <autodiff/tape.hpp>

#include <algorithm>
#include <string>
#include <type_traits>
#include <vector>

namespace matgrad {

/// Read access to a matrix as if broadcast to a larger shape: a stride of 0 along an axis of size 1.
struct BroadcastView {
    /// The first element.
    const double* data;
    /// Elements between rows (0 when broadcast along rows).
    std::size_t row_stride;
    /// Elements between columns (0 when broadcast along columns).
    std::size_t col_stride;
    /// Element (i, j) of the broadcast shape.
    double operator()(std::size_t i, std::size_t j) const { return data[i * row_stride + j * col_stride]; }
};

/// `m` read as if broadcast: strides of 0 along its axes of size 1.
inline BroadcastView broadcast_view(const Matrix& m) {
    return {m.data(), m.shape(0) == 1 ? 0 : m.shape(1), m.shape(1) == 1 ? std::size_t{0} : std::size_t{1}};
}

/// The result shape of broadcasting a with b (numpy rules on 2-D); throws ShapeError naming `op`,
/// both operands and both shapes when they are not broadcastable.
std::array<std::size_t, 2> broadcast_shape(const char* op, const Var& a, const Var& b);

namespace detail {

/// Calls f(xs, ys) with each operand's column stride (0 when broadcast along columns, else 1) as a
/// compile-time constant, so that the element loops below vectorize.
template <class F>
void with_column_strides(const BroadcastView& x, const BroadcastView& y, F&& f) {
    using zero = std::integral_constant<std::size_t, 0>;
    using one = std::integral_constant<std::size_t, 1>;
    if (x.col_stride == 1) {
        if (y.col_stride == 1) f(one{}, one{});
        else f(one{}, zero{});
    } else if (y.col_stride == 1) {
        f(zero{}, one{});
    } else {
        f(zero{}, zero{});
    }
}

/// sum_to for a destination with row stride dst_row_stride and column stride DstColStride (0 or
/// 1): every term(i, j) of a rows x cols result lands where dst was broadcast from. A broadcast
/// row is summed in a register, not in memory. assign (only for a dst of the result's shape)
/// replaces dst's contents instead of adding to them.
template <std::size_t DstColStride, class Term>
void store_sum_to(double* dst, std::size_t dst_row_stride, std::size_t rows, std::size_t cols,
                  bool assign, Term&& term) {
    for (std::size_t i = 0; i < rows; ++i) {
        double* d = dst + i * dst_row_stride;
        if constexpr (DstColStride == 1) {
            if (assign)
                for (std::size_t j = 0; j < cols; ++j) d[j] = term(i, j);
            else
                for (std::size_t j = 0; j < cols; ++j) d[j] += term(i, j);
        } else {
            double row_sum = 0.0;
            for (std::size_t j = 0; j < cols; ++j) row_sum += term(i, j);
            d[0] = assign ? row_sum : d[0] + row_sum;
        }
    }
}

/// Writes an operand's gradient sum_to(term) into its target: assigned when it is the first
/// contribution and the operand was not broadcast, else added (to a zero-filled fresh buffer).
template <std::size_t DstColStride, class Term>
void store_gradient(const BackwardContext::GradTarget& target, std::size_t dst_row_stride,
                    std::size_t rows, std::size_t cols, Term&& term) {
    const bool broadcast = target.grad.size() != rows * cols;
    if (target.assign && broadcast) std::fill(target.grad.begin(), target.grad.end(), 0.0);
    store_sum_to<DstColStride>(target.grad.data(), dst_row_stride, rows, cols,
                               target.assign && !broadcast, term);
}

}  // namespace detail

/// The one broadcast reduction (PyTorch's sum_to): for every (i, j) of a rows x cols result, adds
/// term(i, j) into dst at the position it was broadcast from, i.e. sums over each axis along which
/// dst has extent 1. dst must be broadcastable to rows x cols.
template <class Term>
void accumulate_sum_to(Matrix& dst, std::size_t rows, std::size_t cols, Term&& term) {
    const std::size_t row_stride = dst.shape(0) == 1 ? 0 : dst.shape(1);
    if (dst.shape(1) == 1)
        detail::store_sum_to<0>(dst.data(), row_stride, rows, cols, false, term);
    else
        detail::store_sum_to<1>(dst.data(), row_stride, rows, cols, false, term);
}

/// accumulate_sum_to for a materialized gradient: dst += sum_to(src, dst's shape).
inline void accumulate_sum_to(Matrix& dst, const Matrix& src) {
    const double* s = src.data();
    const std::size_t cols = src.shape(1);
    accumulate_sum_to(dst, src.shape(0), cols, [s, cols](std::size_t i, std::size_t j) { return s[i * cols + j]; });
}

namespace detail {

// An Op's scalar rules may take the op's parameters as a last argument (pow's p, leaky_relu's alpha).
template <class Op>
double forward_of(double x, const OpParams& p) {
    if constexpr (std::is_invocable_v<decltype(&Op::forward), double, const OpParams&>)
        return Op::forward(x, p);
    else
        return Op::forward(x);
}
template <class Op>
double backward_of(double g, double x, double out, const OpParams& p) {
    if constexpr (std::is_invocable_v<decltype(&Op::backward), double, double, double, const OpParams&>)
        return Op::backward(g, x, out, p);
    else
        return Op::backward(g, x, out);
}

template <class Op, class = void>
struct has_forward_array : std::false_type {};
template <class Op>
struct has_forward_array<Op, std::void_t<decltype(&Op::forward_array)>> : std::true_type {};

/// out[k] = forward(in[k]) for k < size: the op's forward_array if it has one, else its scalar rule.
template <class Op>
void forward_all(const double* in, double* out, std::size_t size, const OpParams& p) {
    if constexpr (has_forward_array<Op>::value)
        Op::forward_array(in, out, size);
    else
        for (std::size_t k = 0; k < size; ++k) out[k] = forward_of<Op>(in[k], p);
}

template <class Op>
double second_of(double x, double out, const OpParams& p) {
    if constexpr (std::is_invocable_v<decltype(&Op::second), double, double, const OpParams&>)
        return Op::second(x, out, p);
    else
        return Op::second(x, out);
}

inline OpParams params_of(const BackwardContext& ctx) {
    OpParams p{};
    for (std::size_t k = 0; k < kMaxOpParams; ++k) p[k] = ctx.param(k);
    return p;
}

// target[k] = term(k) for every element, assigned or added (see GradTarget).
template <class Term>
void store_each(const BackwardContext::GradTarget& target, Term&& term) {
    const std::size_t size = target.grad.size();
    double* d = target.grad.data();
    if (target.assign)
        for (std::size_t k = 0; k < size; ++k) d[k] = term(k);
    else
        for (std::size_t k = 0; k < size; ++k) d[k] += term(k);
}

// d x = rule(g, x, out) element by element, assigned or added (see GradTarget).
template <class Rule>
void unary_store(const BackwardContext& ctx, Rule&& rule) {
    const double* g = ctx.grad_output().data();
    const double* in = ctx.input(0).data();
    const double* out = ctx.output().data();
    store_each(ctx.grad_input_target(0), [&](std::size_t k) { return rule(g[k], in[k], out[k]); });
}

}  // namespace detail

/// The VJP of a unary element-wise Op (for OpDef::vjp).
template <class Op>
void unary_vjp(const BackwardContext& ctx) {
    const OpParams p = detail::params_of(ctx);
    detail::unary_store(ctx, [&p](double g, double x, double out) { return detail::backward_of<Op>(g, x, out, p); });
}

/// OpDef::jvp of a unary element-wise Op: ẏ = f'(x) ẋ -- its VJP rule applied to ẋ.
template <class Op>
void unary_jvp(const BackwardContext& ctx) {
    const OpParams p = detail::params_of(ctx);
    const double* xd = ctx.input_tangent(0).data();
    const double* x = ctx.input(0).data();
    const double* y = ctx.output().data();
    double* yd = ctx.output_tangent().data();
    for (std::size_t k = 0; k < ctx.output().size(); ++k) yd[k] = detail::backward_of<Op>(xd[k], x[k], y[k], p);
}

/// OpDef::vjp_tangent of a unary element-wise Op: the tangent of g f'(x) is ġ f'(x) + g f''(x) ẋ.
template <class Op>
void unary_vjp_tangent(const BackwardContext& ctx) {
    const OpParams p = detail::params_of(ctx);
    const BackwardContext t = ctx.tangents();
    const double* g = ctx.grad_output().data();
    const double* gd = t.grad_output().data();
    const double* x = ctx.input(0).data();
    const double* xd = ctx.input_tangent(0).data();
    const double* y = ctx.output().data();
    detail::store_each(t.grad_input_target(0), [&](std::size_t k) {
        return detail::backward_of<Op>(gd[k], x[k], y[k], p) + g[k] * detail::second_of<Op>(x[k], y[k], p) * xd[k];
    });
}

/// Mistake "missing_activation_derivative": the upstream gradient passed through unchanged.
void passthrough_vjp(const BackwardContext& ctx);

/// Mistake "derivative_at_output": f' evaluated at the output instead of the input.
template <class Op>
void derivative_at_output_vjp(const BackwardContext& ctx) {
    const OpParams p = detail::params_of(ctx);
    detail::unary_store(ctx, [&p](double g, double, double out) {
        return detail::backward_of<Op>(g, out, detail::forward_of<Op>(out, p), p);
    });
}

/// The two mistakes every non-linear unary element-wise op shares, with their descriptions
/// (templates, as Mistake::description), e.g. "tanh' = 1 − {out}² left out: d{0} = {g}" and
/// "tanh' evaluated at the output {out} instead of at {0}: d{0} = {g} ⊙ (1 − tanh({out})²)".
template <class Op>
std::vector<Mistake> activation_mistakes(const char* missing, const char* at_output) {
    return {{"missing_activation_derivative", missing, 0, &passthrough_vjp},
            {"derivative_at_output", at_output, 0, &derivative_at_output_vjp<Op>}};
}

/// A unary element-wise op from its scalar rule, recorded with its definition (def.vjp is
/// normally unary_vjp<Op>) and its parameters.
template <class Op>
Var elementwise(const OpDef& def, const Var& x, const OpParams& params = {}) {
    return x.tape().record(
        def, {x}, x.rows(), x.cols(),
        [&x, &params](Matrix& out) { detail::forward_all<Op>(x.value().data(), out.data(), out.size(), params); },
        params);
}

/// A unary element-wise op from its scalar rule alone (no definition: see the Cube example above).
template <class Op>
Var elementwise(const Var& x) {
    return x.tape().record(
        Op::name, {x}, x.rows(), x.cols(),
        [&x](Matrix& out) { detail::forward_all<Op>(x.value().data(), out.data(), out.size(), {}); },
        &unary_vjp<Op>);
}

/// The VJP of a binary element-wise Op with broadcasting: each operand's gradient is summed back
/// to its own shape (sum_to).
template <class Op>
void binary_vjp(const BackwardContext& ctx) {
    const BroadcastView x = broadcast_view(ctx.input(0)), y = broadcast_view(ctx.input(1));
    const double* g = ctx.grad_output().data();
    const double* o = ctx.output().data();
    const std::size_t rows = ctx.output().shape(0), cols = ctx.output().shape(1);
    detail::with_column_strides(x, y, [&](auto xs, auto ys) {
        if (ctx.needs_grad(0))
            detail::store_gradient<decltype(xs)::value>(
                ctx.grad_input_target(0), x.row_stride, rows, cols, [&](std::size_t i, std::size_t j) {
                    return Op::grad_x(g[i * cols + j], x.data[i * x.row_stride + j * xs],
                                      y.data[i * y.row_stride + j * ys], o[i * cols + j]);
                });
        if (ctx.needs_grad(1))
            detail::store_gradient<decltype(ys)::value>(
                ctx.grad_input_target(1), y.row_stride, rows, cols, [&](std::size_t i, std::size_t j) {
                    return Op::grad_y(g[i * cols + j], x.data[i * x.row_stride + j * xs],
                                      y.data[i * y.row_stride + j * ys], o[i * cols + j]);
                });
    });
}

/// The second partial derivatives of a binary element-wise op F(x, y) at one element.
struct Second {
    double xx = 0.0;  ///< ∂²F/∂x²
    double xy = 0.0;  ///< ∂²F/∂x∂y
    double yy = 0.0;  ///< ∂²F/∂y²
};

namespace detail {
// Input i's tangent read as broadcast; a constant's is 0.
inline BroadcastView tangent_view(const BackwardContext& ctx, std::size_t i) {
    static const double zero = 0.0;
    return ctx.needs_grad(i) ? broadcast_view(ctx.input_tangent(i)) : BroadcastView{&zero, 0, 0};
}
// Writes sum_to(term) into a gradient target whose operand is read through `operand`.
template <class Term>
void store_broadcast(const BackwardContext::GradTarget& target, const BroadcastView& operand, std::size_t rows,
                     std::size_t cols, Term&& term) {
    if (operand.col_stride == 1)
        store_gradient<1>(target, operand.row_stride, rows, cols, term);
    else
        store_gradient<0>(target, operand.row_stride, rows, cols, term);
}
}  // namespace detail

/// OpDef::jvp of a binary element-wise Op: ż = F_x ẋ + F_y ẏ -- its two VJP rules applied to the
/// (broadcast) tangents.
template <class Op>
void binary_jvp(const BackwardContext& ctx) {
    const BroadcastView x = broadcast_view(ctx.input(0)), y = broadcast_view(ctx.input(1));
    const BroadcastView xd = detail::tangent_view(ctx, 0), yd = detail::tangent_view(ctx, 1);
    const Matrix& out = ctx.output();
    Matrix& zd = ctx.output_tangent();
    for (std::size_t i = 0; i < out.shape(0); ++i)
        for (std::size_t j = 0; j < out.shape(1); ++j)
            zd(i, j) = Op::grad_x(xd(i, j), x(i, j), y(i, j), out(i, j)) + Op::grad_y(yd(i, j), x(i, j), y(i, j), out(i, j));
}

/// OpDef::vjp_tangent of a binary element-wise Op: the tangent of sum_to(g F_x) is
/// sum_to(ġ F_x + g (F_xx ẋ + F_xy ẏ)), and likewise for y.
template <class Op>
void binary_vjp_tangent(const BackwardContext& ctx) {
    const BroadcastView x = broadcast_view(ctx.input(0)), y = broadcast_view(ctx.input(1));
    const BroadcastView xd = detail::tangent_view(ctx, 0), yd = detail::tangent_view(ctx, 1);
    const BackwardContext t = ctx.tangents();
    const Matrix& g = ctx.grad_output();
    const Matrix& gd = t.grad_output();
    const Matrix& out = ctx.output();
    const std::size_t rows = out.shape(0), cols = out.shape(1);
    if (ctx.needs_grad(0))
        detail::store_broadcast(t.grad_input_target(0), x, rows, cols, [&](std::size_t i, std::size_t j) {
            const Second s = Op::second(x(i, j), y(i, j), out(i, j));
            return Op::grad_x(gd(i, j), x(i, j), y(i, j), out(i, j)) + g(i, j) * (s.xx * xd(i, j) + s.xy * yd(i, j));
        });
    if (ctx.needs_grad(1))
        detail::store_broadcast(t.grad_input_target(1), y, rows, cols, [&](std::size_t i, std::size_t j) {
            const Second s = Op::second(x(i, j), y(i, j), out(i, j));
            return Op::grad_y(gd(i, j), x(i, j), y(i, j), out(i, j)) + g(i, j) * (s.xy * xd(i, j) + s.yy * yd(i, j));
        });
}

namespace detail {
template <class Op>
Var record_binary(const OpDef* def, const Var& a, const Var& b) {
    const auto shape = broadcast_shape(Op::name, a, b);
    auto forward = [&a, &b](Matrix& out) {
        const BroadcastView x = broadcast_view(a.value()), y = broadcast_view(b.value());
        const std::size_t rows = out.shape(0), cols = out.shape(1);
        double* o = out.data();
        detail::with_column_strides(x, y, [&](auto xs, auto ys) {
            for (std::size_t i = 0; i < rows; ++i) {
                const double* xi = x.data + i * x.row_stride;
                const double* yi = y.data + i * y.row_stride;
                for (std::size_t j = 0; j < cols; ++j) o[i * cols + j] = Op::forward(xi[j * xs], yi[j * ys]);
            }
        });
    };
    if (def != nullptr) return a.tape().record(*def, {a, b}, shape[0], shape[1], forward);
    return a.tape().record(Op::name, {a, b}, shape[0], shape[1], forward, &binary_vjp<Op>);
}
}  // namespace detail

/// A binary element-wise op with broadcasting, recorded with its definition.
template <class Op>
Var elementwise(const OpDef& def, const Var& a, const Var& b) {
    return detail::record_binary<Op>(&def, a, b);
}

/// A binary element-wise op with broadcasting from its scalar rules alone (no definition).
template <class Op>
Var elementwise(const Var& a, const Var& b) {
    return detail::record_binary<Op>(nullptr, a, b);
}

}  // namespace matgrad
