// Second derivatives, exact, from each op's definition (forward-over-reverse: OpDef::jvp and
// OpDef::vjp_tangent): Jacobian-vector products, Hessian-vector products, dense Hessians, and
// hvpcheck, which tests them against central differences of gradients (as PyTorch's gradgradcheck).
//
//     Tape tape;
//     Var w = tape.variable(w0, "w");
//     Var J = mean(log(1.0 + exp(-(y * matmul(transpose(w), X)))));
//     Matrix H = hessian(J, {w});                 // d x d
//     std::vector<Matrix> Hv = hvp(J, {w}, {v});  // H v, shaped like w
//
// Tape::jvp / Tape::hvp with Var::tangent() / Var::grad_tangent() do the same without allocating.
#pragma once

#include <autodiff/gradcheck.hpp>
#include <autodiff/tape.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace matgrad {

/// Forward mode: d out / dt when each variable wrt[k] moves along directions[k] (the others stay
/// fixed) -- `out`'s tangent, shaped like `out` (any shape).
Matrix jvp(const Var& out, const std::vector<Var>& wrt, const std::vector<Matrix>& directions);

/// H·v for a 1x1 `out`: one matrix per variable of `wrt`, shaped like it, where H is the Hessian
/// of out over the variables and v the directions (one per variable).
std::vector<Matrix> hvp(const Var& out, const std::vector<Var>& wrt, const std::vector<Matrix>& directions);

/// The Hessian of a 1x1 `out` over `wrt`: n x n, n the variables' total number of entries, the
/// variables flattened in the order given, each row-major. Column j is one HVP along the j-th unit
/// direction (the gradient is computed once).
Matrix hessian(const Var& out, const std::vector<Var>& wrt);

/// A Hessian at a glance: is it symmetric, is the function convex here?
struct HessianSummary {
    std::size_t size = 0;          ///< n of the n x n Hessian
    double symmetry_error = 0.0;   ///< max |H − Hᵀ| / max |H| (0 for H = 0)
    double min_eigenvalue = 0.0;   ///< of (H + Hᵀ) / 2 (LAPACK): > 0 means strictly convex here
    double max_eigenvalue = 0.0;   ///< of (H + Hᵀ) / 2
};
/// The summary of a square matrix; throws ShapeError for a non-square one.
HessianSummary summarize_hessian(const Matrix& h);

/// What hvpcheck() found.
struct HvpcheckResult {
    bool ok = true;               ///< max_error <= tol and symmetry_error <= tol
    double max_error = 0.0;       ///< max over directions and entries of |ad − fd| / max(1, |fd|)
    double symmetry_error = 0.0;  ///< |uᵀ(Hv) − vᵀ(Hu)| / max(1, |uᵀ(Hv)|) for two directions u, v
    std::string message;          ///< a readable summary
};

/// gradgradcheck: for `directions` random directions v (entries uniform in [−1, 1], from `seed`),
/// H·v from hvp() against the central difference of gradients (∇f(x + eps v) − ∇f(x − eps v)) / (2 eps),
/// and the symmetry uᵀ(Hv) = vᵀ(Hu) of the first two directions. f is as gradcheck's.
HvpcheckResult hvpcheck(const GraphBuilder& f, const std::vector<Matrix>& inputs, double tol = 1e-6,
                        double eps = 1e-5, std::size_t directions = 3, std::uint64_t seed = 1);

}  // namespace matgrad
