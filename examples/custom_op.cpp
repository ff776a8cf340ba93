// Adding ops to matgrad: leaky_relu(x, alpha) (element-wise, with a parameter) and frobenius_dot
// (general), both defined in custom_op/user_ops.hpp the way the built-ins are; checked against
// finite differences with gradcheck, their second-order rules with hvpcheck (Hessian-vector
// products against differences of gradients), explained, and called by name once registered.
#include "custom_op/user_ops.hpp"

#include <autodiff/inspect.hpp>

#include <cstdio>
#include <iostream>

int main() {
    using namespace matgrad;
    const Matrix x{{-30.0, -1.0, 0.5}, {0.25, 2.0, 40.0}};
    const Matrix w{{1.0, 2.0, 3.0}, {-1.0, 0.5, 0.25}};
    const GraphBuilder f = [](Tape&, const std::vector<Var>& in) { return frobenius_dot(leaky_relu(in[0], 0.1), in[1]); };
    const GradcheckResult r = gradcheck(f, {x, w});
    std::printf("%s\n", r.message.c_str());
    const HvpcheckResult second = hvpcheck(f, {x, w});
    std::printf("%s\n", second.message.c_str());
    std::cout << format_explanation(explain(f, {x, w}, {"x", "w"}));
    register_op(leaky_relu_def);
    Tape tape;
    const Var y = apply_op("leaky_relu", {tape.constant(x)}, {0.1});
    std::printf("leaky_relu by name: y(0,0) = %g\n", y.value()(0, 0));
    return r.ok && second.ok ? 0 : 1;
}
