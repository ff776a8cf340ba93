// Element-wise ops with numpy-style broadcasting among m x n, m x 1, 1 x n and 1 x 1, and the one
// reduction helper that sums a broadcast operand's gradient back to its shape.
//
// An element-wise op is a struct with a name, its scalar forward and its scalar vector-Jacobian
// product -- the same form the built-in ops use:
//
//     struct Tanh {
//         static constexpr const char* name = "tanh";
//         static double forward(double x) { return std::tanh(x); }
//         static double backward(double grad, double x, double out) { return grad * (1 - out * out); }
//     };
//     Var tanh(const Var& x) { return matgrad::elementwise<Tanh>(x); }
//
// A binary op gives forward(x, y) and the two partial VJPs grad_x(g, x, y, out), grad_y(g, x, y, out).
#pragma once

#include <autodiff/tape.hpp>

namespace matgrad {

/// Read access to a matrix as if broadcast to a larger shape: a stride of 0 along an axis of size 1.
struct BroadcastView {
    const double* data;
    std::size_t row_stride;
    std::size_t col_stride;
    double operator()(std::size_t i, std::size_t j) const { return data[i * row_stride + j * col_stride]; }
};

inline BroadcastView broadcast_view(const Matrix& m) {
    return {m.data(), m.shape(0) == 1 ? 0 : m.shape(1), m.shape(1) == 1 ? std::size_t{0} : std::size_t{1}};
}

/// The result shape of broadcasting a with b (numpy rules on 2-D); throws ShapeError naming `op`,
/// both operands and both shapes when they are not broadcastable.
std::array<std::size_t, 2> broadcast_shape(const char* op, const Var& a, const Var& b);

/// The one broadcast reduction (PyTorch's sum_to): for every (i, j) of a rows x cols result, adds
/// term(i, j) into dst at the position it was broadcast from, i.e. sums over each axis along which
/// dst has extent 1. dst must be broadcastable to rows x cols.
template <class Term>
void accumulate_sum_to(Matrix& dst, std::size_t rows, std::size_t cols, Term&& term) {
    const std::size_t row_stride = dst.shape(0) == 1 ? 0 : dst.shape(1);
    const std::size_t col_stride = dst.shape(1) == 1 ? 0 : 1;
    double* d = dst.data();
    for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < cols; ++j) d[i * row_stride + j * col_stride] += term(i, j);
}

/// accumulate_sum_to for a materialized gradient: dst += sum_to(src, dst's shape).
inline void accumulate_sum_to(Matrix& dst, const Matrix& src) {
    const BroadcastView s{src.data(), src.shape(1), 1};
    accumulate_sum_to(dst, src.shape(0), src.shape(1), [&](std::size_t i, std::size_t j) { return s(i, j); });
}

/// A unary element-wise op from its scalar rule (see the Tanh example above).
template <class Op>
Var elementwise(const Var& x) {
    return x.tape().record(
        Op::name, {x}, x.rows(), x.cols(),
        [&x](Matrix& out) {
            const double* in = x.value().data();
            double* o = out.data();
            for (std::size_t k = 0; k < out.size(); ++k) o[k] = Op::forward(in[k]);
        },
        [](const BackwardContext& ctx) {
            const double* g = ctx.grad_output().data();
            const double* in = ctx.input(0).data();
            const double* out = ctx.output().data();
            double* gin = ctx.grad_input(0).data();
            for (std::size_t k = 0; k < ctx.output().size(); ++k) gin[k] += Op::backward(g[k], in[k], out[k]);
        });
}

/// A binary element-wise op with broadcasting from its scalar rules; each operand's gradient is
/// summed back to its own shape by accumulate_sum_to.
template <class Op>
Var elementwise(const Var& a, const Var& b) {
    const auto shape = broadcast_shape(Op::name, a, b);
    return a.tape().record(
        Op::name, {a, b}, shape[0], shape[1],
        [&a, &b](Matrix& out) {
            const BroadcastView x = broadcast_view(a.value()), y = broadcast_view(b.value());
            double* o = out.data();
            const std::size_t cols = out.shape(1);
            for (std::size_t i = 0; i < out.shape(0); ++i)
                for (std::size_t j = 0; j < cols; ++j) o[i * cols + j] = Op::forward(x(i, j), y(i, j));
        },
        [](const BackwardContext& ctx) {
            const BroadcastView x = broadcast_view(ctx.input(0)), y = broadcast_view(ctx.input(1));
            const BroadcastView g = broadcast_view(ctx.grad_output()), out = broadcast_view(ctx.output());
            const std::size_t rows = ctx.output().shape(0), cols = ctx.output().shape(1);
            if (ctx.needs_grad(0))
                accumulate_sum_to(ctx.grad_input(0), rows, cols, [&](std::size_t i, std::size_t j) {
                    return Op::grad_x(g(i, j), x(i, j), y(i, j), out(i, j));
                });
            if (ctx.needs_grad(1))
                accumulate_sum_to(ctx.grad_input(1), rows, cols, [&](std::size_t i, std::size_t j) {
                    return Op::grad_y(g(i, j), x(i, j), y(i, j), out(i, j));
                });
        });
}

}  // namespace matgrad
