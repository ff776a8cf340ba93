// Diagnosing hand-derived gradients (see verify.hpp for the decision order).
#include <nn/init.hpp>
#include <nn/io.hpp>
#include <nn/layers.hpp>
#include <nn/verify.hpp>

#include <autodiff/blas.hpp>
#include <autodiff/inspect.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <stdexcept>

namespace matgrad::nn {

namespace {

std::string number(double x) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", x);
    return buf;
}

std::string shape_string(const std::array<std::size_t, 2>& s) { return shape_text(s[0], s[1]); }
std::array<std::size_t, 2> shape_of(const Matrix& m) { return {m.shape(0), m.shape(1)}; }

double max_abs(const Matrix& m) {
    double worst = 0.0;
    for (double x : m) worst = std::max(worst, std::abs(x));
    return worst;
}

Matrix transposed_copy(const Matrix& m) {
    Matrix t({m.shape(1), m.shape(0)});
    for (std::size_t i = 0; i < m.shape(0); ++i)
        for (std::size_t j = 0; j < m.shape(1); ++j) t(j, i) = m(i, j);
    return t;
}

// a bᵀ, as dW = dZ Aᵀ.
Matrix times_transposed(const Matrix& a, const Matrix& b) {
    Matrix c({a.shape(0), b.shape(0)});
    gemm(Trans::no, Trans::yes, 1.0, a, b, 0.0, c);
    return c;
}

// The sum of each row, as db = row sums of dZ.
Matrix row_sums(const Matrix& m) {
    Matrix s({m.shape(0), std::size_t{1}});
    for (std::size_t i = 0; i < m.shape(0); ++i) {
        double row = 0.0;
        for (std::size_t j = 0; j < m.shape(1); ++j) row += m(i, j);
        s(i, 0) = row;
    }
    return s;
}

// given ≈ k · form, relative to the scale of k · form (absolute when that is zero).
bool matches(const Matrix& given, const Matrix& form, double k, double tol) {
    if (shape_of(given) != shape_of(form)) return false;
    double worst = 0.0;
    for (std::size_t e = 0; e < given.size(); ++e) {
        const double d = std::abs(given.data()[e] - k * form.data()[e]);
        if (!(d <= worst)) worst = d;  // NaN counts as a mismatch
    }
    const double scale = std::abs(k) * max_abs(form);
    return worst <= tol * (scale > 0.0 ? scale : 1.0);
}

// The constant k with given ≈ k · form: the named ones first (so the exact match, the sign and the
// mean's n win over a fitted value that happens to equal them), then least squares.
std::optional<double> matching_factor(const Matrix& given, const Matrix& form, double n, double tol) {
    if (shape_of(given) != shape_of(form)) return std::nullopt;
    for (double k : {1.0, -1.0, n, 1.0 / n, -n, -1.0 / n})
        if (matches(given, form, k, tol)) return k;
    double gf = 0.0, ff = 0.0;
    for (std::size_t e = 0; e < given.size(); ++e) {
        gf += given.data()[e] * form.data()[e];
        ff += form.data()[e] * form.data()[e];
    }
    if (!(ff > 0.0)) return std::nullopt;
    const double k = gf / ff;
    if (k != 0.0 && matches(given, form, k, tol)) return k;
    return std::nullopt;
}

// What a matched constant says, e.g. −n: the 1/n was dropped and the sign flipped.
std::vector<Diagnosis> factor_diagnoses(double k, double n) {
    if (k == 1.0) return {};
    if (k == -1.0) return {Diagnosis::sign_flipped};
    if (n != 1.0) {
        if (k == n) return {Diagnosis::missing_mean_factor};
        if (k == 1.0 / n) return {Diagnosis::extra_mean_factor};
        if (k == -n) return {Diagnosis::missing_mean_factor, Diagnosis::sign_flipped};
        if (k == -1.0 / n) return {Diagnosis::extra_mean_factor, Diagnosis::sign_flipped};
    }
    return {Diagnosis::scaled};
}

std::string explanation(Diagnosis d, const GradientTruth& t, double k) {
    const std::string n = std::to_string(t.mean_count);
    switch (d) {
        case Diagnosis::transposed:
            // In the slides' layout a gradient has its variable's shape: dW1 is W1's shape.
            return "transposed: " + t.param + " must have " + t.param.substr(1) + "'s shape, " +
                   shape_string(shape_of(t.expected));
        case Diagnosis::missing_mean_factor:
            return "the 1/n of the mean (n = " + n + ") was dropped, as the slides' dA2 line does";
        case Diagnosis::extra_mean_factor: return "1/n (n = " + n + ") was applied twice";
        case Diagnosis::sign_flipped: return "the sign is flipped (check dA[L] = −Y ⊘ A[L] + (1 − Y) ⊘ (1 − A[L]))";
        case Diagnosis::scaled: return "off by the constant factor " + number(k);
        case Diagnosis::not_summed:
            return "the per-sample gradient: add up " + t.per_sample_formula + " over the " +
                   std::to_string(t.per_sample.shape(1)) + " samples (its columns)";
        case Diagnosis::missing_activation_derivative:
            return "σ'(Z) = A(1 − A) was left out of a hidden layer's dZ = dA ⊙ A(1 − A)";
        default: return "";
    }
}

// "7 × (dZ1 Xᵀ)ᵀ": the matched form with its constant, in the slides' notation.
std::string form_text(const std::string& form, bool transposed, double k, double n) {
    const std::string f = transposed ? form + "ᵀ" : form;
    if (k == 1.0) return f;
    if (k == -1.0) return "−" + f;
    const std::string count = number(n);
    if (n != 1.0 && k == n) return count + " × " + f;
    if (n != 1.0 && k == 1.0 / n) return f + " / " + count;
    if (n != 1.0 && k == -n) return "−" + count + " × " + f;
    if (n != 1.0 && k == -1.0 / n) return "−" + f + " / " + count;
    return number(k) + " × " + f;
}

void fill_errors(GradientReport& r, const Matrix& given, const Matrix& expected) {
    double worst = -1.0;
    for (std::size_t i = 0; i < given.shape(0); ++i)
        for (std::size_t j = 0; j < given.shape(1); ++j) {
            const double d = std::abs(given(i, j) - expected(i, j));
            if (d > worst || std::isnan(d)) {
                worst = d;
                r.worst_row = i;
                r.worst_col = j;
                if (std::isnan(d)) break;
            }
        }
    const double scale = max_abs(expected);
    r.max_abs_error = worst;
    r.max_rel_error = worst / (scale > 0.0 ? scale : 1.0);
}

}  // namespace

const char* diagnosis_name(Diagnosis d) {
    switch (d) {
        case Diagnosis::ok: return "ok";
        case Diagnosis::transposed: return "transposed";
        case Diagnosis::missing_mean_factor: return "missing_mean_factor";
        case Diagnosis::extra_mean_factor: return "extra_mean_factor";
        case Diagnosis::sign_flipped: return "sign_flipped";
        case Diagnosis::scaled: return "scaled";
        case Diagnosis::not_summed: return "not_summed";
        case Diagnosis::missing_activation_derivative: return "missing_activation_derivative";
        case Diagnosis::wrong_shape: return "wrong_shape";
        case Diagnosis::unexplained: return "unexplained";
    }
    return "?";
}

std::string GradientReport::diagnosis_text() const {
    std::string text = diagnosis_name(diagnosis);
    for (Diagnosis d : also) text += std::string(" + ") + diagnosis_name(d);
    return text;
}

GradientReport diagnose(const GradientTruth& truth, const Matrix& given, double tol) {
    GradientReport r;
    r.param = truth.param;
    r.expected_shape = shape_of(truth.expected);
    r.given_shape = shape_of(given);
    const bool same_shape = r.given_shape == r.expected_shape;
    if (same_shape) fill_errors(r, given, truth.expected);
    const double n = static_cast<double>(truth.mean_count);
    const std::string expected = truth.formula + " (" + shape_string(r.expected_shape) + ")";

    struct Candidate {
        const Matrix* matrix;
        Diagnosis mistake;  // ok for the true gradient itself
        std::string form;
    };
    std::vector<Candidate> candidates{{&truth.expected, Diagnosis::ok, "(" + truth.formula + ")"},
                                      {&truth.per_sample, Diagnosis::not_summed, truth.per_sample_formula}};
    for (const Matrix& variant : truth.without_activation_derivative)
        candidates.push_back({&variant, Diagnosis::missing_activation_derivative, "(" + truth.formula + " without σ')"});
    // Earlier candidates win, so a form equal to an earlier one (a symmetric gradient's transpose,
    // a σ'-free gradient of the output layer) can never be reported.
    for (const Candidate& c : candidates) {
        if (c.matrix->size() == 0) continue;
        for (bool transposed : {false, true}) {
            const Matrix form = transposed ? transposed_copy(*c.matrix) : *c.matrix;
            const std::optional<double> k = matching_factor(given, form, n, tol);
            if (!k) continue;
            std::vector<Diagnosis> found;
            if (c.mistake != Diagnosis::ok) found.push_back(c.mistake);
            for (Diagnosis d : factor_diagnoses(*k, n)) found.push_back(d);
            if (transposed) found.push_back(Diagnosis::transposed);
            r.factor = *k;
            if (found.empty()) {
                r.diagnosis = Diagnosis::ok;
                r.hint = truth.param + " = " + expected;
                return r;
            }
            r.diagnosis = found.front();
            r.also.assign(found.begin() + 1, found.end());
            r.hint = truth.param + " should be " + expected + "; yours equals " + form_text(c.form, transposed, *k, n) + " —";
            for (std::size_t i = 0; i < found.size(); ++i)
                r.hint += (i ? "; " : " ") + explanation(found[i], truth, *k);
            return r;
        }
    }
    if (same_shape) {
        r.diagnosis = Diagnosis::unexplained;
        r.hint = truth.param + " should be " + expected + "; largest error " + number(r.max_abs_error) + " at (" +
                 std::to_string(r.worst_row) + "," + std::to_string(r.worst_col) + "): yours " +
                 number(given(r.worst_row, r.worst_col)) + ", expected " +
                 number(truth.expected(r.worst_row, r.worst_col)) + " (" + number(r.max_rel_error) +
                 " of the gradient's scale); no known mistake explains it";
    } else {
        r.diagnosis = Diagnosis::wrong_shape;
        r.hint = truth.param + " should be " + truth.formula + ", which is " + shape_string(r.expected_shape) +
                 "; yours is " + shape_string(r.given_shape);
        if (r.given_shape[0] == r.expected_shape[1] && r.given_shape[1] == r.expected_shape[0])
            r.hint += " (the transposed shape, but not the transposed values)";
    }
    return r;
}

// ---------------------------------------------------------------------------------------------
// The slides' MLP

MlpProblem load_mlp_problem(const MlpSource& source) {
    namespace fs = std::filesystem;
    MlpProblem p;
    if (source.data_dir.empty() != source.params_dir.empty())
        throw std::invalid_argument(
            "give both the data directory (X.npy, Y.npy) and the parameter directory (W1.npy, b1.npy, ...), "
            "or neither");
    if (!source.data_dir.empty()) {
        const fs::path data(source.data_dir), params(source.params_dir);
        for (const auto& [dir, holds] : {std::pair{data, "X.npy and Y.npy"}, {params, "W1.npy, b1.npy, ..."}})
            if (!fs::is_directory(dir)) throw io::InputError(dir.string() + ": not a directory (it should hold " + holds + ")");
        p.X = io::read_npy((data / "X.npy").string());
        p.Y = io::read_npy((data / "Y.npy").string());
        // Layers 1, 2, ... up to the first with neither file; every layer needs both W and b.
        for (std::size_t l = 1;; ++l) {
            const std::string i = std::to_string(l);
            const fs::path W = params / ("W" + i + ".npy"), b = params / ("b" + i + ".npy");
            const bool has_W = fs::exists(W), has_b = fs::exists(b);
            if (!has_W && !has_b) {
                if (l == 1)
                    throw io::InputError(W.string() + ": missing (the parameter directory needs W1.npy and b1.npy at least)");
                break;
            }
            if (!has_W || !has_b)
                throw io::InputError((has_W ? b : W).string() + ": missing (layer " + i + " has " + (has_W ? "W" : "b") +
                                     i + ".npy; every layer needs both W and b)");
            p.W.push_back(io::read_npy(W.string()));
            p.b.push_back(io::read_npy(b.string()));
        }
    } else {
        if (source.sizes.size() < 2)
            throw std::invalid_argument("sizes need at least two entries (inputs and outputs), e.g. 10,64,1");
        for (std::size_t s : source.sizes)
            if (s == 0) throw std::invalid_argument("sizes must be positive");
        if (source.samples == 0) throw std::invalid_argument("the number of samples must be positive");
        Rng rng(source.seed);
        p.X = random_normal(source.sizes.front(), source.samples, rng);
        for (std::size_t l = 1; l < source.sizes.size(); ++l) {
            p.W.emplace_back(Matrix({source.sizes[l], source.sizes[l - 1]}));
            xavier_uniform(p.W.back(), rng);
            p.b.push_back(random_normal(source.sizes[l], 1, rng, 0.1));  // non-zero: db's broadcast shows
        }
        p.Y = Matrix({source.sizes.back(), source.samples});
        for (double& y : p.Y) y = rng.uniform() < 0.5 ? 1.0 : 0.0;
    }
    check_mlp_shapes(p.W, p.b, &p.X, &p.Y);
    check_binary_labels(p.Y, source.data_dir.empty() ? "Y" : (fs::path(source.data_dir) / "Y.npy").string() + ": Y");
    return p;
}

std::vector<std::string> mlp_parameter_names(std::size_t depth) {
    std::vector<std::string> names;
    for (std::size_t l = 1; l <= depth; ++l) {
        names.push_back("W" + std::to_string(l));
        names.push_back("b" + std::to_string(l));
    }
    return names;
}

std::vector<Matrix> mlp_parameters(const MlpProblem& problem) {
    std::vector<Matrix> params;
    for (std::size_t l = 0; l < problem.depth(); ++l) {
        params.push_back(problem.W[l]);
        params.push_back(problem.b[l]);
    }
    return params;
}

Var record_mlp_loss(Tape& tape, const MlpProblem& problem) {
    const std::vector<Matrix> values = mlp_parameters(problem);
    const std::vector<std::string> names = mlp_parameter_names(problem.depth());
    std::vector<Var> params;
    for (std::size_t i = 0; i < values.size(); ++i) params.push_back(tape.variable(values[i], names[i]));
    return mlp_loss(problem.X, problem.Y)(tape, params);
}

ForwardBackward without_activation_derivative(const MlpProblem& problem, const std::vector<Matrix>& A) {
    const std::size_t L = problem.depth();
    const double n = static_cast<double>(problem.Y.size());
    ForwardBackward r;
    r.A = A;
    for (std::vector<Matrix>* list : {&r.Z, &r.dZ, &r.dA, &r.dW, &r.db}) list->resize(L + 1);
    r.dZ[L] = Matrix(A[L].shape());
    for (std::size_t k = 0; k < A[L].size(); ++k) r.dZ[L].data()[k] = (A[L].data()[k] - problem.Y.data()[k]) / n;
    for (std::size_t l = L; l >= 1; --l) {
        const Matrix& dZ = r.dZ[l];
        r.dW[l] = times_transposed(dZ, A[l - 1]);
        r.db[l] = row_sums(dZ);
        if (l == 1) break;
        r.dA[l - 1] = Matrix({problem.W[l - 1].shape(1), dZ.shape(1)});
        gemm(Trans::yes, Trans::no, 1.0, problem.W[l - 1], dZ, 0.0, r.dA[l - 1]);
        r.dZ[l - 1] = r.dA[l - 1];  // the mistake: no ⊙ A(1 − A)
    }
    return r;
}

std::vector<GradientTruth> mlp_gradient_truths(const MlpProblem& problem) {
    const ForwardBackward ad = autodiff_pass(problem.W, problem.b, problem.X, problem.Y);
    const ForwardBackward no_sigma = without_activation_derivative(problem, ad.A);
    const std::size_t L = problem.depth();
    const std::size_t n = problem.Y.size();
    std::vector<GradientTruth> truths;
    auto add = [&](std::string param, std::string formula, const Matrix& expected, std::vector<Matrix> variants) {
        GradientTruth t;
        t.param = std::move(param);
        t.formula = std::move(formula);
        t.expected = expected;
        t.mean_count = n;
        t.without_activation_derivative = std::move(variants);
        truths.push_back(std::move(t));
        return &truths.back();
    };
    for (std::size_t l = L; l >= 1; --l) {
        const std::string s = std::to_string(l), A = "A" + s, next = std::to_string(l + 1);
        const std::string previous = l == 1 ? "X" : "A" + std::to_string(l - 1);
        // The σ'-free forms: left out of every hidden layer (no_sigma), and of this layer only
        // (dZ[l] = dA[l] with the true dA[l]). The output layer's gradients involve no hidden σ'.
        const Matrix& dZ_own = ad.dA[l];
        auto hidden_only = [&](std::vector<Matrix> forms) { return l < L ? forms : std::vector<Matrix>{}; };
        add("dA" + s, l == L ? "(−Y ⊘ " + A + " + (1 − Y) ⊘ (1 − " + A + ")) / n" : "W" + next + "ᵀ dZ" + next,
            ad.dA[l], hidden_only({no_sigma.dA[l]}));
        add("dZ" + s, l == L ? "(" + A + " − Y) / n" : "dA" + s + " ⊙ " + A + "(1 − " + A + ")", ad.dZ[l],
            hidden_only({no_sigma.dZ[l], dZ_own}));
        add("dW" + s, "dZ" + s + " " + previous + "ᵀ", ad.dW[l],
            hidden_only({no_sigma.dW[l], times_transposed(dZ_own, ad.A[l - 1])}));
        GradientTruth* db = add("db" + s, "row-sum of dZ" + s, ad.db[l], hidden_only({no_sigma.db[l], row_sums(dZ_own)}));
        db->per_sample = ad.dZ[l];
        db->per_sample_formula = "dZ" + s;
    }
    return truths;
}

std::vector<GradientReport> verify_mlp(const MlpProblem& problem, const std::map<std::string, Matrix>& hand,
                                       double tol) {
    const std::vector<GradientTruth> truths = mlp_gradient_truths(problem);
    for (const auto& [name, matrix] : hand) {
        bool known = false;
        for (const GradientTruth& t : truths) known = known || t.param == name;
        if (!known)
            throw std::invalid_argument("no gradient named " + name + " in this " + std::to_string(problem.depth()) +
                                        "-layer network (its gradients are dW1, db1, dZ1, dA1, ... up to dA" +
                                        std::to_string(problem.depth()) + ")");
    }
    std::vector<GradientReport> reports;
    for (const GradientTruth& t : truths) {
        const auto it = hand.find(t.param);
        if (it != hand.end()) reports.push_back(diagnose(t, it->second, tol));
    }
    return reports;
}

}  // namespace matgrad::nn
