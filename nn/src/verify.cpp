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

constexpr Diagnosis kAll[] = {Diagnosis::ok,
                              Diagnosis::transposed,
                              Diagnosis::missing_mean_factor,
                              Diagnosis::extra_mean_factor,
                              Diagnosis::sign_flipped,
                              Diagnosis::scaled,
                              Diagnosis::not_summed,
                              Diagnosis::missing_activation_derivative,
                              Diagnosis::derivative_at_output,
                              Diagnosis::missing_path,
                              Diagnosis::wrong_shape,
                              Diagnosis::unexplained};

// The engine's code as this network's Diagnosis (its ops can make no other mistakes).
Diagnosis diagnosis_of(const std::string& code) {
    for (Diagnosis d : kAll)
        if (code == diagnosis_name(d)) return d;
    throw std::logic_error("verify: the diagnosis " + code + " is not one the slides' network can have");
}

GradientReport to_mlp_report(const matgrad::GradientReport& g) {
    GradientReport r;
    r.param = g.name;
    r.diagnosis = diagnosis_of(g.diagnosis);
    for (const std::string& code : g.also) r.also.push_back(diagnosis_of(code));
    r.factor = g.factor;
    r.expected_shape = g.expected_shape;
    r.given_shape = g.given_shape;
    r.max_abs_error = g.max_abs_error;
    r.max_rel_error = g.max_rel_error;
    r.worst_row = g.worst_row;
    r.worst_col = g.worst_col;
    r.hint = g.hint;
    return r;
}

// The slides' formula of every gradient of an L-layer network, by name.
std::map<std::string, std::string> mlp_formulas(std::size_t L) {
    std::map<std::string, std::string> f;
    for (std::size_t l = 1; l <= L; ++l) {
        const std::string s = std::to_string(l), A = "A" + s, next = std::to_string(l + 1);
        f["dA" + s] = l == L ? "(−Y ⊘ " + A + " + (1 − Y) ⊘ (1 − " + A + ")) / n" : "W" + next + "ᵀ dZ" + next;
        f["dZ" + s] = l == L ? "(" + A + " − Y) / n" : "dA" + s + " ⊙ " + A + " ⊙ (1 − " + A + ")";
        f["dW" + s] = "dZ" + s + " " + (l == 1 ? "X" : "A" + std::to_string(l - 1)) + "ᵀ";
        f["db" + s] = "rowsum(dZ" + s + ")";
    }
    return f;
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
        case Diagnosis::derivative_at_output: return "derivative_at_output";
        case Diagnosis::missing_path: return "missing_path";
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
    std::vector<MistakeCandidate> candidates;
    if (truth.per_sample.size() > 0)
        candidates.push_back({&truth.per_sample, "not_summed", truth.per_sample_formula,
                              "the per-sample gradient: add up " + truth.per_sample_formula + " over the " +
                                  std::to_string(truth.per_sample.shape(1)) + " samples (its columns)",
                              "", ""});
    for (const Matrix& variant : truth.without_activation_derivative)
        candidates.push_back({&variant, "missing_activation_derivative", "(" + truth.formula + " without σ')",
                              "σ'(Z) = A ⊙ (1 − A) was left out of a hidden layer's dZ = dA ⊙ A ⊙ (1 − A)", "", ""});
    return to_mlp_report(diagnose_gradient(truth.param, truth.formula, given, truth.expected, candidates,
                                           {static_cast<double>(truth.mean_count)}, tol));
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
        // Every matrix the sizes ask for is checked before any is drawn.
        auto check = [](const std::string& what, std::size_t rows, std::size_t cols) {
            if (const std::string problem = matrix_size_problem(rows, cols); !problem.empty())
                throw std::invalid_argument(what + ": " + problem);
        };
        check("X (inputs x samples)", source.sizes.front(), source.samples);
        for (std::size_t l = 1; l < source.sizes.size(); ++l)
            check("W" + std::to_string(l) + " (sizes)", source.sizes[l], source.sizes[l - 1]);
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

std::string describe_mlp(const MlpProblem& problem) {
    std::string sizes = std::to_string(problem.X.shape(0));
    for (const Matrix& W : problem.W) sizes += "→" + std::to_string(W.shape(0));
    const std::size_t L = problem.depth(), n = problem.X.shape(1);
    return "the slides' network: " + std::to_string(L) + " sigmoid layer" + (L == 1 ? "" : "s") + " " + sizes +
           " (Z = W A + b, A = σ(Z)), mean binary cross-entropy over Y " + shape_text(problem.Y.shape(0), n) +
           ", X " + shape_text(problem.X.shape(0), n) + ", n = " + std::to_string(problem.Y.size());
}

VerifyReport verify_mlp_report(const MlpProblem& problem, const std::map<std::string, Matrix>& hand, double tol,
                               const std::set<std::string>& one_dimensional) {
    const std::map<std::string, std::string> formulas = mlp_formulas(problem.depth());
    for (const auto& [name, matrix] : hand)
        if (formulas.count(name) == 0)
            throw std::invalid_argument("no gradient named " + name + " in this " + std::to_string(problem.depth()) +
                                        "-layer network (its gradients are dW1, db1, dZ1, dA1, ... up to dA" +
                                        std::to_string(problem.depth()) + ")");
    Tape tape;
    const Var J = record_mlp_loss(tape, problem);
    return matgrad::verify(tape, J, hand, {tol, formulas, one_dimensional});
}

std::vector<GradientReport> verify_mlp(const MlpProblem& problem, const std::map<std::string, Matrix>& hand,
                                       double tol) {
    std::vector<GradientReport> reports;
    for (const matgrad::GradientReport& g : verify_mlp_report(problem, hand, tol).gradients)
        reports.push_back(to_mlp_report(g));
    return reports;
}

}  // namespace matgrad::nn
