#include <autodiff/second_order.hpp>

#include <xtensor-blas/xlinalg.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>

namespace matgrad {

Matrix jvp(const Var& out, const std::vector<Var>& wrt, const std::vector<Matrix>& directions) {
    out.tape().jvp(out, wrt, directions);
    return out.tangent();
}

std::vector<Matrix> hvp(const Var& out, const std::vector<Var>& wrt, const std::vector<Matrix>& directions) {
    out.tape().hvp(out, wrt, directions);
    std::vector<Matrix> result;
    result.reserve(wrt.size());
    for (const Var& v : wrt) result.push_back(v.grad_tangent());
    return result;
}

Matrix hessian(const Var& out, const std::vector<Var>& wrt) {
    std::vector<Matrix> directions;
    std::size_t n = 0;
    for (const Var& v : wrt) {
        directions.emplace_back(Matrix::shape_type{v.rows(), v.cols()});
        directions.back().fill(0.0);
        n += v.rows() * v.cols();
    }
    Matrix h({n, n});
    std::size_t column = 0;
    for (std::size_t k = 0; k < wrt.size(); ++k)
        for (std::size_t e = 0; e < directions[k].size(); ++e, ++column) {
            directions[k].data()[e] = 1.0;
            out.tape().hvp(out, wrt, directions);
            directions[k].data()[e] = 0.0;
            std::size_t row = 0;
            for (const Var& v : wrt)
                for (const double x : v.grad_tangent()) h(row++, column) = x;
        }
    return h;
}

HessianSummary summarize_hessian(const Matrix& h) {
    if (h.shape(0) != h.shape(1)) throw ShapeError("summarize_hessian: the matrix is " + shape_string(h) + ", not square");
    HessianSummary summary;
    summary.size = h.shape(0);
    double asymmetry = 0.0, scale = 0.0;
    Matrix symmetric = h;
    for (std::size_t i = 0; i < summary.size; ++i)
        for (std::size_t j = 0; j < summary.size; ++j) {
            asymmetry = std::max(asymmetry, std::abs(h(i, j) - h(j, i)));
            scale = std::max(scale, std::abs(h(i, j)));
            symmetric(i, j) = 0.5 * (h(i, j) + h(j, i));
        }
    summary.symmetry_error = scale == 0.0 ? 0.0 : asymmetry / scale;
    const auto eigenvalues = xt::linalg::eigvalsh(symmetric);  // ascending
    summary.min_eigenvalue = eigenvalues(0);
    summary.max_eigenvalue = eigenvalues(summary.size - 1);
    return summary;
}

namespace {

// Records f at `inputs` on `tape` (all variables) and checks that its output is 1x1.
Var record(const GraphBuilder& f, Tape& tape, const std::vector<Matrix>& inputs, std::vector<Var>& vars) {
    tape.clear();
    vars.clear();
    for (const Matrix& m : inputs) vars.push_back(tape.variable(m));
    const Var out = f(tape, vars);
    if (out.rows() != 1 || out.cols() != 1)
        throw ShapeError("hvpcheck: the graph's output " + out.describe() + " is " + out.shape_string() +
                         "; it must be 1x1");
    return out;
}

// The gradient of f at inputs + t·v, flattened.
std::vector<double> gradient_at(const GraphBuilder& f, const std::vector<Matrix>& inputs,
                                const std::vector<Matrix>& v, double t) {
    std::vector<Matrix> shifted = inputs;
    for (std::size_t k = 0; k < inputs.size(); ++k) shifted[k] += t * v[k];
    Tape tape;
    std::vector<Var> vars;
    tape.backward(record(f, tape, shifted, vars));
    std::vector<double> flat;
    for (const Var& x : vars) flat.insert(flat.end(), x.grad().begin(), x.grad().end());
    return flat;
}

double dot(const std::vector<Matrix>& a, const std::vector<double>& b) {
    double total = 0.0;
    std::size_t k = 0;
    for (const Matrix& m : a)
        for (const double x : m) total += x * b[k++];
    return total;
}

}  // namespace

HvpcheckResult hvpcheck(const GraphBuilder& f, const std::vector<Matrix>& inputs, double tol, double eps,
                        std::size_t directions, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> uniform(-1.0, 1.0);
    Tape tape;
    std::vector<Var> vars;
    const Var out = record(f, tape, inputs, vars);

    HvpcheckResult result;
    std::vector<std::vector<Matrix>> vs;     // the directions
    std::vector<std::vector<double>> hvs;    // H v of each, flattened
    std::size_t worst_direction = 0, worst_entry = 0;
    double worst_ad = 0.0, worst_fd = 0.0;
    for (std::size_t d = 0; d < directions; ++d) {
        std::vector<Matrix> v;
        for (const Matrix& m : inputs) {
            Matrix r(m.shape());
            for (double& x : r) x = uniform(rng);
            v.push_back(std::move(r));
        }
        std::vector<double> ad;
        for (const Matrix& m : hvp(out, vars, v)) ad.insert(ad.end(), m.begin(), m.end());
        const std::vector<double> plus = gradient_at(f, inputs, v, eps), minus = gradient_at(f, inputs, v, -eps);
        for (std::size_t k = 0; k < ad.size(); ++k) {
            const double fd = (plus[k] - minus[k]) / (2 * eps);
            const double error = std::abs(ad[k] - fd) / std::max(1.0, std::abs(fd));
            if (!std::isnan(result.max_error) && !(error <= result.max_error)) {  // NaN sticks
                result.max_error = error;
                worst_direction = d;
                worst_entry = k;
                worst_ad = ad[k];
                worst_fd = fd;
            }
        }
        vs.push_back(std::move(v));
        hvs.push_back(std::move(ad));
    }
    if (directions >= 2) {
        const double uhv = dot(vs[0], hvs[1]), vhu = dot(vs[1], hvs[0]);
        result.symmetry_error = std::abs(uhv - vhu) / std::max(1.0, std::abs(uhv));
    }
    result.ok = result.max_error <= tol && result.symmetry_error <= tol;
    std::ostringstream msg;
    msg.precision(10);
    msg << (result.ok ? "hvpcheck passed" : "hvpcheck FAILED") << ": max error " << result.max_error << " (tol "
        << tol << ") at direction " << worst_direction << ", entry " << worst_entry << " of the flattened inputs: H v "
        << worst_ad << ", finite differences of the gradient " << worst_fd << "; symmetry error "
        << result.symmetry_error;
    result.message = msg.str();
    return result;
}

}  // namespace matgrad
