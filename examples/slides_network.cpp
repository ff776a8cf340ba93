// The slides' network: 10-64-1 sigmoid MLP, 7 samples as columns, mean binary cross-entropy.
// Autodiff derives every gradient of the slides' backward pass; this prints their shapes and norms.
#include <autodiff/autodiff.hpp>

#include <xtensor/xrandom.hpp>

#include <cmath>
#include <cstdio>

int main() {
    using namespace matgrad;
    xt::random::seed(42);
    Tape tape;
    Var X = tape.constant(xt::random::randn<double>({10, 7}), "X");
    Var Y = tape.constant(Matrix{{1, 0, 1, 1, 0, 0, 1}}, "Y");
    Var W1 = tape.variable(0.3 * xt::random::randn<double>({64, 10}), "W1");
    Var b1 = tape.variable(Matrix(xt::zeros<double>({64, 1})), "b1");
    Var W2 = tape.variable(0.3 * xt::random::randn<double>({1, 64}), "W2");
    Var b2 = tape.variable(Matrix(xt::zeros<double>({1, 1})), "b2");

    Var Z1 = (matmul(W1, X) + b1).named("Z1");  // (64x10)(10x7) + 64x1 broadcast = 64x7
    Var A1 = sigmoid(Z1).named("A1");
    Var Z2 = (matmul(W2, A1) + b2).named("Z2");  // (1x64)(64x7) + 1x1 broadcast = 1x7
    Var A2 = sigmoid(Z2).named("A2");
    Var J = (-mean(Y * log(A2) + (1.0 - Y) * log(1.0 - A2))).named("J");
    tape.backward(J);

    std::printf("J = %.6f\n", J.value()(0, 0));
    for (const Var& v : {A2, Z2, W2, b2, A1, Z1, W1, b1})
        std::printf("d%-3s %6s  |d%s| = %.6e\n", v.name().c_str(), v.shape_string().c_str(),
                    v.name().c_str(), std::sqrt(xt::sum(v.grad() * v.grad())()));
}
