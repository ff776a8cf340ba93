#include <nn/newton.hpp>

#include <autodiff/second_order.hpp>

#include <xtensor-blas/xlinalg.hpp>

#include <cmath>
#include <stdexcept>
#include <string>

namespace matgrad::nn {

namespace {

Var evaluate(const GraphBuilder& f, Tape& tape, const std::vector<Matrix*>& params, std::vector<Var>& vars) {
    tape.clear();
    vars.clear();
    for (const Matrix* p : params) vars.push_back(tape.variable(*p));
    const Var out = f(tape, vars);
    if (out.rows() != 1 || out.cols() != 1)
        throw ShapeError("newton: the function's output " + out.describe() + " is " + out.shape_string() +
                         "; it must be 1x1");
    return out;
}

// params = start + t p, p flattened over the params in order.
void move(const std::vector<Matrix*>& params, const std::vector<Matrix>& start, const Matrix& p, double t) {
    std::size_t k = 0;
    for (std::size_t i = 0; i < params.size(); ++i)
        for (std::size_t e = 0; e < start[i].size(); ++e) params[i]->data()[e] = start[i].data()[e] + t * p(k++, 0);
}

// Solves (H + λ I) p = −g by Cholesky with the smallest λ (0, then 10⁻⁶·scale·10^k) that makes H + λ I
// positive definite; returns λ.
double damped_newton_direction(const Matrix& h, const Matrix& g, Matrix& p) {
    const std::size_t n = h.shape(0);
    double diagonal = 1.0;
    for (std::size_t i = 0; i < n; ++i) diagonal = std::max(diagonal, std::abs(h(i, i)));
    for (double lambda = 0.0; lambda <= 1e12 * diagonal; lambda = lambda == 0.0 ? 1e-6 * diagonal : 10.0 * lambda) {
        Matrix damped = h;
        for (std::size_t i = 0; i < n; ++i) damped(i, i) += lambda;
        try {
            const auto l = xt::linalg::cholesky(damped);
            p = xt::linalg::solve_cholesky(l, Matrix(-g));
            return lambda;
        } catch (const std::runtime_error&) {  // not positive definite: damp more
        }
    }
    throw std::runtime_error("newton: no damping makes the Hessian positive definite (is it finite?)");
}

}  // namespace

NewtonResult newton_minimize(const GraphBuilder& f, const std::vector<Matrix*>& params, const NewtonOptions& options,
                             const std::function<void(const NewtonStep&)>& on_step, const std::function<bool()>& stop) {
    std::size_t n = 0;
    for (const Matrix* p : params) n += p->size();
    if (n > options.max_params)
        throw std::invalid_argument("newton: " + std::to_string(n) + " parameters, more than the " +
                                    std::to_string(options.max_params) +
                                    " Newton's method takes (each step builds and factors the dense n x n Hessian); "
                                    "use a first-order optimizer (adam, sgd)");
    NewtonResult result;
    Tape tape, trial;
    std::vector<Var> vars, trial_vars;
    Matrix g({n, 1}), p({n, 1});
    for (std::size_t step = 1; step <= options.max_steps + 1; ++step) {
        if (stop && stop()) break;
        NewtonStep s;
        s.step = step;
        const Var out = evaluate(f, tape, params, vars);
        s.loss = out.value()(0, 0);
        const Matrix h = hessian(out, vars);  // also leaves the gradient in grad()
        std::size_t k = 0;
        for (const Var& v : vars)
            for (const double x : v.grad()) g(k++, 0) = x;
        s.gradient_norm = std::sqrt(xt::sum(g * g)());
        if (!std::isfinite(s.loss) || !std::isfinite(s.gradient_norm))
            throw std::runtime_error("newton: the function or its gradient is not finite at step " + std::to_string(step));
        result.converged = s.gradient_norm <= options.gradient_tolerance;
        if (result.converged || step > options.max_steps) {
            result.history.push_back(s);
            if (on_step) on_step(s);
            break;
        }
        s.damping = damped_newton_direction(h, g, p);
        const double slope = xt::sum(g * p)();
        std::vector<Matrix> start;
        for (const Matrix* m : params) start.push_back(*m);
        for (double t = 1.0; s.step_size == 0.0; t *= 0.5) {
            if (t < 1e-12) {
                move(params, start, p, 0.0);
                throw std::runtime_error("newton: the line search found no decrease at step " + std::to_string(step) +
                                         " (gradient norm " + std::to_string(s.gradient_norm) + ")");
            }
            move(params, start, p, t);
            if (evaluate(f, trial, params, trial_vars).value()(0, 0) <= s.loss + 1e-4 * t * slope) s.step_size = t;
        }
        result.history.push_back(s);
        if (on_step) on_step(s);
    }
    return result;
}

}  // namespace matgrad::nn
