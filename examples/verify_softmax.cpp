// A hand derivation of softmax regression checked by matgrad::verify: the graph is recorded as
// usual, the student's gradients are given by name, and each line gets a diagnosis -- here the
// classic slip of treating softmax as element-wise (dZ = dS ⊙ S ⊙ (1 − S)) in the middle of the chain.
#include <autodiff/autodiff.hpp>
#include <autodiff/verify.hpp>

#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xmanipulation.hpp>
#include <xtensor/xrandom.hpp>

#include <cstdio>

using namespace matgrad;

int main() {
    // 3 classes, 4 features, 6 samples (columns); Y one-hot.
    xt::random::seed(7);
    const Matrix X = xt::random::randn<double>({4, 6}), W = 0.5 * xt::random::randn<double>({3, 4});
    const Matrix b = xt::random::randn<double>({3, 1});
    Matrix Y = xt::zeros<double>({3, 6});
    for (std::size_t j = 0; j < 6; ++j) Y(j % 3, j) = 1.0;

    Tape tape;
    const Var Wv = tape.variable(W, "W"), bv = tape.variable(b, "b");
    const Var Z = (matmul(Wv, tape.constant(X, "X")) + bv).named("Z");
    const Var S = softmax(Z).named("S");
    const Var J = (-mean(sum(tape.constant(Y, "Y") * log(S), 0))).named("J");

    // The student's derivation, line by line (n = 6): dS right, dZ with the diagonal Jacobian.
    const double n = 6;
    const Matrix s = S.value();
    const Matrix dS = -Y / s / n;
    const Matrix dZ = dS * s * (1.0 - s);  // should be (S − Y)/n
    const Matrix dW = xt::linalg::dot(dZ, xt::transpose(X));
    const Matrix db = xt::sum(dZ, {1}, xt::keep_dims);

    const VerifyReport report = verify(tape, J, {{"dS", dS}, {"dZ", dZ}, {"dW", dW}, {"db", db}});
    for (const GradientReport& g : report.gradients) {
        std::printf("%s %-3s %s", g.ok() ? "✓" : "✗", g.name.c_str(), g.diagnosis_text().c_str());
        if (!g.node.empty()) std::printf(" at %s (%s)", g.node.c_str(), g.op.c_str());
        if (!g.consequence_of.empty()) std::printf(", follows from %s", g.consequence_of.c_str());
        std::printf("%s\n    %s\n", g.name == report.first_wrong_step ? "   <- first wrong step" : "", g.hint.c_str());
    }
    std::printf("%zu reverse passes\n", report.reverse_passes);
    return report.ok() ? 0 : 1;
}
