// Activations beyond the engine's sigmoid, each a scalar rule for matgrad::elementwise<Op>: the
// same extension API a user of the library has.
#include <nn/layers.hpp>

#include <autodiff/elementwise.hpp>
#include <autodiff/ops.hpp>

#include <cmath>
#include <stdexcept>

namespace matgrad::nn {

namespace {

struct Relu {
    static constexpr const char* name = "relu";
    static double forward(double x) { return x > 0 ? x : 0.0; }
    static double backward(double g, double x, double) { return x > 0 ? g : 0.0; }
};

struct Tanh {
    static constexpr const char* name = "tanh";
    static double forward(double x) { return std::tanh(x); }
    static double backward(double g, double, double out) { return g * (1.0 - out * out); }
};

}  // namespace

Var relu(const Var& x) { return elementwise<Relu>(x); }
Var tanh(const Var& x) { return elementwise<Tanh>(x); }

Var activate(Activation f, const Var& x) {
    switch (f) {
        case Activation::sigmoid: return sigmoid(x);
        case Activation::relu: return relu(x);
        case Activation::tanh: return tanh(x);
        case Activation::identity: return x;
    }
    throw std::invalid_argument("activate: unknown activation");
}

const char* activation_name(Activation f) {
    switch (f) {
        case Activation::sigmoid: return "sigmoid";
        case Activation::relu: return "relu";
        case Activation::tanh: return "tanh";
        case Activation::identity: return "identity";
    }
    return "unknown";
}

Activation parse_activation(const std::string& name) {
    for (Activation f : {Activation::sigmoid, Activation::relu, Activation::tanh, Activation::identity})
        if (name == activation_name(f)) return f;
    throw std::invalid_argument("unknown activation '" + name +
                                "' (expected sigmoid, relu, tanh or identity)");
}

}  // namespace matgrad::nn
