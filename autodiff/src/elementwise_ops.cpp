// The built-in element-wise ops. Each is a scalar rule (forward and its vector-Jacobian product,
// g = gradient of the output element) and its definition (<autodiff/op.hpp>): notation, rules,
// mistakes. Broadcasting and the reduction of a broadcast operand's gradient are handled once, by
// elementwise<> in <autodiff/elementwise.hpp>.
#include "builtin_ops.hpp"
#include "vector_math.hpp"

#include <autodiff/elementwise.hpp>
#include <autodiff/ops.hpp>

#include <algorithm>
#include <cmath>

namespace matgrad {

void passthrough_vjp(const BackwardContext& ctx) {
    detail::unary_store(ctx, [](double g, double, double) { return g; });
}

namespace {

// ---- binary, broadcasting -------------------------------------------------------------------

struct Add {
    static constexpr const char* name = "add";
    static double forward(double x, double y) { return x + y; }
    static double grad_x(double g, double, double, double) { return g; }
    static double grad_y(double g, double, double, double) { return g; }
    static Second second(double, double, double) { return {}; }
};

struct Sub {
    static constexpr const char* name = "sub";
    static double forward(double x, double y) { return x - y; }
    static double grad_x(double g, double, double, double) { return g; }
    static double grad_y(double g, double, double, double) { return -g; }
    static Second second(double, double, double) { return {}; }
};

struct Mul {
    static constexpr const char* name = "mul";
    static double forward(double x, double y) { return x * y; }
    static double grad_x(double g, double, double y, double) { return g * y; }
    static double grad_y(double g, double x, double, double) { return g * x; }
    static Second second(double, double, double) { return {0.0, 1.0, 0.0}; }
};

struct Div {
    static constexpr const char* name = "div";
    static double forward(double x, double y) { return x / y; }
    static double grad_x(double g, double, double y, double) { return g / y; }
    static double grad_y(double g, double, double y, double out) { return -g * out / y; }  // -g x/y²
    static Second second(double, double y, double out) { return {0.0, -1.0 / (y * y), 2.0 * out / (y * y)}; }
};

// Mistake "not_summed" of add/sub: operand I's gradient left per sample (g itself, shaped like the
// output) instead of summed back over the axes it was broadcast along; the other one is right.
template <std::size_t I, int SignOfY>
void not_summed_vjp(const BackwardContext& ctx) {
    const Matrix& g = ctx.grad_output();
    const std::size_t rows = g.shape(0), cols = g.shape(1);
    for (std::size_t k = 0; k < 2; ++k) {
        if (!ctx.needs_grad(k)) continue;
        const double sign = k == 1 ? SignOfY : 1.0;
        if (k == I) {
            Matrix& d = ctx.replace_grad_input(k, rows, cols);
            for (std::size_t e = 0; e < g.size(); ++e) d.data()[e] = sign * g.data()[e];
        } else {
            accumulate_sum_to(ctx.grad_input(k), rows, cols,
                              [&](std::size_t i, std::size_t j) { return sign * g(i, j); });
        }
    }
}

template <int SignOfY>
std::vector<Mistake> not_summed_mistakes() {
    return {{"not_summed", "d{0} of the broadcast {0} left per sample, not summed back to its shape", 0,
             &not_summed_vjp<0, SignOfY>},
            {"not_summed", "d{1} of the broadcast {1} (a bias) left per sample, not summed over the columns it was "
                           "broadcast along",
             1, &not_summed_vjp<1, SignOfY>}};
}

const char* const kBroadcastShapesNote =
    "numpy broadcasting among m×n, m×1, 1×n, 1×1; each operand's gradient is summed back to its shape";

const OpDef add_def{"add", "a + b", 2, {}, 0, {"{0} + {1}", "{0} + {1}"}, "{0} + {1}",
                    {{{"{g}", "{g}"}, "", "", "{g}"}, {{"{g}", "{g}"}, "", "", "{g}"}}, not_summed_mistakes<1>(), &binary_vjp<Add>,
                    OpKind::broadcasting,
                    [](const std::vector<Var>& a, const std::vector<double>&) { return a[0] + a[1]; },
                    kBroadcastShapesNote,
                    &binary_jvp<Add>, &vjp_of_tangents<&binary_vjp<Add>>};
const OpDef sub_def{"sub", "a - b", 2, {}, 0, {"{0} − {1}", "{0} - {1}"}, "{0} − {1}",
                    {{{"{g}", "{g}"}, "", "", "{g}"}, {{"−{g}", "-{g}"}, "", "", "-{g}"}}, not_summed_mistakes<-1>(), &binary_vjp<Sub>,
                    OpKind::broadcasting,
                    [](const std::vector<Var>& a, const std::vector<double>&) { return a[0] - a[1]; },
                    kBroadcastShapesNote,
                    &binary_jvp<Sub>, &vjp_of_tangents<&binary_vjp<Sub>>};
const OpDef mul_def{"mul", "a * b", 2, {}, 0, {"{0} ⊙ {1}", "{0} \\odot {1}"}, "{0} ⊙ {1}",
                    {{{"{g} ⊙ {1}", "{g} \\odot {1}"}, "", "", "{g} .* {1}"}, {{"{g} ⊙ {0}", "{g} \\odot {0}"}, "", "", "{g} .* {0}"}},
                    {}, &binary_vjp<Mul>,
                    OpKind::broadcasting,
                    [](const std::vector<Var>& a, const std::vector<double>&) { return a[0] * a[1]; },
                    "element-wise (Hadamard) product, not matmul",
                    &binary_jvp<Mul>, &binary_vjp_tangent<Mul>};
const OpDef div_def{"div", "a / b", 2, {}, 0, {"{0} ⊘ {1}", "{0} \\oslash {1}"}, "{0} ⊘ {1}",
                    {{{"{g} ⊘ {1}", "{g} \\oslash {1}"}, "", "", "{g} ./ {1}"},
                     {{"−{g} ⊙ {0} ⊘ {1}²", "-{g} \\odot {0} \\oslash {1}^2"}, "", "", "-{g} .* {out} ./ {1}"}},
                    {}, &binary_vjp<Div>, OpKind::broadcasting,
                    [](const std::vector<Var>& a, const std::vector<double>&) { return a[0] / a[1]; },
                    "the second gradient is computed as −g ⊙ out ⊘ b (one division)",
                    &binary_jvp<Div>, &binary_vjp_tangent<Div>};

// ---- unary ------------------------------------------------------------------------------------

struct Neg {
    static constexpr const char* name = "neg";
    static double forward(double x) { return -x; }
    static double backward(double g, double, double) { return -g; }
    static double second(double, double) { return 0.0; }
};

struct Sigmoid {
    static constexpr const char* name = "sigmoid";
    static double forward(double x) { return sigmoid(x); }
    // Vectorized, within vector_math::kSigmoidMaxUlps of forward.
    static void forward_array(const double* x, double* out, std::size_t n) { vector_math::sigmoid_array(x, out, n); }
    static double backward(double g, double, double out) { return g * out * (1.0 - out); }  // σ' = σ(1-σ)
    static double second(double, double out) { return out * (1.0 - out) * (1.0 - 2.0 * out); }
};

struct Log {
    static constexpr const char* name = "log";
    static double forward(double x) { return std::log(x); }
    static double backward(double g, double x, double) { return g / x; }
    static double second(double x, double) { return -1.0 / (x * x); }
};

struct Exp {
    static constexpr const char* name = "exp";
    static double forward(double x) { return std::exp(x); }
    // Vectorized, within vector_math::kExpMaxUlps of forward.
    static void forward_array(const double* x, double* out, std::size_t n) { vector_math::exp_array(x, out, n); }
    static double backward(double g, double, double out) { return g * out; }
    static double second(double, double out) { return out; }
};

struct Tanh {
    static constexpr const char* name = "tanh";
    static double forward(double x) { return std::tanh(x); }
    static double backward(double g, double, double out) { return g * (1.0 - out * out); }
    static double second(double, double out) { return -2.0 * out * (1.0 - out * out); }
};

struct Relu {
    static constexpr const char* name = "relu";
    static double forward(double x) { return x > 0 ? x : 0.0; }
    static double backward(double g, double x, double) { return x > 0 ? g : 0.0; }  // relu'(0) = 0
    static double second(double, double) { return 0.0; }
};

struct Softplus {
    static constexpr const char* name = "softplus";
    // log(1 + eˣ) = max(x, 0) + log1p(e^-|x|): e^-|x| <= 1 never overflows.
    static double forward(double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x))); }
    // The same formula with the exps vectorized (log1p stays scalar).
    static void forward_array(const double* x, double* out, std::size_t n) {
        for (std::size_t k = 0; k < n; ++k) out[k] = -std::abs(x[k]);
        vector_math::exp_array(out, out, n);
        for (std::size_t k = 0; k < n; ++k) out[k] = std::max(x[k], 0.0) + std::log1p(out[k]);
    }
    static double backward(double g, double x, double) { return g * sigmoid(x); }
    static double second(double x, double) { return sigmoid(x) * (1.0 - sigmoid(x)); }
};

struct Sqrt {
    static constexpr const char* name = "sqrt";
    static double forward(double x) { return std::sqrt(x); }
    static double backward(double g, double, double out) { return g / (2.0 * out); }
    static double second(double x, double out) { return -0.25 / (x * out); }  // −x^(−3/2) / 4
};

struct Abs {
    static constexpr const char* name = "abs";
    static double forward(double x) { return std::abs(x); }
    static double backward(double g, double x, double) { return x > 0 ? g : x < 0 ? -g : 0.0; }  // abs'(0) = 0
    static double second(double, double) { return 0.0; }
};

struct Sin {
    static constexpr const char* name = "sin";
    static double forward(double x) { return std::sin(x); }
    static double backward(double g, double x, double) { return g * std::cos(x); }
    static double second(double, double out) { return -out; }
};

struct Cos {
    static constexpr const char* name = "cos";
    static double forward(double x) { return std::cos(x); }
    static double backward(double g, double x, double) { return -g * std::sin(x); }
    static double second(double, double out) { return -out; }
};

struct Pow {
    static constexpr const char* name = "pow";
    static double forward(double x, const OpParams& p) { return std::pow(x, p[0]); }
    static double backward(double g, double x, double, const OpParams& p) {
        return g * p[0] * std::pow(x, p[0] - 1.0);
    }
    static double second(double x, double, const OpParams& p) { return p[0] * (p[0] - 1.0) * std::pow(x, p[0] - 2.0); }
};

// Mistake of pow: the exponent's factor p dropped (dx = g ⊙ x^(p−1)).
void pow_missing_factor_vjp(const BackwardContext& ctx) {
    const double p = ctx.param(0);
    detail::unary_store(ctx, [p](double g, double x, double) { return g * std::pow(x, p - 1.0); });
}

#define MATGRAD_UNARY_APPLY(fn) [](const std::vector<Var>& a, const std::vector<double>&) { return fn(a[0]); }

const OpDef neg_def{"neg", "-x", 1, {}, 0, {"−{0}", "-{0}"}, "", {{{"−{g}", "-{g}"}, "", "", "-{g}"}}, {}, &unary_vjp<Neg>,
                    OpKind::elementwise, [](const std::vector<Var>& a, const std::vector<double>&) { return -a[0]; }, "",
                    &unary_jvp<Neg>, &vjp_of_tangents<&unary_vjp<Neg>>};
const OpDef sigmoid_def{
    "sigmoid", "sigmoid(x)", 1, {}, 0, {"σ({0})", "\\sigma({0})", "1 / (1 + np.exp(-{0}))"}, "",
    {{{"{g} ⊙ {out} ⊙ (1 − {out})", "{g} \\odot {out} \\odot (1 - {out})"}, "element-wise on {shape:0}, σ'({0}) = {out} ⊙ (1 − {out})", "",
      "{g} .* {out} .* (1 - {out})"}},
    activation_mistakes<Sigmoid>("σ'({0}) = {out} ⊙ (1 − {out}) left out: d{0} = {g}, not {g} ⊙ {out} ⊙ (1 − {out})",
                                 "σ' evaluated at the activation {out} instead of at {0}: "
                                 "d{0} = {g} ⊙ σ({out}) ⊙ (1 − σ({out}))"),
    &unary_vjp<Sigmoid>, OpKind::elementwise, MATGRAD_UNARY_APPLY(sigmoid),
    "σ(x) = 1 / (1 + e^−x); σ' from the saved output",
    &unary_jvp<Sigmoid>, &unary_vjp_tangent<Sigmoid>};
const OpDef log_def{"log", "log(x)", 1, {}, 0, {"log({0})", "\\log {0}", "np.log({0})"}, "", {{{"{g} ⊘ {0}", "{g} \\oslash {0}"}, "", "", "{g} ./ {0}"}},
                    activation_mistakes<Log>("log' = 1/{0} left out: d{0} = {g}",
                                             "log' evaluated at {out} instead of at {0}: d{0} = {g} ⊘ {out}"),
                    &unary_vjp<Log>, OpKind::elementwise, MATGRAD_UNARY_APPLY(log), "",
                    &unary_jvp<Log>, &unary_vjp_tangent<Log>};
const OpDef exp_def{"exp", "exp(x)", 1, {}, 0, {"exp({0})", "e^{{0}}", "np.exp({0})"}, "", {{{"{g} ⊙ {out}", "{g} \\odot {out}"}, "", "", "{g} .* {out}"}},
                    activation_mistakes<Exp>("exp' = {out} left out: d{0} = {g}",
                                             "exp' evaluated at {out} instead of at {0}: d{0} = {g} ⊙ exp({out})"),
                    &unary_vjp<Exp>, OpKind::elementwise, MATGRAD_UNARY_APPLY(exp), "",
                    &unary_jvp<Exp>, &unary_vjp_tangent<Exp>};
const OpDef tanh_def{"tanh", "tanh(x)", 1, {}, 0, {"tanh({0})", "\\tanh {0}", "np.tanh({0})"}, "",
                     {{{"{g} ⊙ (1 − {out}²)", "{g} \\odot (1 - {out}^2)"}, "", "", "{g} .* (1 - {out} .* {out})"}},
                     activation_mistakes<Tanh>("tanh' = 1 − {out}² left out: d{0} = {g}",
                                               "tanh' evaluated at the output {out} instead of at {0}: "
                                               "d{0} = {g} ⊙ (1 − tanh({out})²)"),
                     &unary_vjp<Tanh>, OpKind::elementwise, MATGRAD_UNARY_APPLY(tanh), "",
                     &unary_jvp<Tanh>, &unary_vjp_tangent<Tanh>};
const OpDef relu_def{"relu", "relu(x)", 1, {}, 0, {"relu({0})", "\\mathrm{relu}({0})", "np.maximum({0}, 0.0)"}, "",
                     {{{"{g} ⊙ [{0} > 0]", "{g} \\odot [{0} > 0]"}}},
                     {{"missing_activation_derivative", "relu' = [{0} > 0] left out: d{0} = {g}", 0, &passthrough_vjp}},
                     &unary_vjp<Relu>, OpKind::elementwise, MATGRAD_UNARY_APPLY(relu),
                     "max(x, 0); relu'(0) = 0 as in PyTorch",
                     &unary_jvp<Relu>, &unary_vjp_tangent<Relu>};
const OpDef softplus_def{"softplus", "softplus(x)", 1, {}, 0, {"softplus({0})", "\\log(1 + e^{{0}})", "np.logaddexp(0.0, {0})"}, "",
                         {{{"{g} ⊙ σ({0})", "{g} \\odot \\sigma({0})"}, "", "", "{g} .* sigmoid({0})"}},
                         activation_mistakes<Softplus>("softplus' = σ({0}) left out: d{0} = {g}",
                                                       "softplus' evaluated at the output {out} instead of at {0}: "
                                                       "d{0} = {g} ⊙ σ({out})"),
                         &unary_vjp<Softplus>, OpKind::elementwise, MATGRAD_UNARY_APPLY(softplus),
                         "log(1 + eˣ) computed as max(x, 0) + log1p(e^−|x|): finite for any finite x",
                         &unary_jvp<Softplus>, &unary_vjp_tangent<Softplus>};
const OpDef sqrt_def{"sqrt", "sqrt(x)", 1, {}, 0, {"√{0}", "\\sqrt{{0}}", "np.sqrt({0})"}, "",
                     {{{"{g} ⊘ (2 {out})", "{g} \\oslash (2 {out})"}, "", "", "{g} ./ (2 * {out})"}},
                     activation_mistakes<Sqrt>("sqrt' = 1/(2 {out}) left out: d{0} = {g}",
                                               "sqrt' evaluated at the output {out} instead of at {0}"),
                     &unary_vjp<Sqrt>, OpKind::elementwise, MATGRAD_UNARY_APPLY(sqrt), "",
                     &unary_jvp<Sqrt>, &unary_vjp_tangent<Sqrt>};
const OpDef abs_def{"abs", "abs(x)", 1, {}, 0, {"|{0}|", "|{0}|", "np.abs({0})"}, "", {{{"{g} ⊙ sign({0})", "{g} \\odot \\mathrm{sign}({0})"}}},
                    {{"missing_activation_derivative", "abs' = sign({0}) left out: d{0} = {g}", 0, &passthrough_vjp}},
                    &unary_vjp<Abs>, OpKind::elementwise, MATGRAD_UNARY_APPLY(abs), "abs'(0) = 0 as in PyTorch",
                    &unary_jvp<Abs>, &unary_vjp_tangent<Abs>};
const OpDef sin_def{"sin", "sin(x)", 1, {}, 0, {"sin({0})", "\\sin {0}", "np.sin({0})"}, "", {{{"{g} ⊙ cos({0})", "{g} \\odot \\cos {0}"}, "", "", "{g} .* cos({0})"}},
                    activation_mistakes<Sin>("sin' = cos({0}) left out: d{0} = {g}",
                                             "sin' evaluated at the output {out} instead of at {0}: "
                                             "d{0} = {g} ⊙ cos({out})"),
                    &unary_vjp<Sin>, OpKind::elementwise, MATGRAD_UNARY_APPLY(sin), "",
                    &unary_jvp<Sin>, &unary_vjp_tangent<Sin>};
const OpDef cos_def{"cos", "cos(x)", 1, {}, 0, {"cos({0})", "\\cos {0}", "np.cos({0})"}, "", {{{"−{g} ⊙ sin({0})", "-{g} \\odot \\sin {0}"}, "", "", "-{g} .* sin({0})"}},
                    activation_mistakes<Cos>("cos' = −sin({0}) left out: d{0} = {g}",
                                             "cos' evaluated at the output {out} instead of at {0}: "
                                             "d{0} = −{g} ⊙ sin({out})"),
                    &unary_vjp<Cos>, OpKind::elementwise, MATGRAD_UNARY_APPLY(cos), "",
                    &unary_jvp<Cos>, &unary_vjp_tangent<Cos>};
const OpDef pow_def{"pow", "pow(x, p)", 1, {"p"}, 0, {"{0}^{p}", "{0}^{{p}}", "{0} ** {p}"}, "",
                    {{{"{p} {g} ⊙ {0}^({p} − 1)", "{p}\\, {g} \\odot {0}^{{p} - 1}"}, "", "", "{p} * {g} .* {0} .^ ({p} - 1)"}},
                    {{"missing_power_factor",
                      "the factor {p} of {p} {0}^({p} − 1) dropped: d{0} = {g} ⊙ {0}^({p} − 1)", 0,
                      &pow_missing_factor_vjp}},
                    &unary_vjp<Pow>, OpKind::elementwise,
                    [](const std::vector<Var>& a, const std::vector<double>& n) { return pow(a[0], n[0]); },
                    "p is a number (a parameter, no gradient)",
                    &unary_jvp<Pow>, &unary_vjp_tangent<Pow>};

#undef MATGRAD_UNARY_APPLY

}  // namespace

void append_elementwise_ops(std::vector<const OpDef*>& defs) {
    defs.insert(defs.end(), {&add_def, &sub_def, &mul_def, &div_def, &neg_def, &sigmoid_def, &log_def, &exp_def,
                             &tanh_def, &relu_def, &softplus_def, &sqrt_def, &abs_def, &sin_def, &cos_def, &pow_def});
}

std::array<std::size_t, 2> broadcast_shape(const char* op, const Var& a, const Var& b) {
    std::array<std::size_t, 2> shape{};
    for (std::size_t axis = 0; axis < 2; ++axis) {
        const std::size_t da = a.shape()[axis], db = b.shape()[axis];
        if (da != db && da != 1 && db != 1)
            throw ShapeError(std::string(op) + ": " + a.describe() + " is " + a.shape_string() +
                             " but " + b.describe() + " is " + b.shape_string() +
                             " (not broadcastable: " + (axis == 0 ? "rows " : "columns ") +
                             std::to_string(da) + " and " + std::to_string(db) +
                             " differ and neither is 1)");
        shape[axis] = da == 1 ? db : da;
    }
    return shape;
}

Var operator+(const Var& a, const Var& b) { return elementwise<Add>(add_def, a, b); }
Var operator-(const Var& a, const Var& b) { return elementwise<Sub>(sub_def, a, b); }
Var operator*(const Var& a, const Var& b) { return elementwise<Mul>(mul_def, a, b); }
Var operator/(const Var& a, const Var& b) { return elementwise<Div>(div_def, a, b); }
Var operator-(const Var& a) { return elementwise<Neg>(neg_def, a); }

// A double operand becomes a 1x1 constant that broadcasts.
Var operator+(const Var& a, double b) { return a + a.tape().constant(b); }
Var operator+(double a, const Var& b) { return b.tape().constant(a) + b; }
Var operator-(const Var& a, double b) { return a - a.tape().constant(b); }
Var operator-(double a, const Var& b) { return b.tape().constant(a) - b; }
Var operator*(const Var& a, double b) { return a * a.tape().constant(b); }
Var operator*(double a, const Var& b) { return b.tape().constant(a) * b; }
Var operator/(const Var& a, double b) { return a / a.tape().constant(b); }
Var operator/(double a, const Var& b) { return b.tape().constant(a) / b; }

Var sigmoid(const Var& a) { return elementwise<Sigmoid>(sigmoid_def, a); }
Var log(const Var& a) { return elementwise<Log>(log_def, a); }
Var exp(const Var& a) { return elementwise<Exp>(exp_def, a); }
Var tanh(const Var& x) { return elementwise<Tanh>(tanh_def, x); }
Var relu(const Var& x) { return elementwise<Relu>(relu_def, x); }
Var softplus(const Var& x) { return elementwise<Softplus>(softplus_def, x); }
Var sqrt(const Var& x) { return elementwise<Sqrt>(sqrt_def, x); }
Var abs(const Var& x) { return elementwise<Abs>(abs_def, x); }
Var sin(const Var& x) { return elementwise<Sin>(sin_def, x); }
Var cos(const Var& x) { return elementwise<Cos>(cos_def, x); }
Var pow(const Var& x, double p) { return elementwise<Pow>(pow_def, x, OpParams{p}); }

}  // namespace matgrad
