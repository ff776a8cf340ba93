// Adding ops to matgrad: softplus (element-wise) and a Frobenius inner product (general), both
// defined in custom_op/softplus.hpp, then checked against finite differences with gradcheck.
#include "custom_op/softplus.hpp"

#include <cstdio>

int main() {
    using namespace matgrad;
    const Matrix x{{-30.0, -1.0, 0.0}, {0.5, 2.0, 40.0}};
    const Matrix w{{1.0, 2.0, 3.0}, {-1.0, 0.5, 0.25}};
    const auto f = [](Tape&, const std::vector<Var>& in) { return frobenius_dot(softplus(in[0]), in[1]); };
    const GradcheckResult r = gradcheck(f, {x, w});
    std::printf("%s\n", r.message.c_str());
    return r.ok ? 0 : 1;
}
