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

// out = the sum (or mean) of x over the axes along which out has extent 1.
template <bool Mean>
void reduce_into(const Matrix& x, Matrix& out) {
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
}

// Linear: the tangent is the same reduction of the input's tangent.
template <bool Mean>
void reduce_jvp(const BackwardContext& ctx) {
    reduce_into<Mean>(ctx.input_tangent(0), ctx.output_tangent());
}

template <bool Mean>
Var reduce(const OpDef& def, const Var& a, int axis) {  // axis -1: every entry
    const std::size_t out_rows = axis == 1 ? a.rows() : 1, out_cols = axis == 0 ? a.cols() : 1;
    return a.tape().record(
        def, {a}, out_rows, out_cols, [&a](Matrix& out) { reduce_into<Mean>(a.value(), out); },
        OpParams{static_cast<double>(axis)});
}

const char* const kSumShapes = "sum over {shape:0} → {shape:out}";
const char* const kMeanShapes = "mean over {shape:0} → {shape:out}";
// In the language, `+ 0 * {0}` broadcasts g back to the operand's shape.
const InputRule kSumRule{{"{g}", "{g}"}, "{shape:out} → {shape:0} (every element gets g)", "", "{g} + 0 * {0}"};
const InputRule kMeanRule{{"{g} / {N}", "{g} / {N}"}, "{shape:out} → {shape:0} (every element gets g/{N})", "",
                          "{g} / {N} + 0 * {0}"};

const std::vector<Mistake> kSumMistakes{
    {"extra_mean_factor", "sum({0}) divided by its {N} entries as if it were a mean", 0, &scaled_broadcast_vjp<1, 1>}};
const std::vector<Mistake> kMeanMistakes{
    {"missing_mean_factor", "the 1/{N} of mean({0}) left out (the gradient of a sum)", 0, &scaled_broadcast_vjp<1, 0>},
    {"extra_mean_factor", "the 1/{N} of mean({0}) applied twice (1/{N}²)", 0, &scaled_broadcast_vjp<1, 2>}};

Var apply_sum(const std::vector<Var>& a, const std::vector<double>& n);
Var apply_mean(const std::vector<Var>& a, const std::vector<double>& n);

const OpDef sum_def{"sum", "sum(x)", 1, {"axis"}, 1, {"sum({0})", "\\textstyle\\sum {0}", "np.sum({0}, axis={axis}, keepdims=True)"}, kSumShapes, {kSumRule},
                    kSumMistakes, sum_vjp, OpKind::other, &apply_sum, "Σ of all entries, 1×1",
                    &reduce_jvp<false>, &vjp_of_tangents<sum_vjp>};
const OpDef sum_axis_def{"sum", "sum(x, axis)", 1, {"axis"}, 0, {"sum({0}, {axis})", "\\mathrm{sum}({0}, {axis})", "np.sum({0}, axis={axis}, keepdims=True)"},
                         kSumShapes, {kSumRule}, kSumMistakes, sum_vjp, OpKind::other, &apply_sum,
                         "numpy axes, dimensions kept: axis 0 gives 1×n (down each column), axis 1 gives m×1",
                         &reduce_jvp<false>, &vjp_of_tangents<sum_vjp>};
const OpDef mean_def{"mean", "mean(x)", 1, {"axis"}, 1, {"mean({0})", "\\mathrm{mean}({0})", "np.mean({0}, axis={axis}, keepdims=True)"}, kMeanShapes,
                     {kMeanRule}, kMeanMistakes, mean_vjp, OpKind::other, &apply_mean,
                     "N = number of entries averaged into one output entry",
                     &reduce_jvp<true>, &vjp_of_tangents<mean_vjp>};
const OpDef mean_axis_def{"mean", "mean(x, axis)", 1, {"axis"}, 0, {"mean({0}, {axis})", "\\mathrm{mean}({0}, {axis})", "np.mean({0}, axis={axis}, keepdims=True)"},
                          kMeanShapes, {kMeanRule}, kMeanMistakes, mean_vjp, OpKind::other, &apply_mean,
                          "N = m (axis 0) or n (axis 1)",
                          &reduce_jvp<true>, &vjp_of_tangents<mean_vjp>};

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

// The tangent per column, with s = softmax(x) (for log_softmax s = e^out):
//   softmax:     ṡ = s ⊙ (ẋ − ⟨s, ẋ⟩)      (its Jacobian is symmetric: the VJP applied to ẋ)
//   log_softmax: ẏ = ẋ − ⟨s, ẋ⟩
template <bool Log>
void softmax_jvp(const BackwardContext& ctx) {
    const Matrix& xd = ctx.input_tangent(0);
    const Matrix& out = ctx.output();
    Matrix& yd = ctx.output_tangent();
    for (std::size_t j = 0; j < out.shape(1); ++j) {
        double dot = 0.0;
        for (std::size_t i = 0; i < out.shape(0); ++i) dot += (Log ? std::exp(out(i, j)) : out(i, j)) * xd(i, j);
        for (std::size_t i = 0; i < out.shape(0); ++i) yd(i, j) = Log ? xd(i, j) - dot : out(i, j) * (xd(i, j) - dot);
    }
}

// The tangent of the VJP per column:
//   softmax:     ṡ ⊙ (g − ⟨s, g⟩) + s ⊙ (ġ − ⟨ṡ, g⟩ − ⟨s, ġ⟩)
//   log_softmax: ġ − s Σġ − ṡ Σg, with ṡ = s ⊙ ẏ
template <bool Log>
void softmax_vjp_tangent(const BackwardContext& ctx) {
    const BackwardContext t = ctx.tangents();
    const Matrix& g = ctx.grad_output();
    const Matrix& gd = t.grad_output();
    const Matrix& out = ctx.output();
    const Matrix& yd = ctx.output_tangent();
    const BackwardContext::GradTarget dx = t.grad_input_target(0);
    for (std::size_t j = 0; j < out.shape(1); ++j) {
        double a = 0.0, b = 0.0, c = 0.0;  // softmax: ⟨s, g⟩, ⟨ṡ, g⟩, ⟨s, ġ⟩; log_softmax: Σg, Σġ
        for (std::size_t i = 0; i < out.shape(0); ++i) {
            a += Log ? g(i, j) : out(i, j) * g(i, j);
            b += Log ? gd(i, j) : yd(i, j) * g(i, j);
            c += Log ? 0.0 : out(i, j) * gd(i, j);
        }
        for (std::size_t i = 0; i < out.shape(0); ++i) {
            const double s = Log ? std::exp(out(i, j)) : out(i, j);
            const double v = Log ? gd(i, j) - s * b - s * yd(i, j) * a
                                 : yd(i, j) * (g(i, j) - a) + s * (gd(i, j) - b - c);
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
    "softmax", "softmax(x)", 1, {}, 0, {"softmax({0})", "\\mathrm{softmax}({0})",
     "np.exp({0} - np.max({0}, axis=0, keepdims=True)) / np.sum(np.exp({0} - np.max({0}, axis=0, keepdims=True)), axis=0, keepdims=True)"}, "",
    {{{"{out} ⊙ ({g} − colsum({out} ⊙ {g}))", "{out} \\odot ({g} - \\mathbf{1}\\mathbf{1}^\\top({out} \\odot {g}))"},
      "per column of {shape:0}: the full Jacobian diag(s) − s sᵀ", "", "{out} .* ({g} - sum({out} .* {g}, 0))"}},
    {{"diagonal_jacobian",
      "only the Jacobian's diagonal kept, as if softmax were element-wise: d{0} = {g} ⊙ {out} ⊙ (1 − {out})", 0,
      &softmax_vjp<false, true>}},
    &softmax_vjp<false, false>, OpKind::other,
    [](const std::vector<Var>& a, const std::vector<double>&) { return softmax(a[0]); },
    "per column (samples are columns), max subtracted first: finite at ±1000; colsum(·) is 1×n, "
    "broadcast down each column",
    &softmax_jvp<false>, &softmax_vjp_tangent<false>};
const OpDef log_softmax_def{
    "log_softmax", "log_softmax(x)", 1, {}, 0, {"log_softmax({0})", "\\log\\mathrm{softmax}({0})",
     "{0} - np.max({0}, axis=0, keepdims=True) - np.log(np.sum(np.exp({0} - np.max({0}, axis=0, keepdims=True)), axis=0, keepdims=True))"}, "",
    {{{"{g} − exp({out}) ⊙ colsum({g})", "{g} - e^{{out}} \\odot \\mathbf{1}\\mathbf{1}^\\top {g}"},
      "per column of {shape:0}: the full Jacobian I − 𝟙 sᵀ", "", "{g} - exp({out}) .* sum({g}, 0)"}},
    {{"diagonal_jacobian",
      "only the Jacobian's diagonal kept, as if log_softmax were element-wise: d{0} = {g} ⊙ (1 − exp({out}))", 0,
      &softmax_vjp<true, true>}},
    &softmax_vjp<true, false>, OpKind::other,
    [](const std::vector<Var>& a, const std::vector<double>&) { return log_softmax(a[0]); },
    "per column, x − max − log Σ e^(x − max): finite at ±1000",
    &softmax_jvp<true>, &softmax_vjp_tangent<true>};

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
