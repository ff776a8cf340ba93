#include <autodiff/gradcheck.hpp>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>

namespace matgrad {

namespace {

double evaluate(const GraphBuilder& f, Tape& tape, const std::vector<Matrix>& inputs) {
    tape.clear();
    std::vector<Var> vars;
    vars.reserve(inputs.size());
    for (const Matrix& m : inputs) vars.push_back(tape.variable(m));
    const Var out = f(tape, vars);
    if (out.rows() != 1 || out.cols() != 1)
        throw ShapeError("gradcheck: the graph's output " + out.describe() + " is " +
                         out.shape_string() + "; it must be 1x1");
    return out.value()(0, 0);
}

// A step of 0 divides by 0, a negative one flips every derivative's sign (and with it what passes).
void check_step(const char* who, double eps) {
    if (!(eps > 0) || !std::isfinite(eps))
        throw std::invalid_argument(std::string(who) + ": eps must be a positive, finite step (got " +
                                    std::to_string(eps) + ")");
}

}  // namespace

Matrix numerical_gradient(const GraphBuilder& f, const std::vector<Matrix>& inputs,
                          std::size_t which, double eps) {
    if (which >= inputs.size())
        throw std::out_of_range("numerical_gradient: input " + std::to_string(which) +
                                " of " + std::to_string(inputs.size()));
    check_step("numerical_gradient", eps);
    Tape tape;
    std::vector<Matrix> shifted = inputs;
    Matrix& x = shifted[which];
    Matrix result(x.shape());
    for (std::size_t k = 0; k < x.size(); ++k) {
        const double original = x.data()[k];
        x.data()[k] = original + eps;
        const double plus = evaluate(f, tape, shifted);
        x.data()[k] = original - eps;
        const double minus = evaluate(f, tape, shifted);
        x.data()[k] = original;
        result.data()[k] = (plus - minus) / (2 * eps);
    }
    return result;
}

GradcheckResult gradcheck(const GraphBuilder& f, const std::vector<Matrix>& inputs, double tol,
                          double eps) {
    check_step("gradcheck", eps);
    if (!(tol >= 0)) throw std::invalid_argument("gradcheck: tol must be at least 0 (got " + std::to_string(tol) + ")");
    Tape tape;
    tape.clear();
    std::vector<Var> vars;
    for (const Matrix& m : inputs) vars.push_back(tape.variable(m));
    const Var out = f(tape, vars);
    tape.backward(out);

    GradcheckResult result;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        const Matrix numeric = numerical_gradient(f, inputs, i, eps);
        const Matrix& autodiff = vars[i].grad();
        for (std::size_t r = 0; r < numeric.shape(0); ++r)
            for (std::size_t c = 0; c < numeric.shape(1); ++c) {
                const double error = std::abs(autodiff(r, c) - numeric(r, c)) /
                                     std::max(1.0, std::abs(numeric(r, c)));
                if (!std::isnan(result.max_error) && !(error <= result.max_error)) {  // NaN sticks
                    result.max_error = error;
                    result.worst_input = i;
                    result.worst_row = r;
                    result.worst_col = c;
                    result.autodiff = autodiff(r, c);
                    result.numeric = numeric(r, c);
                }
            }
    }
    result.ok = result.max_error <= tol;
    std::ostringstream msg;
    msg.precision(10);
    msg << (result.ok ? "gradcheck passed" : "gradcheck FAILED") << ": max error "
        << result.max_error << " (tol " << tol << ") at input " << result.worst_input << " ("
        << result.worst_row << "," << result.worst_col << "): autodiff " << result.autodiff
        << ", finite differences " << result.numeric;
    result.message = msg.str();
    return result;
}

}  // namespace matgrad
