// The slides' MLP twice: reference_pass writes the hand-derived backward pass out with xtensor
// (no tape, no matgrad op), autodiff_pass records the network on a Tape and reads every gradient
// back. Tests and `matgrad seed` compare the two.
#include <nn/layers.hpp>
#include <nn/losses.hpp>
#include <nn/reference.hpp>

#include <autodiff/ops.hpp>

#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xreducer.hpp>

namespace matgrad::nn {

namespace {

/// Sizes the result's lists to L + 1 entries (entry 0 is the input layer) and sets A[0] = X.
ForwardBackward empty_result(std::size_t L, const Matrix& X) {
    ForwardBackward r;
    for (std::vector<Matrix>* list : {&r.Z, &r.A, &r.dZ, &r.dA, &r.dW, &r.db}) list->resize(L + 1);
    r.A[0] = X;
    return r;
}

/// Records the slides' network on X's tape with params {W1, b1, ..., WL, bL} and returns J. The
/// nodes are named Z1, A1, ..., J; when Z and A are given, they receive the Vars Z[l], A[l].
Var record_network(const Var& X, const Var& Y, const std::vector<Var>& params, std::vector<Var>* Z = nullptr,
                   std::vector<Var>* A = nullptr) {
    Var a = X;
    for (std::size_t l = 1; 2 * l <= params.size(); ++l) {
        const std::string index = std::to_string(l);
        const Var z = affine(params[2 * l - 2], a, params[2 * l - 1], "Z" + index);
        a = sigmoid(z).named("A" + index);
        if (Z) Z->push_back(z);
        if (A) A->push_back(a);
    }
    return binary_cross_entropy(a, Y).named("J");
}

}  // namespace

ForwardBackward reference_pass(const std::vector<Matrix>& W, const std::vector<Matrix>& b, const Matrix& X,
                               const Matrix& Y) {
    check_mlp_shapes(W, b, &X, &Y);
    using xt::linalg::dot;
    const std::size_t L = W.size();
    const double n = static_cast<double>(Y.size());  // the mean's count: n samples for one output
    ForwardBackward r = empty_result(L, X);

    // Forward: Z[l] = W[l] A[l-1] + b[l] (b added to every column), A[l] = σ(Z[l]).
    for (std::size_t l = 1; l <= L; ++l) {
        r.Z[l] = dot(W[l - 1], r.A[l - 1]) + b[l - 1];
        r.A[l] = 1.0 / (1.0 + xt::exp(-r.Z[l]));
    }
    const Matrix& AL = r.A[L];
    r.J = -xt::sum(Y * xt::log(AL) + (1.0 - Y) * xt::log(1.0 - AL))() / n;

    // Backward, the slides' formulas with the mean's 1/n.
    r.dA[L] = (-Y / AL + (1.0 - Y) / (1.0 - AL)) / n;
    r.dZ[L] = (AL - Y) / n;
    for (std::size_t l = L; l >= 1; --l) {
        r.dW[l] = dot(r.dZ[l], xt::transpose(r.A[l - 1]));
        r.db[l] = xt::sum(r.dZ[l], {1}, xt::keep_dims);
        if (l == 1) break;
        r.dA[l - 1] = dot(xt::transpose(W[l - 1]), r.dZ[l]);
        r.dZ[l - 1] = r.dA[l - 1] * r.A[l - 1] * (1.0 - r.A[l - 1]);
    }
    return r;
}

ForwardBackward autodiff_pass(const std::vector<Matrix>& W, const std::vector<Matrix>& b, const Matrix& X,
                              const Matrix& Y) {
    check_mlp_shapes(W, b, &X, &Y);
    const std::size_t L = W.size();
    Tape tape;
    std::vector<Var> params;
    for (std::size_t l = 1; l <= L; ++l) {
        params.push_back(tape.variable(W[l - 1], "W" + std::to_string(l)));
        params.push_back(tape.variable(b[l - 1], "b" + std::to_string(l)));
    }
    std::vector<Var> Z{Var()}, A{tape.constant(X, "X")};  // entry 0: the input layer
    const Var J = record_network(A[0], tape.constant(Y, "Y"), params, &Z, &A);
    tape.backward(J);

    ForwardBackward r = empty_result(L, X);
    r.J = J.value()(0, 0);
    for (std::size_t l = 1; l <= L; ++l) {
        r.Z[l] = Z[l].value();
        r.A[l] = A[l].value();
        r.dZ[l] = Z[l].grad();
        r.dA[l] = A[l].grad();
        r.dW[l] = params[2 * l - 2].grad();
        r.db[l] = params[2 * l - 1].grad();
    }
    return r;
}

GraphBuilder mlp_loss(const Matrix& X, const Matrix& Y) {
    return [X, Y](Tape& tape, const std::vector<Var>& params) {
        return record_network(tape.constant(X, "X"), tape.constant(Y, "Y"), params);
    };
}

}  // namespace matgrad::nn
