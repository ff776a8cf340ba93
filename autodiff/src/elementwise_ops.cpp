// The built-in element-wise ops, each a scalar rule: forward and its vector-Jacobian product
// (g = gradient of the output element). Broadcasting and the reduction of a broadcast operand's
// gradient are handled once, by elementwise<> in <autodiff/elementwise.hpp>.
#include <autodiff/elementwise.hpp>
#include <autodiff/ops.hpp>

#include <cmath>

namespace matgrad {

namespace {

struct Add {
    static constexpr const char* name = "add";
    static double forward(double x, double y) { return x + y; }
    static double grad_x(double g, double, double, double) { return g; }
    static double grad_y(double g, double, double, double) { return g; }
};

struct Sub {
    static constexpr const char* name = "sub";
    static double forward(double x, double y) { return x - y; }
    static double grad_x(double g, double, double, double) { return g; }
    static double grad_y(double g, double, double, double) { return -g; }
};

struct Mul {
    static constexpr const char* name = "mul";
    static double forward(double x, double y) { return x * y; }
    static double grad_x(double g, double, double y, double) { return g * y; }
    static double grad_y(double g, double x, double, double) { return g * x; }
};

struct Div {
    static constexpr const char* name = "div";
    static double forward(double x, double y) { return x / y; }
    static double grad_x(double g, double, double y, double) { return g / y; }
    static double grad_y(double g, double, double y, double out) { return -g * out / y; }  // -g x/y²
};

struct Neg {
    static constexpr const char* name = "neg";
    static double forward(double x) { return -x; }
    static double backward(double g, double, double) { return -g; }
};

struct Sigmoid {
    static constexpr const char* name = "sigmoid";
    static double forward(double x) { return sigmoid(x); }
    static double backward(double g, double, double out) { return g * out * (1.0 - out); }  // σ' = σ(1-σ)
};

struct Log {
    static constexpr const char* name = "log";
    static double forward(double x) { return std::log(x); }
    static double backward(double g, double x, double) { return g / x; }
};

struct Exp {
    static constexpr const char* name = "exp";
    static double forward(double x) { return std::exp(x); }
    static double backward(double g, double, double out) { return g * out; }
};

}  // namespace

std::array<std::size_t, 2> broadcast_shape(const char* op, const Var& a, const Var& b) {
    std::array<std::size_t, 2> shape{};
    for (std::size_t axis = 0; axis < 2; ++axis) {
        const std::size_t da = a.shape()[axis], db = b.shape()[axis];
        if (da != db && da != 1 && db != 1)
            throw ShapeError(std::string(op) + ": " + a.describe() + " is " + a.shape_string() +
                             " but " + b.describe() + " is " + b.shape_string() +
                             " (not broadcastable: " + (axis == 0 ? "rows " : "columns ") +
                             std::to_string(da) + " and " + std::to_string(db) +
                             " differ and neither is 1)");
        shape[axis] = da == 1 ? db : da;
    }
    return shape;
}

Var operator+(const Var& a, const Var& b) { return elementwise<Add>(a, b); }
Var operator-(const Var& a, const Var& b) { return elementwise<Sub>(a, b); }
Var operator*(const Var& a, const Var& b) { return elementwise<Mul>(a, b); }
Var operator/(const Var& a, const Var& b) { return elementwise<Div>(a, b); }
Var operator-(const Var& a) { return elementwise<Neg>(a); }

// A double operand becomes a 1x1 constant that broadcasts.
Var operator+(const Var& a, double b) { return a + a.tape().constant(b); }
Var operator+(double a, const Var& b) { return b.tape().constant(a) + b; }
Var operator-(const Var& a, double b) { return a - a.tape().constant(b); }
Var operator-(double a, const Var& b) { return b.tape().constant(a) - b; }
Var operator*(const Var& a, double b) { return a * a.tape().constant(b); }
Var operator*(double a, const Var& b) { return b.tape().constant(a) * b; }
Var operator/(const Var& a, double b) { return a / a.tape().constant(b); }
Var operator/(double a, const Var& b) { return b.tape().constant(a) / b; }

Var sigmoid(const Var& a) { return elementwise<Sigmoid>(a); }
Var log(const Var& a) { return elementwise<Log>(a); }
Var exp(const Var& a) { return elementwise<Exp>(a); }

}  // namespace matgrad
