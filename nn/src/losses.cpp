// The losses: binary cross-entropy (the slides' composed form and the stable one-op form from
// logits), softmax cross-entropy and mean squared error (one op each), and the metrics.
#include <nn/losses.hpp>

#include <autodiff/ops.hpp>
#include <autodiff/registry.hpp>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <stdexcept>

namespace matgrad::nn {

namespace {

void require_same_shape(const char* loss, const Var& A, const Var& B) {
    if (A.shape() != B.shape())
        throw ShapeError(std::string(loss) + ": " + A.describe() + " is " + A.shape_string() + " but " +
                         B.describe() + " is " + B.shape_string() + " (they must have the same shape)");
}

/// log Σ_i exp(z_i) over column j of Z, shifted by the column's maximum so no exp overflows.
double column_log_sum_exp(const Matrix& Z, std::size_t j) {
    double top = Z(0, j);
    for (std::size_t i = 1; i < Z.shape(0); ++i) top = std::max(top, Z(i, j));
    double sum = 0.0;
    for (std::size_t i = 0; i < Z.shape(0); ++i) sum += std::exp(Z(i, j) - top);
    return top + std::log(sum);
}

}  // namespace

Var binary_cross_entropy(const Var& A, const Var& Y) {
    return -mean(Y * log(A) + (1.0 - Y) * log(1.0 - A));
}

namespace {

// Each loss below is one op: its forward, its VJP (templated on the factors a hand derivation
// tends to drop, so the mistakes are the same code with a factor missing) and its definition.

// -[y log σ(z) + (1-y) log(1-σ(z))] = max(z,0) - z y + log(1 + e^-|z|): e^-|z| <= 1, so neither exp
// overflows nor log sees 0.  d/dz = (σ(z) - y)/n,  d/dy = -z/n.
template <bool MeanFactor>
void bce_with_logits_vjp(const BackwardContext& ctx) {
    const double* z = ctx.input(0).data();
    const double* y = ctx.input(1).data();
    const std::size_t n = ctx.input(0).size();
    const double g = ctx.grad_output()(0, 0);
    const double gz = MeanFactor ? g / static_cast<double>(n) : g;
    if (ctx.needs_grad(0)) {
        double* dz = ctx.grad_input(0).data();
        for (std::size_t k = 0; k < n; ++k) dz[k] += gz * (matgrad::sigmoid(z[k]) - y[k]);
    }
    if (ctx.needs_grad(1)) {
        double* dy = ctx.grad_input(1).data();
        for (std::size_t k = 0; k < n; ++k) dy[k] += -g / static_cast<double>(n) * z[k];
    }
}

// Second order of the three losses: L̇ = Σ (∂L/∂z ż + ∂L/∂y ẏ), and the tangents of the VJPs.
// An operand without a tangent (a constant: ctx.needs_grad false) moves by 0.
const double* tangent_or_null(const BackwardContext& ctx, std::size_t i) {
    return ctx.needs_grad(i) ? ctx.input_tangent(i).data() : nullptr;
}
double at(const double* tangent, std::size_t k) { return tangent ? tangent[k] : 0.0; }

// bce: dz = (σ(z) − y)/n, dy = −z/n;  tangents: d(g dz) = ġ dz + g (σ'(z) ż − ẏ)/n,  d(g dy) = −(ġ z + g ż)/n
void bce_with_logits_jvp(const BackwardContext& ctx) {
    const double* z = ctx.input(0).data();
    const double* y = ctx.input(1).data();
    const double *zd = tangent_or_null(ctx, 0), *yd = tangent_or_null(ctx, 1);
    const std::size_t n = ctx.input(0).size();
    double total = 0.0;
    for (std::size_t k = 0; k < n; ++k) total += (matgrad::sigmoid(z[k]) - y[k]) * at(zd, k) - z[k] * at(yd, k);
    ctx.output_tangent()(0, 0) = total / static_cast<double>(n);
}

void bce_with_logits_vjp_tangent(const BackwardContext& ctx) {
    const double* z = ctx.input(0).data();
    const double* y = ctx.input(1).data();
    const double *zd = tangent_or_null(ctx, 0), *yd = tangent_or_null(ctx, 1);
    const std::size_t n = ctx.input(0).size();
    const BackwardContext t = ctx.tangents();
    const double g = ctx.grad_output()(0, 0) / static_cast<double>(n);
    const double gd = t.grad_output()(0, 0) / static_cast<double>(n);
    if (ctx.needs_grad(0)) {
        double* dz = t.grad_input(0).data();
        for (std::size_t k = 0; k < n; ++k) {
            const double s = matgrad::sigmoid(z[k]);
            dz[k] += gd * (s - y[k]) + g * (s * (1.0 - s) * zd[k] - at(yd, k));
        }
    }
    if (ctx.needs_grad(1)) {
        double* dy = t.grad_input(1).data();
        for (std::size_t k = 0; k < n; ++k) dy[k] -= gd * z[k] + g * at(zd, k);
    }
}

// Per sample j: Σ_i y_ij (lse_j - z_ij) = -Σ_i y_ij log softmax(z)_ij, with lse_j = log Σ_i e^z_ij taken
// after subtracting the column maximum, so logits of any size stay finite.
//   d/dz_ij = ((Σ_l y_lj) softmax_ij - y_ij) / n   (= (softmax - Y)/n for one-hot Y),
//   d/dy_ij = (lse_j - z_ij) / n.
template <bool MeanFactor>
void softmax_cross_entropy_vjp(const BackwardContext& ctx) {
    const Matrix& z = ctx.input(0);
    const Matrix& y = ctx.input(1);
    const double g = ctx.grad_output()(0, 0) / static_cast<double>(z.shape(1));
    const double gz = MeanFactor ? g : ctx.grad_output()(0, 0);
    Matrix* dz = ctx.needs_grad(0) ? &ctx.grad_input(0) : nullptr;
    Matrix* dy = ctx.needs_grad(1) ? &ctx.grad_input(1) : nullptr;
    for (std::size_t j = 0; j < z.shape(1); ++j) {
        const double lse = column_log_sum_exp(z, j);
        double y_sum = 0.0;
        for (std::size_t i = 0; i < z.shape(0); ++i) y_sum += y(i, j);
        for (std::size_t i = 0; i < z.shape(0); ++i) {
            if (dz) (*dz)(i, j) += gz * (y_sum * std::exp(z(i, j) - lse) - y(i, j));
            if (dy) (*dy)(i, j) += g * (lse - z(i, j));
        }
    }
}

// With s = softmax(z_:j), Y_j = Σ_i y_ij, u_j = ⟨s, ż_:j⟩ (the tangent of lse_j), per sample j:
//   L̇ = Σ_ij [(Y_j s_ij − y_ij) ż_ij + (lse_j − z_ij) ẏ_ij] / n
//   d(g dz_ij) = [ġ (Y_j s_ij − y_ij) + g (Ẏ_j s_ij + Y_j s_ij (ż_ij − u_j) − ẏ_ij)] / n
//   d(g dy_ij) = [ġ (lse_j − z_ij) + g (u_j − ż_ij)] / n
template <bool Jvp>
void softmax_cross_entropy_second(const BackwardContext& ctx) {
    const Matrix& z = ctx.input(0);
    const Matrix& y = ctx.input(1);
    const double *zd = tangent_or_null(ctx, 0), *yd = tangent_or_null(ctx, 1);
    const std::size_t rows = z.shape(0), cols = z.shape(1);
    const double n = static_cast<double>(cols);
    const BackwardContext t = ctx.tangents();
    const double g = Jvp ? 0.0 : ctx.grad_output()(0, 0) / n, gd = Jvp ? 0.0 : t.grad_output()(0, 0) / n;
    double* dz = !Jvp && ctx.needs_grad(0) ? t.grad_input(0).data() : nullptr;
    double* dy = !Jvp && ctx.needs_grad(1) ? t.grad_input(1).data() : nullptr;
    double total = 0.0;
    for (std::size_t j = 0; j < cols; ++j) {
        const double lse = column_log_sum_exp(z, j);
        double y_sum = 0.0, yd_sum = 0.0, u = 0.0;
        for (std::size_t i = 0; i < rows; ++i) {
            y_sum += y(i, j);
            yd_sum += at(yd, i * cols + j);
            u += std::exp(z(i, j) - lse) * at(zd, i * cols + j);
        }
        for (std::size_t i = 0; i < rows; ++i) {
            const std::size_t k = i * cols + j;
            const double s = std::exp(z(i, j) - lse);
            if (Jvp) total += (y_sum * s - y(i, j)) * at(zd, k) + (lse - z(i, j)) * at(yd, k);
            if (dz) dz[k] += gd * (y_sum * s - y(i, j)) + g * (yd_sum * s + y_sum * s * (at(zd, k) - u) - at(yd, k));
            if (dy) dy[k] += gd * (lse - z(i, j)) + g * (u - at(zd, k));
        }
    }
    if (Jvp) ctx.output_tangent()(0, 0) = total / n;
}

// J = (1/N) Σ (a - t)² over all N entries;  dJ/da = 2 (a - t) / N,  dJ/dt = -2 (a - t) / N.
template <bool PowerFactor, bool MeanFactor>
void mse_vjp(const BackwardContext& ctx) {
    const double* a = ctx.input(0).data();
    const double* t = ctx.input(1).data();
    const std::size_t n = ctx.input(0).size();
    const double g = 2.0 * ctx.grad_output()(0, 0) / static_cast<double>(n);
    const double ga = (PowerFactor ? 2.0 : 1.0) * ctx.grad_output()(0, 0) / (MeanFactor ? static_cast<double>(n) : 1.0);
    double* da = ctx.needs_grad(0) ? ctx.grad_input(0).data() : nullptr;
    double* dt = ctx.needs_grad(1) ? ctx.grad_input(1).data() : nullptr;
    for (std::size_t k = 0; k < n; ++k) {
        if (da) da[k] += ga * (a[k] - t[k]);
        if (dt) dt[k] -= g * (a[k] - t[k]);
    }
}

// L̇ = 2 Σ (a − t)(ȧ − ṫ) / N;  d(g da) = 2 [ġ (a − t) + g (ȧ − ṫ)] / N = −d(g dt)
template <bool Jvp>
void mse_second(const BackwardContext& ctx) {
    const double* a = ctx.input(0).data();
    const double* t = ctx.input(1).data();
    const double *ad = tangent_or_null(ctx, 0), *td = tangent_or_null(ctx, 1);
    const std::size_t n = ctx.input(0).size();
    const BackwardContext tan = ctx.tangents();
    const double scale = 2.0 / static_cast<double>(n);
    const double g = Jvp ? 0.0 : ctx.grad_output()(0, 0), gd = Jvp ? 0.0 : tan.grad_output()(0, 0);
    double* da = !Jvp && ctx.needs_grad(0) ? tan.grad_input(0).data() : nullptr;
    double* dt = !Jvp && ctx.needs_grad(1) ? tan.grad_input(1).data() : nullptr;
    double total = 0.0;
    for (std::size_t k = 0; k < n; ++k) {
        const double moved = at(ad, k) - at(td, k);
        total += (a[k] - t[k]) * moved;
        const double v = scale * (gd * (a[k] - t[k]) + g * moved);
        if (da) da[k] += v;
        if (dt) dt[k] -= v;
    }
    if (Jvp) ctx.output_tangent()(0, 0) = scale * total;
}

Var apply_bce_with_logits(const std::vector<Var>& a, const std::vector<double>&) {
    return binary_cross_entropy_with_logits(a[0], a[1]);
}
Var apply_softmax_cross_entropy(const std::vector<Var>& a, const std::vector<double>&) {
    return softmax_cross_entropy(a[0], a[1]);
}
Var apply_mse(const std::vector<Var>& a, const std::vector<double>&) { return mse(a[0], a[1]); }

const OpDef bce_with_logits_def{
    "binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits(z, y)", 2, {}, 0,
    {"bce(σ({0}), {1})", "\\mathrm{bce}(\\sigma({0}), {1})"}, "mean over {shape:0} → {shape:out}",
    {{{"{g} ⊙ (σ({0}) − {1}) / {N}", "{g} \\odot (\\sigma({0}) - {1}) / {N}"}},
     {{"−{g} ⊙ {0} / {N}", "-{g} \\odot {0} / {N}"}}},
    {{"missing_mean_factor", "the mean's 1/{N} left out: d{0} = σ({0}) − {1}", 0, &bce_with_logits_vjp<false>}},
    &bce_with_logits_vjp<true>, OpKind::other, &apply_bce_with_logits,
    "mean of max(z, 0) − z y + log(1 + e^−|z|): finite for any finite z; equals the slides' BCE of σ(z)",
    &bce_with_logits_jvp, &bce_with_logits_vjp_tangent};

const OpDef softmax_cross_entropy_def{
    "softmax_cross_entropy", "softmax_cross_entropy(z, y)", 2, {}, 0,
    {"−(1/n) Σ {1} ⊙ log softmax({0})", "-\\tfrac1n\\textstyle\\sum {1} \\odot \\log\\mathrm{softmax}({0})"},
    "mean over the {shape:0} columns → {shape:out}",
    {{{"{g} (softmax({0}) − {1}) / n", "{g}\\,(\\mathrm{softmax}({0}) - {1}) / n"},
      "{shape:0}, n = columns (samples); one-hot {1}"},
     {{"−{g} log_softmax({0}) / n", "-{g}\\,\\log\\mathrm{softmax}({0}) / n"}, "{shape:1}"}},
    {{"missing_mean_factor", "the mean's 1/n over the samples left out: d{0} = softmax({0}) − {1}", 0,
      &softmax_cross_entropy_vjp<false>}},
    &softmax_cross_entropy_vjp<true>, OpKind::other, &apply_softmax_cross_entropy,
    "z, y are k×n (classes × samples), y one-hot per column; log-sum-exp after subtracting each "
    "column's max: finite at ±1000",
    &softmax_cross_entropy_second<true>, &softmax_cross_entropy_second<false>};

const OpDef mse_def{
    "mse", "mse(a, t)", 2, {}, 0, {"mean(({0} − {1})²)", "\\mathrm{mean}(({0} - {1})^2)"},
    "mean over {shape:0} → {shape:out}",
    {{{"2 {g} ⊙ ({0} − {1}) / {N}", "2 {g} \\odot ({0} - {1}) / {N}"}},
     {{"−2 {g} ⊙ ({0} − {1}) / {N}", "-2 {g} \\odot ({0} - {1}) / {N}"}}},
    {{"missing_power_factor", "the 2 of d({0} − {1})² = 2({0} − {1}) dropped: d{0} = ({0} − {1}) / {N}", 0,
      &mse_vjp<false, true>},
     {"missing_mean_factor", "the mean's 1/{N} left out: d{0} = 2({0} − {1})", 0, &mse_vjp<true, false>}},
    &mse_vjp<true, true>, OpKind::other, &apply_mse, "mean over all N entries",
    &mse_second<true>, &mse_second<false>};

}  // namespace

Var binary_cross_entropy_with_logits(const Var& Z, const Var& Y) {
    require_same_shape("binary_cross_entropy_with_logits", Z, Y);
    return Z.tape().record(bce_with_logits_def, {Z, Y}, 1, 1, [&](Matrix& out) {
        const double* z = Z.value().data();
        const double* y = Y.value().data();
        const std::size_t n = Z.value().size();
        double total = 0.0;
        for (std::size_t k = 0; k < n; ++k)
            total += std::max(z[k], 0.0) - z[k] * y[k] + std::log1p(std::exp(-std::abs(z[k])));
        out(0, 0) = total / static_cast<double>(n);
    });
}

Var softmax_cross_entropy(const Var& Z, const Var& Y) {
    require_same_shape("softmax_cross_entropy", Z, Y);
    return Z.tape().record(softmax_cross_entropy_def, {Z, Y}, 1, 1, [&](Matrix& out) {
        const Matrix& z = Z.value();
        const Matrix& y = Y.value();
        double total = 0.0;
        for (std::size_t j = 0; j < z.shape(1); ++j) {
            const double lse = column_log_sum_exp(z, j);
            for (std::size_t i = 0; i < z.shape(0); ++i) total += y(i, j) * (lse - z(i, j));
        }
        out(0, 0) = total / static_cast<double>(z.shape(1));
    });
}

Var mse(const Var& A, const Var& T) {
    require_same_shape("mse", A, T);
    return A.tape().record(mse_def, {A, T}, 1, 1, [&](Matrix& out) {
        const double* a = A.value().data();
        const double* t = T.value().data();
        const std::size_t n = A.value().size();
        double total = 0.0;
        for (std::size_t k = 0; k < n; ++k) total += (a[k] - t[k]) * (a[k] - t[k]);
        out(0, 0) = total / static_cast<double>(n);
    });
}

std::vector<const OpDef*> loss_definitions() {
    return {&bce_with_logits_def, &softmax_cross_entropy_def, &mse_def};
}

void register_losses() {
    static std::once_flag once;  // two threads registering at once must not both try
    std::call_once(once, [] {
        for (const OpDef* def : loss_definitions())
            if (find_op(def->name) == nullptr) register_op(*def);
    });
}

double accuracy(const Matrix& output, const Matrix& labels, double threshold) {
    if (output.shape() != labels.shape() || output.size() == 0)
        throw std::invalid_argument("accuracy: output is " + shape_string(output) + " but labels are " +
                                    shape_string(labels));
    std::size_t correct = 0;
    for (std::size_t k = 0; k < output.size(); ++k)
        correct += (output.data()[k] >= threshold ? 1.0 : 0.0) == labels.data()[k];
    return static_cast<double>(correct) / static_cast<double>(output.size());
}

double argmax_accuracy(const Matrix& scores, const Matrix& one_hot) {
    if (scores.shape() != one_hot.shape() || scores.size() == 0)
        throw std::invalid_argument("argmax_accuracy: scores are " + shape_string(scores) + " but labels are " +
                                    shape_string(one_hot));
    std::size_t correct = 0;
    for (std::size_t j = 0; j < scores.shape(1); ++j) {
        std::size_t best = 0;
        for (std::size_t i = 1; i < scores.shape(0); ++i)
            if (scores(i, j) > scores(best, j)) best = i;
        correct += one_hot(best, j) == 1.0;
    }
    return static_cast<double>(correct) / static_cast<double>(scores.shape(1));
}

double r2_score(const Matrix& predicted, const Matrix& target) {
    if (predicted.shape() != target.shape() || target.size() == 0)
        throw std::invalid_argument("r2_score: predictions are " + shape_string(predicted) + " but targets are " +
                                    shape_string(target));
    const double n = static_cast<double>(target.size());
    double mean = 0.0;
    for (const double t : target) mean += t / n;
    double residual = 0.0, total = 0.0;
    for (std::size_t k = 0; k < target.size(); ++k) {
        residual += (predicted.data()[k] - target.data()[k]) * (predicted.data()[k] - target.data()[k]);
        total += (target.data()[k] - mean) * (target.data()[k] - mean);
    }
    return 1.0 - residual / total;  // a constant target (total 0) gives -inf or nan, as sklearn's warns
}

}  // namespace matgrad::nn
