// Linear and MLP: graph builders over parameters kept as plain matrices.
#include <nn/init.hpp>
#include <nn/layers.hpp>

#include <autodiff/ops.hpp>

#include <stdexcept>
#include <utility>

namespace matgrad::nn {

Var affine(const Var& W, const Var& A, const Var& b, std::string name) {
    Var Z = matgrad::affine(W, A, b);  // one op: no separate add pass, Z still a node of its own
    if (!name.empty()) Z.named(std::move(name));
    return Z;
}

Linear::Linear(std::size_t in, std::size_t out) : W(xt::zeros<double>({out, in})), b(xt::zeros<double>({out, std::size_t{1}})) {
    if (in == 0 || out == 0)
        throw std::invalid_argument("Linear: sizes must be positive (got in = " + std::to_string(in) +
                                    ", out = " + std::to_string(out) + ")");
}

Linear::Linear(Matrix W_, Matrix b_) : W(std::move(W_)), b(std::move(b_)) {
    check_mlp_shapes({W}, {b});
}

Var Linear::forward(const Var& A, std::size_t index) { return record(A, index, false); }

Var Linear::forward_on_loan(const Var& A, std::size_t index) { return record(A, index, true); }

Var Linear::record(const Var& A, std::size_t index, bool lend) {
    Tape& tape = A.tape();
    const std::string l = index > 0 ? std::to_string(index) : std::string();
    if (lend) {  // both are non-empty, so neither variable() throws once W has moved
        W_on_tape_ = tape.variable(std::move(W), l.empty() ? l : "W" + l);
        b_on_tape_ = tape.variable(std::move(b), l.empty() ? l : "b" + l);
        on_loan_ = true;
    } else {
        W_on_tape_ = tape.variable(W, l.empty() ? l : "W" + l);
        b_on_tape_ = tape.variable(b, l.empty() ? l : "b" + l);
    }
    return affine(W_on_tape_, A, b_on_tape_, l.empty() ? l : "Z" + l);
}

void Linear::take_back() {
    if (!on_loan_) return;
    on_loan_ = false;
    W = W_on_tape_.tape().release(W_on_tape_);
    b = b_on_tape_.tape().release(b_on_tape_);
}

MLP::MLP(const std::vector<std::size_t>& sizes, Activation hidden, Activation output)
    : hidden_(hidden), output_(output) {
    if (sizes.size() < 2)
        throw std::invalid_argument("MLP: sizes need at least an input and an output size, e.g. {10, 64, 1}");
    layers_.reserve(sizes.size() - 1);
    for (std::size_t i = 1; i < sizes.size(); ++i) layers_.emplace_back(sizes[i - 1], sizes[i]);
}

MLP::MLP(std::vector<Matrix> W, std::vector<Matrix> b, Activation hidden, Activation output)
    : hidden_(hidden), output_(output) {
    check_mlp_shapes(W, b);
    layers_.reserve(W.size());
    for (std::size_t i = 0; i < W.size(); ++i) layers_.emplace_back(std::move(W[i]), std::move(b[i]));
}

void MLP::init(std::uint64_t seed) {
    Rng rng(seed);
    for (std::size_t l = 1; l <= depth(); ++l)
        init_layer(layer(l), l == depth() ? output_ : hidden_, rng);
}

std::vector<std::size_t> MLP::sizes() const {
    std::vector<std::size_t> s{layers_.front().in()};
    for (const Linear& layer : layers_) s.push_back(layer.out());
    return s;
}

Linear& MLP::layer(std::size_t l) {
    return const_cast<Linear&>(static_cast<const MLP&>(*this).layer(l));
}

const Linear& MLP::layer(std::size_t l) const {
    if (l < 1 || l > depth())
        throw std::out_of_range("MLP::layer(" + std::to_string(l) + "): layers are numbered 1.." +
                                std::to_string(depth()));
    return layers_[l - 1];
}

Var MLP::logits(const Var& X) { return record_logits(X, false); }

Var MLP::logits_on_loan(const Var& X) { return record_logits(X, true); }

Var MLP::record_logits(const Var& X, bool lend) {
    const auto layer_forward = [lend](Linear& layer, const Var& A, std::size_t l) {
        return lend ? layer.forward_on_loan(A, l) : layer.forward(A, l);
    };
    Var A = X;
    for (std::size_t l = 1; l < depth(); ++l) {
        const Var Z = layer_forward(layers_[l - 1], A, l);
        A = activate(hidden_, Z);
        if (hidden_ != Activation::identity) A.named("A" + std::to_string(l));
    }
    return layer_forward(layers_.back(), A, depth());
}

void MLP::take_back_parameters() {
    for (Linear& layer : layers_) layer.take_back();
}

Var MLP::forward(const Var& X) {
    const Var Z = logits(X);
    const Var A = activate(output_, Z);
    if (output_ != Activation::identity) A.named("A" + std::to_string(depth()));
    return A;
}

const std::vector<Matrix*>& MLP::parameters() {
    parameter_ptrs_.clear();
    for (Linear& layer : layers_) {
        parameter_ptrs_.push_back(&layer.W);
        parameter_ptrs_.push_back(&layer.b);
    }
    return parameter_ptrs_;
}

const std::vector<const Matrix*>& MLP::gradients() {
    gradient_ptrs_.clear();
    for (const Linear& layer : layers_) {
        gradient_ptrs_.push_back(&layer.grad_W());
        gradient_ptrs_.push_back(&layer.grad_b());
    }
    return gradient_ptrs_;
}

Matrix MLP::predict(const Matrix& X) const {
    if (X.shape(0) != layers_.front().in())
        throw std::invalid_argument("X has " + std::to_string(X.shape(0)) + " rows but the model takes " +
                                    std::to_string(layers_.front().in()) + " features (X is features x samples)");
    MLP scratch = *this;  // forward() records the parameters' Vars in the model; keep *this untouched
    Tape tape;
    return scratch.forward(tape.constant(X, "X")).value();
}

}  // namespace matgrad::nn
