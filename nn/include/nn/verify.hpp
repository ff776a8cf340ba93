// Checking a gradient derived by hand on the slides' MLP, in the MLP's own vocabulary.
//
// The diagnosis itself is the engine's (<autodiff/verify.hpp>: matgrad::verify on any tape, with
// mutated reverse passes built from the ops' declared mistakes). This header keeps the slides'
// network as one instance of it:
// - verify_mlp() / verify_mlp_report() record the network (sigmoid on every layer, mean binary
//   cross-entropy, samples as columns) on a tape and call matgrad::verify with the slides' formulas;
//   `matgrad verify --data D --params P --hand H` is a thin layer over verify_mlp_report;
// - diagnose() judges one gradient against hand-built candidates (GradientTruth) with the engine's
//   matching core, matgrad::diagnose_gradient, and its decision order.
#pragma once

#include <autodiff/tape.hpp>
#include <autodiff/verify.hpp>
#include <nn/reference.hpp>

#include <array>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace matgrad::nn {

/// What diagnose() found a hand-derived gradient to be: right, or which classic mistake explains it.
enum class Diagnosis {
    ok,
    transposed,                     ///< equals the transpose of the true gradient
    missing_mean_factor,            ///< n times too large: the mean's 1/n was dropped
    extra_mean_factor,              ///< n times too small: 1/n applied twice
    sign_flipped,                   ///< equals minus the true gradient
    scaled,                         ///< a constant factor other than ±1, ±n, ±1/n (see `factor`)
    not_summed,                     ///< a bias gradient left per sample: dZ instead of its row sums
    missing_activation_derivative,  ///< σ'(Z) = A(1 − A) left out of the hidden-layer chain
    derivative_at_output,           ///< σ' taken at A instead of Z: σ(A)(1 − σ(A)) for A(1 − A)
    missing_path,                   ///< one use of a value left out (A[L] in both BCE terms)
    wrong_shape,                    ///< no rule explains its shape
    unexplained,                    ///< right shape, wrong values, no rule explains them
};

/// "ok", "transposed", "missing_mean_factor", ... (the JSON spelling).
const char* diagnosis_name(Diagnosis d);

/// What a gradient should be, and the wrong results the classic mistakes give for it.
struct GradientTruth {
    std::string param;    ///< "dW1"
    std::string formula;  ///< in the slides' notation: "dZ1 Xᵀ", "rowsum(dZ1)"
    Matrix expected;      ///< the true gradient (autodiff)
    /// n, the count the loss is averaged over (the number of samples for one output unit).
    std::size_t mean_count = 1;
    /// For a bias: the gradient before summing over samples (dZ[l], rows x n), and its name "dZ1";
    /// empty otherwise.
    Matrix per_sample;
    /// The name of `per_sample`, "dZ1".
    std::string per_sample_formula;
    /// The gradient computed with σ'(Z) = A(1 − A) left out -- of every hidden layer's dZ, and of
    /// this layer's dZ only (both the same in a 2-layer network); empty when the mistake cannot
    /// change this gradient.
    std::vector<Matrix> without_activation_derivative;
};

/// One hand-derived gradient judged against its truth: matgrad::GradientReport (see there for the
/// fields) in the MLP's vocabulary, `param` for its name and Diagnosis for its codes.
struct GradientReport {
    /// The gradient's name, "dW1".
    std::string param;
    /// The mistake that explains it (ok when it matches).
    Diagnosis diagnosis = Diagnosis::unexplained;
    /// Further mistakes found together with `diagnosis` (see matgrad::GradientReport::also).
    std::vector<Diagnosis> also;
    /// yours = factor × (the form that matched), as matgrad::GradientReport::factor.
    double factor = 1.0;
    /// The true gradient's shape.
    std::array<std::size_t, 2> expected_shape{};
    /// The shape of yours.
    std::array<std::size_t, 2> given_shape{};
    /// Against the true gradient, when the shapes agree (NaN otherwise): max |yours − true|,
    /// that divided by max |true| (the gradient's scale), and where the largest error is.
    double max_abs_error = std::numeric_limits<double>::quiet_NaN();
    /// max_abs_error / max |true| (NaN when the shapes differ).
    double max_rel_error = std::numeric_limits<double>::quiet_NaN();
    ///@{
    /// Where |yours - true| is largest.
    std::size_t worst_row = 0, worst_col = 0;
    ///@}
    std::string hint;  ///< one line in the slides' notation

    /// true when the diagnosis is ok.
    bool ok() const { return diagnosis == Diagnosis::ok; }
    std::string diagnosis_text() const;  ///< "missing_mean_factor + transposed"
};

/// Judges `given` against `truth` with matgrad::diagnose_gradient: candidates the per-sample bias
/// gradient (not_summed) and the gradients without σ' (missing_activation_derivative), N =
/// truth.mean_count. So an exact match is always ok, a square matrix is transposed only if it does
/// not match untransposed (a symmetric one or a 1x1 never is), n = 1 gives ok rather than a mean
/// factor, and a 1x1 that is −1 times the truth is sign_flipped, not scaled. Without a match:
/// unexplained if the shape is the true one, wrong_shape otherwise.
GradientReport diagnose(const GradientTruth& truth, const Matrix& given, double tol = 1e-8);

/// The slides' network: parameters W[0] = W1 (out x in), b[0] = b1 (out x 1), X (features x
/// samples), Y (outputs x samples, 0/1).
struct MlpProblem {
    ///@{
    /// Weights W[0] = W1 (out x in) and biases b[0] = b1 (out x 1).
    std::vector<Matrix> W, b;
    ///@}
    ///@{
    /// Inputs (features x samples) and 0/1 labels (outputs x samples).
    Matrix X, Y;
    ///@}
    /// Number of layers L.
    std::size_t depth() const { return W.size(); }
};

/// Where an MlpProblem comes from: .npy directories (data: X.npy, Y.npy; params: W1.npy, b1.npy,
/// ..., as for `matgrad grad`) when both are set, else seeded random values for `sizes` and
/// `samples` (X ~ N(0,1), W Xavier-uniform, b ~ N(0, 0.1²), Y random 0/1).
struct MlpSource {
    ///@{
    /// Directories with X.npy, Y.npy and W1.npy, b1.npy, ...
    std::string data_dir, params_dir;
    ///@}
    /// Layer sizes of the random network, inputs first.
    std::vector<std::size_t> sizes{10, 64, 1};
    /// Samples of the random network.
    std::size_t samples = 7;
    /// Seed of the random network.
    std::uint64_t seed = 0;
};

/// Loads or generates the problem; throws io::InputError for a bad file and std::invalid_argument
/// for shapes that do not chain, labels that are not 0/1, or only one of the two directories.
MlpProblem load_mlp_problem(const MlpSource& source);

/// "W1", "b1", "W2", ... : the names of the parameters in the order mlp_parameters lists them.
std::vector<std::string> mlp_parameter_names(std::size_t depth);
/// {W1, b1, W2, b2, ...}, the inputs of mlp_loss.
std::vector<Matrix> mlp_parameters(const MlpProblem& problem);
/// Records the network on `tape` (variables W1, b1, ..., constants X, Y, nodes Z1, A1, ..., J, as
/// mlp_loss builds it) and returns J; call tape.backward(J) for the gradients.
Var record_mlp_loss(Tape& tape, const MlpProblem& problem);

/// The slides' backward pass with σ'(Z) left out of the hidden layers -- the mistake
/// missing_activation_derivative describes -- written out with matrix products from the forward
/// activations A (A[0] = X, ..., A[L]): dZ[L] = (A[L] − Y)/n, dW[l] = dZ[l] A[l−1]ᵀ, db[l] = row
/// sums of dZ[l], dA[l−1] = W[l]ᵀ dZ[l], dZ[l−1] = dA[l−1]. Fills dZ, dA (below L), dW, db.
ForwardBackward without_activation_derivative(const MlpProblem& problem, const std::vector<Matrix>& A);

/// "the slides' network: 2 sigmoid layers 10→64→1 (Z = W A + b, A = σ(Z)), mean binary
/// cross-entropy over Y 1×7, X 10×7, n = 7": what verify_mlp checks against.
std::string describe_mlp(const MlpProblem& problem);

/// Diagnoses every hand gradient, keyed by name ("dW1", "db2", "dZ1", "dA2", ...), on the network
/// recorded on a tape (matgrad::verify, with the slides' formulas in the hints): the reports in the
/// slides' order dA[L], dZ[L], dW[L], db[L], dA[L−1], ..., and the first wrong step. Throws
/// std::invalid_argument for a name the network does not have. `one_dimensional`: as in
/// matgrad::VerifyOptions (hand gradients from 1-D files).
VerifyReport verify_mlp_report(const MlpProblem& problem, const std::map<std::string, Matrix>& hand,
                               double tol = 1e-8, const std::set<std::string>& one_dimensional = {});

/// The same reports in the MLP's vocabulary (Diagnosis).
std::vector<GradientReport> verify_mlp(const MlpProblem& problem, const std::map<std::string, Matrix>& hand,
                                       double tol = 1e-8);

}  // namespace matgrad::nn
