// A training loop of the slides' network (10-64-1, sigmoid, mean BCE) written directly on the
// engine, for the thread-safety and long-run tests.
#pragma once

#include "../test_util.hpp"

namespace matgrad::test {

struct SlidesModel {
    Matrix x = random_matrix(10, 7, 1);
    Matrix y = Matrix{{1, 0, 1, 1, 0, 0, 1}};
    Matrix w1, b1, w2, b2;

    explicit SlidesModel(unsigned seed)
        : w1(0.3 * random_matrix(64, 10, seed)), b1(xt::zeros<double>({64, 1})),
          w2(0.3 * random_matrix(1, 64, seed + 1)), b2(xt::zeros<double>({1, 1})) {}

    /// One SGD step on `tape` (cleared first); returns the loss before the step.
    double step(Tape& tape, double lr) {
        tape.clear();
        const Var X = tape.constant(x, "X"), Y = tape.constant(y, "Y");
        const Var W1 = tape.variable(w1, "W1"), B1 = tape.variable(b1, "b1");
        const Var W2 = tape.variable(w2, "W2"), B2 = tape.variable(b2, "b2");
        const Var A1 = sigmoid(matmul(W1, X) + B1);
        const Var A2 = sigmoid(matmul(W2, A1) + B2);
        const Var J = -mean(Y * log(A2) + (1.0 - Y) * log(1.0 - A2));
        tape.backward(J);
        xt::noalias(w1) -= lr * W1.grad();
        xt::noalias(b1) -= lr * B1.grad();
        xt::noalias(w2) -= lr * W2.grad();
        xt::noalias(b2) -= lr * B2.grad();
        return J.value()(0, 0);
    }
};

}  // namespace matgrad::test
