// Checking gradients derived by hand against any recorded graph, and saying what went wrong.
//
// verify(tape, output, hand) compares each hand gradient -- of a variable ("dW1") or of a named
// intermediate ("dZ1", "dA2") -- with the true gradient and with the gradients that mutated reverse
// passes produce (Tape::backward(out, mutations)): the graph's own derivation with one classic
// mistake made somewhere. The candidates are
//   - each mistake an op declares (OpDef::mistakes), at each node of that op alone;
//   - the same mistake at the first j nodes of that op at once (j = 2 .. all of them, in forward
//     order: "σ' left out of every hidden layer" is the prefix that stops before the output layer);
//   - missing_path: one use of a value left out (Mutation::drop_path on one consumer of a value
//     used by two or more, e.g. an L2 penalty's term of dW, written w ⊙ w or w.^2, or one branch of
//     a fan-out).
// Each is matched up to the gradient-level transforms: identity, transpose, sign, the mean factor N
// or 1/N (N of every mean in the graph), and a fitted constant. The decision order is fixed (see
// diagnose_gradient), so an exact match is always ok and a symmetric or square gradient, N = 1 or a
// 1x1 is never misread.
//
// Cost: one true reverse pass, plus one per (node, declared mistake), plus one per (op, mistake)
// and prefix length 2 .. m of that op's m nodes, plus one per consumer edge of a value with two or
// more uses: O(mistakes × nodes + edges) reverse passes, each as cheap as a backward(). Only the
// hand gradients' nodes are copied out of each pass.
#pragma once

#include <autodiff/tape.hpp>

#include <array>
#include <cstddef>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace matgrad {

/// One hand gradient judged against the graph. `diagnosis` and `also` hold the codes of the JSON
/// output: "ok", "transposed", "sign_flipped", "scaled", "wrong_shape", "unexplained", and every
/// code an op's mistakes declare ("missing_mean_factor", "extra_mean_factor", "not_summed",
/// "missing_activation_derivative", "derivative_at_output", "diagonal_jacobian",
/// "missing_power_factor", ... and a user op's own), plus "missing_path".
struct GradientReport {
    std::string name;                  ///< "dW1": the hand gradient's name
    std::string diagnosis = "unexplained";  ///< "ok", "transposed", a mistake's code, ...
    /// Further mistakes found together with `diagnosis`, e.g. {"transposed"} for a transposed
    /// gradient that also lacks the 1/N (diagnosis "missing_mean_factor").
    std::vector<std::string> also;
    /// Where the mistake sits, for a diagnosis from a mutated pass: the node's name (or as it reads
    /// description when unnamed; "A1, A2" for one mistake at several nodes) and its op. Also set for
    /// a gradient-level transposed / mean-factor diagnosis when an op's own mistake explains it.
    std::string node, op;  ///< where the mistake sits: a node's name and its op ("A1", "sigmoid")
    /// yours = factor × (the form that matched): N for a missing mean factor, the fitted constant
    /// for scaled, 1 when no constant is involved.
    double factor = 1.0;
    std::array<std::size_t, 2> expected_shape{};  ///< the true gradient's shape
    std::array<std::size_t, 2> given_shape{};     ///< the shape of yours
    /// Against the true gradient, when the shapes agree (NaN otherwise): max |yours − true|, that
    /// divided by max |true|, and where the largest error is.
    double max_abs_error = std::numeric_limits<double>::quiet_NaN();
    double max_rel_error = std::numeric_limits<double>::quiet_NaN();  ///< max_abs_error / max |true|
    std::size_t worst_row = 0;  ///< the row where |yours − true| is largest
    std::size_t worst_col = 0;  ///< and its column
    std::string hint;  ///< one line in the slides' notation
    /// For a wrong gradient downstream of another wrong one in the reverse pass: the name of that
    /// one (its error may be only a consequence); empty otherwise.
    std::string consequence_of;
    /// For a line of a derivation file (lang::verify_derivation): its 1-based line number, the
    /// formula as written, and the step verdict: "ok" when the formula is right given the true
    /// values of the gradients it uses (a wrong value then comes from those, named in
    /// consequence_of), "wrong" when the mistake is made on this line. 0 and empty otherwise.
    std::size_t line = 0;
    std::string formula;  ///< the line's right-hand side as written
    std::string step;     ///< "ok" or "wrong"

    bool ok() const { return diagnosis == "ok"; }  ///< the hand gradient is right
    /// "missing_mean_factor + transposed"
    std::string diagnosis_text() const;
};

/// A derivation file's helper line (an assignment not named dNAME): no verdict of its own, but a row
/// in the reports beside the gradient lines (lang::Derivation::verify).
struct HelperReport {
    std::string name;      ///< "g1"
    std::size_t line = 0;  ///< 1-based
    std::string formula;   ///< the right-hand side as written
    std::array<std::size_t, 2> shape{};  ///< its value's shape on your lines (0×0 when not evaluated)
    /// Why it could not be evaluated (on your lines, or on the true gradients for the step); empty: it was.
    std::string error;
};

/// All hand gradients, in reverse-pass order (the order a derivation writes them: dA2, dZ2, dW2,
/// db2, dA1, ...), and the first wrong step: the wrong gradient earliest in that order that no
/// other wrong hand gradient feeds (empty when all are ok).
struct VerifyReport {
    std::vector<GradientReport> gradients;  ///< one per hand gradient, in reverse-pass order
    std::string first_wrong_step;           ///< "dZ1", or empty when every gradient is ok
    std::size_t reverse_passes = 0;  ///< how many backward passes the diagnosis ran (true + mutated)
    std::vector<HelperReport> helpers;  ///< a derivation file's helper lines, in file order
    bool ok() const;                 ///< every hand gradient is right
};

/// How verify() matches (tolerance) and what its hints call each gradient.
struct VerifyOptions {
    /// Two matrices match when max |a − b| <= tol × max |b| (absolute when b is all zero).
    double tol = 1e-8;
    /// The formula of a hand gradient in the slides' notation, by its name ("dW1" -> "dZ1 Xᵀ");
    /// missing ones come from explain().
    std::map<std::string, std::string> formulas;
    /// Hand gradients read from 1-D arrays (as the column n x 1, io::NpyInfo): each is taken as the
    /// row 1 x n when its true gradient is that row. A 1-D array has no orientation of its own.
    std::set<std::string> one_dimensional;
};

/// The tolerance hand gradients saved as float32 are judged at: float32 rounds each value to 2^-24
/// of itself, and 1e-6 of the gradient's scale allows for that while staying far below any
/// mistake's effect (a right float32 gradient is off by ~3e-8: unexplained at the default 1e-8).
inline constexpr double kFloat32Tolerance = 1e-6;

/// The one float32 rule of every front end (the CLI's .npy files, Python's arrays): when any of
/// `float32_names` (the files or dict keys holding float32 values) exists and `tol` is below
/// kFloat32Tolerance, raises `tol` to it and returns the note saying so ("dW1.npy, dW2.npy hold
/// float32 values: judged at float32's precision (tolerance 1e-06, not 1e-08)"); else "".
std::string float32_tolerance(const std::vector<std::string>& float32_names, double& tol);

/// The node a hand gradient's name refers to, "dW1" -> "W1": the one rule of every front end (C++,
/// the CLI's d<name>.npy files, Python). A name without the d prefix is a UsageError that says so.
std::string hand_gradient_node(const std::string& name);

/// Diagnoses every hand gradient of the graph that produced `output` (1x1). A hand gradient is
/// named "d" + a node's name ("dW1" is the gradient of the node named W1, hand_gradient_node). Runs backward(output) and the mutated passes on
/// `tape`; afterwards the tape holds the true gradients again. Throws UsageError for a name no node
/// has (listing the names it has), ShapeError for a non-1x1 output.
VerifyReport verify(Tape& tape, const Var& output, const std::map<std::string, Matrix>& hand,
                    const VerifyOptions& options = {});

// ---- The matching core (also used by nn::diagnose for hand-built candidates) -------------------

/// A wrong gradient a known mistake produces, for diagnose_gradient.
struct MistakeCandidate {
    const Matrix* value = nullptr;  ///< what the hand gradient would be with this mistake
    std::string code;               ///< "not_summed", "missing_activation_derivative", ...
    std::string form;               ///< the wrong form in the slides' notation ("dZ1"); may be empty
    std::string explanation;        ///< one line: what was got wrong
    std::string node;               ///< where: the node's name (empty when not one node)
    std::string op;                 ///< that node's op
};

/// Judges `given` against `truth` (named `name`, with `formula` in the slides' notation) and the
/// candidates. Decision order -- the first that matches decides:
///   1. the truth itself → ok (so an exact match is always ok, also for a symmetric gradient
///      and for N = 1, where a mean factor changes nothing);
///   2. the truth up to a named transform: untransposed with −1, then each N, 1/N, −N, −1/N;
///      then transposed with 1, −1, N, 1/N, −N, −1/N → transposed / sign_flipped / mean factors
///      (a square matrix is transposed only if it does not match untransposed; a 1x1 at −1 is
///      sign_flipped, never scaled);
///   3. each candidate exactly (factor 1, untransposed) → its code;
///   4. the truth times a fitted constant (untransposed, then transposed) → scaled;
///   5. each candidate up to the transforms of 2 and 4 → its code, the transforms in `also`;
///   6. unexplained when the shape is the true one, else wrong_shape.
/// A candidate equal to the truth is skipped (that mistake cannot show in this gradient).
GradientReport diagnose_gradient(const std::string& name, const std::string& formula, const Matrix& given,
                                 const Matrix& truth, const std::vector<MistakeCandidate>& candidates,
                                 const std::vector<double>& mean_counts, double tol);

}  // namespace matgrad
