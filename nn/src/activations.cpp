// Choosing a layer's activation: the ops themselves (sigmoid, relu, tanh) are the engine's.
#include <nn/layers.hpp>

#include <autodiff/ops.hpp>

#include <stdexcept>

namespace matgrad::nn {

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
