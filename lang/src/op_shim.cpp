// TEMPORARY (until the [ops] branch is merged): see op_shim.hpp. Delete this file at merge.
#include "op_shim.hpp"

#include <autodiff/ops.hpp>

#include <algorithm>

namespace matgrad {

namespace {

struct ShimOp {
    const char* name;
    std::size_t args;
    const char* signature;
};

constexpr ShimOp kOps[] = {
    {"exp", 1, "exp(x)"},         {"log", 1, "log(x)"},         {"matmul", 2, "matmul(a, b)"},
    {"mean", 1, "mean(x)"},       {"sigmoid", 1, "sigmoid(x)"}, {"sum", 1, "sum(x)"},
    {"transpose", 1, "transpose(x)"},
};

const ShimOp* find(std::string_view name) {
    for (const ShimOp& op : kOps)
        if (name == op.name) return &op;
    return nullptr;
}

}  // namespace

bool op_exists(std::string_view name) { return find(name) != nullptr; }

std::vector<std::string> op_names() {
    std::vector<std::string> names;
    for (const ShimOp& op : kOps) names.emplace_back(op.name);
    std::sort(names.begin(), names.end());
    return names;
}

Var apply_op(std::string_view name, const std::vector<Var>& args, const std::vector<double>& numbers) {
    const ShimOp* op = find(name);
    if (op == nullptr) throw ShapeError("unknown op '" + std::string(name) + "'");
    if (args.size() != op->args || !numbers.empty())
        throw ShapeError(std::string(name) + ": expects " + op->signature);
    if (name == "exp") return exp(args[0]);
    if (name == "log") return log(args[0]);
    if (name == "matmul") return matmul(args[0], args[1]);
    if (name == "mean") return mean(args[0]);
    if (name == "sigmoid") return sigmoid(args[0]);
    if (name == "sum") return sum(args[0]);
    return transpose(args[0]);
}

}  // namespace matgrad
