// gradcheck: compares backward() against central finite differences for any graph builder.
#pragma once

#include <autodiff/tape.hpp>

#include <functional>
#include <string>
#include <vector>

namespace matgrad {

/// Builds a graph on `tape` from one Var per input (all variables) and returns a 1x1 output.
using GraphBuilder = std::function<Var(Tape& tape, const std::vector<Var>& inputs)>;

/// What gradcheck() found: whether autodiff and central finite differences agree, and where they differ most.
struct GradcheckResult {
    /// true when max_error <= the tolerance.
    bool ok = true;
    double max_error = 0.0;       ///< max over all elements of |ad - fd| / max(1, |fd|)
    std::size_t worst_input = 0;  ///< where max_error occurred
    /// Row of the worst element in inputs[worst_input].
    std::size_t worst_row = 0;
    /// Column of the worst element.
    std::size_t worst_col = 0;
    double autodiff = 0.0;        ///< the two derivatives there
    /// The finite-difference derivative at the worst element.
    double numeric = 0.0;
    std::string message;          ///< a readable summary of the worst element
};

/// Central-difference derivative of f's output with respect to every element of inputs[which]
/// (step eps): (f(x + eps) - f(x - eps)) / (2 eps).
Matrix numerical_gradient(const GraphBuilder& f, const std::vector<Matrix>& inputs,
                          std::size_t which, double eps = 1e-6);

/// Runs f once with backward() and compares every input's gradient with numerical_gradient.
/// Passes when |ad - fd| <= tol * max(1, |fd|) everywhere. Throws std::invalid_argument for an
/// eps that is not positive and finite (as numerical_gradient does) or a negative tol.
GradcheckResult gradcheck(const GraphBuilder& f, const std::vector<Matrix>& inputs,
                          double tol = 1e-6, double eps = 1e-6);

}  // namespace matgrad
