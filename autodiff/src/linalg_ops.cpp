// matmul, transpose and the matrix functions (trace, inverse, determinant, log|det|, Frobenius
// norm): forward, backward and definition side by side.
#include "builtin_ops.hpp"

#include <autodiff/blas.hpp>
#include <autodiff/ops.hpp>

#include <xtensor/xmanipulation.hpp>

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

extern "C" {
// LAPACK (column-major): LU with partial pivoting, and the inverse from it.
void dgetrf_(const int* m, const int* n, double* a, const int* lda, int* ipiv, int* info);
void dgetri_(const int* n, double* a, const int* lda, const int* ipiv, double* work, const int* lwork, int* info);
}

namespace matgrad {

namespace {

// c = alpha a bᵀ + beta c for the columns a (m) and b (n) of a product with inner dimension 1
// (either operand's storage is contiguous whatever its transpose flag). dgemm with beta = 0 would
// zero-fill c and then read it back to add the product; this writes each element once.
void outer_product(double alpha, const double* a, const double* b, double beta, Matrix& c) {
    const std::size_t rows = c.shape(0), cols = c.shape(1);
    for (std::size_t i = 0; i < rows; ++i) {
        double* row = c.data() + i * cols;
        const double ai = alpha * a[i];
        if (beta == 0.0)
            for (std::size_t j = 0; j < cols; ++j) row[j] = ai * b[j];
        else
            for (std::size_t j = 0; j < cols; ++j) row[j] = beta * row[j] + ai * b[j];
    }
}

}  // namespace

void gemm(Trans trans_a, Trans trans_b, double alpha, const Matrix& a, const Matrix& b, double beta,
          Matrix& c) {
    const bool ta = trans_a == Trans::yes, tb = trans_b == Trans::yes;
    const std::size_t m = ta ? a.shape(1) : a.shape(0), k = ta ? a.shape(0) : a.shape(1);
    const std::size_t kb = tb ? b.shape(1) : b.shape(0), n = tb ? b.shape(0) : b.shape(1);
    if (k != kb || c.shape(0) != m || c.shape(1) != n)
        throw ShapeError("gemm: op(a) is " + std::to_string(m) + "x" + std::to_string(k) +
                         ", op(b) is " + std::to_string(kb) + "x" + std::to_string(n) + ", c is " + shape_string(c));
    if (k == 1) {  // an outer product (a layer of one unit's W2ᵀ dZ2): one pass over c (outer_product)
        outer_product(alpha, a.data(), b.data(), beta, c);
        return;
    }
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, a.data(),
                static_cast<int>(a.shape(1)), b.data(), static_cast<int>(b.shape(1)), beta, c.data(),
                static_cast<int>(c.shape(1)));
}

namespace {

// C = A B;  dA += dC Bᵀ;  dB += Aᵀ dC  (transposes are BLAS flags, never materialized)
void matmul_vjp(const BackwardContext& ctx) {
    // beta = 0 for the first contribution: BLAS overwrites the stale buffer, no zero-fill.
    if (ctx.needs_grad(0)) {
        const BackwardContext::GradTarget da = ctx.grad_input_target(0);
        gemm(Trans::no, Trans::yes, 1.0, ctx.grad_output(), ctx.input(1), da.assign ? 0.0 : 1.0, da.grad);
    }
    if (ctx.needs_grad(1)) {
        const BackwardContext::GradTarget db = ctx.grad_input_target(1);
        gemm(Trans::yes, Trans::no, 1.0, ctx.input(0), ctx.grad_output(), db.assign ? 0.0 : 1.0, db.grad);
    }
}

// Ċ = Ȧ B + A Ḃ
void matmul_jvp(const BackwardContext& ctx) {
    Matrix& cd = ctx.output_tangent();
    double beta = 0.0;
    if (ctx.needs_grad(0)) {
        gemm(Trans::no, Trans::no, 1.0, ctx.input_tangent(0), ctx.input(1), 0.0, cd);
        beta = 1.0;
    }
    if (ctx.needs_grad(1)) gemm(Trans::no, Trans::no, 1.0, ctx.input(0), ctx.input_tangent(1), beta, cd);
}

// The VJP is bilinear in (g, values): dȦ = ġ Bᵀ + g Ḃᵀ,  dḂ = Aᵀ ġ + Ȧᵀ g.
void matmul_vjp_tangent(const BackwardContext& ctx) {
    matmul_vjp(ctx.tangents());
    const BackwardContext t = ctx.tangents();
    const bool a_moves = ctx.needs_grad(0), b_moves = ctx.needs_grad(1);
    if (a_moves && b_moves) {
        gemm(Trans::no, Trans::yes, 1.0, ctx.grad_output(), ctx.input_tangent(1), 1.0, t.grad_input(0));
        gemm(Trans::yes, Trans::no, 1.0, ctx.input_tangent(0), ctx.grad_output(), 1.0, t.grad_input(1));
    }
}

// Mistake "transposed": operand I's gradient written the other way round, (g Bᵀ)ᵀ = B gᵀ for A or
// (Aᵀ g)ᵀ = gᵀ A for B -- the shape of its transpose, as the verifier sees it.
template <std::size_t I>
void matmul_transposed_vjp(const BackwardContext& ctx) {
    const Matrix& a = ctx.input(0);
    const Matrix& b = ctx.input(1);
    const Matrix& g = ctx.grad_output();
    if (ctx.needs_grad(0)) {
        if (I == 0)
            gemm(Trans::no, Trans::yes, 1.0, b, g, 0.0, ctx.replace_grad_input(0, a.shape(1), a.shape(0)));
        else
            gemm(Trans::no, Trans::yes, 1.0, g, b, 1.0, ctx.grad_input(0));
    }
    if (ctx.needs_grad(1)) {
        if (I == 1)
            gemm(Trans::yes, Trans::no, 1.0, g, a, 0.0, ctx.replace_grad_input(1, b.shape(1), b.shape(0)));
        else
            gemm(Trans::yes, Trans::no, 1.0, a, g, 1.0, ctx.grad_input(1));
    }
}

// Z = W A + b (b a column, added to every column of W A): the matmul's gradients and the bias's
// row sums, db = Σ_j dZ(:, j). dZ is read where it is, never copied into a separate add node.
// Every column of z set to `column` (z's rows x 1), or to 0 without one: where W A + b starts, so
// that BLAS adds the product onto it (beta = 1) and no separate pass adds the bias.
void fill_columns(Matrix& z, const Matrix* column) {
    const std::size_t cols = z.shape(1);
    for (std::size_t i = 0; i < z.shape(0); ++i) std::fill_n(z.data() + i * cols, cols, column ? (*column)(i, 0) : 0.0);
}

// Σ_j row[j] in four interleaved partial sums: one running total is a chain of dependent additions
// (an add's latency per element, 1M of them for a 1024x1024 dZ); four chains vectorize and overlap.
double row_sum(const double* row, std::size_t cols) {
    double partial[4] = {0.0, 0.0, 0.0, 0.0};
    std::size_t j = 0;
    for (; j + 4 <= cols; j += 4)
        for (std::size_t lane = 0; lane < 4; ++lane) partial[lane] += row[j + lane];
    double total = (partial[0] + partial[1]) + (partial[2] + partial[3]);
    for (; j < cols; ++j) total += row[j];
    return total;
}

void bias_row_sums(const BackwardContext& ctx) {
    if (!ctx.needs_grad(2)) return;
    const Matrix& g = ctx.grad_output();
    const std::size_t rows = g.shape(0), cols = g.shape(1);
    const BackwardContext::GradTarget db = ctx.grad_input_target(2);
    for (std::size_t i = 0; i < rows; ++i) {
        const double total = row_sum(g.data() + i * cols, cols);
        db.grad(i, 0) = db.assign ? total : db.grad(i, 0) + total;
    }
}

// The row sums first: dZ was just written by the op above (the activation's VJP) and is still in
// cache; after the GEMMs have streamed W and A through it, it would be read from memory again.
void affine_vjp(const BackwardContext& ctx) {
    bias_row_sums(ctx);
    matmul_vjp(ctx);
}

template <std::size_t I>
void affine_transposed_vjp(const BackwardContext& ctx) {
    matmul_transposed_vjp<I>(ctx);
    bias_row_sums(ctx);
}

// Mistake "not_summed": db left per sample (dZ itself) instead of summed over the columns.
void affine_not_summed_vjp(const BackwardContext& ctx) {
    matmul_vjp(ctx);
    if (!ctx.needs_grad(2)) return;
    const Matrix& g = ctx.grad_output();
    std::copy(g.begin(), g.end(), ctx.replace_grad_input(2, g.shape(0), g.shape(1)).begin());
}

// B = Aᵀ;  dA += dBᵀ
void transpose_vjp(const BackwardContext& ctx) {
    const BackwardContext::GradTarget da = ctx.grad_input_target(0);
    if (da.assign)
        xt::noalias(da.grad) = xt::transpose(ctx.grad_output());
    else
        xt::noalias(da.grad) += xt::transpose(ctx.grad_output());
}

void transpose_jvp(const BackwardContext& ctx) {
    xt::noalias(ctx.output_tangent()) = xt::transpose(ctx.input_tangent(0));
}

// affine's second order: the tangent of W A + b is built as the value is -- ḃ in every column (0
// when b is constant), then BLAS adds Ẇ A and W Ȧ onto it; its VJP's tangent is the product's plus
// the row sums of the gradient's tangent.
void affine_jvp(const BackwardContext& ctx) {
    Matrix& out = ctx.output_tangent();
    fill_columns(out, ctx.needs_grad(2) ? &ctx.input_tangent(2) : nullptr);
    if (ctx.needs_grad(0)) gemm(Trans::no, Trans::no, 1.0, ctx.input_tangent(0), ctx.input(1), 1.0, out);
    if (ctx.needs_grad(1)) gemm(Trans::no, Trans::no, 1.0, ctx.input(0), ctx.input_tangent(1), 1.0, out);
}

void affine_vjp_tangent(const BackwardContext& ctx) {
    matmul_vjp_tangent(ctx);
    bias_row_sums(ctx.tangents());
}

// The product's rules and mistakes, shared by matmul and affine (operands 0 and 1 of both).
const InputRule kProductLeftRule{
    {"{g} {1}ᵀ", "{g} {1}^\\top"}, "({shape:out})({shapeT:1}) = {shape:0}",
    "d({0} {1})/d{0} puts {1}ᵀ on the right, so d{0} has the shape of {0}", "{g} * {1}'"};
const InputRule kProductRightRule{
    {"{0}ᵀ {g}", "{0}^\\top {g}"}, "({shapeT:0})({shape:out}) = {shape:1}",
    "the slides first write {g} {0}ᵀ (numerator layout); with d{1} shaped like {1}, as here, it is {0}ᵀ {g}",
    "{0}' * {g}"};
const char* const kLeftTransposed = "d{0} transposed: ({g} {1}ᵀ)ᵀ = {1} {g}ᵀ instead of {g} {1}ᵀ";
const char* const kRightTransposed =
    "d{1} transposed: ({0}ᵀ {g})ᵀ = {g}ᵀ {0} instead of {0}ᵀ {g} (the slides' numerator layout taken as the answer)";

const OpDef matmul_def{
    "matmul", "matmul(a, b)", 2, {}, 0, {"{0} {1}", "{0} {1}"}, "({0})({1})",
    {kProductLeftRule, kProductRightRule},
    {{"transposed", kLeftTransposed, 0, &matmul_transposed_vjp<0>},
     {"transposed", kRightTransposed, 1, &matmul_transposed_vjp<1>}},
    &matmul_vjp, OpKind::other,
    [](const std::vector<Var>& a, const std::vector<double>&) { return matmul(a[0], a[1]); },
    "(m×k)(k×n) = m×n; BLAS transpose flags, no copies",
    &matmul_jvp, &matmul_vjp_tangent};

// Not in the by-name registry (nor the derivative table): nn's layers record it for W A + b.
const OpDef affine_def{
    "affine", "affine(W, A, b)", 3, {}, 0, {"{0} {1} + {2}", "{0} {1} + {2}"}, "({0})({1}) + {2}",
    {kProductLeftRule, kProductRightRule, {{"{g}", "{g}"}}},  // {g} for the bias: explain sums it back
    {{"transposed", kLeftTransposed, 0, &affine_transposed_vjp<0>},
     {"transposed", kRightTransposed, 1, &affine_transposed_vjp<1>},
     {"not_summed", "d{2} of the bias {2} left per sample, not summed over the columns it was added to", 2,
      &affine_not_summed_vjp}},
    &affine_vjp, OpKind::other, nullptr,
    "W A + b in one op: b (a column) is written into the output first and BLAS adds W A onto it (beta = 1)",
    &affine_jvp, &affine_vjp_tangent};

const OpDef transpose_def{
    "transpose", "transpose(a)", 1, {}, 0, {"{0}ᵀ", "{0}^\\top"}, "({shape:0})ᵀ = {shape:out}",
    {{{"{g}ᵀ", "{g}^\\top"}, "({shape:out})ᵀ = {shape:0}", "", "{g}'"}}, {}, &transpose_vjp, OpKind::other,
    [](const std::vector<Var>& a, const std::vector<double>&) { return transpose(a[0]); }, "",
    &transpose_jvp, &vjp_of_tangents<&transpose_vjp>};

// ---- matrix functions ---------------------------------------------------------------------------

// Per-thread scratch matrices of the second-order rules (kept, so repeated HVPs allocate nothing).
Matrix& scratch(std::size_t slot, std::size_t rows, std::size_t cols) {
    thread_local Matrix buffers[2];
    buffers[slot].resize({rows, cols});
    return buffers[slot];
}

void require_square(const char* op, const Var& x) {
    if (x.rows() != x.cols())
        throw ShapeError(std::string(op) + ": " + x.describe() + " is " + x.shape_string() +
                         " but must be square");
}

// LU of x (row-major data = xᵀ column-major; det and singularity are the same) into lu; returns the
// determinant's sign and log|det|, or throws NumericalError naming the op and x when singular
// (throw_if_singular), else reports singularity through `singular`.
struct LuResult {
    double sign = 1.0;
    double log_abs_det = 0.0;
    bool singular = false;
};

std::vector<int>& pivots(std::size_t n) {
    thread_local std::vector<int> ipiv;  // grows once per thread
    if (ipiv.size() < n) ipiv.resize(n);
    return ipiv;
}

LuResult lu_factor(Matrix& lu) {
    const int n = static_cast<int>(lu.shape(0));
    int info = 0;
    std::vector<int>& ipiv = pivots(lu.shape(0));
    dgetrf_(&n, &n, lu.data(), &n, ipiv.data(), &info);
    LuResult r;
    if (info > 0) {
        r.singular = true;
        return r;
    }
    for (int i = 0; i < n; ++i) {
        const double u = lu(i, i);
        if (u < 0) r.sign = -r.sign;
        if (ipiv[static_cast<std::size_t>(i)] != i + 1) r.sign = -r.sign;
        r.log_abs_det += std::log(std::abs(u));
    }
    return r;
}

// lu (from lu_factor, non-singular) becomes x⁻¹.
void lu_inverse(Matrix& lu) {
    const int n = static_cast<int>(lu.shape(0));
    int info = 0, lwork = -1;
    double query = 0.0;
    std::vector<int>& ipiv = pivots(lu.shape(0));
    dgetri_(&n, lu.data(), &n, ipiv.data(), &query, &lwork, &info);
    thread_local std::vector<double> work;
    lwork = static_cast<int>(query);
    if (work.size() < static_cast<std::size_t>(lwork)) work.resize(static_cast<std::size_t>(lwork));
    dgetri_(&n, lu.data(), &n, ipiv.data(), work.data(), &lwork, &info);
}

[[noreturn]] void throw_singular(const char* op, const Var& x) {
    throw NumericalError(std::string(op) + ": " + x.describe() + " (" + x.shape_string() +
                         ") is singular (LU found a zero pivot); its " +
                         (std::string(op) == "inv" ? "inverse" : "log-determinant") + " does not exist");
}

// Y = X⁻¹;  dX = −Yᵀ g Yᵀ
void inv_vjp_impl(const BackwardContext& ctx, bool transposed) {
    const Matrix& y = ctx.output();
    Matrix& tmp = scratch(0, y.shape(0), y.shape(1));
    const Trans t = transposed ? Trans::yes : Trans::no;
    gemm(t, Trans::no, 1.0, y, ctx.grad_output(), 0.0, tmp);
    gemm(Trans::no, t, -1.0, tmp, y, 1.0, ctx.grad_input(0));
}
void inv_vjp(const BackwardContext& ctx) { inv_vjp_impl(ctx, true); }
void inv_untransposed_vjp(const BackwardContext& ctx) { inv_vjp_impl(ctx, false); }

// Ẏ = −Y Ẋ Y
void inv_jvp(const BackwardContext& ctx) {
    const Matrix& y = ctx.output();
    Matrix& tmp = scratch(0, y.shape(0), y.shape(1));
    gemm(Trans::no, Trans::no, 1.0, y, ctx.input_tangent(0), 0.0, tmp);
    gemm(Trans::no, Trans::no, -1.0, tmp, y, 0.0, ctx.output_tangent());
}

// d(−Yᵀ g Yᵀ) = −Yᵀ ġ Yᵀ − Ẏᵀ g Yᵀ − Yᵀ g Ẏᵀ
void inv_vjp_tangent(const BackwardContext& ctx) {
    inv_vjp(ctx.tangents());
    const Matrix& y = ctx.output();
    const Matrix& yd = ctx.output_tangent();
    Matrix& dx = ctx.tangents().grad_input(0);
    Matrix& tmp = scratch(0, y.shape(0), y.shape(1));
    gemm(Trans::yes, Trans::no, 1.0, yd, ctx.grad_output(), 0.0, tmp);
    gemm(Trans::no, Trans::yes, -1.0, tmp, y, 1.0, dx);
    gemm(Trans::yes, Trans::no, 1.0, y, ctx.grad_output(), 0.0, tmp);
    gemm(Trans::no, Trans::yes, -1.0, tmp, yd, 1.0, dx);
}

// dX += g · factor · S(ᵀ) where S is the saved matrix: det saves the cofactor matrix det·X⁻ᵀ (factor 1),
// logdet X⁻¹ (transposed: X⁻ᵀ).
template <bool TransposeSaved>
void scaled_saved_vjp(const BackwardContext& ctx) {
    const double g = ctx.grad_output()(0, 0);
    if (TransposeSaved)
        xt::noalias(ctx.grad_input(0)) += g * xt::transpose(ctx.saved());
    else
        xt::noalias(ctx.grad_input(0)) += g * ctx.saved();
}

// ⟨S, Ẋ⟩ or ⟨Sᵀ, Ẋ⟩: the tangent of det (S the cofactors C) and of logdet (S = X⁻¹, transposed).
template <bool TransposeSaved>
void saved_dot_jvp(const BackwardContext& ctx) {
    const Matrix& s = ctx.saved();
    const Matrix& xd = ctx.input_tangent(0);
    double total = 0.0;
    for (std::size_t i = 0; i < s.shape(0); ++i)
        for (std::size_t j = 0; j < s.shape(1); ++j) total += (TransposeSaved ? s(j, i) : s(i, j)) * xd(i, j);
    ctx.output_tangent()(0, 0) = total;
}

// logdet: d(g X⁻ᵀ) = ġ X⁻ᵀ − g (X⁻¹ Ẋ X⁻¹)ᵀ = ġ X⁻ᵀ − g X⁻ᵀ Ẋᵀ X⁻ᵀ   (saved S = X⁻¹)
// det:    d(g C) = ġ C + g Ċ,  Ċ = (ḋ/d) C − C Ẋᵀ C / d              (saved C = d X⁻ᵀ)
template <bool Det>
void inverse_transpose_vjp_tangent(const BackwardContext& ctx) {
    const Matrix& s = ctx.saved();
    const double g = ctx.grad_output()(0, 0);
    const Trans t = Det ? Trans::no : Trans::yes;  // S(ᵀ) = the saved matrix as it enters the gradient
    scaled_saved_vjp<!Det>(ctx.tangents());
    Matrix& dx = ctx.tangents().grad_input(0);
    double scale = g;
    if (Det) {
        const double d = ctx.output()(0, 0);
        if (d == 0.0)
            throw NumericalError("det: the second derivative at a singular matrix is not implemented (det = 0)");
        scale = g / d;
        xt::noalias(dx) += (scale * ctx.output_tangent()(0, 0)) * s;
    }
    Matrix& tmp = scratch(0, s.shape(0), s.shape(1));
    gemm(t, Trans::yes, 1.0, s, ctx.input_tangent(0), 0.0, tmp);
    gemm(Trans::no, t, -scale, tmp, s, 1.0, dx);
}

// Cofactor matrix C (dDet/dX = C): det·X⁻ᵀ when X is invertible, else from the (n−1)-minors.
void cofactors(const Matrix& x, Matrix& c) {
    const std::size_t n = x.shape(0);
    c.resize({n, n});
    Matrix lu = x;
    const LuResult r = lu_factor(lu);
    if (!r.singular) {
        lu_inverse(lu);
        const double d = r.sign * std::exp(r.log_abs_det);
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < n; ++j) c(i, j) = d * lu(j, i);
        return;
    }
    if (n == 1) {
        c(0, 0) = 1.0;
        return;
    }
    Matrix minor({n - 1, n - 1});
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j) {
            for (std::size_t a = 0, ma = 0; a < n; ++a) {
                if (a == i) continue;
                for (std::size_t b = 0, mb = 0; b < n; ++b)
                    if (b != j) minor(ma, mb++) = x(a, b);
                ++ma;
            }
            const LuResult m = lu_factor(minor);
            c(i, j) = m.singular ? 0.0 : ((i + j) % 2 ? -1.0 : 1.0) * m.sign * std::exp(m.log_abs_det);
        }
}

void tr_jvp(const BackwardContext& ctx) {
    const Matrix& xd = ctx.input_tangent(0);
    double total = 0.0;
    for (std::size_t i = 0; i < xd.shape(0); ++i) total += xd(i, i);
    ctx.output_tangent()(0, 0) = total;
}

void tr_vjp(const BackwardContext& ctx) {
    Matrix& dx = ctx.grad_input(0);
    for (std::size_t i = 0; i < dx.shape(0); ++i) dx(i, i) += ctx.grad_output()(0, 0);
}

// ‖X‖ = sqrt(Σ x²);  dX = g X / ‖X‖ (0 at X = 0, as PyTorch). The mistake: 2 g X, the gradient of ‖X‖².
template <bool Squared>
void norm2_vjp(const BackwardContext& ctx) {
    const double norm = ctx.output()(0, 0);
    const double scale = Squared ? 2.0 * ctx.grad_output()(0, 0)
                         : norm == 0.0 ? 0.0
                                       : ctx.grad_output()(0, 0) / norm;
    xt::noalias(ctx.grad_input(0)) += scale * ctx.input(0);
}

// ṅ = ⟨X, Ẋ⟩ / n;  d(g X / n) = ġ X / n + g Ẋ / n − g X ṅ / n²  (0 at X = 0, as the gradient)
void norm2_jvp(const BackwardContext& ctx) {
    const double norm = ctx.output()(0, 0);
    double dot = 0.0;
    if (norm != 0.0)
        for (std::size_t k = 0; k < ctx.input(0).size(); ++k) dot += ctx.input(0).data()[k] * ctx.input_tangent(0).data()[k];
    ctx.output_tangent()(0, 0) = norm == 0.0 ? 0.0 : dot / norm;
}

void norm2_vjp_tangent(const BackwardContext& ctx) {
    const double norm = ctx.output()(0, 0);
    if (norm == 0.0) {
        ctx.tangents().grad_input(0);  // zero, as the gradient there
        return;
    }
    const double g = ctx.grad_output()(0, 0), gd = ctx.tangents().grad_output()(0, 0);
    const double nd = ctx.output_tangent()(0, 0);
    xt::noalias(ctx.tangents().grad_input(0)) +=
        (gd / norm - g * nd / (norm * norm)) * ctx.input(0) + (g / norm) * ctx.input_tangent(0);
}

#define MATGRAD_APPLY1(fn) [](const std::vector<Var>& a, const std::vector<double>&) { return fn(a[0]); }

const OpDef tr_def{"tr", "tr(x)", 1, {}, 0, {"tr({0})", "\\mathrm{tr}\\,{0}", "np.trace({0}).reshape(1, 1)"}, "", {{{"{g} I", "{g} I"}, "1×1 → {shape:0}"}},
                   {}, &tr_vjp, OpKind::other, MATGRAD_APPLY1(tr), "x square; I the identity",
                   &tr_jvp, &vjp_of_tangents<&tr_vjp>};
const OpDef inv_def{"inv", "inv(x)", 1, {}, 0, {"{0}⁻¹", "{0}^{-1}", "np.linalg.inv({0})"}, "",
                    {{{"−{out}ᵀ {g} {out}ᵀ", "-{out}^\\top {g}\\, {out}^\\top"}, "{shape:out} → {shape:0}", "",
                      "-{out}' * {g} * {out}'"}},
                    {{"transposed", "the inverse's transposes dropped: −{0}⁻¹ {g} {0}⁻¹ instead of −{0}⁻ᵀ {g} {0}⁻ᵀ", 0,
                      &inv_untransposed_vjp}},
                    &inv_vjp, OpKind::other, MATGRAD_APPLY1(inv), "LAPACK LU; a singular x is a NumericalError",
                    &inv_jvp, &inv_vjp_tangent};
const OpDef det_def{"det", "det(x)", 1, {}, 0, {"det({0})", "\\det {0}", "np.linalg.det({0}).reshape(1, 1)"}, "",
                    {{{"{g} {out} {0}⁻ᵀ", "{g} {out}\\, {0}^{-\\top}"}, "1×1 → {shape:0}", "", "{g} * {out} * inv({0})'"}},
                    {{"transposed", "det({0}) {0}⁻¹ instead of det({0}) {0}⁻ᵀ", 0, &scaled_saved_vjp<true>}},
                    &scaled_saved_vjp<false>, OpKind::other, MATGRAD_APPLY1(det),
                    "LAPACK LU; the gradient is the cofactor matrix (also for a singular x)",
                    &saved_dot_jvp<false>, &inverse_transpose_vjp_tangent<true>};
const OpDef logdet_def{"logdet", "logdet(x)", 1, {}, 0, {"log|det {0}|", "\\log|\\det {0}|", "np.linalg.slogdet({0})[1].reshape(1, 1)"}, "",
                       {{{"{g} {0}⁻ᵀ", "{g}\\, {0}^{-\\top}"}, "1×1 → {shape:0}", "", "{g} * inv({0})'"}},
                       {{"transposed", "{0}⁻¹ instead of {0}⁻ᵀ", 0, &scaled_saved_vjp<false>}},
                       &scaled_saved_vjp<true>, OpKind::other, MATGRAD_APPLY1(logdet),
                       "log|det x| as Σ log|u_ii| of the LU: no overflow; a singular x is a NumericalError",
                       &saved_dot_jvp<true>, &inverse_transpose_vjp_tangent<false>};
const OpDef norm2_def{"norm2", "norm2(x)", 1, {}, 0, {"‖{0}‖", "\\|{0}\\|_F", "np.linalg.norm({0}).reshape(1, 1)"}, "",
                      {{{"{g} ⊙ {0} / {out}", "{g}\\, {0} / {out}"}, "1×1 → {shape:0}", "", "{g} * {0} / {out}"}},
                      {{"squared_norm_gradient", "the gradient of ‖{0}‖² (2 {g} {0}) taken for that of ‖{0}‖", 0,
                        &norm2_vjp<true>}},
                      &norm2_vjp<false>, OpKind::other, MATGRAD_APPLY1(norm2),
                      "Frobenius norm of any shape; gradient 0 at x = 0",
                      &norm2_jvp, &norm2_vjp_tangent};

#undef MATGRAD_APPLY1

}  // namespace

void append_linalg_ops(std::vector<const OpDef*>& defs) {
    defs.insert(defs.end(), {&matmul_def, &transpose_def, &tr_def, &inv_def, &det_def, &logdet_def, &norm2_def});
}

Var matmul(const Var& a, const Var& b) {
    if (a.cols() != b.rows())
        throw ShapeError("matmul: " + a.describe() + " is " + a.shape_string() + " but " +
                         b.describe() + " is " + b.shape_string() + " (inner dimensions " +
                         std::to_string(a.cols()) + " and " + std::to_string(b.rows()) + " differ)");
    return a.tape().record(matmul_def, {a, b}, a.rows(), b.cols(), [&](Matrix& c) {
        gemm(Trans::no, Trans::no, 1.0, a.value(), b.value(), 0.0, c);
    });
}

Var affine(const Var& W, const Var& A, const Var& b) {
    if (W.cols() != A.rows())
        throw ShapeError("affine: " + W.describe() + " is " + W.shape_string() + " but " + A.describe() + " is " +
                         A.shape_string() + " (inner dimensions " + std::to_string(W.cols()) + " and " +
                         std::to_string(A.rows()) + " differ)");
    if (b.rows() != W.rows() || b.cols() != 1)
        throw ShapeError("affine: " + b.describe() + " is " + b.shape_string() + " but must be " +
                         std::to_string(W.rows()) + "x1 (a column with one entry per row of " + W.describe() + ")");
    return W.tape().record(affine_def, {W, A, b}, W.rows(), A.cols(), [&](Matrix& z) {
        fill_columns(z, &b.value());
        gemm(Trans::no, Trans::no, 1.0, W.value(), A.value(), 1.0, z);
    });
}

Var transpose(const Var& a) {
    return a.tape().record(transpose_def, {a}, a.cols(), a.rows(),
                           [&](Matrix& out) { xt::noalias(out) = xt::transpose(a.value()); });
}

Var tr(const Var& x) {
    require_square("tr", x);
    return x.tape().record(tr_def, {x}, 1, 1, [&](Matrix& out) {
        double total = 0.0;
        for (std::size_t i = 0; i < x.rows(); ++i) total += x.value()(i, i);
        out(0, 0) = total;
    });
}

Var inv(const Var& x) {
    require_square("inv", x);
    return x.tape().record(inv_def, {x}, x.rows(), x.cols(), [&](Matrix& out) {
        xt::noalias(out) = x.value();
        if (lu_factor(out).singular) throw_singular("inv", x);
        lu_inverse(out);
    });
}

Var det(const Var& x) {
    require_square("det", x);
    return x.tape().record(det_def, {x}, 1, 1, [&](Matrix& out, Matrix& saved) {
        cofactors(x.value(), saved);
        // det = Σ_j x_0j C_0j (expansion along the first row, exact for singular x too)
        double d = 0.0;
        for (std::size_t j = 0; j < x.cols(); ++j) d += x.value()(0, j) * saved(0, j);
        out(0, 0) = d;
    });
}

Var logdet(const Var& x) {
    require_square("logdet", x);
    return x.tape().record(logdet_def, {x}, 1, 1, [&](Matrix& out, Matrix& saved) {
        saved.resize({x.rows(), x.cols()});
        xt::noalias(saved) = x.value();
        const LuResult r = lu_factor(saved);
        if (r.singular) throw_singular("logdet", x);
        lu_inverse(saved);
        out(0, 0) = r.log_abs_det;
    });
}

Var norm2(const Var& x) {
    return x.tape().record(norm2_def, {x}, 1, 1, [&](Matrix& out) {
        double total = 0.0;
        for (double v : x.value()) total += v * v;
        out(0, 0) = std::sqrt(total);
    });
}

}  // namespace matgrad
