// Reductions (to 1x1, or along one axis with kept dimensions) and the per-column softmax family:
// forward, backward and definition side by side.
#include "builtin_ops.hpp"

#include <autodiff/ops.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace matgrad {

namespace {

// ---- sum and mean -----------------------------------------------------------------------------

// out = c Σ (over the reduced axes) x with c = 1 (sum) or 1/N (mean), N = entries per output entry;
// dx_ij += c g at the output entry x_ij was summed into (g broadcast back). Scale is c·N: 1 for
// mean's right VJP, N for sum's; the mistakes use other scales.
template <int ScaleNum, int ScaleDenPow>
void scaled_broadcast_vjp(const BackwardContext& ctx) {
    const Matrix& g = ctx.grad_output();
    const BackwardContext::GradTarget dx = ctx.grad_input_target(0);
    const std::size_t rows = dx.grad.shape(0), cols = dx.grad.shape(1);
    const double n = static_cast<double>(dx.grad.size() / g.size());
    const double c = ScaleNum / std::pow(n, ScaleDenPow);
    if (g.size() == 1) {  // a reduction to 1x1: every element gets c g
        const double v = c * g(0, 0);
        if (dx.assign)
            std::fill(dx.grad.begin(), dx.grad.end(), v);
        else
            for (double& d : dx.grad) d += v;
        return;
    }
    const std::size_t gr = g.shape(0) == 1 ? 0 : 1, gc = g.shape(1) == 1 ? 0 : 1;
    for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < cols; ++j) {
            const double v = c * g(i * gr, j * gc);
            dx.grad(i, j) = dx.assign ? v : dx.grad(i, j) + v;
        }
}
constexpr auto sum_vjp = &scaled_broadcast_vjp<1, 0>;
constexpr auto mean_vjp = &scaled_broadcast_vjp<1, 1>;

// A double, so an axis given by name (sum(W, 0.5), sum(W, 1e300)) is refused as written rather
// than converted to int first (truncated, or undefined behaviour out of range).
int checked_axis(const char* op, const Var& a, double axis) {
    if (axis != 0.0 && axis != 1.0) {
        char text[32];
        std::snprintf(text, sizeof text, "%g", axis);
        throw ShapeError(std::string(op) + "(" + a.describe() + ", " + text +
                         "): axis must be 0 (down each column, giving 1x" + std::to_string(a.cols()) +
                         ") or 1 (across each row, giving " + std::to_string(a.rows()) + "x1)");
    }
    return static_cast<int>(axis);
}

template <bool Mean>
Var reduce(const OpDef& def, const Var& a, int axis) {  // axis -1: every entry
    const std::size_t out_rows = axis == 1 ? a.rows() : 1, out_cols = axis == 0 ? a.cols() : 1;
    return a.tape().record(
        def, {a}, out_rows, out_cols,
        [&a](Matrix& out) {
            const Matrix& x = a.value();
            if (out.size() == 1) {
                out(0, 0) = std::accumulate(x.begin(), x.end(), 0.0);
            } else {
                std::fill(out.begin(), out.end(), 0.0);
                const std::size_t orow = out.shape(0) == 1 ? 0 : 1, ocol = out.shape(1) == 1 ? 0 : 1;
                for (std::size_t i = 0; i < x.shape(0); ++i)
                    for (std::size_t j = 0; j < x.shape(1); ++j) out(i * orow, j * ocol) += x(i, j);
            }
            if (Mean) {
                const double n = static_cast<double>(x.size() / out.size());
                for (double& v : out) v /= n;
            }
        },
        OpParams{static_cast<double>(axis)});
}

const char* const kSumShapes = "sum over {shape:0} → {shape:out}";
const char* const kMeanShapes = "mean over {shape:0} → {shape:out}";
const InputRule kSumRule{{"{g}", "{g}"}, "{shape:out} → {shape:0} (every element gets g)"};
const InputRule kMeanRule{{"{g} / {N}", "{g} / {N}"}, "{shape:out} → {shape:0} (every element gets g/{N})"};

const std::vector<Mistake> kSumMistakes{
    {"extra_mean_factor", "sum({0}) divided by its {N} entries as if it were a mean", 0, &scaled_broadcast_vjp<1, 1>}};
const std::vector<Mistake> kMeanMistakes{
    {"missing_mean_factor", "the 1/{N} of mean({0}) left out (the gradient of a sum)", 0, &scaled_broadcast_vjp<1, 0>},
    {"extra_mean_factor", "the 1/{N} of mean({0}) applied twice (1/{N}²)", 0, &scaled_broadcast_vjp<1, 2>}};

Var apply_sum(const std::vector<Var>& a, const std::vector<double>& n);
Var apply_mean(const std::vector<Var>& a, const std::vector<double>& n);

const OpDef sum_def{"sum", "sum(x)", 1, {"axis"}, 1, {"sum({0})", "\\textstyle\\sum {0}"}, kSumShapes, {kSumRule},
                    kSumMistakes, sum_vjp, OpKind::other, &apply_sum, "Σ of all entries, 1×1"};
const OpDef sum_axis_def{"sum", "sum(x, axis)", 1, {"axis"}, 0, {"sum({0}, {axis})", "\\mathrm{sum}({0}, {axis})"},
                         kSumShapes, {kSumRule}, kSumMistakes, sum_vjp, OpKind::other, &apply_sum,
                         "numpy axes, dimensions kept: axis 0 gives 1×n (down each column), axis 1 gives m×1"};
const OpDef mean_def{"mean", "mean(x)", 1, {"axis"}, 1, {"mean({0})", "\\mathrm{mean}({0})"}, kMeanShapes,
                     {kMeanRule}, kMeanMistakes, mean_vjp, OpKind::other, &apply_mean,
                     "N = number of entries averaged into one output entry"};
const OpDef mean_axis_def{"mean", "mean(x, axis)", 1, {"axis"}, 0, {"mean({0}, {axis})", "\\mathrm{mean}({0}, {axis})"},
                          kMeanShapes, {kMeanRule}, kMeanMistakes, mean_vjp, OpKind::other, &apply_mean,
                          "N = m (axis 0) or n (axis 1)"};

Var apply_sum(const std::vector<Var>& a, const std::vector<double>& n) {
    return n.empty() ? sum(a[0]) : sum(a[0], checked_axis("sum", a[0], n[0]));
}
Var apply_mean(const std::vector<Var>& a, const std::vector<double>& n) {
    return n.empty() ? mean(a[0]) : mean(a[0], checked_axis("mean", a[0], n[0]));
}

// ---- softmax, log_softmax (per column) ----------------------------------------------------------

// s_:j = e^(x_:j − max) / Σ_i e^(x_ij − max): the max keeps every exponent <= 0, so ±1000 is fine.
// With Log, out = x − max − log Σ e^(x − max).
template <bool Log>
void softmax_forward(const Matrix& x, Matrix& out) {
    const std::size_t rows = x.shape(0), cols = x.shape(1);
    for (std::size_t j = 0; j < cols; ++j) {
        double top = x(0, j);
        for (std::size_t i = 1; i < rows; ++i) top = std::max(top, x(i, j));
        double total = 0.0;
        for (std::size_t i = 0; i < rows; ++i) total += std::exp(x(i, j) - top);
        const double log_total = std::log(total);
        for (std::size_t i = 0; i < rows; ++i)
            out(i, j) = Log ? x(i, j) - top - log_total : std::exp(x(i, j) - top) / total;
    }
}

// softmax:     dx_:j = s_:j ⊙ (g_:j − Σ_i s_ij g_ij)
// log_softmax: dx_:j = g_:j − e^(out_:j) Σ_i g_ij
// Diagonal (the mistake): only the Jacobian's diagonal s(1 − s), resp. 1 − s.
template <bool Log, bool Diagonal>
void softmax_vjp(const BackwardContext& ctx) {
    const Matrix& g = ctx.grad_output();
    const Matrix& out = ctx.output();
    const BackwardContext::GradTarget dx = ctx.grad_input_target(0);
    const std::size_t rows = g.shape(0), cols = g.shape(1);
    for (std::size_t j = 0; j < cols; ++j) {
        double dot = 0.0;
        for (std::size_t i = 0; i < rows; ++i) dot += Log ? g(i, j) : g(i, j) * out(i, j);
        for (std::size_t i = 0; i < rows; ++i) {
            const double s = Log ? std::exp(out(i, j)) : out(i, j);
            double v;
            if (Diagonal)
                v = Log ? g(i, j) * (1.0 - s) : g(i, j) * s * (1.0 - s);
            else
                v = Log ? g(i, j) - s * dot : s * (g(i, j) - dot);
            dx.grad(i, j) = dx.assign ? v : dx.grad(i, j) + v;
        }
    }
}

template <bool Log>
Var softmax_op(const OpDef& def, const Var& x) {
    return x.tape().record(def, {x}, x.rows(), x.cols(),
                           [&x](Matrix& out) { softmax_forward<Log>(x.value(), out); });
}

const OpDef softmax_def{
    "softmax", "softmax(x)", 1, {}, 0, {"softmax({0})", "\\mathrm{softmax}({0})"}, "",
    {{{"{out} ⊙ ({g} − colsum({out} ⊙ {g}))", "{out} \\odot ({g} - \\mathbf{1}\\mathbf{1}^\\top({out} \\odot {g}))"},
      "per column of {shape:0}: the full Jacobian diag(s) − s sᵀ"}},
    {{"diagonal_jacobian",
      "only the Jacobian's diagonal kept, as if softmax were element-wise: d{0} = {g} ⊙ {out}(1 − {out})", 0,
      &softmax_vjp<false, true>}},
    &softmax_vjp<false, false>, OpKind::other,
    [](const std::vector<Var>& a, const std::vector<double>&) { return softmax(a[0]); },
    "per column (samples are columns), max subtracted first: finite at ±1000; colsum(·) is 1×n, "
    "broadcast down each column"};
const OpDef log_softmax_def{
    "log_softmax", "log_softmax(x)", 1, {}, 0, {"log_softmax({0})", "\\log\\mathrm{softmax}({0})"}, "",
    {{{"{g} − exp({out}) ⊙ colsum({g})", "{g} - e^{{out}} \\odot \\mathbf{1}\\mathbf{1}^\\top {g}"},
      "per column of {shape:0}: the full Jacobian I − 𝟙 sᵀ"}},
    {{"diagonal_jacobian",
      "only the Jacobian's diagonal kept, as if log_softmax were element-wise: d{0} = {g} ⊙ (1 − exp({out}))", 0,
      &softmax_vjp<true, true>}},
    &softmax_vjp<true, false>, OpKind::other,
    [](const std::vector<Var>& a, const std::vector<double>&) { return log_softmax(a[0]); },
    "per column, x − max − log Σ e^(x − max): finite at ±1000"};

}  // namespace

void append_reduction_ops(std::vector<const OpDef*>& defs) {
    defs.insert(defs.end(), {&sum_def, &sum_axis_def, &mean_def, &mean_axis_def, &softmax_def, &log_softmax_def});
}

Var sum(const Var& a) { return reduce<false>(sum_def, a, -1); }
Var mean(const Var& a) { return reduce<true>(mean_def, a, -1); }
Var sum(const Var& a, int axis) { return reduce<false>(sum_axis_def, a, checked_axis("sum", a, axis)); }
Var mean(const Var& a, int axis) { return reduce<true>(mean_axis_def, a, checked_axis("mean", a, axis)); }
Var softmax(const Var& x) { return softmax_op<false>(softmax_def, x); }
Var log_softmax(const Var& x) { return softmax_op<true>(log_softmax_def, x); }

}  // namespace matgrad
