// Includes the user's own xtensor and xtensor-blas headers beside matgrad's public header: they
// must coexist (matgrad keeps cblas.h out of its public headers).
#include <autodiff/autodiff.hpp>
#include <lang/model.hpp>
#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xio.hpp>

#include <cmath>
#include <iostream>

int main() {
    using namespace matgrad;
    const Matrix w{{1.0, 2.0}, {3.0, 4.0}}, x{{0.5}, {-1.0}};
    Tape tape;
    const Var W = tape.variable(w, "W");
    const Var out = sum(matmul(W, tape.constant(x, "x")));
    tape.backward(out);
    // d sum(W x) / dW = 1 xᵀ, checked with the user's own xtensor-blas.
    const Matrix expected = xt::linalg::outer(xt::ones<double>({2}), xt::view(x, xt::all(), 0));
    const double err = xt::amax(xt::abs(W.grad() - expected))();
    std::cout << "dW =\n" << W.grad() << "\nmax error " << err << "\n";

    // The same as a model file, through the installed matgrad::lang.
    const lang::Model model = lang::Model::parse("param W : 2 x 2\ninput x : 2 x 1\nJ = sum(W*x)\n", "consumer.mg");
    Tape text_tape;
    const lang::Recording r = model.record(text_tape, {{"W", w}, {"x", x}});
    text_tape.backward(r.output());
    const double text_err = xt::amax(xt::abs(r.var("W").grad() - expected))();
    std::cout << "as a model file: max error " << text_err << "\n";
    return err == 0.0 && text_err == 0.0 ? 0 : 1;
}
